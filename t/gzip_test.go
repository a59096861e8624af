package t

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gzipServer serves, with gzip on: page.html (2 KiB), big.txt (8 MiB of
// text, too big for the small-file cache: read with pread), tiny.txt
// (under gzip_min_length), img.png; the same page under /nogzip/ (gzip
// off), /l9/ (gzip_comp_level 9) and /css/ (gzip_types text/css only).
func gzipServer(t *testing.T) (*server, map[string][]byte) {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
http {
  access_log = "{{DIR}}/logs/access.log"
  gzip = true
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/nogzip/" { gzip = false }
    location "/l9/" { gzip_comp_level = 9 }
    location "/css/" { gzip_types = ["text/css"] }
  }
}
`)
	page := strings.Repeat("<p>Compress me, compress me, compress me.</p>\n", 45)
	var big strings.Builder
	for i := 0; big.Len() < 8<<20; i++ {
		fmt.Fprintf(&big, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	png := make([]byte, 1000)
	rand.New(rand.NewSource(1)).Read(png)
	files := map[string]string{
		"page.html": page, "big.txt": big.String(), "tiny.txt": "0123456789", "img.png": string(png),
		"nogzip/page.html": page, "l9/page.html": page,
		"css/a.css": page, "css/a.txt": page, "css/a.html": page,
	}
	content := map[string][]byte{}
	for p, c := range files {
		s.file(p, c)
		content["/"+p] = []byte(c)
	}
	s.start()
	return s, content
}

// gzipDecode decompresses one gzip member.
func gzipDecode(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(zr)
}

// TestGzip checks when a response is compressed and what its head says,
// decompressing every compressed body and comparing it with the file.
func TestGzip(t *testing.T) {
	s, content := gzipServer(t)
	const ae = "Accept-Encoding: gzip, deflate, br"
	cases := []struct {
		method, path string
		headers      []string
		gzipped      bool
		vary         bool
	}{
		{"GET", "/page.html", []string{ae}, true, true},
		{"GET", "/page.html", []string{"Accept-Encoding: GZIP"}, true, true},
		{"GET", "/page.html", []string{"Accept-Encoding: x-gzip"}, true, true},
		{"GET", "/page.html", []string{"Accept-Encoding: *"}, true, true},
		{"GET", "/page.html", []string{"Accept-Encoding: br;q=1, gzip;q=0.5"}, true, true},
		{"GET", "/page.html", nil, false, true},
		{"GET", "/page.html", []string{"Accept-Encoding: gzip;q=0"}, false, true},
		{"GET", "/page.html", []string{"Accept-Encoding: *;q=0"}, false, true},
		{"GET", "/page.html", []string{"Accept-Encoding: identity"}, false, true},
		{"GET", "/page.html", []string{"Accept-Encoding: deflate, br"}, false, true},
		{"GET", "/big.txt", []string{ae}, true, true},
		{"GET", "/tiny.txt", []string{ae}, false, false},
		{"GET", "/img.png", []string{ae}, false, false},
		{"GET", "/nogzip/page.html", []string{ae}, false, false},
		{"GET", "/l9/page.html", []string{ae}, true, true},
		{"GET", "/css/a.css", []string{ae}, true, true},
		{"GET", "/css/a.html", []string{ae}, true, true},
		{"GET", "/css/a.txt", []string{ae}, false, false},
		// A gzipped response is never ranged: the whole body, compressed.
		{"GET", "/page.html", []string{ae, "Range: bytes=0-9"}, true, true},
		{"GET", "/page.html", []string{ae, "Range: bytes=0-9, 20-29"}, true, true},
		{"GET", "/page.html", []string{"Range: bytes=0-9"}, false, true},
		// A HEAD gets the GET's head without a body.
		{"HEAD", "/page.html", []string{ae}, true, true},
		{"HEAD", "/page.html", nil, false, true},
	}
	c := s.dial()
	for i, cs := range cases {
		r := c.do(req(cs.method, cs.path, cs.headers...))
		if r.status != 200 && r.status != 206 {
			t.Errorf("%d: %s %q: %v", i, cs.path, cs.headers, r)
			c = s.dial()
			continue
		}
		checkGzipHead(t, i, r, cs.method, cs.gzipped, cs.vary)
		if cs.method == "HEAD" {
			if len(r.body) != 0 {
				t.Errorf("%d: HEAD with a body", i)
			}
			continue
		}
		body := r.body
		if cs.gzipped {
			var err error
			if body, err = gzipDecode(r.body); err != nil {
				t.Errorf("%d: %s: %v", i, cs.path, err)
				continue
			}
		}
		if want := content[cs.path]; r.status == 200 && !bytes.Equal(body, want) {
			t.Errorf("%d: %s: %d bytes, want %d", i, cs.path, len(body), len(want))
		}
	}
}

// checkGzipHead checks the fields of a compressed or identity response.
func checkGzipHead(t *testing.T, i int, r *response, method string, gzipped, vary bool) {
	t.Helper()
	_, hasVary := r.lookup("Vary")
	if hasVary != vary || (hasVary && r.header("Vary") != "Accept-Encoding") {
		t.Errorf("%d: Vary %q, want %v", i, r.header("Vary"), vary)
	}
	etag := r.header("ETag")
	_, cl := r.lookup("Content-Length")
	_, ar := r.lookup("Accept-Ranges")
	if !gzipped {
		if _, ok := r.lookup("Content-Encoding"); ok || !cl || strings.HasPrefix(etag, "W/") {
			t.Errorf("%d: identity response %v", i, r)
		}
		return
	}
	// A HEAD's head has neither Content-Length nor Transfer-Encoding:
	// the length is known only once compressed, and there is no body.
	chunked := r.header("Transfer-Encoding") == "chunked"
	if r.status != 200 || r.header("Content-Encoding") != "gzip" || cl || ar || !etagRE.MatchString(strings.TrimPrefix(etag, "W/")) ||
		!strings.HasPrefix(etag, `W/"`) || chunked != (method == "GET") || r.header("Connection") != "keep-alive" {
		t.Errorf("%d: gzipped response %v", i, r)
	}
}

// TestGzipHTTP10: an HTTP/1.0 client gets the identity body, with its
// length, and may keep the connection.
func TestGzipHTTP10(t *testing.T) {
	s, content := gzipServer(t)
	c := s.dial()
	for i := range 2 {
		r := c.do("GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\nAccept-Encoding: gzip\r\n\r\n")
		if r.status != 200 || r.header("Content-Encoding") != "" || r.header("Vary") != "Accept-Encoding" ||
			r.header("Content-Length") != fmt.Sprint(len(content["/page.html"])) || !bytes.Equal(r.body, content["/page.html"]) ||
			r.header("Connection") != "keep-alive" {
			t.Fatalf("%d: %v", i, r)
		}
	}
}

// TestGzipNotModified: a 304 for a compressed response carries its Vary
// and weak ETag, and a client holding either tag gets one.
func TestGzipNotModified(t *testing.T) {
	s, _ := gzipServer(t)
	c := s.dial()
	full := c.do(req("GET", "/page.html", "Accept-Encoding: gzip"))
	weak := full.header("ETag")
	strong := strings.TrimPrefix(weak, "W/")
	for i, cs := range []struct {
		headers []string
		status  int
		etag    string
		vary    bool
	}{
		{[]string{"Accept-Encoding: gzip", "If-None-Match: " + weak}, 304, weak, true},
		{[]string{"Accept-Encoding: gzip", "If-None-Match: " + strong}, 304, weak, true},
		{[]string{"If-None-Match: " + weak}, 304, strong, true},
		{[]string{"Accept-Encoding: gzip", "If-Modified-Since: " + full.header("Last-Modified")}, 304, weak, true},
		{[]string{"Accept-Encoding: gzip", "If-Match: " + weak}, 412, "", false},
		{[]string{"Accept-Encoding: gzip", "If-Match: " + strong}, 200, weak, true},
	} {
		r := c.do(req("GET", "/page.html", cs.headers...))
		_, vary := r.lookup("Vary")
		if r.status != cs.status || r.header("ETag") != cs.etag || vary != cs.vary || r.header("Content-Encoding") != "" && r.status != 200 {
			t.Errorf("%d: %q: %v", i, cs.headers, r)
		}
	}
	if r := s.get(req("GET", "/tiny.txt", "Accept-Encoding: gzip", "If-None-Match: *")); r.status != 304 || r.header("Vary") != "" {
		t.Errorf("tiny: %v", r)
	}
}

// TestGzipErrorPages: nginx compresses 403 and 404 pages too.
func TestGzipErrorPages(t *testing.T) {
	s, _ := gzipServer(t)
	for i, cs := range []struct {
		path   string
		status int
	}{{"/missing", 404}, {"/css/", 403}, {"/nogzip/missing", 404}} {
		r := s.get(req("GET", cs.path, "Accept-Encoding: gzip"))
		body := r.body
		if r.header("Content-Encoding") == "gzip" {
			var err error
			if body, err = gzipDecode(r.body); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
		}
		want := fmt.Sprintf("<title>%d ", cs.status)
		if r.status != cs.status || !strings.Contains(string(body), want) || (r.header("Content-Encoding") == "gzip") == strings.HasPrefix(cs.path, "/nogzip/") {
			t.Errorf("%d: %s: %v %q", i, cs.path, r, body)
		}
	}
}

// TestGzipPipelined sends compressed and identity responses back to back
// on one connection: the chunked framing must end exactly.
func TestGzipPipelined(t *testing.T) {
	s, content := gzipServer(t)
	c := s.dial()
	paths := []string{"/page.html", "/tiny.txt", "/l9/page.html", "/img.png", "/page.html"}
	var all strings.Builder
	for _, p := range paths {
		all.WriteString(req("GET", p, "Accept-Encoding: gzip"))
	}
	c.send(all.String())
	for i, p := range paths {
		r := c.read("GET")
		body := r.body
		if r.header("Content-Encoding") == "gzip" {
			body, _ = gzipDecode(r.body)
		}
		if r.status != 200 || !bytes.Equal(body, content[p]) {
			t.Fatalf("%d: %s: %v", i, p, r)
		}
	}
	c.expectOpen(200 * time.Millisecond)
}

// TestGzipLargeConcurrent compresses the 8 MiB file for several clients
// at once, one of them reading slowly, while another connection is
// served small files: the large responses are made in pieces and do not
// hold the loop.
func TestGzipLargeConcurrent(t *testing.T) {
	s, content := gzipServer(t)
	want := content["/big.txt"]
	const clients = 3
	errs := make(chan error, clients)
	for n := range clients {
		c := s.dial()
		c.send(req("GET", "/big.txt", "Accept-Encoding: gzip"))
		go func() {
			c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if n == 0 {
				time.Sleep(500 * time.Millisecond) // let the socket fill
			}
			r, err := readResponse(c.br, "GET")
			if err == nil {
				var body []byte
				if body, err = gzipDecode(r.body); err == nil && !bytes.Equal(body, want) {
					err = fmt.Errorf("client %d: %d bytes back, want %d", n, len(body), len(want))
				}
			}
			errs <- err
		}()
	}
	small := s.dial()
	for i := range 20 {
		if r := small.do(req("GET", "/page.html", "Accept-Encoding: gzip")); r.status != 200 {
			t.Fatalf("small request %d: %v", i, r)
		}
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log")); bytes.Contains(b, []byte("sending response failed")) {
		t.Errorf("error log:\n%s", b)
	}
}
