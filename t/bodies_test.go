package t

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRequestBodies: bodies with Content-Length or chunked are read and
// dropped, up to client_max_body_size (else 413 and the connection
// closes); the connection then carries the next request.
func TestRequestBodies(t *testing.T) {
	s := newServer(t, handlersConfig(`client_max_body_size = "10"`, `
    location "/small/"     { client_max_body_size = "2" }
    location "/unlimited/" { client_max_body_size = "0" }
    location "/ret/"       { return = "200 ok" }
`))
	s.file("a.txt", "A")
	s.file("unlimited/f", "F")
	s.start()
	post := func(path string, headers ...string) string { return req("POST", path, headers...) }
	chunked := "Transfer-Encoding: chunked"
	big := strings.Repeat("b", 300000)
	cases := []struct {
		raw     string
		status  int
		headers []string
		closed  bool
	}{
		{post("/a.txt", "Content-Length: 5") + "hello", 405, []string{"Allow: GET, HEAD"}, false},
		{post("/a.txt", chunked) + "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n", 405, []string{"Allow: GET, HEAD"}, false},
		{post("/a.txt", chunked) + "0\r\n\r\n", 405, nil, false},
		{req("PUT", "/a.txt", "Content-Length: 0"), 405, []string{"Allow: GET, HEAD"}, false},
		{req("DELETE", "/a.txt"), 405, []string{"Allow: GET, HEAD"}, false},
		{req("OPTIONS", "/a.txt"), 405, []string{"Allow: GET, HEAD"}, false},
		{req("PATCH", "/a.txt", "Content-Length: 2") + "{}", 405, nil, false},
		{get1("/a.txt", "Content-Length: 3") + "abc", 200, nil, false},
		{req("HEAD", "/a.txt", "Content-Length: 3") + "abc", 200, nil, false},
		{get1("/a.txt", chunked) + "3\r\nabc\r\n0\r\n\r\n", 200, nil, false},
		{post("/a.txt", "Content-Length: 10") + "0123456789", 405, nil, false}, // at the limit
		{post("/a.txt", "Content-Length: 11") + "0123456789x", 413, []string{"Connection: close"}, true},
		{post("/a.txt", chunked) + "a\r\n0123456789\r\n0\r\n\r\n", 405, nil, false},
		{post("/a.txt", chunked) + "6\r\n012345\r\n5\r\n6789x\r\n0\r\n\r\n", 413, []string{"Connection: close"}, true},
		{post("/a.txt", chunked) + "zz\r\nab\r\n0\r\n\r\n", 400, nil, true},
		{post("/a.txt", chunked) + "2\r\nabXY", 400, nil, true}, // no CRLF after the data
		{post("/small/x", "Content-Length: 3") + "abc", 413, nil, true},
		{post("/small/x", "Content-Length: 2") + "ab", 405, nil, false},
		{post("/unlimited/f", "Content-Length: "+fmt.Sprint(len(big))) + big, 405, nil, false},
		{post("/unlimited/f", chunked) + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), 405, nil, false},
		{post("/ret/x", "Content-Length: 4") + "data", 200, nil, false},
		{post("/a.txt", "Content-Length: 20", "Expect: 100-continue"), 413, []string{"Connection: close"}, true},
	}
	for i, c := range cases {
		conn := s.dial()
		r := conn.do(c.raw)
		where := fmt.Sprintf("%d: %q", i, trunc(c.raw))
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d", where, r.status, c.status)
			continue
		}
		if len(r.interim) != 0 {
			t.Errorf("%s: interim responses %v", where, r.interim)
		}
		checkHeaders(t, where, r, c.headers, "")
		if c.closed {
			conn.expectClosed(2 * time.Second)
			continue
		}
		// The body was dropped, not taken for the next request.
		if next := conn.do(get1("/a.txt")); next.status != 200 || string(next.body) != "A" {
			t.Errorf("%s: next request: %v %q", where, next, next.body)
		}
	}
}

// TestRequestBodyLate: the response goes out before the body is read; a
// body that comes in pieces afterwards is dropped and the connection
// carries on, also in one write with the next request.
func TestRequestBodyLate(t *testing.T) {
	s := newServer(t, handlersConfig(`client_max_body_size = "1m"`, ""))
	s.file("a.txt", "A")
	s.start()
	c := s.dial()
	body := strings.Repeat("x", 500000)
	c.send(req("POST", "/a.txt", fmt.Sprintf("Content-Length: %d", len(body))))
	if r := c.read("POST"); r.status != 405 || r.header("Connection") != "keep-alive" {
		t.Fatalf("before the body: %v", r)
	}
	for i := 0; i < len(body); i += 100000 {
		c.send(body[i : i+100000])
		time.Sleep(5 * time.Millisecond)
	}
	if r := c.do(get1("/a.txt")); r.status != 200 || string(r.body) != "A" {
		t.Fatalf("after the body: %v", r)
	}
	// Chunked, with the next request in the same write as its end.
	c.send(req("POST", "/a.txt", "Transfer-Encoding: chunked") + "4\r\nab")
	if r := c.read("POST"); r.status != 405 {
		t.Fatalf("chunked: %v", r)
	}
	c.send("cd\r\n0\r\n\r\n" + get1("/a.txt"))
	if r := c.read("GET"); r.status != 200 || string(r.body) != "A" {
		t.Fatalf("after the chunked body: %v", r)
	}
	// "100 Continue" for a client that waits for it.
	c.send(req("POST", "/a.txt", "Content-Length: 4", "Expect: 100-continue"))
	r := c.read("POST")
	if r.status != 405 || len(r.interim) != 1 || r.interim[0] != 100 {
		t.Fatalf("expect: %v interim %v", r, r.interim)
	}
	c.send("data" + get1("/a.txt"))
	if r := c.read("GET"); r.status != 200 {
		t.Fatalf("after 100-continue: %v", r)
	}
}
