package t

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// autoindexTree makes DIR/html/list with known names, sizes and times.
func autoindexTree(t *testing.T, s *server) time.Time {
	mtime := time.Date(2024, 2, 29, 13, 7, 59, 0, time.UTC)
	files := map[string]string{
		"list/b.txt":                             "hello",
		"list/c&d<e>.txt":                        "",
		"list/" + strings.Repeat("L", 60):        "12345678901",
		"list/.hidden":                           "x",
		"list/a dir/inner":                       "",
		"list/sp?q#h%.bin":                       "1",
		"list/ффф.txt":                           "ф",
		"list/" + strings.Repeat("ф", 55):        "",
		"utf8/" + strings.Repeat("ф", 55):        "",
		"utf8/ффф.txt":                           "",
		"withindex/index.html":                   "the index",
		"withindex/other":                        "",
		"json/z":                                 "zz",
		"json/dir/x":                             "",
		"json/q\"uote":                           "",
		"json/" + strings.Repeat("ф", 2):         "",
		"noauto/x":                               "",
		"list/Upper.txt":                         "12",
		"list/" + strings.Repeat("d", 49) + "/x": "",
	}
	for name, content := range files {
		s.file(name, content)
	}
	mustSymlink(t, filepath.Join(s.root, "list/b.txt"), filepath.Join(s.root, "list/link-file"))
	mustSymlink(t, filepath.Join(s.root, "list/a dir"), filepath.Join(s.root, "list/link-dir"))
	mustSymlink(t, filepath.Join(s.root, "list/gone"), filepath.Join(s.root, "list/broken"))
	filepath.Walk(s.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chtimes(p, mtime, mtime)
		}
		return nil
	})
	// Symlinks keep their own times; the broken one is listed with its.
	return mtime
}

// TestAutoindexHTML checks a whole listing byte for byte in nginx's
// layout: directories first, then names byte-wise; dot-files left out;
// symlinks listed as their targets, a broken one as itself.
func TestAutoindexHTML(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/list/"      { autoindex = true }
    location "/utf8/"      {
      autoindex = true
      charset = "utf-8"
    }
    location "/withindex/" { autoindex = true }
    location "/noauto/"    { }
`))
	autoindexTree(t, s)
	s.start()
	const date = "29-Feb-2024 13:07"
	line := func(href, text string, pad int, size string) string {
		return `<a href="` + href + `">` + text + `</a>` + strings.Repeat(" ", pad) + " " + date + " " +
			strings.Repeat(" ", 19-len(size)) + size + "\r\n"
	}
	r := s.get(get1("/list/"))
	brokenLine := ""
	for _, l := range strings.Split(string(r.body), "\r\n") {
		if strings.HasPrefix(l, `<a href="broken">`) {
			brokenLine = l + "\r\n" // its time is the link's own
		}
	}
	d49 := strings.Repeat("d", 49)
	want := "<html>\r\n<head><title>Index of /list/</title></head>\r\n<body>\r\n" +
		"<h1>Index of /list/</h1><hr><pre><a href=\"../\">../</a>\r\n" +
		line("a%20dir/", "a dir/", 44, "-") +
		line(d49+"/", d49+"/", 0, "-") + // its "/" fills the 50th column
		line("link-dir/", "link-dir/", 41, "-") +
		line(strings.Repeat("L", 60), strings.Repeat("L", 47)+"..&gt;", 0, "11") +
		line("Upper.txt", "Upper.txt", 41, "2") +
		line("b.txt", "b.txt", 45, "5") +
		brokenLine +
		line("c%26d%3Ce%3E.txt", "c&amp;d&lt;e&gt;.txt", 40, "0") +
		line("link-file", "link-file", 41, "5") +
		line("sp%3Fq%23h%25.bin", "sp?q#h%.bin", 39, "1") +
		line(strings.Repeat("%D1%84", 3)+".txt", "ффф.txt", 40, "2") +
		// Without charset utf-8 a name is measured and cut in bytes, as
		// nginx: 47 bytes end inside a character.
		line(strings.Repeat("%D1%84", 55), strings.Repeat("ф", 23)+"\xd1..&gt;", 0, "0") +
		"</pre><hr></body>\r\n</html>\r\n"
	if r.status != 200 || r.header("Content-Type") != "text/html" || string(r.body) != want {
		t.Fatalf("status %d, type %q; body\n%s\nwant\n%s", r.status, r.header("Content-Type"), r.body, want)
	}
	// A broken symlink is listed as itself: its size is its target's
	// length.
	if target := filepath.Join(s.root, "list/gone"); !strings.HasSuffix(brokenLine, " "+strconv.Itoa(len(target))+"\r\n") {
		t.Errorf("broken symlink line %q", brokenLine)
	}
	u := s.get(get1("/utf8/"))
	if !strings.Contains(string(u.body), ">"+strings.Repeat("ф", 47)+"..&gt;</a> ") ||
		!strings.Contains(string(u.body), ">ффф.txt</a>"+strings.Repeat(" ", 43)+" ") ||
		u.header("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("utf-8 listing: %q %q", u.header("Content-Type"), u.body)
	}
	runHCases(t, s, []hcase{
		{raw: get1("/list/a%20dir/"), status: 200, body: "<title>Index of /list/a dir/</title>"},
		{raw: get1("/list/a%20dir"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/list/a%20dir/"}},
		{raw: req("HEAD", "/list/"), status: 200, headers: []string{"Content-Length: " + strconv.Itoa(len(want)), "Content-Type: text/html"}, body: "="},
		{raw: req("POST", "/list/", "Content-Length: 0"), status: 405},
		{raw: get1("/withindex/"), status: 200, body: "=the index"}, // index wins
		{raw: get1("/noauto/"), status: 403},
		{raw: get1("/list/missing/"), status: 404},
		{raw: get1("/list/b.txt/"), status: 404},
	})
}

// TestAutoindexJSON checks autoindex_format json byte for byte.
func TestAutoindexJSON(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/json/" {
      autoindex = true
      autoindex_format = "json"
    }
`))
	autoindexTree(t, s)
	if err := os.MkdirAll(filepath.Join(s.root, "json/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.start()
	const date = "Thu, 29 Feb 2024 13:07:59 GMT"
	r := s.get(get1("/json/"))
	want := "[\r\n" +
		`{ "name":"dir", "type":"directory", "mtime":"` + date + `" },` + "\r\n" +
		`{ "name":"empty", "type":"directory", "mtime":"` + r.jsonMtime("empty") + `" },` + "\r\n" +
		`{ "name":"q\"uote", "type":"file", "mtime":"` + date + `", "size":0 },` + "\r\n" +
		`{ "name":"z", "type":"file", "mtime":"` + date + `", "size":2 },` + "\r\n" +
		`{ "name":"фф", "type":"file", "mtime":"` + date + `", "size":0 }` + "\r\n]"
	if r.status != 200 || r.header("Content-Type") != "application/json" || string(r.body) != want {
		t.Fatalf("status %d, type %q; body\n%s\nwant\n%s", r.status, r.header("Content-Type"), r.body, want)
	}
	e := s.get(get1("/json/empty/"))
	if string(e.body) != "[\r\n]" {
		t.Fatalf("empty: %q", e.body)
	}
}

// jsonMtime finds the mtime the listing gives name (a directory made
// after the tree's times were set).
func (r *response) jsonMtime(name string) string {
	_, rest, ok := strings.Cut(string(r.body), `"name":"`+name+`"`)
	if !ok {
		return "?"
	}
	_, rest, _ = strings.Cut(rest, `"mtime":"`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
