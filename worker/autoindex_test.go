package worker

import (
	"strings"
	"testing"
	"time"
)

// mtime is 02-Jan-2026 03:04:05 UTC.
var aiTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix()

const aiDate = "02-Jan-2026 03:04"

func pad(n int) string { return strings.Repeat(" ", n) }

// TestAutoindexHTMLLines checks single lines against nginx's layout,
// worked out from ngx_http_autoindex_html: padding to 50 columns, the
// directory slash only where it fits, truncation to 47 + "..>", escaping
// of the href (URI component) and of the text (HTML), and UTF-8 names
// counted in characters only with charset utf-8.
func TestAutoindexHTMLLines(t *testing.T) {
	size := func(s string) string { return pad(19-len(s)) + s }
	dash := pad(18) + "-"
	long60 := strings.Repeat("x", 60)
	ef3 := strings.Repeat("ф", 3)
	ef55 := strings.Repeat("ф", 55)
	cases := []struct {
		e    dirEntry
		utf8 bool
		want string
	}{
		// 0: a plain file
		{dirEntry{name: "a.txt", file: true, size: 1234}, false,
			`<a href="a.txt">a.txt</a>` + pad(45) + " " + aiDate + " " + size("1234")},
		// 1: a directory: "/" in the href and the text
		{dirEntry{name: "sub", dir: true}, false,
			`<a href="sub/">sub/</a>` + pad(46) + " " + aiDate + " " + dash},
		// 2: HTML escaped in the text, URI-component escaped in the href;
		// padding counts the raw name
		{dirEntry{name: `a&b<c>"d`, file: true, size: 0}, false,
			`<a href="a%26b%3Cc%3E%22d">a&amp;b&lt;c&gt;&quot;d</a>` + pad(42) + " " + aiDate + " " + size("0")},
		// 3: ":" (no scheme), "?", "%", space and "+" escaped in the href
		{dirEntry{name: "c:d?e%f g+h", file: true, size: 7}, false,
			`<a href="c%3Ad%3Fe%25f%20g%2Bh">c:d?e%f g+h</a>` + pad(39) + " " + aiDate + " " + size("7")},
		// 4: 60 bytes: cut to 47 and "..>"; no padding
		{dirEntry{name: long60, file: true, size: 1}, false,
			`<a href="` + long60 + `">` + long60[:47] + `..&gt;</a> ` + aiDate + " " + size("1")},
		// 5: exactly 50: no truncation, no padding
		{dirEntry{name: long60[:50], file: true, size: 1}, false,
			`<a href="` + long60[:50] + `">` + long60[:50] + `</a> ` + aiDate + " " + size("1")},
		// 6: a directory of 49: its "/" makes 50
		{dirEntry{name: long60[:49], dir: true}, false,
			`<a href="` + long60[:49] + `/">` + long60[:49] + `/</a> ` + aiDate + " " + dash},
		// 7: a directory of 50: no room for the "/" in the text
		{dirEntry{name: long60[:50], dir: true}, false,
			`<a href="` + long60[:50] + `/">` + long60[:50] + `</a> ` + aiDate + " " + dash},
		// 8: a long name of ">": escaped after the cut
		{dirEntry{name: strings.Repeat(">", 51), file: true}, false,
			`<a href="` + strings.Repeat("%3E", 51) + `">` + strings.Repeat("&gt;", 47) + `..&gt;</a> ` + aiDate + " " + size("0")},
		// 9: UTF-8 with charset utf-8: 3 characters
		{dirEntry{name: ef3, file: true}, true,
			`<a href="` + strings.Repeat("%D1%84", 3) + `">` + ef3 + `</a>` + pad(47) + " " + aiDate + " " + size("0")},
		// 10: the same without charset: 6 bytes
		{dirEntry{name: ef3, file: true}, false,
			`<a href="` + strings.Repeat("%D1%84", 3) + `">` + ef3 + `</a>` + pad(44) + " " + aiDate + " " + size("0")},
		// 11: 55 characters with utf-8: cut to 47 characters
		{dirEntry{name: ef55, file: true}, true,
			`<a href="` + strings.Repeat("%D1%84", 55) + `">` + strings.Repeat("ф", 47) + `..&gt;</a> ` + aiDate + " " + size("0")},
		// 12: invalid UTF-8 with utf-8 counts bytes
		{dirEntry{name: "a\xffb", file: true}, true,
			`<a href="a%FFb">a` + "\xff" + `b</a>` + pad(47) + " " + aiDate + " " + size("0")},
		// 13: a size that fills the column
		{dirEntry{name: "big", file: true, size: 1234567890123456789}, false,
			`<a href="big">big</a>` + pad(47) + " " + aiDate + " 1234567890123456789"},
		// 14: ~ - . _ stay as they are
		{dirEntry{name: "a~b-c.d_e", file: true}, false,
			`<a href="a~b-c.d_e">a~b-c.d_e</a>` + pad(41) + " " + aiDate + " " + size("0")},
	}
	for i, c := range cases {
		c.e.mtime = aiTime
		got := string(appendHTMLEntry(nil, &c.e, htmlOptions{utf8: c.utf8, exactSize: true}))
		if want := c.want + "\r\n"; got != want {
			t.Errorf("%d:\n got %q\nwant %q", i, got, want)
		}
	}
}

func TestAutoindexHTMLPage(t *testing.T) {
	ents := []dirEntry{
		{name: "z.txt", file: true, size: 3, mtime: aiTime},
		{name: "b", dir: true, mtime: aiTime},
		{name: "A.txt", file: true, size: 10, mtime: aiTime},
		{name: "a", dir: true, mtime: aiTime},
	}
	sortEntries(ents)
	got := string(appendAutoindexHTML(nil, []byte("/x&y/"), ents, htmlOptions{exactSize: true}))
	want := "<html>\r\n<head><title>Index of /x&amp;y/</title></head>\r\n<body>\r\n" +
		"<h1>Index of /x&amp;y/</h1><hr><pre><a href=\"../\">../</a>\r\n" +
		`<a href="a/">a/</a>` + pad(48) + " " + aiDate + " " + pad(18) + "-\r\n" +
		`<a href="b/">b/</a>` + pad(48) + " " + aiDate + " " + pad(18) + "-\r\n" +
		`<a href="A.txt">A.txt</a>` + pad(45) + " " + aiDate + " " + pad(17) + "10\r\n" +
		`<a href="z.txt">z.txt</a>` + pad(45) + " " + aiDate + " " + pad(18) + "3\r\n" +
		"</pre><hr></body>\r\n</html>\r\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	empty := string(appendAutoindexHTML(nil, []byte("/"), nil, htmlOptions{exactSize: true}))
	if want := "<html>\r\n<head><title>Index of /</title></head>\r\n<body>\r\n<h1>Index of /</h1><hr><pre><a href=\"../\">../</a>\r\n</pre><hr></body>\r\n</html>\r\n"; empty != want {
		t.Fatalf("empty: %q", empty)
	}
}

func TestAutoindexJSON(t *testing.T) {
	ents := []dirEntry{
		{name: "d", dir: true, mtime: aiTime},
		{name: "f\"\\\n\x01é", file: true, size: 42, mtime: aiTime},
		{name: "fifo", mtime: aiTime},
	}
	got := string(appendAutoindexJSON(nil, ents, nil))
	const date = "Fri, 02 Jan 2026 03:04:05 GMT"
	want := "[\r\n" +
		`{ "name":"d", "type":"directory", "mtime":"` + date + `" },` + "\r\n" +
		`{ "name":"f\"\\\n\u0001é", "type":"file", "mtime":"` + date + `", "size":42 },` + "\r\n" +
		`{ "name":"fifo", "type":"other", "mtime":"` + date + `" }` + "\r\n]"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if got := string(appendAutoindexJSON(nil, nil, nil)); got != "[\r\n]" {
		t.Fatalf("empty: %q", got)
	}
}

func TestSortEntries(t *testing.T) {
	ents := []dirEntry{{name: "b"}, {name: "B", dir: true}, {name: "a"}, {name: "_"}, {name: "Z"}, {name: "a", dir: true}}
	sortEntries(ents)
	var got []string
	for _, e := range ents {
		got = append(got, e.name)
	}
	// directories first, then strcmp: "B" < "a"; "Z" < "_" < "a" < "b"
	if s := strings.Join(got, ","); s != "B,a,Z,_,a,b" {
		t.Fatalf("order %s", s)
	}
}

// TestAutoindexForms: nginx's rounded sizes, its XML listing and JSONP.
func TestAutoindexForms(t *testing.T) {
	for i, c := range []struct {
		size int64
		want string
	}{
		{0, "      0"}, {9999, "   9999"}, {10000, "    10K"}, {10752, "    11K"}, {1<<20 - 1, "  1024K"},
		{1 << 20, "     1M"}, {1<<20 + 1<<19, "     2M"}, {5 << 30, "     5G"},
	} {
		got := string(appendHumanSize(nil, c.size))
		if got != c.want {
			t.Errorf("%d: %d → %q, want %q", i, c.size, got, c.want)
		}
	}
	ents := []dirEntry{{name: "d", dir: true, mtime: 536436000}, {name: "a&b", file: true, mtime: 536436000, size: 7}}
	xml := string(appendAutoindexXML(nil, ents))
	want := "<?xml version=\"1.0\"?>\r\n<list>\r\n<directory mtime=\"1986-12-31T18:00:00Z\">d</directory>\r\n" +
		"<file mtime=\"1986-12-31T18:00:00Z\" size=\"7\">a&amp;b</file>\r\n</list>\r\n"
	if xml != want {
		t.Errorf("xml:\n%q\nwant\n%q", xml, want)
	}
	js := string(appendAutoindexJSON(nil, ents[:1], []byte("cb.x")))
	if js != "/* callback */\r\ncb.x([\r\n{ \"name\":\"d\", \"type\":\"directory\", \"mtime\":\"Wed, 31 Dec 1986 18:00:00 GMT\" }\r\n]);" {
		t.Errorf("jsonp %q", js)
	}
	for _, cb := range []string{"a.b_C9", ""} {
		if !validCallback([]byte(cb)) {
			t.Errorf("%q refused", cb)
		}
	}
	for _, cb := range []string{"a(b", "x y", strings.Repeat("a", 129)} {
		if validCallback([]byte(cb)) {
			t.Errorf("%q accepted", cb)
		}
	}
	dir := string(appendHTMLEntry(nil, &ents[0], htmlOptions{}))
	if !strings.HasSuffix(dir, " 18:00       -\r\n") {
		t.Errorf("directory line without exact size: %q", dir)
	}
}
