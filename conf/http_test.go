package conf

import (
	"reflect"
	"testing"
	"time"
)

func TestInheritance(t *testing.T) {
	c := mustLoad(t, `
http {
  keepalive_timeout = "10s"
  gzip              = true
  charset           = "utf-8"
  add_header        = { "X-Http" = "1" }

  server {
    gzip       = false
    root       = "/srv/a"
    add_header = { "X-Server" = "1" }
    try_files  = ["$uri", "=404"]

    location "/own/" {
      keepalive_timeout = "20s"
      add_header        = {}
      try_files         = []
    }
    location "/inherit/" { }
  }

  server {
    listen = ["81"]
  }
}
`)
	s1, s2 := c.HTTP.Servers[0], c.HTTP.Servers[1]
	own, inherit := findLocation(s1, "/own/"), findLocation(s1, "/inherit/")
	tests := []struct {
		what string
		got  any
		want any
	}{
		// The server overrides gzip and root, inherits the rest.
		{"s1 keepalive", s1.Root.KeepaliveTimeout, 10 * time.Second},
		{"s1 gzip", s1.Root.Gzip, false},
		{"s1 charset", s1.Root.Charset, "utf-8"},
		{"s1 root", s1.Root.Root, "/srv/a"},
		{"s1 headers", s1.Root.AddHeaders, []Header{{Name: "X-Server", Value: mustTemplate("1")}}},
		// A location inherits its server's values, not http's.
		{"inherit keepalive", inherit.KeepaliveTimeout, 10 * time.Second},
		{"inherit gzip", inherit.Gzip, false},
		{"inherit root", inherit.Root, "/srv/a"},
		{"inherit headers", inherit.AddHeaders, []Header{{Name: "X-Server", Value: mustTemplate("1")}}},
		{"inherit try_files", len(inherit.TryFiles), 2},
		// ... unless it sets its own; a whole list is replaced, as nginx.
		{"own keepalive", own.KeepaliveTimeout, 20 * time.Second},
		{"own headers", own.AddHeaders, []Header(nil)},
		{"own try_files", own.TryFiles, []Template(nil)},
		{"own root", own.Root, "/srv/a"},
		// Another server inherits http's.
		{"s2 gzip", s2.Root.Gzip, true},
		{"s2 headers", s2.Root.AddHeaders, []Header{{Name: "X-Http", Value: mustTemplate("1")}}},
		{"s2 root", s2.Root.Root, "/etc/tern/html"},
		{"s2 try_files", s2.Root.TryFiles, []Template(nil)},
	}
	for i, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%d: %s = %#v, want %#v", i, tt.what, tt.got, tt.want)
		}
	}
	if own.Server != s1 || inherit.Server != s1 || s1.Root.Server != s1 {
		t.Error("a location does not point to its server")
	}
}

func TestTypesAndIncludes(t *testing.T) {
	c := mustLoad(t, `
http {
  include = ["mime.types.hcl", "conf.d/*.hcl", "conf.d/none-*.hcl"]
  types   = { "text/x-local" = ["local", "both"], "application/x-one" = "one", "text/plain" = ["JS"] }

  server {
    listen = ["8000"]
  }
}
`,
		"/etc/tern/mime.types.hcl", `types = { "text/x-inc" = ["inc", "both"], "image/x-png" = "png" }`,
		"/etc/tern/conf.d/b.hcl", "server {\n  listen = [\"8002\"]\n}\n",
		"/etc/tern/conf.d/a.hcl", "default_type = \"text/plain\"\nserver {\n  listen = [\"8001\"]\n}\n",
		"/etc/tern/unused.hcl", "this is not read",
	)
	tests := []struct{ ext, want string }{
		{"inc", "text/x-inc"},
		{"both", "text/x-local"}, // the http block's own types win over an include's
		{"png", "image/x-png"},   // an include overrides the built-in table
		{"local", "text/x-local"},
		{"one", "application/x-one"},
		{"js", "text/plain"}, // extensions are lowercased
		{"css", "text/css"},
	}
	for i, tt := range tests {
		if got, _ := c.HTTP.MIME.Lookup([]byte(tt.ext)); got != tt.want {
			t.Errorf("%d: %s → %q, want %q", i, tt.ext, got, tt.want)
		}
	}
	// Servers of included files come in place of the include, sorted.
	var ports []string
	for _, s := range c.HTTP.Servers {
		ports = append(ports, s.Addrs[0].Addr)
	}
	if want := []string{"0.0.0.0:8001", "0.0.0.0:8002", "0.0.0.0:8000"}; !reflect.DeepEqual(ports, want) {
		t.Errorf("servers listen on %v, want %v", ports, want)
	}
	if c.HTTP.Servers[2].Root.DefaultType != "text/plain" {
		t.Errorf("default_type from an include not inherited")
	}
	var read []string
	for name := range c.Sources {
		read = append(read, name)
	}
	if len(read) != 4 || c.Sources["/etc/tern/unused.hcl"] != nil {
		t.Errorf("Sources = %v, want the main file and three includes", read)
	}
}

func TestIncludeServersInPlace(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    listen = ["1"]
  }
  include = "more.hcl"
  server {
    listen = ["3"]
  }
}
`, "/etc/tern/more.hcl", "server {\n  listen = [\"2\"]\n}\n")
	for i, s := range c.HTTP.Servers {
		if want := "0.0.0.0:" + itoa(i+1); s.Addrs[0].Addr != want {
			t.Errorf("%d: server listens on %s, want %s", i, s.Addrs[0].Addr, want)
		}
	}
}

func TestListen(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    listen = ["8080", "127.0.0.1:8081 reuseport backlog=128", "[::1]:8082", "[::]:8083 default_server",
              "*:8084 proxy_protocol", "localhost:8085", "10.0.0.1", "[fe80::1]"]
    server_name = ["a.test"]
  }
  server {
    listen = ["0.0.0.0:8080 default_server", "[::]:8083 proxy_protocol", "127.0.0.1:8081"]
  }
}
`)
	s1, s2 := c.HTTP.Servers[0], c.HTTP.Servers[1]
	tests := []struct {
		network, addr string
		reuse         bool
		backlog       int
		def           *Server
		servers       []*Server
		proxy         bool
	}{
		{"tcp4", "0.0.0.0:8080", false, 511, s2, []*Server{s1, s2}, false},
		{"tcp4", "127.0.0.1:8081", true, 128, s1, []*Server{s1, s2}, false},
		{"tcp6", "[::1]:8082", false, 511, s1, []*Server{s1}, false},
		// One server's proxy_protocol is the address's (nginx ORs it).
		{"tcp6", "[::]:8083", false, 511, s1, []*Server{s1, s2}, true},
		{"tcp4", "0.0.0.0:8084", false, 511, s1, []*Server{s1}, true},
		{"tcp4", "127.0.0.1:8085", false, 511, s1, []*Server{s1}, false},
		{"tcp4", "10.0.0.1:80", false, 511, s1, []*Server{s1}, false},
		{"tcp6", "[fe80::1]:80", false, 511, s1, []*Server{s1}, false},
	}
	if len(c.HTTP.Addrs) != len(tests) {
		t.Fatalf("%d addresses, want %d", len(c.HTTP.Addrs), len(tests))
	}
	for i, tt := range tests {
		a := c.HTTP.Addrs[i]
		if a.Network != tt.network || a.Addr != tt.addr || a.ReusePort != tt.reuse || a.Backlog != tt.backlog ||
			a.Default != tt.def || !reflect.DeepEqual(a.Servers, tt.servers) || a.ProxyProtocol != tt.proxy {
			t.Errorf("%d: got %s %s reuse=%v backlog=%d default=%v servers=%d, want %+v",
				i, a.Network, a.Addr, a.ReusePort, a.Backlog, a.Default.Names, len(a.Servers), tt)
		}
	}
	if len(s1.Addrs) != 8 || len(s2.Addrs) != 3 || s2.Addrs[1].Addr != "[::]:8083" {
		t.Errorf("server addresses: %d and %d", len(s1.Addrs), len(s2.Addrs))
	}
}

func TestListenOptionsGivenTwice(t *testing.T) {
	// The same options in two servers are fine; nginx would refuse them.
	c := mustLoad(t, `
http {
  server {
    listen = ["8080 reuseport backlog=64"]
  }
  server {
    listen = ["8080 reuseport backlog=64"]
  }
}
`)
	if a := c.HTTP.Addrs[0]; !a.ReusePort || a.Backlog != 64 {
		t.Errorf("got %+v", a)
	}
}

// TestListenBuffers: sndbuf= and rcvbuf= take nginx's sizes, give the
// address a socket of its own (as backlog=, nginx binds it apart), and
// may be repeated only with the same values.
func TestListenBuffers(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    listen = ["8080", "127.0.0.1:8080 sndbuf=512k rcvbuf=64k", "127.0.0.2:8080 sndbuf=1m", "127.0.0.3:8080"]
  }
  server {
    listen = ["127.0.0.1:8080 rcvbuf=65536 sndbuf=524288"]
  }
}
`)
	want := []struct {
		addr           string
		sndbuf, rcvbuf int
		own            bool
	}{
		{"0.0.0.0:8080", 0, 0, true},
		{"127.0.0.1:8080", 512 << 10, 64 << 10, true},
		{"127.0.0.2:8080", 1 << 20, 0, true},
		{"127.0.0.3:8080", 0, 0, false},
	}
	if len(c.HTTP.Addrs) != len(want) {
		t.Fatalf("%d addresses, want %d", len(c.HTTP.Addrs), len(want))
	}
	for i, w := range want {
		a := c.HTTP.Addrs[i]
		if a.Addr != w.addr || a.SndBuf != w.sndbuf || a.RcvBuf != w.rcvbuf || (c.HTTP.CoveredBy(a) == nil) != w.own {
			t.Errorf("%d: %s sndbuf=%d rcvbuf=%d covered=%v, want %+v", i, a.Addr, a.SndBuf, a.RcvBuf, c.HTTP.CoveredBy(a) != nil, w)
		}
	}
}
