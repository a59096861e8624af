package t

import (
	"fmt"
	"testing"
	"time"
)

// TestBareCR: a CR that is not followed by LF is an error wherever it
// ends a line of the framing — in the head, and in a chunked body's size,
// extension and trailer lines — answered with 400 at once and a closed
// connection, as nginx does, so that a front proxy that reads the bytes
// differently cannot smuggle a request past tern.
func TestBareCR(t *testing.T) {
	s := newServer(t, handlersConfig(`client_header_timeout = "30s"`, ""))
	s.file("a.txt", "A")
	s.start()
	chunked := "Transfer-Encoding: chunked"
	smuggled := "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []string{
		get1("/a.txt", chunked) + "5\rXX\r\nhello\r\n0\r\n\r\n" + smuggled,
		req("POST", "/a.txt", chunked) + "5\rXX\r\nhello\r\n0\r\n\r\n" + smuggled,
		get1("/a.txt", chunked) + "5;a=b\rXX\r\nhello\r\n0\r\n\r\n" + smuggled,
		get1("/a.txt", chunked) + "5\r\r\nhello\r\n0\r\n\r\n" + smuggled,
		get1("/a.txt", chunked) + "0\r\nX: a\rb\r\n\r\n" + smuggled,
		// The head: the client sends nothing more, and the answer must
		// not wait for client_header_timeout.
		"GET /a.txt HTTP/1.1\r\nHost: x\r\n\rX",
		"GET /a.txt HTTP/1.1\r\nHost: x\rX",
		"GET /a.txt HTTP/1.1\rX",
	}
	for i, raw := range cases {
		c := s.dial()
		start := time.Now()
		r := c.do(raw)
		if r.status != 400 {
			t.Errorf("%d: %q: status %d, want 400", i, raw, r.status)
			continue
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%d: %q: answered after %v", i, raw, d)
		}
		c.expectClosed(2 * time.Second)
	}
}

// TestBareCRLateBody: a chunked body that comes after its response was
// sent is read to be dropped; a bare CR in its framing closes the
// connection instead of letting what follows pass for the next request.
func TestBareCRLateBody(t *testing.T) {
	s := newServer(t, basicConfig(""))
	s.file("a.txt", "A")
	s.start()
	for i, body := range []string{"5\rXX\r\nhello\r\n0\r\n\r\n", "0\r\nX: a\rb\r\n\r\n"} {
		c := s.dial()
		if r := c.do(get1("/a.txt", "Transfer-Encoding: chunked")); r.status != 200 {
			t.Fatalf("%d: status %d", i, r.status)
		}
		c.send(body + fmt.Sprintf("GET /a.txt?%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		c.expectClosed(2 * time.Second)
	}
}
