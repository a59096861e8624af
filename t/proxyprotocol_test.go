package t

import (
	"encoding/binary"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// proxyV2 builds a PROXY protocol version 2 header for TCP over IPv4 or
// IPv6 (cmd 1 PROXY, 0 LOCAL).
func proxyV2(cmd byte, src, dst string, sport, dport uint16) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	fam := byte(0x11)
	if s.Is6() {
		fam = 0x21
	}
	body := append(s.AsSlice(), d.AsSlice()...)
	body = binary.BigEndian.AppendUint16(body, sport)
	body = binary.BigEndian.AppendUint16(body, dport)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// TestProxyProtocol: a listener with proxy_protocol takes version 1 and
// 2 headers, whole or split, before the request; a malformed header
// closes the connection without a byte of response, and the request
// path is never reached.
func TestProxyProtocol(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}} proxy_protocol"]
    root = "{{ROOT}}"
  }`))
	s.file("index.html", "hello")
	s.start()
	get := req("GET", "/index.html")
	ok := []struct {
		name   string
		chunks []string
	}{
		{"v1 TCP4", []string{"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" + get}},
		{"v1 TCP6", []string{"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n" + get}},
		{"v1 UNKNOWN", []string{"PROXY UNKNOWN\r\n" + get}},
		{"v1 split", []string{"PROXY TCP4 192.0.2", ".1 198.51.100.2 56324 443\r", "\n" + get}},
		{"v1 then request", []string{"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n", get}},
		{"v2 TCP4", []string{string(proxyV2(1, "192.0.2.1", "198.51.100.2", 56324, 443)) + get}},
		{"v2 TCP6", []string{string(proxyV2(1, "2001:db8::1", "2001:db8::2", 1, 443)) + get}},
		{"v2 LOCAL", []string{string(proxyV2(0, "192.0.2.1", "198.51.100.2", 1, 2)) + get}},
		{"v2 split", []string{string(proxyV2(1, "192.0.2.1", "198.51.100.2", 1, 2)[:10]), string(proxyV2(1, "192.0.2.1", "198.51.100.2", 1, 2)[10:]), get}},
	}
	for i, c := range ok {
		cl := s.dial()
		for _, ch := range c.chunks {
			cl.send(ch)
			time.Sleep(20 * time.Millisecond)
		}
		r := cl.read("GET")
		if r.status != 200 || string(r.body) != "hello" {
			t.Errorf("%d: %s: %d %q", i, c.name, r.status, r.body)
		}
		// Keep-alive: the header came once, the next request is plain.
		if r := cl.do(get); r.status != 200 {
			t.Errorf("%d: %s: second request %d", i, c.name, r.status)
		}
	}
	bad := []struct {
		name string
		raw  string
	}{
		{"no header", get},
		{"bad protocol", "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n" + get},
		{"bad address", "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n" + get},
		{"v6 address in TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n" + get},
		{"bad port", "PROXY TCP4 192.0.2.1 198.51.100.2 1 99999\r\n" + get},
		{"LF alone", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n" + get},
		{"line too long", "PROXY UNKNOWN " + strings.Repeat("x", 200) + "\r\n" + get},
		{"v2 unknown command", string(proxyV2(2, "192.0.2.1", "198.51.100.2", 1, 2)) + get},
		{"v2 version 3", strings.Replace(string(proxyV2(1, "192.0.2.1", "198.51.100.2", 1, 2)), "\x21", "\x31", 1) + get},
	}
	for i, c := range bad {
		cl := s.dial()
		cl.send(c.raw)
		cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(cl.c)
		if len(b) != 0 || err != nil {
			t.Errorf("%d: %s: got %q (%v), want the connection closed without a response", i, c.name, b, err)
		}
	}
	waitFileHas(t, filepath.Join(s.dir, "logs/error.log"), `"message":"broken header"`)
	// The server still serves everyone else.
	if r := s.get("PROXY UNKNOWN\r\n" + get); r.status != 200 {
		t.Errorf("after the broken headers: %d", r.status)
	}
}
