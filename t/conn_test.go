package t

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPipelinedInOneWrite(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	paths := []string{"/a.txt", "/", "/missing", "/dir/", "/a.txt", "/dir", "/noext", "/a.txt", "/zero.bin", "/index.html"}
	var all strings.Builder
	for i, p := range paths {
		method := "GET"
		if i == 4 {
			method = "HEAD"
		}
		all.WriteString(req(method, p))
	}
	c.send(all.String())
	want := []struct {
		status int
		body   string
	}{
		{200, "hello, tern\n"}, {200, "<h1>home</h1>\n"}, {404, ""}, {200, "dir index\n"}, {200, ""},
		{301, ""}, {200, "raw\n"}, {200, "hello, tern\n"}, {200, ""}, {200, "<h1>home</h1>\n"},
	}
	for i, w := range want {
		method := "GET"
		if i == 4 {
			method = "HEAD"
		}
		r := c.read(method)
		if r.status != w.status || (w.body != "" && string(r.body) != w.body) {
			t.Fatalf("response %d: %v %q, want %d %q", i, r, r.body, w.status, w.body)
		}
	}
	c.expectOpen(200 * time.Millisecond)
}

// TestPipelinedByteByByte sends two requests a byte at a time.
func TestPipelinedByteByByte(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	raw := req("GET", "/a.txt") + req("GET", "/noext")
	for i := 0; i < len(raw); i++ {
		c.send(raw[i : i+1])
	}
	if r := c.read("GET"); string(r.body) != "hello, tern\n" {
		t.Fatalf("first: %v", r)
	}
	if r := c.read("GET"); string(r.body) != "raw\n" {
		t.Fatalf("second: %v", r)
	}
}

func TestHTTP10(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	r := c.do("GET /a.txt HTTP/1.0\r\n\r\n")
	if r.status != 200 || r.header("Connection") != "close" || string(r.body) != "hello, tern\n" {
		t.Fatalf("1.0: %v", r)
	}
	c.expectClosed(2 * time.Second)

	c = s.dial()
	for i := 0; i < 3; i++ {
		r = c.do("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if r.status != 200 || r.header("Connection") != "keep-alive" {
			t.Fatalf("1.0 keep-alive %d: %v", i, r)
		}
	}
	c.expectOpen(200 * time.Millisecond)
}

func TestConnectionClose(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	r := c.do(req("GET", "/a.txt", "Connection: close"))
	if r.status != 200 || r.header("Connection") != "close" {
		t.Fatalf("%v", r)
	}
	c.expectClosed(2 * time.Second)
}

func TestKeepaliveRequests(t *testing.T) {
	s := staticServer(t, "keepalive_requests = 3")
	c := s.dial()
	for i, want := range []string{"keep-alive", "keep-alive", "close"} {
		if r := c.do(req("GET", "/a.txt")); r.header("Connection") != want {
			t.Fatalf("request %d: Connection %q, want %q", i+1, r.header("Connection"), want)
		}
	}
	c.expectClosed(2 * time.Second)
}

// TestBodiesDiscarded sends bodies the static handler does not want: the
// response comes, the body is read and dropped, and the connection carries
// the next request.
func TestBodiesDiscarded(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	cases := []struct {
		raw    string
		status int
	}{
		{"POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 405},
		{"GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 200},
		{"POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", 405},
	}
	for i, cs := range cases {
		if r := c.do(cs.raw); r.status != cs.status || r.header("Connection") != "keep-alive" {
			t.Fatalf("%d: %v", i, r)
		}
		if r := c.do(req("GET", "/noext")); string(r.body) != "raw\n" {
			t.Fatalf("%d: next request: %v", i, r)
		}
	}
	// A body that arrives after the response.
	c.send("POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
	if r := c.read("POST"); r.status != 405 {
		t.Fatalf("late body: %v", r)
	}
	c.send("world" + req("GET", "/noext"))
	if r := c.read("GET"); string(r.body) != "raw\n" {
		t.Fatalf("after late body: %v", r)
	}
}

func TestExpectContinue(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	c.send("POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	r := c.read("POST")
	if len(r.interim) != 1 || r.interim[0] != 100 || r.status != 405 {
		t.Fatalf("%v interim %v", r, r.interim)
	}
	c.send("body" + req("GET", "/noext"))
	if r := c.read("GET"); string(r.body) != "raw\n" {
		t.Fatalf("after body: %v", r)
	}
}

func TestChunkedBodyTooLarge(t *testing.T) {
	s := staticServer(t, `client_max_body_size = "10"`)
	c := s.dial()
	c.send("POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n")
	if r := c.read("POST"); r.status != 413 || r.header("Connection") != "close" {
		t.Fatalf("%v", r)
	}
	c.expectClosed(2 * time.Second)
}

func TestKeepaliveTimeout(t *testing.T) {
	s := staticServer(t, `keepalive_timeout = "1s"`)
	c := s.dial()
	c.do(req("GET", "/a.txt"))
	start := time.Now()
	c.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 800*time.Millisecond || el > 3*time.Second {
		t.Fatalf("closed after %v, want about 1s", el)
	}
}

// TestHeaderTimeout: a head trickling in a byte every 300 ms is cut at
// client_header_timeout from its first byte, without a response.
func TestHeaderTimeout(t *testing.T) {
	s := staticServer(t, `client_header_timeout = "1s"`)
	c := s.dial()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range "GET /a.txt HTTP/1.1\r\nHost: a\r\nX-Slow: yes" {
			if _, err := c.c.Write([]byte{byte(b)}); err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond)
			if time.Since(start) > 4*time.Second {
				return
			}
		}
	}()
	c.expectClosed(5 * time.Second)
	if el := time.Since(start); el < 800*time.Millisecond || el > 3*time.Second {
		t.Fatalf("closed after %v, want about 1s", el)
	}
	<-done
	// An idle fresh connection is cut too.
	c = s.dial()
	c.expectClosed(5 * time.Second)
}

func TestManyConcurrentConnections(t *testing.T) {
	s := staticServer(t, "")
	const n = 1000
	conns := make([]*client, n)
	for i := range conns {
		conns[i] = s.dial()
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			if _, err := c.c.Write([]byte(req("GET", "/a.txt"))); err != nil {
				errs <- err
				return
			}
			c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			r, err := readResponse(c.br, "GET")
			if err != nil {
				errs <- fmt.Errorf("conn %d: %v", i, err)
				return
			}
			if r.status != 200 || string(r.body) != "hello, tern\n" {
				errs <- fmt.Errorf("conn %d: %v", i, r)
			}
		}(i, c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
