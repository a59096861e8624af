package t

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRealIP: a request from a trusted proxy takes its client address
// from X-Forwarded-For (recursively past other trusted proxies), and that
// address is $remote_addr for deny, the limit zones and the log;
// $realip_remote_addr keeps the connection's; an untrusted client's
// header is ignored.
func TestRealIP(t *testing.T) {
	s := newServer(t, handlersConfig(`
  access_log_format = "combined"
  limit_req_zone "one" {
    key  = "$binary_remote_addr"
    size = "1m"
    rate = "1r/m"
  }
`, `
    set_real_ip_from  = ["127.0.0.1", "10.0.0.0/8"]
    real_ip_header    = "X-Forwarded-For"
    real_ip_recursive = true
    location "/who" {
      return = "200 $remote_addr $remote_port $realip_remote_addr"
    }
    location "/denied/" {
      deny = "198.51.100.66"
    }
    location "/limited/" {
      limit_req = { zone = "one", nodelay = true }
    }
    location "/xrealip/" {
      real_ip_header = "X-Real-IP"
      return = "200 $remote_addr"
    }
`))
	s.file("denied/x", "x")
	s.file("limited/x", "x")
	s.start()
	xff := func(v string) string { return "X-Forwarded-For: " + v }
	cases := []struct {
		from string
		hdrs []string
		path string
		want string
	}{
		{"127.0.0.1", []string{xff("198.51.100.1")}, "/who", "198.51.100.1 0 127.0.0.1"},
		{"127.0.0.1", []string{xff("198.51.100.1:5555")}, "/who", "198.51.100.1 5555 127.0.0.1"},
		{"127.0.0.1", []string{xff("203.0.113.9, 198.51.100.1, 10.1.2.3")}, "/who", "198.51.100.1 0 127.0.0.1"},
		{"127.0.0.1", []string{xff("198.51.100.1"), xff("10.1.2.3")}, "/who", "198.51.100.1 0 127.0.0.1"},
		{"127.0.0.1", []string{xff("not an address")}, "/who", "127.0.0.1"},
		{"127.0.0.1", nil, "/who", "127.0.0.1"},
		// An untrusted client's header is its own business.
		{"127.0.0.2", []string{xff("198.51.100.1")}, "/who", "127.0.0.2"},
		// Another header in a location (the server's applied first: X-Forwarded-For).
		{"127.0.0.1", []string{"X-Real-IP: 192.0.2.5"}, "/xrealip/", "127.0.0.1"},
	}
	for i, c := range cases {
		r := s.dialFrom(c.from).do(req("GET", c.path, c.hdrs...))
		if r.status != 200 || !strings.HasPrefix(string(r.body), c.want) {
			t.Errorf("%d: %s from %s with %q: %d %q, want %q", i, c.path, c.from, c.hdrs, r.status, r.body, c.want)
		}
	}
	// deny sees the real address.
	if r := s.get(req("GET", "/denied/x", xff("198.51.100.66"))); r.status != 403 {
		t.Errorf("deny of the real address: %d", r.status)
	}
	if r := s.get(req("GET", "/denied/x", xff("198.51.100.67"))); r.status != 200 {
		t.Errorf("another real address: %d", r.status)
	}
	// The zone keys on the real address: one request each at 1r/m.
	for i, c := range []struct {
		client string
		want   int
	}{{"198.51.100.1", 200}, {"198.51.100.2", 200}, {"198.51.100.1", 503}} {
		if r := s.get(req("GET", "/limited/x", xff(c.client))); r.status != c.want {
			t.Errorf("%d: limit_req for %s: %d, want %d", i, c.client, r.status, c.want)
		}
	}
	// The log line starts with the real address.
	waitFileHas(t, filepath.Join(s.dir, "logs/access.log"), "198.51.100.66 - - [")
}

// TestRealIPProxyProtocol: behind a load balancer speaking the PROXY
// protocol, real_ip_header "proxy_protocol" takes the client address and
// port from the header; $proxy_protocol_* say what it said.
func TestRealIPProxyProtocol(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}} proxy_protocol"]
    root = "{{ROOT}}"
    set_real_ip_from = "127.0.0.1"
    real_ip_header   = "proxy_protocol"
    location "/who" {
      return = "200 $remote_addr:$remote_port $realip_remote_addr pp=$proxy_protocol_addr:$proxy_protocol_port>$proxy_protocol_server_addr:$proxy_protocol_server_port"
    }
  }`))
	s.start()
	get := req("GET", "/who")
	cases := []struct {
		header string
		want   string
	}{
		{"PROXY TCP4 198.51.100.7 192.0.2.1 40000 443\r\n", "198.51.100.7:40000 127.0.0.1 pp=198.51.100.7:40000>192.0.2.1:443"},
		{string(proxyV2(1, "2001:db8::7", "2001:db8::1", 40001, 443)), "2001:db8::7:40001 127.0.0.1 pp=2001:db8::7:40001>2001:db8::1:443"},
		{"PROXY UNKNOWN\r\n", "127.0.0.1:"},
	}
	for i, c := range cases {
		r := s.get(c.header + get)
		if r.status != 200 || !strings.HasPrefix(string(r.body), c.want) {
			t.Errorf("%d: %q: %d %q, want %q", i, c.header, r.status, r.body, c.want)
		}
	}
	// An untrusted balancer's header gives $proxy_protocol_addr only.
	u := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}} proxy_protocol"]
    root = "{{ROOT}}"
    set_real_ip_from = "10.0.0.1"
    real_ip_header   = "proxy_protocol"
    return = "200 $remote_addr $proxy_protocol_addr"
  }`)).start()
	if r := u.get("PROXY TCP4 198.51.100.7 192.0.2.1 40000 443\r\n" + get); string(r.body) != "127.0.0.1 198.51.100.7" {
		t.Errorf("untrusted balancer: %q", r.body)
	}
}
