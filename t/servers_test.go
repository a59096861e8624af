package t

import (
	"bufio"
	"net"
	"strconv"
	"testing"
	"time"
)

// hostReq is a GET of / with the given Host header.
func hostReq(host string) string {
	return "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
}

// TestServerSelection: virtual servers on one address chosen by Host as
// nginx: exact name, longest leading wildcard, longest trailing
// wildcard, first regular expression in order, then default_server.
func TestServerSelection(t *testing.T) {
	srv := func(names, extra, text string) string {
		return `
  server {
    listen = ["127.0.0.1:{{PORT}}` + extra + `"]
    server_name = [` + names + `]
    return = "200 ` + text + `"
  }`
	}
	s := newServer(t, serversConfig(
		srv(`"first.example"`, "", "first")+
			srv(`"exact.example", "*.wild.example"`, "", "exact-or-wild")+
			srv(`"*.example.org"`, "", "head")+
			srv(`"www.example.*"`, "", "tail")+
			srv(`"~^re\\d+\\.example\\.net$"`, "", "regex1")+
			srv(`"~^RE.*$", "default.example"`, " default_server", "default")+
			srv(`".dot.example", "other.example"`, "", "dot $server_name")+
			srv(`"a.sub.example.org"`, "", "exact-over-wild")+
			srv(`"*.long.example.org"`, "", "longer-head")+
			srv(`"www.example.co.*"`, "", "longer-tail")))
	s.start()
	host := func(h, want string) hcase { return hcase{raw: hostReq(h), status: 200, body: "=" + want} }
	runHCases(t, s, []hcase{
		host("first.example", "first"),
		host("FIRST.Example", "first"),
		host("first.example:8080", "first"),
		host("first.example.", "first"),
		host("exact.example", "exact-or-wild"),
		host("x.wild.example", "exact-or-wild"),
		host("a.b.wild.example", "exact-or-wild"),
		host("wild.example", "default"), // *.wild.example needs a label
		host("x.example.org", "head"),
		host("a.sub.example.org", "exact-over-wild"),
		host("b.sub.example.org", "head"),
		host("x.long.example.org", "longer-head"), // the longest leading wildcard
		host("www.example.com", "tail"),
		host("www.example.co.uk", "longer-tail"), // the longest trailing wildcard
		host("www.example.net", "tail"),
		host("re12.example.net", "regex1"), // both regexes match: the first wins
		host("rex.example.net", "default"), // by its regex, not as default
		host("Re5.Example.Net", "regex1"),  // regexes match case-insensitively
		host("nomatch.example", "default"), // default_server, not the first
		host("default.example", "default"),
		// $server_name is the first name, without the dot of .dot.example.
		host("dot.example", "dot dot.example"),
		host("a.dot.example", "dot dot.example"),
		host("other.example", "dot dot.example"),
		host("127.0.0.1", "default"),
		host("[::1]:80", "default"),
		{raw: "GET / HTTP/1.0\r\n\r\n", status: 200, body: "=default", closed: true},
		// An absolute-form target's host wins over Host (RFC 9112 §3.2.2).
		{raw: "GET http://first.example/ HTTP/1.1\r\nHost: exact.example\r\n\r\n", status: 200, body: "=first"},
		{raw: "GET http://x.example.org:9999/p?q HTTP/1.1\r\nHost: first.example\r\n\r\n", status: 200, body: "=head"},
		{raw: "GET HTTP://WWW.EXAMPLE.COM/ HTTP/1.1\r\nHost: first.example\r\n\r\n", status: 200, body: "=tail"},
		{raw: hostReq(""), status: 400, closed: true},
		{raw: hostReq("a..b"), status: 400, closed: true},
		{raw: hostReq("first.example:x"), status: 400, closed: true},
		{raw: "GET / HTTP/1.1\r\nHost: first.example\r\nHost: exact.example\r\n\r\n", status: 400, closed: true},
	})
}

// TestServerDefaultFirst: without default_server the first server of an
// address answers unknown hosts, and each address has its own servers.
func TestServerDefaultFirst(t *testing.T) {
	p2 := strconv.Itoa(freePort(t))
	v6 := hasIPv6Loopback()
	listen3 := `"127.0.0.1:` + p2 + ` default_server backlog=64"`
	if v6 {
		listen3 += `, "[::1]:` + p2 + `"`
	} else {
		t.Log("no IPv6 loopback on this machine: [::1] is not tested")
	}
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    server_name = ["one.example"]
    return = "200 one"
  }
  server {
    listen = ["127.0.0.1:{{PORT}}", "127.0.0.1:`+p2+`"]
    server_name = ["two.example"]
    return = "200 two $server_port"
  }
  server {
    listen = [`+listen3+`]
    server_name = ["three.example"]
    return = "200 three $server_port"
  }
`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: hostReq("unknown"), status: 200, body: "=one"},
		{raw: hostReq("two.example"), status: 200, body: "=two {{PORT}}"},
		{raw: hostReq("three.example"), status: 200, body: "=one"}, // not on this address
	})
	cases := []struct{ host, want string }{
		{"unknown", "three " + p2},
		{"two.example", "two " + p2},
		{"one.example", "three " + p2},
	}
	for i, c := range cases {
		if got := rawGet(t, "127.0.0.1:"+p2, hostReq(c.host)); got != c.want {
			t.Errorf("%d: %s on port 2: %q, want %q", i, c.host, got, c.want)
		}
	}
	if !v6 {
		return
	}
	if got := rawGet(t, "[::1]:"+p2, hostReq("two.example")); got != "three "+p2 {
		t.Errorf("[::1]: %q, want the only server listening there", got)
	}
}

// TestListenWildcardAndSpecific: 0.0.0.0:P and 127.0.0.1:P in one
// configuration: Linux cannot bind both, so tern, as nginx, binds the
// wildcard and picks the address by the connection's local address.
func TestListenWildcardAndSpecific(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen = ["0.0.0.0:{{PORT}}"]
    server_name = ["any.example"]
    return = "200 wildcard"
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    server_name = ["local.example"]
    return = "200 specific"
  }
`))
	s.start()
	// 127.0.0.1 has its own server list: only the second server.
	runHCases(t, s, []hcase{
		{raw: hostReq("any.example"), status: 200, body: "=specific"},
		{raw: hostReq("local.example"), status: 200, body: "=specific"},
	})
	// Any other local address reaches the wildcard's servers.
	other := "127.0.0.2:" + strconv.Itoa(s.port)
	for i, h := range []string{"any.example", "local.example"} {
		if got := rawGet(t, other, hostReq(h)); got != "wildcard" {
			t.Errorf("%d: %s via 127.0.0.2: %q, want wildcard", i, h, got)
		}
	}
}

// TestListenReuseport: a reuseport address serves.
func TestListenReuseport(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}} reuseport backlog=16"]
    return = "200 reuseport"
  }
`))
	s.start()
	runHCases(t, s, []hcase{{raw: hostReq("x"), status: 200, body: "=reuseport"}})
}

// rawGet sends raw to addr on a new connection and returns the body.
func rawGet(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	r, err := readResponse(bufio.NewReader(c), "GET")
	if err != nil {
		t.Fatal(err)
	}
	return string(r.body)
}

func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
