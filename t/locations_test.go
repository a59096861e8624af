package t

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hcase is one request on a new connection and what its response must
// show.
type hcase struct {
	raw    string // the request ({{PORT}} is replaced)
	status int
	// headers: "Name: value" must be there with that value, "Name:"
	// must be there, "-Name" must not.
	headers []string
	// body: a substring of the body; "=TEXT" is the whole body.
	body string
	// closed: the server closes the connection after the response;
	// otherwise it must keep it open.
	closed bool
}

// runHCases runs the cases against s, each on its own connection, and
// reports failures tagged with the case's index.
func runHCases(t *testing.T, s *server, cases []hcase) {
	t.Helper()
	port := fmt.Sprint(s.port)
	for i, c := range cases {
		raw := strings.ReplaceAll(c.raw, "{{PORT}}", port)
		conn := s.dial()
		r := conn.do(raw)
		where := fmt.Sprintf("%d: %q", i, trunc(raw))
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d (%v %q)", where, r.status, c.status, r, trunc(string(r.body)))
			continue
		}
		checkHeaders(t, where, r, c.headers, port)
		if want, exact := strings.CutPrefix(c.body, "="); exact {
			want = strings.ReplaceAll(want, "{{PORT}}", port)
			if string(r.body) != want {
				t.Errorf("%s: body %q, want %q", where, r.body, want)
			}
		} else if !strings.Contains(string(r.body), strings.ReplaceAll(c.body, "{{PORT}}", port)) {
			t.Errorf("%s: body %q lacks %q", where, trunc(string(r.body)), c.body)
		}
		if c.closed {
			conn.expectClosed(2 * time.Second)
		} else if got := r.header("Connection"); got != "keep-alive" {
			t.Errorf("%s: Connection %q, want keep-alive", where, got)
		}
	}
}

func checkHeaders(t *testing.T, where string, r *response, headers []string, port string) {
	t.Helper()
	for _, h := range headers {
		h = strings.ReplaceAll(h, "{{PORT}}", port)
		if name, absent := strings.CutPrefix(h, "-"); absent {
			if v, ok := r.lookup(name); ok {
				t.Errorf("%s: %s: %q, want none", where, name, v)
			}
			continue
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		got, ok := r.lookup(name)
		switch {
		case !ok:
			t.Errorf("%s: no %s header", where, name)
		case value != "" && got != value:
			t.Errorf("%s: %s: %q, want %q", where, name, got, value)
		}
	}
}

// get1 is a GET request on HTTP/1.1 for path, with Host: localhost.
func get1(path string, headers ...string) string { return req("GET", path, headers...) }

// TestLocationSelection: every modifier competing with the others, by
// nginx's algorithm: "=" first; then the longest prefix, which wins if it
// is "^~"; else the regular expressions in order; else the longest prefix.
func TestLocationSelection(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "= /"                { return = "200 exact-root" }
    location "/"                  { return = "200 prefix-root" }
    location "/a/"                { return = "200 prefix-a" }
    location "/a/b/"              { return = "200 prefix-a-b" }
    location "= /a/"              { return = "200 exact-a" }
    location "= /exact"           { return = "200 exact" }
    location "^~ /static/"        { return = "200 noregex-static" }
    location "/static/deep/"      { return = "200 prefix-static-deep" }
    location "~ \\.php$"          { return = "200 regex-php" }
    location "~* \\.JPG$"         { return = "200 regex-jpg-caseless" }
    location "~ ^/a/b/.*\\.txt$"  { return = "200 regex-ab-txt" }
    location "~ \\.txt$"          { return = "200 regex-txt" }
    location "^~ /a/b/c/"         { return = "200 noregex-abc" }
    location "/Case/"             { return = "200 prefix-case" }
`))
	s.start()
	body := func(path, want string) hcase { return hcase{raw: get1(path), status: 200, body: "=" + want} }
	runHCases(t, s, []hcase{
		body("/", "exact-root"),
		body("/x", "prefix-root"),
		body("/a/", "exact-a"),
		body("/a/x", "prefix-a"),
		body("/a", "prefix-root"),
		body("/a/b/c", "prefix-a-b"),
		body("/exact", "exact"),
		body("/exact/", "prefix-root"),
		body("/exactly", "prefix-root"),
		body("/exact?x=1", "exact"),
		body("/static/x.php", "noregex-static"),
		body("/static/deep/x.php", "regex-php"), // the longest prefix is not ^~
		body("/static/deep/x.html", "prefix-static-deep"),
		body("/a/x.php", "regex-php"),
		body("/x.jpg", "regex-jpg-caseless"),
		body("/x.JPG", "regex-jpg-caseless"),
		body("/x.JpG", "regex-jpg-caseless"),
		body("/x.PHP", "prefix-root"), // ~ is case-sensitive
		body("/a/b/c/x.txt", "noregex-abc"),
		body("/a/b/d.txt", "regex-ab-txt"), // first regex in order
		body("/c.txt", "regex-txt"),
		body("/Case/x", "prefix-case"),
		body("/case/x", "prefix-root"), // prefixes are case-sensitive
		body("/%61/x", "prefix-a"),     // matched after decoding
		body("/a/../exact", "exact"),   // and after resolving dots
		body("//a//b//x", "prefix-a-b"),
		{raw: "GET http://localhost/a/x HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 200, body: "=prefix-a"},
	})
}

// TestReturn: return's forms and every variable.
func TestReturn(t *testing.T) {
	s := newServer(t, handlersConfig(`default_type = "text/plain"`, `
    location "/text"    { return = "200 hello $uri" }
    location "/vars"    { return = "200 $scheme|$host|$server_port|$remote_addr|$uri|$request_uri|$args" }
    location "/page.html" { return = "200 <b>typed by extension</b>" }
    location "/r301"    { return = "301 https://$host$request_uri" }
    location "/r302"    { return = "302 /rel/$args" }
    location "/r303"    { return = "303 /see" }
    location "/r307"    { return = "307 /temp$uri" }
    location "/r308"    { return = "308 http://other.example/perm" }
    location "/bare"    { return = "http://bare.example/x" }
    location "/e404"    { return = "404" }
    location "/t404"    { return = "404 not here: $uri" }
    location "/close"   { return = "444" }
    location "/empty"   { return = "204" }
    location "/ok"      { return = "200" }
    location "/inject"  { return = "302 /x$uri" }
    location "/e500"    { return = "500" }
`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/text"), status: 200, headers: []string{"Content-Type: text/plain", "Content-Length: 11", "-ETag", "-Last-Modified"}, body: "=hello /text"},
		{raw: get1("/text/a%20b"), status: 200, body: "=hello /text/a b"},
		{raw: get1("/vars/p%2Fq?x=1&y"), status: 200, body: "=http|localhost|{{PORT}}|127.0.0.1|/vars/p/q|/vars/p%2Fq?x=1&y|x=1&y"},
		{raw: "GET /vars HTTP/1.1\r\nHost: Upper.Example:1234\r\n\r\n", status: 200, body: "=http|upper.example|{{PORT}}|127.0.0.1|/vars|/vars|"},
		{raw: "GET http://abs.example/vars?q HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body: "=http|abs.example|{{PORT}}|127.0.0.1|/vars|/vars?q|q"},
		{raw: "GET /vars HTTP/1.0\r\n\r\n", status: 200, body: "=http||{{PORT}}|127.0.0.1|/vars|/vars|", closed: true},
		{raw: get1("/page.html"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=<b>typed by extension</b>"},
		{raw: get1("/r301/p?q=1"), status: 301, headers: []string{"Location: https://localhost/r301/p?q=1", "Content-Type: text/html"}, body: "301 Moved Permanently"},
		{raw: get1("/r302?a=1"), status: 302, headers: []string{"Location: http://localhost:{{PORT}}/rel/a=1"}, body: "302 Moved Temporarily"},
		{raw: get1("/r303"), status: 303, headers: []string{"Location: http://localhost:{{PORT}}/see"}, body: "303 See Other"},
		{raw: get1("/r307/x"), status: 307, headers: []string{"Location: http://localhost:{{PORT}}/temp/r307/x"}},
		{raw: get1("/r308"), status: 308, headers: []string{"Location: http://other.example/perm"}},
		{raw: get1("/bare"), status: 302, headers: []string{"Location: http://bare.example/x"}},
		{raw: get1("/e404"), status: 404, headers: []string{"Content-Type: text/html"}, body: "<center><h1>404 Not Found</h1></center>"},
		{raw: get1("/t404/z"), status: 404, headers: []string{"Content-Type: text/plain"}, body: "=not here: /t404/z"},
		{raw: get1("/empty"), status: 204, headers: []string{"-Content-Length"}},
		{raw: get1("/ok"), status: 200, headers: []string{"Content-Length: 0"}, body: "="},
		// A decoded CR LF in $uri cannot split the Location header.
		{raw: get1("/inject%0d%0aSet-Cookie:%20a=b"), status: 302, headers: []string{"Location: http://localhost:{{PORT}}/x/inject%0D%0ASet-Cookie:%20a=b", "-Set-Cookie"}},
		{raw: req("POST", "/text", "Content-Length: 3") + "abc", status: 200, body: "=hello /text"}, // return takes any method
		{raw: req("HEAD", "/text"), status: 200, headers: []string{"Content-Length: 11"}, body: "="},
		{raw: get1("/e500"), status: 500, body: "500 Internal Server Error", closed: true},
	})
	// return 444 closes without a byte, and logs 444.
	c := s.dial()
	c.send(get1("/close"))
	c.expectClosed(2 * time.Second)
	waitLog(t, s, `"status":444`)
}

// waitLog waits for the access log to contain want (it is written off the
// event loop).
func waitLog(t *testing.T, s *server, want string) {
	t.Helper()
	waitFileHas(t, filepath.Join(s.dir, "logs/access.log"), want)
}

// TestServerReturn: a server-level return answers before any location's.
func TestServerReturn(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    return = "301 https://$host$request_uri"
    location "/x/" { return = "200 location" }
`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/x/y?z"), status: 301, headers: []string{"Location: https://localhost/x/y?z"}},
		{raw: get1("/"), status: 301, headers: []string{"Location: https://localhost/"}},
	})
}

// TestAliasAndRoot: alias replaces the location's prefix, root appends
// the whole URI; index and the directory redirect work from the URI.
func TestAliasAndRoot(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/img/"  { alias = "{{DIR}}/images/" }
    location "/t"     { alias = "{{DIR}}/images/" }
    location "/dl/"   {
      alias = "{{DIR}}/files/"
      index = ["start.txt", "index.html"]
    }
    location "= /one" { alias = "{{DIR}}/images/a.png" }
    location "/r/"    { root = "{{DIR}}/other" }
`))
	s.write("images/a.png", "PNG")
	s.write("images/sub/index.html", "sub index")
	s.write("files/start.txt", "start")
	s.write("files/only/index.html", "only index")
	s.write("files/none/x", "")
	s.write("secret.txt", "secret")
	s.write("other/r/x.txt", "other root")
	s.file("index.html", "root index")
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/img/a.png"), status: 200, headers: []string{"Content-Type: image/png"}, body: "=PNG"},
		{raw: get1("/img/sub"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/img/sub/"}},
		{raw: get1("/img/sub/"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=sub index"},
		{raw: get1("/img/missing"), status: 404},
		{raw: get1("/img/"), status: 403}, // no index in images/
		{raw: get1("/dl/"), status: 200, headers: []string{"Content-Type: text/plain"}, body: "=start"},
		{raw: get1("/dl/only/"), status: 200, body: "=only index"}, // the second index name
		{raw: get1("/dl/none/"), status: 403},
		{raw: get1("/dl/gone/"), status: 404},                     // the directory itself is missing
		{raw: get1("/ta.png"), status: 200, body: "=PNG"},         // "/t" + "a.png", as nginx
		{raw: get1("/t../secret.txt"), status: 400, closed: true}, // nginx would serve ../secret.txt
		{raw: get1("/t..%2fsecret.txt"), status: 400, closed: true},
		{raw: get1("/one"), status: 200, body: "=PNG"},
		{raw: get1("/r/x.txt"), status: 200, body: "=other root"},
		{raw: get1("/"), status: 200, body: "=root index"},
	})
}

// TestDisableSymlinks: a symlink anywhere in the path is refused, for the
// file, a directory on the way, an index, a try_files entry (skipped, as
// nginx), a .gz sibling (the plain file is served), and a listing.
func TestDisableSymlinks(t *testing.T) {
	s := newServer(t, handlersConfig(`open_file_cache = { max = 100 }`, `
    location "/follow/" { gzip_static = true }
    location "/strict/" {
      disable_symlinks = true
      gzip_static = true
      autoindex = true
    }
    location "/tf/" {
      disable_symlinks = true
      try_files = ["/strict/link.txt", "/strict/real.txt", "=404"]
    }
`))
	for _, d := range []string{"follow", "strict"} {
		s.file(d+"/real.txt", "real")
		s.file(d+"/real.css", "css")
		s.file(d+"/realdir/f.txt", "in dir")
		s.file(d+"/idx/real.html", "idx")
		mustSymlink(t, filepath.Join(s.root, d, "real.txt"), filepath.Join(s.root, d, "link.txt"))
		mustSymlink(t, filepath.Join(s.root, d, "realdir"), filepath.Join(s.root, d, "linkdir"))
		mustSymlink(t, filepath.Join(s.root, d, "idx/real.html"), filepath.Join(s.root, d, "idx/index.html"))
		mustSymlink(t, filepath.Join(s.root, d, "real.txt"), filepath.Join(s.root, d, "real.css.gz"))
	}
	s.start()
	gz := "Accept-Encoding: gzip"
	runHCases(t, s, []hcase{
		{raw: get1("/follow/link.txt"), status: 200, body: "=real"},
		{raw: get1("/strict/link.txt"), status: 403},
		{raw: get1("/follow/link.txt"), status: 200, body: "=real"}, // cached, still followed here
		{raw: get1("/strict/real.txt"), status: 200, body: "=real"},
		{raw: get1("/follow/linkdir/f.txt"), status: 200, body: "=in dir"},
		{raw: get1("/strict/linkdir/f.txt"), status: 403},
		{raw: get1("/strict/linkdir"), status: 403},
		{raw: get1("/follow/idx/"), status: 200, body: "=idx"},
		{raw: get1("/strict/idx/"), status: 403},
		{raw: get1("/strict/linkdir/"), status: 403},
		{raw: get1("/strict/realdir/"), status: 200, headers: []string{"Content-Type: text/html"}, body: `<a href="f.txt">f.txt</a>`},
		{raw: get1("/tf/x"), status: 200, body: "=real"},
		{raw: get1("/strict/real.css", gz), status: 200, headers: []string{"-Content-Encoding"}, body: "=css"},
		{raw: get1("/follow/real.css", gz), status: 200, headers: []string{"Content-Encoding: gzip"}, body: "=real"},
	})
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIndex: index as nginx's module: the first existing name is an
// internal redirect (the location is chosen again, arguments kept), a
// name starting with "/" is a redirect at once, loops end in 500.
func TestIndex(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/re/"     { index = ["/target.html"] }
    location "/loop/"   { index = ["/loop/"] }
    location "/many/"   { index = ["a.html", "b.html", "c.html"] }
    location "/args/"   { index = ["/show-args"] }
    location "= /show-args" { return = "200 $uri|$args" }
    location "/reeval/" { index = ["index.htm"] }
    location "~ \\.htm$" { return = "200 htm $uri" }
`))
	s.file("target.html", "target")
	s.file("many/b.html", "b")
	s.file("many/c.html", "c")
	s.file("reeval/index.htm", "")
	s.file("dirindex/index.html/x", "")
	s.file("file/x.txt", "")
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/re/"), status: 200, body: "=target"},
		{raw: get1("/re/nonexistent/"), status: 200, body: "=target"}, // not even checked
		{raw: get1("/loop/"), status: 500, closed: true},
		{raw: get1("/many/"), status: 200, body: "=b"},
		{raw: get1("/args/?x=1&y"), status: 200, body: "=/show-args|x=1&y"},
		{raw: get1("/reeval/"), status: 200, body: "=htm /reeval/index.htm"},
		// An index name that is a directory still redirects (nginx
		// tests only that it exists), and the directory gets its 301.
		{raw: get1("/dirindex/"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/dirindex/index.html/"}},
		{raw: get1("/file/x.txt/"), status: 404},
		{raw: req("HEAD", "/re/"), status: 200, headers: []string{"Content-Length: 6"}, body: "="},
	})
}
