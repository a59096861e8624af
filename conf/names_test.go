package conf

import (
	"strings"
	"testing"
)

func TestServerSelection(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    listen      = ["8080"]
    server_name = ["first.test"]
  }
  server {
    listen      = ["8080"]
    server_name = ["Example.COM", "www.example.com"]
  }
  server {
    listen      = ["8080"]
    server_name = ["*.example.com"]
  }
  server {
    listen      = ["8080"]
    server_name = ["*.sub.example.com"]
  }
  server {
    listen      = ["8080"]
    server_name = ["www.example.*"]
  }
  server {
    listen      = ["8080"]
    server_name = ["www.example.co.*"]
  }
  server {
    listen      = ["8080"]
    server_name = ["~^w\\d+\\.example\\.net$", "~^API\\."]
  }
  server {
    listen      = ["8080"]
    server_name = ["~\\.net$"]
  }
  server {
    listen      = ["8080"]
    server_name = [".dot.test"]
  }
  server {
    listen      = ["8080 default_server"]
    server_name = ["default.test"]
  }
  server {
    listen      = ["8080"]
    server_name = ["*.foo.test", "example.com"]
  }
  server {
    listen      = ["8080"]
    server_name = ["www.foo.*"]
  }
  server {
    listen = ["127.0.0.1:9090"]
  }
  server {
    listen      = ["127.0.0.1:9090"]
    server_name = ["b.test"]
  }
}
`)
	servers := c.HTTP.Servers
	a8080, a9090 := c.HTTP.Addrs[0], c.HTTP.Addrs[1]
	tests := []struct {
		addr *Addr
		host string
		want int // index in servers
	}{
		{a8080, "first.test", 0},
		{a8080, "example.com", 1},     // lowercased name; the later claim is ignored
		{a8080, "www.example.com", 1}, // exact beats *.example.com and www.example.*
		{a8080, "a.example.com", 2},
		{a8080, "a.b.example.com", 2}, // a leading wildcard spans labels
		{a8080, "sub.example.com", 2},
		{a8080, "x.sub.example.com", 3}, // the longest leading wildcard
		{a8080, "www.example.org", 4},
		{a8080, "www.example.co.uk", 5}, // the longest trailing wildcard
		{a8080, "www.example", 9},       // a trailing wildcard needs a label after it
		{a8080, "w12.example.net", 6},
		{a8080, "api.anything", 6},  // regexes match case-insensitively
		{a8080, "foo.net", 7},       // regexes in order
		{a8080, "dot.test", 8},      // .dot.test is dot.test ...
		{a8080, "a.dot.test", 8},    // ... and *.dot.test
		{a8080, "www.foo.test", 10}, // a leading wildcard beats a trailing one
		{a8080, "www.foo.net", 11},  // a trailing wildcard beats a regex
		{a8080, "unknown.test", 9},  // default_server
		{a8080, "", 9},
		{a8080, "example.com.", 9},
		{a9090, "b.test", 13},
		{a9090, "other", 12}, // no default_server: the first server
	}
	for i, tt := range tests {
		got := tt.addr.Server([]byte(tt.host))
		if got != servers[tt.want] {
			t.Errorf("%d: %s Server(%q) = %v, want server %d %v", i, tt.addr.Addr, tt.host, got.Names, tt.want, servers[tt.want].Names)
		}
	}
	if got := servers[1].Names; strings.Join(got, " ") != "example.com www.example.com" {
		t.Errorf("Names = %q, want lowercased as written", got)
	}
	if got := servers[6].Names[1]; got != `~^API\.` {
		t.Errorf("a regex name = %q, want its case kept", got)
	}
}

func TestParseServerName(t *testing.T) {
	tests := []struct {
		in   string
		kind nameKind
		key  string
		err  string
	}{
		{in: "example.com", kind: nameExact, key: "example.com"},
		{in: "EXAMPLE.com", kind: nameExact, key: "example.com"},
		{in: "", kind: nameExact, key: ""},
		{in: "_", kind: nameExact, key: "_"},
		{in: "*.example.com", kind: nameHead, key: ".example.com"},
		{in: "www.example.*", kind: nameTail, key: "www.example."},
		{in: ".example.com", kind: nameDot, key: ".example.com"},
		{in: `~^www\d+$`, kind: nameRegex, key: `~^www\d+$`},
		{in: "*", err: "wildcard"},
		{in: "*.", err: "wildcard"},
		{in: "www.*.com", err: "wildcard"},
		{in: "*.example.*", err: "wildcard"},
		{in: "ex*ample.com", err: "wildcard"},
		{in: "example.com:80", err: "no ports"},
		{in: "example.com/x", err: "no ports"},
		{in: "a b", err: "no ports"},
		{in: "~", err: "empty regular expression"},
		// The expression itself is compiled by the decoder (TestDiagnostics).
		{in: "~(", kind: nameRegex, key: "~("},
	}
	for i, tt := range tests {
		got, err := parseServerName(tt.in)
		switch {
		case tt.err == "" && (err != nil || got.kind != tt.kind || got.key != tt.key):
			t.Errorf("%d: parseServerName(%q) = %v %q, %v; want %v %q", i, tt.in, got.kind, got.key, err, tt.kind, tt.key)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%d: parseServerName(%q) error = %v, want %q", i, tt.in, err, tt.err)
		}
	}
}
