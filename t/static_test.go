package t

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// staticServer serves a small tree used by several tests.
func staticServer(t *testing.T, extra string) *server {
	s := newServer(t, basicConfig(extra))
	s.file("index.html", "<h1>home</h1>\n")
	s.file("a.txt", "hello, tern\n")
	s.file("style.CSS", "body{}\n")
	s.file("noext", "raw\n")
	s.file("dir/index.html", "dir index\n")
	s.file("empty/.keep", "")
	s.file("sp ace/x y.txt", "spaced\n")
	s.file("zero.bin", "")
	return s.start()
}

var (
	etagRE = regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`)
	dateRE = regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$`)
)

func TestStaticFile(t *testing.T) {
	s := staticServer(t, "")
	st, err := os.Stat(s.root + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := s.get(req("GET", "/a.txt"))
	want := []string{"Server", "Date", "Content-Type", "Content-Length", "Last-Modified", "Connection", "ETag", "Accept-Ranges"}
	if r.status != 200 || string(r.body) != "hello, tern\n" || strings.Join(r.names(), ",") != strings.Join(want, ",") {
		t.Fatalf("got %v %q", r, r.body)
	}
	checks := []struct{ name, want string }{
		{"Server", "tern/0.1.0"},
		{"Content-Type", "text/plain"},
		{"Content-Length", "12"},
		{"Connection", "keep-alive"},
		{"Accept-Ranges", "bytes"},
		{"ETag", fmt.Sprintf(`"%x-%x"`, st.ModTime().Unix(), st.Size())},
		{"Last-Modified", st.ModTime().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
	}
	for i, c := range checks {
		if got := r.header(c.name); got != c.want {
			t.Errorf("%d: %s: %q, want %q", i, c.name, got, c.want)
		}
	}
	if !dateRE.MatchString(r.header("Date")) {
		t.Errorf("Date %q", r.header("Date"))
	}
}

// TestStatuses drives every status path of the static handler and the
// parser, each on a new connection, checking the status, key headers and
// whether the connection stays open.
func TestStatuses(t *testing.T) {
	s := staticServer(t, "")
	long := strings.Repeat("a", 9000)
	cases := []struct {
		raw    string
		status int
		header string // "Name: value" that must be present
		body   string // substring of the body
		closed bool
	}{
		{req("GET", "/"), 200, "Content-Type: text/html", "<h1>home</h1>", false},
		{req("GET", "/index.html"), 200, "Content-Length: 14", "home", false},
		{req("GET", "/style.CSS"), 200, "Content-Type: text/css", "body{}", false},
		{req("GET", "/noext"), 200, "Content-Type: application/octet-stream", "raw", false},
		{req("GET", "/zero.bin"), 200, "Content-Length: 0", "", false},
		{req("GET", "/dir/"), 200, "Content-Length: 10", "dir index", false},
		{req("GET", "/dir"), 301, "Location: http://localhost:{{PORT}}/dir/", "301 Moved Permanently", false},
		{req("GET", "/dir?a=1&b"), 301, "Location: http://localhost:{{PORT}}/dir/?a=1&b", "", false},
		{req("GET", "/sp%20ace"), 301, "Location: http://localhost:{{PORT}}/sp%20ace/", "", false},
		{req("GET", "/sp%20ace/x%20y.txt"), 200, "Content-Length: 7", "spaced", false},
		{req("GET", "/empty/"), 403, "Content-Type: text/html", "<title>403 Forbidden</title>", false},
		{req("GET", "/missing"), 404, "Content-Type: text/html", "<center><h1>404 Not Found</h1></center>", false},
		{req("GET", "/missing/"), 404, "", "404 Not Found", false},
		{req("GET", "/a.txt/x"), 404, "", "", false},
		{req("POST", "/a.txt"), 405, "Allow: GET, HEAD", "405 Not Allowed", false},
		{req("DELETE", "/"), 405, "Allow: GET, HEAD", "", false},
		{req("BREW", "/"), 405, "Allow: GET, HEAD", "", false},
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405, "Allow: GET, HEAD", "", false},
		{"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Connection: close", "", true},
		{"G{T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Connection: close", "400 Bad Request", true},
		{strings.Repeat("M", 33) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "", "", true},
		{"GET /\r\n\r\n", 400, "", "", true},
		{"GET / HTTP/1.1\r\n\r\n", 400, "", "", true},
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "Connection: close", "505 HTTP Version Not Supported", true},
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "", "", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400, "", "", true},
		{"GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "Connection: close", "414 Request-URI Too Large", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nCookie: " + long + "\r\n\r\n", 400, "", "Request Header Or Cookie Too Large", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "", "", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400, "", "", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "", "501 Not Implemented", true},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413, "Connection: close", "413 Request Entity Too Large", true},
		{req("GET", "/%00"), 400, "", "", true},
		{req("GET", "/../etc/passwd"), 400, "", "", true},
		{req("GET", "/a%zz"), 400, "", "", true},
	}
	for i, c := range cases {
		conn := s.dial()
		r := conn.do(c.raw)
		if r.status != c.status {
			t.Errorf("%d: %q: status %d, want %d (%v)", i, trunc(c.raw), r.status, c.status, r)
			continue
		}
		if c.header != "" {
			name, value, _ := strings.Cut(strings.ReplaceAll(c.header, "{{PORT}}", fmt.Sprint(s.port)), ": ")
			if got, ok := r.lookup(name); !ok || got != value {
				t.Errorf("%d: %q: %s: %q, want %q", i, trunc(c.raw), name, got, value)
			}
		}
		if !strings.Contains(string(r.body), c.body) {
			t.Errorf("%d: %q: body %q lacks %q", i, trunc(c.raw), r.body, c.body)
		}
		if c.closed {
			conn.expectClosed(2 * time.Second)
		} else if got := r.header("Connection"); got != "keep-alive" {
			t.Errorf("%d: %q: Connection %q, want keep-alive", i, trunc(c.raw), got)
		}
	}
	// The server kept serving everyone else.
	if r := s.get(req("GET", "/a.txt")); r.status != 200 {
		t.Fatalf("after the bad requests: %v", r)
	}
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func TestHead(t *testing.T) {
	s := staticServer(t, "")
	c := s.dial()
	head := c.do(req("HEAD", "/a.txt"))
	get := c.do(req("GET", "/a.txt"))
	if head.status != 200 || len(head.body) != 0 || head.header("Content-Length") != "12" {
		t.Fatalf("HEAD: %v", head)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"} {
		if head.header(h) != get.header(h) {
			t.Errorf("%s: HEAD %q, GET %q", h, head.header(h), get.header(h))
		}
	}
	if r := c.do(req("HEAD", "/missing")); r.status != 404 || len(r.body) != 0 {
		t.Fatalf("HEAD 404: %v", r)
	}
	if r := c.do(req("GET", "/a.txt")); string(r.body) != "hello, tern\n" {
		t.Fatalf("GET after HEADs: %v", r)
	}
}

func TestServerTokensOff(t *testing.T) {
	s := staticServer(t, "server_tokens = false")
	r := s.get(req("GET", "/missing"))
	if r.header("Server") != "tern" || strings.Contains(string(r.body), "0.1.0") || !strings.Contains(string(r.body), "<center>tern</center>") {
		t.Fatalf("%v %q", r, r.body)
	}
}

func TestCharset(t *testing.T) {
	s := staticServer(t, `charset = "utf-8"`)
	if r := s.get(req("GET", "/a.txt")); r.header("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("text: %q", r.header("Content-Type"))
	}
	if r := s.get(req("GET", "/noext")); r.header("Content-Type") != "application/octet-stream" {
		t.Fatalf("binary: %q", r.header("Content-Type"))
	}
	// The built-in pages are text/html, which charset always covers,
	// except a 301 or 302's (nginx leaves the redirect's out, as old
	// browsers applied it to the next page).
	for _, c := range []struct{ path, ct string }{
		{"/missing", "text/html; charset=utf-8"},
		{"/dir", "text/html"},
	} {
		if r := s.get(req("GET", c.path)); r.header("Content-Type") != c.ct {
			t.Errorf("%s: %d with Content-Type %q, want %q", c.path, r.status, r.header("Content-Type"), c.ct)
		}
	}
}
