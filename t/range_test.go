package t

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rangeText is nginx range.t's test file: 1000 bytes, "X000XXXXXX" to
// "X099XXXXXX".
var rangeText = func() string {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "X%03dXXXXXX", i)
	}
	return b.String()
}()

// rangeServer serves t1.txt (rangeText, cached in memory), big.bin (20
// MiB, sent with sendfile) and nosf/big.bin (the same, sendfile off), and
// t1.txt under /two/ (max_ranges 2) and /none/ (max_ranges 0).
func rangeServer(t *testing.T) (*server, []byte) {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
http {
  access_log = "{{DIR}}/logs/access.log"
  sendfile_max_chunk = "1m"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/two/" { max_ranges = 2 }
    location "/none/" { max_ranges = 0 }
    location "/nosf/" { sendfile = false }
  }
}
`)
	for _, p := range []string{"t1.txt", "two/t1.txt", "none/t1.txt"} {
		s.file(p, rangeText)
	}
	big := make([]byte, 20<<20)
	rand.New(rand.NewSource(20)).Read(big)
	for _, p := range []string{"big.bin", "nosf/big.bin"} {
		s.file(p, "")
		if err := os.WriteFile(filepath.Join(s.root, p), big, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.start()
	return s, big
}

// TestRange covers nginx's range.t and where tern differs from it.
func TestRange(t *testing.T) {
	s, _ := rangeServer(t)
	st, err := os.Stat(filepath.Join(s.root, "t1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	etag := fmt.Sprintf(`"%x-%x"`, st.ModTime().Unix(), st.Size())
	lm := st.ModTime().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	cases := []struct {
		method, path string
		headers      []string
		status       int
		cr           string // Content-Range, "" for none
		body         string // the whole body for 200 and single ranges; "" to skip
	}{
		{"GET", "/t1.txt", []string{"Range: bytes=0-8"}, 206, "bytes 0-8/1000", "X000XXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=-10"}, 206, "bytes 990-999/1000", "X099XXXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=990-"}, 206, "bytes 990-999/1000", "X099XXXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=990-1990"}, 206, "bytes 990-999/1000", "X099XXXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=0-10001"}, 206, "bytes 0-999/1000", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=-2000"}, 206, "bytes 0-999/1000", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=999-999"}, 206, "bytes 999-999/1000", "X"},
		{"GET", "/t1.txt", []string{"Range: BYTES = 1-2"}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: Bytes=1-2"}, 206, "bytes 1-2/1000", "00"},
		{"GET", "/t1.txt", []string{"Range: bytes= 1 - 2 ,"}, 206, "bytes 1-2/1000", "00"},
		// Unsatisfiable: 416 with the size.
		{"GET", "/t1.txt", []string{"Range: bytes=100000-"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=1000-"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=-0"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=1000-1001, 2000-"}, 416, "bytes */1000", ""},
		{"HEAD", "/t1.txt", []string{"Range: bytes=100000-"}, 200, "", ""},
		// Invalid: 416, as nginx (RFC 9110 §14.2).
		{"GET", "/t1.txt", []string{"Range: bytes=alpha"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=10-alpha"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=10"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=10-11 12-"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes=5-4"}, 416, "bytes */1000", ""},
		{"GET", "/t1.txt", []string{"Range: bytes="}, 416, "bytes */1000", ""},
		// Not the bytes unit: ignored.
		{"GET", "/t1.txt", []string{"Range: items=0-1"}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: 0-1"}, 200, "", rangeText},
		// HEAD ignores Range (RFC 9110 §14.2; nginx sends a 206 head).
		{"HEAD", "/t1.txt", []string{"Range: bytes=0-8"}, 200, "", ""},
		// Several ranges adding up past the file: the whole file.
		{"GET", "/t1.txt", []string{"Range: bytes=0-10001, 0-0"}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=0-499, 400-999"}, 200, "", rangeText},
		// max_ranges.
		{"GET", "/two/t1.txt", []string{"Range: bytes=0-9, -10"}, 206, "", ""},
		{"GET", "/two/t1.txt", []string{"Range: bytes=0-9, -10, 10000-"}, 206, "", ""},
		{"GET", "/two/t1.txt", []string{"Range: bytes=0-9, -10, 10-19"}, 200, "", rangeText},
		{"GET", "/none/t1.txt", []string{"Range: bytes=0-9"}, 200, "", rangeText},
		// If-Range: the strong ETag or Last-Modified, else the whole file.
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", "If-Range: " + etag}, 206, "bytes 0-8/1000", "X000XXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", `If-Range: "other"`}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", "If-Range: W/" + etag}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", "If-Range: " + lm}, 206, "bytes 0-8/1000", "X000XXXXX"},
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", "If-Range: " + st.ModTime().Add(time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=0-8", "If-Range: " + st.ModTime().Add(-time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"Range: bytes=100000-", `If-Range: "other"`}, 200, "", rangeText},
		{"GET", "/t1.txt", []string{"If-Range: " + etag}, 200, "", rangeText},
		// Ranges of a file sent with sendfile and with read/write.
		{"GET", "/big.bin", []string{"Range: bytes=10485760-10485769"}, 206, "bytes 10485760-10485769/20971520", ""},
		{"GET", "/nosf/big.bin", []string{"Range: bytes=-1"}, 206, "bytes 20971519-20971519/20971520", ""},
		{"GET", "/missing", []string{"Range: bytes=0-1"}, 404, "", ""},
	}
	c := s.dial()
	for i, cs := range cases {
		r := c.do(req(cs.method, cs.path, cs.headers...))
		if r.status != cs.status || r.header("Content-Range") != cs.cr {
			t.Errorf("%d: %s %s %q: %d Content-Range %q, want %d %q", i, cs.method, cs.path, cs.headers, r.status, r.header("Content-Range"), cs.status, cs.cr)
			c = s.dial()
			continue
		}
		if cs.body != "" && string(r.body) != cs.body {
			t.Errorf("%d: %q: body %q", i, cs.headers, r.body)
		}
		checkRangeHead(t, i, r, cs.method)
	}
}

// checkRangeHead checks the fields that come with each status: a 206 has
// no Accept-Ranges, a 200 does (except with max_ranges 0), a 416 has the
// error page and no Last-Modified.
func checkRangeHead(t *testing.T, i int, r *response, method string) {
	t.Helper()
	_, ar := r.lookup("Accept-Ranges")
	switch r.status {
	case 206:
		if ar || r.header("Last-Modified") == "" || r.header("ETag") == "" {
			t.Errorf("%d: 206 head %v", i, r)
		}
	case 416:
		if ar || r.header("Last-Modified") != "" || r.header("Content-Type") != "text/html" ||
			!strings.Contains(string(r.body), "416 Requested Range Not Satisfiable") {
			t.Errorf("%d: 416 %v %q", i, r, r.body)
		}
	case 200:
		if method == "HEAD" && r.header("Content-Length") != "1000" {
			t.Errorf("%d: HEAD %v", i, r)
		}
	}
	if r.status != 404 && r.header("Connection") != "keep-alive" {
		t.Errorf("%d: %v", i, r)
	}
}

var boundaryRE = regexp.MustCompile(`^multipart/byteranges; boundary=(\d{20})$`)

// multipartParts splits a multipart/byteranges body laid out as nginx's
// into its parts' Content-Range values and data, checking every byte of
// the framing.
func multipartParts(t *testing.T, r *response, ctype string) ([]string, [][]byte) {
	t.Helper()
	m := boundaryRE.FindStringSubmatch(r.header("Content-Type"))
	if m == nil {
		t.Fatalf("Content-Type %q", r.header("Content-Type"))
	}
	if n, _ := strconv.Atoi(r.header("Content-Length")); n != len(r.body) {
		t.Fatalf("Content-Length %q for %d bytes", r.header("Content-Length"), len(r.body))
	}
	delim := []byte("\r\n--" + m[1])
	body := r.body
	if !bytes.HasSuffix(body, append(append([]byte{}, delim...), "--\r\n"...)) {
		t.Fatalf("body ends with %q", body[max(0, len(body)-40):])
	}
	body = body[:len(body)-len(delim)-4]
	var crs []string
	var data [][]byte
	for len(body) > 0 {
		if !bytes.HasPrefix(body, delim) {
			t.Fatalf("part starts with %q", body[:min(40, len(body))])
		}
		body = body[len(delim):]
		head := "\r\nContent-Type: " + ctype + "\r\nContent-Range: bytes "
		if !bytes.HasPrefix(body, []byte(head)) {
			t.Fatalf("part head %q", body[:min(80, len(body))])
		}
		body = body[len(head):]
		cr, rest, _ := bytes.Cut(body, []byte("\r\n\r\n"))
		var first, last, size int64
		if _, err := fmt.Sscanf(string(cr), "%d-%d/%d", &first, &last, &size); err != nil {
			t.Fatalf("Content-Range %q", cr)
		}
		n := last - first + 1
		crs = append(crs, string(cr))
		data = append(data, rest[:n])
		body = rest[n:]
	}
	return crs, data
}

// TestRangeMultipart checks multipart responses byte for byte: a small
// cached file, and a 20 MiB file with and without sendfile, whose parts
// are compared with the file.
func TestRangeMultipart(t *testing.T) {
	s, big := rangeServer(t)
	c := s.dial()
	r := c.do(req("GET", "/t1.txt", "Range: bytes=0-9, -10, 100000-, 10-19"))
	crs, data := multipartParts(t, r, "text/plain")
	if r.status != 206 || strings.Join(crs, " ") != "0-9/1000 990-999/1000 10-19/1000" ||
		string(bytes.Join(data, nil)) != "X000XXXXXXX099XXXXXXX001XXXXXX" {
		t.Fatalf("%v: %q %q", r, crs, data)
	}
	specs := []struct{ first, last int64 }{
		{0, 99}, {1 << 20, 2<<20 - 1}, {10000000, 13999999}, {20<<20 - 5000, 20<<20 - 1}, {5000000, 5000000}, {0, 99},
	}
	var rng []string
	for _, sp := range specs {
		rng = append(rng, fmt.Sprintf("%d-%d", sp.first, sp.last))
	}
	rng[3] = "-5000"
	for _, path := range []string{"/big.bin", "/nosf/big.bin"} {
		c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
		c.send(req("GET", path, "Range: bytes="+strings.Join(rng, ", ")))
		r, err := readResponse(c.br, "GET")
		if err != nil || r.status != 206 {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		crs, data := multipartParts(t, r, "application/octet-stream")
		if len(crs) != len(specs) {
			t.Fatalf("%s: %d parts", path, len(crs))
		}
		for i, sp := range specs {
			want := fmt.Sprintf("%d-%d/%d", sp.first, sp.last, len(big))
			if crs[i] != want || !bytes.Equal(data[i], big[sp.first:sp.last+1]) {
				t.Fatalf("%s part %d: %q (%d bytes), want %q", path, i, crs[i], len(data[i]), want)
			}
		}
	}
	// The connection carries on after the multipart responses.
	if r := c.do(req("GET", "/t1.txt", "Range: bytes=-3")); r.status != 206 || string(r.body) != "XXX" {
		t.Fatalf("after: %v %q", r, r.body)
	}
}

// TestRangeHTTP10 serves ranges to an HTTP/1.0 client, which closes.
func TestRangeHTTP10(t *testing.T) {
	s, big := rangeServer(t)
	r := s.get("GET /big.bin HTTP/1.0\r\nRange: bytes=100-199\r\n\r\n")
	if r.status != 206 || !bytes.Equal(r.body, big[100:200]) || r.header("Connection") != "close" {
		t.Fatalf("%v", r)
	}
	c := s.dial()
	c.send("GET /t1.txt HTTP/1.0\r\nRange: bytes=0-0,-1\r\n\r\n")
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(c.br)
	if err != nil || !bytes.HasPrefix(raw, []byte("HTTP/1.1 206 ")) || !bytes.HasSuffix(raw, []byte("--\r\n")) {
		t.Fatalf("%v %q", err, raw)
	}
}

// TestRangeEmptyFile: "bytes=0-" on an empty file is a 200 (nginx ticket
// #1031), a range past its end a 416.
func TestRangeEmptyFile(t *testing.T) {
	s := newServer(t, basicConfig(""))
	s.file("empty", "")
	s.start()
	c := s.dial()
	for i, cs := range []struct {
		rng    string
		status int
	}{{"bytes=0-", 200}, {"bytes=-5", 200}, {"bytes=5-", 416}, {"bytes=0-0,1-1", 200}} {
		r := c.do(req("GET", "/empty", "Range: "+cs.rng))
		if r.status != cs.status || (cs.status == 416 && r.header("Content-Range") != "bytes */0") {
			t.Errorf("%d: %q: %v", i, cs.rng, r)
		}
	}
}
