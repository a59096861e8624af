package worker

import (
	"net/netip"
	"strings"
	"testing"

	"tern/conf"
	"tern/filters"
)

func TestCleanURI(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"/a/b", "/a/b", true},
		{"a/b", "/a/b", true}, // a leading "/" is supplied
		{"", "/", true},
		{"//a///b//", "/a/b/", true},
		{"/a/./b/../c", "/a/c", true},
		{"/a/..", "/", true},
		{"/a/../..", "", false},
		{"/../x", "", false},
		{"/a%2e%2e/x", "/a%2e%2e/x", true}, // not decoded: a name, not ".."
		{"/a\x00b", "", false},
		{"/a/b/.", "/a/b/", true},
		{"/a b/c?d", "/a b/c?d", true}, // splitting args is the caller's
	}
	for i, c := range cases {
		got, ok := cleanURI([]byte("keep"), []byte(c.in))
		if ok != c.ok || ok && string(got) != "keep"+c.want || !ok && string(got) != "keep" {
			t.Errorf("%d: cleanURI(%q) = %q, %v; want %q, %v", i, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRequestURI(t *testing.T) {
	cases := []struct{ target, want string }{
		{"/a?b", "/a?b"},
		{"http://h.example/p/q?x=1", "/p/q?x=1"},
		{"http://h.example?x", "?x"},
		{"http://h.example", "/"},
		{"*", "*"},
	}
	for i, c := range cases {
		if got := string(requestURI([]byte(c.target))); got != c.want {
			t.Errorf("%d: %q → %q, want %q", i, c.target, got, c.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	p, a := splitArgs([]byte("/x?a=1?b"))
	if string(p) != "/x" || string(a) != "a=1?b" {
		t.Fatalf("%q %q", p, a)
	}
	p, a = splitArgs([]byte("/x"))
	if string(p) != "/x" || a != nil {
		t.Fatalf("%q %q", p, a)
	}
}

// TestSetURIAlternates: a new URI may be built from the current one (its
// path and its arguments) without either being overwritten first.
func TestSetURIAlternates(t *testing.T) {
	rq := newRequest(&Worker{cfg: &conf.Config{HTTP: &conf.HTTP{}}})
	rq.Req.Path = []byte("/start")
	rq.Req.Args = []byte("q=1")
	for i, want := range []string{"/start/x", "/start/x/x", "/start/x/x/x"} {
		path := append([]byte(nil), rq.Req.Path...)
		path = append(path, "/x"...)
		// Pass the current args themselves: they live in the buffer
		// setURI must not write.
		if !rq.setURI(path, rq.Req.Args) {
			t.Fatalf("%d: refused", i)
		}
		if string(rq.Req.Path) != want || string(rq.Req.Args) != "q=1" {
			t.Fatalf("%d: %q ? %q", i, rq.Req.Path, rq.Req.Args)
		}
	}
	// Path is capped: appending to it cannot run over Args.
	if cap(rq.Req.Path) != len(rq.Req.Path) {
		t.Fatal("Path has spare capacity over Args")
	}
	if rq.setURI([]byte("/../etc"), nil) {
		t.Fatal("climbing out accepted")
	}
}

func TestAppendVar(t *testing.T) {
	cfg, err := conf.LoadSnapshot("/t/tern.hcl", "/t", map[string][]byte{"/t/tern.hcl": []byte(`
http {
  server {
    listen = ["127.0.0.1:8081"]
    server_name = ["first.example", "second.example"]
  }
  server {
    listen = ["127.0.0.1:8081"]
    server_name = ["~^re"]
  }
}`)})
	if err != nil {
		t.Fatal(err)
	}
	addr := cfg.HTTP.Addrs[0]
	rq := newRequest(&Worker{cfg: cfg})
	rq.addr = addr
	rq.Loc = addr.Servers[0].Root
	rq.peer = netip.MustParseAddrPort("192.0.2.7:5555")
	rq.Req.Path = []byte("/p/q")
	rq.Req.Args = []byte("a=1")
	rq.Req.Target = []byte("/p/%71?a=1")
	rq.Req.Host = []byte("Mixed.Example")
	tpl, err := conf.ParseTemplate("$scheme://$host:$server_port$uri|$request_uri|$args|$remote_addr")
	if err != nil {
		t.Fatal(err)
	}
	want := "http://mixed.example:8081/p/q|/p/%71?a=1|a=1|192.0.2.7"
	if got := string(tpl.Append(nil, rq)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	host, _ := conf.ParseTemplate("$host")
	rq.Req.Host = nil
	if got := string(host.Append(nil, rq)); got != "first.example" {
		t.Fatalf("no Host: %q", got)
	}
	rq.Loc = addr.Servers[1].Root
	if got := string(host.Append(nil, rq)); got != "" {
		t.Fatalf("no Host, regex name: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { rq.exp = tpl.Append(rq.exp[:0], rq) }); n != 0 {
		t.Fatalf("%v allocations per expansion", n)
	}
}

// FuzzCleanURI: whatever a template expands to, the cleaned URI starts
// with "/", has no empty, "." or ".." segment, and is stable.
func FuzzCleanURI(f *testing.F) {
	for _, s := range []string{"/a/../b", "../../x", "a//b/./c/", "/%2e%2e/", "", "/.../..", "/a/..b/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := cleanURI(nil, []byte(s))
		if !ok {
			return
		}
		if len(got) == 0 || got[0] != '/' {
			t.Fatalf("%q → %q: no leading /", s, got)
		}
		segs := strings.Split(string(got[1:]), "/")
		for i, seg := range segs {
			if seg == "." || seg == ".." || seg == "" && i != len(segs)-1 {
				t.Fatalf("%q → %q: segment %q", s, got, seg)
			}
		}
		if again, ok := cleanURI(nil, got); !ok || string(again) != string(got) {
			t.Fatalf("%q → %q → %q", s, got, again)
		}
	})
}

// TestRestartRestoresRequest: a run of the phases that would have waited
// for the disk starts again from the request as received, whatever an
// error_page redirect changed (its method became GET: a POST answered
// 405 through an error page came back 404 under load before).
func TestRestartRestoresRequest(t *testing.T) {
	cfg, err := conf.LoadSnapshot("/t/tern.hcl", "/t", map[string][]byte{"/t/tern.hcl": []byte(`
http {
  server {
    listen = ["127.0.0.1:8081"]
  }
}`)})
	if err != nil {
		t.Fatal(err)
	}
	rq := newRequest(&Worker{cfg: cfg})
	rq.Req.Method = filters.MethodPOST
	rq.Req.RawPath = []byte("/post/x")
	rq.Req.Args = []byte("a=1")
	if st := rq.route(cfg.HTTP.Addrs[0]); st != 0 {
		t.Fatal(st)
	}
	rq.Req.Method = filters.MethodGET
	rq.setURI([]byte("/errors/405.html"), nil)
	rq.restart()
	if rq.Req.Method != filters.MethodPOST || string(rq.Req.Args) != "a=1" {
		t.Errorf("after restart: method %v args %q", rq.Req.Method, rq.Req.Args)
	}
}
