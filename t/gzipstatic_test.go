package t

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gzipBytes(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

// TestGzipStatic: FILE.gz for clients that accept gzip, with the type of
// FILE and the length, ETag and Last-Modified of FILE.gz; Vary once
// FILE.gz exists, whether it is sent or not.
func TestGzipStatic(t *testing.T) {
	s := newServer(t, handlersConfig(`gzip_static = true`, `
    location "/off/" { gzip_static = false }
`))
	css := strings.Repeat("body { color: red; }\n", 50)
	gz := gzipBytes(t, css)
	s.file("a.css", css)
	s.file("a.css.gz", gz)
	s.file("b.txt", "plain only")
	s.file("c.js.gz", gzipBytes(t, "only compressed"))
	s.file("off/a.css", css)
	s.file("off/a.css.gz", gz)
	s.file("d.txt", "d")
	os.MkdirAll(filepath.Join(s.root, "d.txt.gz"), 0o755)
	s.file("dir/index.html", "<p>index</p>")
	s.file("dir/index.html.gz", gzipBytes(t, "<p>index</p>"))
	s.start()
	st, err := os.Stat(filepath.Join(s.root, "a.css.gz"))
	if err != nil {
		t.Fatal(err)
	}
	gzETag := fmt.Sprintf(`"%x-%x"`, st.ModTime().Unix(), st.Size())
	gzHeaders := []string{"Content-Encoding: gzip", "Vary: Accept-Encoding", "Content-Type: text/css",
		fmt.Sprintf("Content-Length: %d", len(gz)), "ETag: " + gzETag, "Accept-Ranges: bytes",
		"Last-Modified: " + st.ModTime().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}
	plain := []string{"-Content-Encoding", "Vary: Accept-Encoding", fmt.Sprintf("Content-Length: %d", len(css))}
	ae := func(v string) string { return "Accept-Encoding: " + v }
	runHCases(t, s, []hcase{
		{raw: get1("/a.css", ae("gzip")), status: 200, headers: gzHeaders, body: "=" + gz},
		{raw: get1("/a.css", ae("gzip, deflate, br")), status: 200, headers: gzHeaders},
		{raw: get1("/a.css", ae("br;q=1.0, GZIP;q=0.5")), status: 200, headers: gzHeaders},
		{raw: get1("/a.css"), status: 200, headers: plain, body: "=" + css},
		{raw: get1("/a.css", ae("gzip;q=0")), status: 200, headers: plain},
		{raw: get1("/a.css", ae("deflate, br")), status: 200, headers: plain},
		// "*" and x-gzip accept gzip (RFC 9110 §12.5.3, and the gzip
		// filter's rule); nginx's gzip_static looks for "gzip" only.
		{raw: get1("/a.css", ae("*")), status: 200, headers: gzHeaders},
		{raw: get1("/a.css", ae("x-gzip")), status: 200, headers: gzHeaders},
		{raw: get1("/a.css", ae("*, gzip;q=0")), status: 200, headers: plain},
		{raw: "GET /a.css HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", status: 200, headers: plain, closed: true},
		{raw: req("HEAD", "/a.css", ae("gzip")), status: 200, headers: gzHeaders, body: "="},
		{raw: get1("/b.txt", ae("gzip")), status: 200, headers: []string{"-Content-Encoding", "-Vary"}, body: "=plain only"},
		{raw: get1("/c.js", ae("gzip")), status: 200, headers: []string{"Content-Encoding: gzip", "Content-Type: application/javascript"}},
		{raw: get1("/c.js"), status: 404, headers: []string{"Vary: Accept-Encoding"}},
		{raw: get1("/off/a.css", ae("gzip")), status: 200, headers: []string{"-Content-Encoding", "-Vary"}, body: "=" + css},
		{raw: get1("/d.txt", ae("gzip")), status: 200, headers: []string{"-Content-Encoding", "Vary: Accept-Encoding"}, body: "=d"},
		{raw: get1("/dir/", ae("gzip")), status: 200, headers: []string{"Content-Encoding: gzip", "Content-Type: text/html"}},
	})
	// The round trip: what went out decompresses to the file.
	r := s.get(get1("/a.css", ae("gzip")))
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || string(out) != css {
		t.Fatalf("gunzip: %v, %d bytes, want %d", err, len(out), len(css))
	}
}
