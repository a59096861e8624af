package t

import (
	"strings"
	"testing"
	"time"
)

// headersServer configures add_header and expires at http level and
// overrides expires in locations.
func headersServer(t *testing.T) *server {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
http {
  access_log = "{{DIR}}/logs/access.log"
  add_header = { "X-Test" = "yes", "X-Frame-Options" = "DENY" }
  expires = "1h"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/epoch/" { expires = "epoch" }
    location "/max/" { expires = "max" }
    location "/neg/" { expires = "-30m" }
    location "/zero/" { expires = "0" }
    location "/off/" { expires = "off" }
    location "/days/" { expires = "30d" }
    location "/etag/" { add_header = { "ETag" = "\"mine\"", "Cache-Control" = "public" } }
  }
}
`)
	for _, p := range []string{"a.txt", "epoch/a.txt", "max/a.txt", "neg/a.txt", "zero/a.txt", "off/a.txt", "days/a.txt", "etag/a.txt"} {
		s.file(p, "headers!\n")
	}
	s.file("noindex/.keep", "")
	return s.start()
}

// TestHeadersStatuses: add_header and expires go on 200, 206, 301 and
// 304 (of nginx's list, the statuses a static server makes) and on no
// other status.
func TestHeadersStatuses(t *testing.T) {
	s := headersServer(t)
	etag := s.get(req("GET", "/a.txt")).header("ETag")
	cases := []struct {
		method, path string
		headers      []string
		status       int
		added        bool
	}{
		{"GET", "/a.txt", nil, 200, true},
		{"HEAD", "/a.txt", nil, 200, true},
		{"GET", "/a.txt", []string{"Range: bytes=0-1"}, 206, true},
		{"GET", "/a.txt", []string{"Range: bytes=0-1,3-4"}, 206, true},
		{"GET", "/a.txt", []string{"If-None-Match: " + etag}, 304, true},
		{"GET", "/noindex", nil, 301, true},
		{"GET", "/missing", nil, 404, false},
		{"GET", "/noindex/", nil, 403, false},
		{"POST", "/a.txt", nil, 405, false},
		{"GET", "/a.txt", []string{`If-Match: "x"`}, 412, false},
		{"GET", "/a.txt", []string{"Range: bytes=100-"}, 416, false},
		{"GET", "/%00", nil, 400, false},
	}
	for i, c := range cases {
		r := s.get(req(c.method, c.path, c.headers...))
		if r.status != c.status {
			t.Errorf("%d: %s %s: status %d, want %d", i, c.method, c.path, r.status, c.status)
			continue
		}
		for _, h := range []string{"X-Test", "X-Frame-Options", "Expires", "Cache-Control"} {
			if _, ok := r.lookup(h); ok != c.added {
				t.Errorf("%d: %d response: %s present %v, want %v", i, c.status, h, ok, c.added)
			}
		}
	}
}

// TestExpires checks each form of expires, and the order of the fields:
// Expires, Cache-Control, then add_header in the order written, before
// Accept-Ranges (nginx's list order).
func TestExpires(t *testing.T) {
	s := headersServer(t)
	cases := []struct {
		path    string
		expires string // "" for none; "+N" for Date plus N seconds
		cc      string
	}{
		{"/a.txt", "+3600", "max-age=3600"},
		{"/epoch/a.txt", "Thu, 01 Jan 1970 00:00:01 GMT", "no-cache"},
		{"/max/a.txt", "Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000"},
		{"/neg/a.txt", "+-1800", "no-cache"},
		{"/zero/a.txt", "+0", "max-age=0"},
		{"/days/a.txt", "+2592000", "max-age=2592000"},
		{"/off/a.txt", "", ""},
	}
	c := s.dial()
	for i, cs := range cases {
		r := c.do(req("GET", cs.path))
		exp, hasExp := r.lookup("Expires")
		if cs.expires == "" {
			if hasExp || r.header("Cache-Control") != "" {
				t.Errorf("%d: %s: %v", i, cs.path, r)
			}
			continue
		}
		want := cs.expires
		if strings.HasPrefix(want, "+") {
			date, err := time.Parse(time.RFC1123, r.header("Date"))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := time.ParseDuration(want[1:] + "s")
			want = date.Add(d).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
		}
		if exp != want || r.header("Cache-Control") != cs.cc {
			t.Errorf("%d: %s: Expires %q Cache-Control %q, want %q %q", i, cs.path, exp, r.header("Cache-Control"), want, cs.cc)
		}
		order := "Server Date Content-Type Content-Length Last-Modified Connection ETag Expires Cache-Control X-Test X-Frame-Options Accept-Ranges"
		if got := strings.Join(r.names(), " "); got != order {
			t.Errorf("%d: %s: fields %s", i, cs.path, got)
		}
	}
}

// TestAddHeaderETag: add_header ETag replaces the file's tag, as nginx,
// and a second Cache-Control joins the one expires makes.
func TestAddHeaderETag(t *testing.T) {
	s := headersServer(t)
	c := s.dial()
	r := c.do(req("GET", "/etag/a.txt"))
	var ccs []string
	for _, h := range r.headers {
		if h[0] == "Cache-Control" {
			ccs = append(ccs, h[1])
		}
	}
	if r.header("ETag") != `"mine"` || strings.Join(ccs, "|") != "max-age=3600|public" {
		t.Fatalf("%v", r)
	}
	// If-Range compares the tag sent.
	if r := c.do(req("GET", "/etag/a.txt", "Range: bytes=0-1", `If-Range: "mine"`)); r.status != 206 || string(r.body) != "he" {
		t.Fatalf("If-Range: %v", r)
	}
}
