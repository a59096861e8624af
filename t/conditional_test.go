package t

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// condMTime is the modification time of the conditional tests' files.
var condMTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// condDate formats t as an IMF-fixdate.
func condDate(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }

// condServer serves c.txt (13 bytes, modified at condMTime) at /, and
// under /before/ and /off/ with those if_modified_since modes.
func condServer(t *testing.T) (*server, string) {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
http {
  access_log = "{{DIR}}/logs/access.log"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/before/" { if_modified_since = "before" }
    location "/off/" { if_modified_since = "off" }
  }
}
`)
	for _, p := range []string{"c.txt", "before/c.txt", "off/c.txt"} {
		path := s.file(p, "conditional!\n")
		if err := os.Chtimes(path, condMTime, condMTime); err != nil {
			t.Fatal(err)
		}
	}
	s.file("dir/.keep", "")
	s.start()
	return s, fmt.Sprintf(`"%x-%x"`, condMTime.Unix(), 13)
}

// TestConditional drives every precondition and their combinations in
// RFC 9110 §13.2.2's order, each on a keep-alive connection that must
// serve a plain GET afterwards (a 304 must not leave a body behind).
func TestConditional(t *testing.T) {
	s, etag := condServer(t)
	lm := condDate(condMTime)
	earlier, later := condDate(condMTime.Add(-time.Second)), condDate(condMTime.Add(time.Second))
	cases := []struct {
		method, path string
		headers      []string
		status       int
	}{
		{"GET", "/c.txt", nil, 200},
		// If-Match: strong comparison, "*", lists.
		{"GET", "/c.txt", []string{"If-Match: " + etag}, 200},
		{"GET", "/c.txt", []string{"If-Match: *"}, 200},
		{"GET", "/c.txt", []string{`If-Match: "nope", ` + etag}, 200},
		{"GET", "/c.txt", []string{`If-Match: "nope"`}, 412},
		{"GET", "/c.txt", []string{"If-Match: W/" + etag}, 412},
		{"HEAD", "/c.txt", []string{`If-Match: "nope"`}, 412},
		// If-Unmodified-Since.
		{"GET", "/c.txt", []string{"If-Unmodified-Since: " + lm}, 200},
		{"GET", "/c.txt", []string{"If-Unmodified-Since: " + later}, 200},
		{"GET", "/c.txt", []string{"If-Unmodified-Since: " + earlier}, 412},
		{"GET", "/c.txt", []string{"If-Unmodified-Since: not a date"}, 200},
		{"GET", "/c.txt", []string{"If-Match: " + etag, "If-Unmodified-Since: " + earlier}, 200},
		{"GET", "/c.txt", []string{`If-Match: "nope"`, "If-Unmodified-Since: " + later}, 412},
		// If-None-Match: weak comparison, lists, "*".
		{"GET", "/c.txt", []string{"If-None-Match: " + etag}, 304},
		{"GET", "/c.txt", []string{"If-None-Match: W/" + etag}, 304},
		{"GET", "/c.txt", []string{"If-None-Match: *"}, 304},
		{"GET", "/c.txt", []string{`If-None-Match: "a", "b",` + etag}, 304},
		{"GET", "/c.txt", []string{`If-None-Match: "a", "b"`}, 200},
		{"HEAD", "/c.txt", []string{"If-None-Match: " + etag}, 304},
		// If-Modified-Since, exact (the default), before, off.
		{"GET", "/c.txt", []string{"If-Modified-Since: " + lm}, 304},
		{"GET", "/c.txt", []string{"If-Modified-Since: " + later}, 200},
		{"GET", "/c.txt", []string{"If-Modified-Since: " + earlier}, 200},
		{"GET", "/c.txt", []string{"If-Modified-Since: Tuesday, 02-Jan-24 03:04:05 GMT"}, 304},
		{"GET", "/c.txt", []string{"If-Modified-Since: Tue Jan  2 03:04:05 2024"}, 304},
		{"GET", "/c.txt", []string{"If-Modified-Since: 2024-01-02T03:04:05Z"}, 200},
		{"GET", "/before/c.txt", []string{"If-Modified-Since: " + later}, 304},
		{"GET", "/before/c.txt", []string{"If-Modified-Since: " + lm}, 304},
		{"GET", "/before/c.txt", []string{"If-Modified-Since: " + earlier}, 200},
		{"GET", "/off/c.txt", []string{"If-Modified-Since: " + lm}, 200},
		{"GET", "/off/c.txt", []string{"If-None-Match: " + etag}, 304},
		// If-None-Match decides alone (nginx needs both to agree).
		{"GET", "/c.txt", []string{`If-None-Match: "nope"`, "If-Modified-Since: " + lm}, 200},
		{"GET", "/c.txt", []string{"If-None-Match: " + etag, "If-Modified-Since: " + earlier}, 304},
		// 412 conditions come first.
		{"GET", "/c.txt", []string{`If-Match: "nope"`, "If-None-Match: " + etag}, 412},
		{"GET", "/c.txt", []string{"If-Unmodified-Since: " + earlier, "If-Modified-Since: " + lm}, 412},
		{"GET", "/c.txt", []string{"If-Match: " + etag, "If-None-Match: " + etag}, 304},
		// Only a 200 is subject to preconditions (RFC 9110 §13.2.1).
		{"GET", "/missing", []string{`If-Match: "nope"`}, 404},
		{"GET", "/missing", []string{"If-None-Match: *"}, 404},
		{"GET", "/dir", []string{"If-None-Match: *"}, 301},
		{"POST", "/c.txt", []string{"If-None-Match: *"}, 405},
		// A precondition with a Range: 304 and 412 win, If-Range does not
		// count as one.
		{"GET", "/c.txt", []string{"If-None-Match: " + etag, "Range: bytes=0-1"}, 304},
		{"GET", "/c.txt", []string{`If-Match: "nope"`, "Range: bytes=0-1"}, 412},
		{"GET", "/c.txt", []string{"If-Match: " + etag, "Range: bytes=0-1"}, 206},
	}
	c := s.dial()
	for i, cs := range cases {
		r := c.do(req(cs.method, cs.path, cs.headers...))
		if r.status != cs.status {
			t.Errorf("%d: %s %s %q: status %d, want %d", i, cs.method, cs.path, cs.headers, r.status, cs.status)
			c = s.dial()
			continue
		}
		checkConditionalHead(t, i, r, cs.method, etag, lm)
		if g := c.do(req("GET", "/c.txt")); g.status != 200 || string(g.body) != "conditional!\n" {
			t.Fatalf("%d: the next request on the connection: %v", i, g)
		}
	}
}

// checkConditionalHead checks what a 304 and a 412 carry.
func checkConditionalHead(t *testing.T, i int, r *response, method, etag, lm string) {
	t.Helper()
	switch r.status {
	case 304:
		for _, h := range []string{"Content-Type", "Content-Length", "Accept-Ranges", "Transfer-Encoding", "Content-Encoding"} {
			if _, ok := r.lookup(h); ok {
				t.Errorf("%d: 304 with %s: %v", i, h, r)
			}
		}
		if r.header("ETag") != etag || r.header("Last-Modified") != lm || r.header("Connection") != "keep-alive" ||
			r.header("Server") == "" || !dateRE.MatchString(r.header("Date")) {
			t.Errorf("%d: 304 head %v", i, r)
		}
	case 412:
		if _, ok := r.lookup("ETag"); ok || r.header("Content-Type") != "text/html" {
			t.Errorf("%d: 412 head %v", i, r)
		}
		if method == "GET" && !strings.Contains(string(r.body), "412 Precondition Failed") {
			t.Errorf("%d: 412 body %q", i, r.body)
		}
	}
}

// TestConditionalChangedFile: a file changed after the client cached it
// is sent again, and its new validators no longer match the old ones.
func TestConditionalChangedFile(t *testing.T) {
	s, etag := condServer(t)
	path := filepath.Join(s.root, "c.txt")
	if r := s.get(req("GET", "/c.txt", "If-None-Match: "+etag)); r.status != 304 {
		t.Fatalf("before the change: %v", r)
	}
	changed := condMTime.Add(time.Hour)
	if err := os.WriteFile(path, []byte("changed, and longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, changed, changed); err != nil {
		t.Fatal(err)
	}
	// The small-file cache revalidates within a second or two.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get(req("GET", "/c.txt", "If-None-Match: "+etag, "If-Modified-Since: "+condDate(condMTime)))
		if r.status == 200 && string(r.body) == "changed, and longer\n" {
			if r.header("ETag") == etag || r.header("Last-Modified") != condDate(changed) {
				t.Fatalf("new validators: %v", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v after the change", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
