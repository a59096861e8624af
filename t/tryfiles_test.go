package t

import (
	"testing"
)

// TestTryFiles: try_files as nginx's module: entries in order, "/" for a
// directory only, a match rewrites the URI in place, the fallback is a
// code or an internal redirect whose "?" starts new arguments.
func TestTryFiles(t *testing.T) {
	s := newServer(t, handlersConfig(`default_type = "text/plain"`, `
    location "/"          { try_files = ["$uri", "$uri/", "=404"] }
    location "/fb/"       { try_files = ["$uri", "/fallback.html?from=$uri"] }
    location "/code/"     { try_files = ["$uri", "=410"] }
    location "/dironly/"  { try_files = ["/adir/", "=404"] }
    location "/fileonly/" { try_files = ["/adir", "=404"] }
    location "/first/"    { try_files = ["/nope.txt", "/a.txt", "/b.txt", "=404"] }
    location "/loop/"     { try_files = ["/nope", "/loop/x"] }
    location "/php/"      { try_files = ["$uri", "/index.php?q=$uri&$args"] }
    location "~ \\.php$"  { return = "200 php uri=$uri args=$args" }
    location "/args/"     { try_files = ["/nope", "/show$uri"] }
    location "/show/"     { return = "200 $uri|$args" }
    location "/alias/"    {
      alias = "{{DIR}}/al/"
      try_files = ["$uri", "$uri.html", "/other.txt", "=404"]
    }
    location "/trav/"     { try_files = ["/$args", "=404"] }
    location "/html/"     { try_files = ["/page", "$uri.html", "=404"] }
    location "/withroot/" {
      root = "{{DIR}}/r2"
      try_files = ["$uri", "/fallback-root.txt", "=404"]
    }
`))
	s.file("a.txt", "A")
	s.file("b.txt", "B")
	s.file("adir/index.html", "adir index")
	s.file("fallback.html", "fallback")
	s.file("fb/real.txt", "real")
	s.file("html/doc.html", "<p>doc</p>")
	s.write("al/page.html", "alias page")
	s.write("al/x.txt", "alias x")
	s.write("al/other.txt", "alias other")
	s.write("r2/fallback-root.txt", "r2 fallback")
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/a.txt"), status: 200, body: "=A"},
		{raw: get1("/adir"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/adir/"}},
		{raw: get1("/adir/"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=adir index"},
		{raw: get1("/adir/?x=1"), status: 200, body: "=adir index"},
		{raw: get1("/missing"), status: 404},
		{raw: get1("/missing/"), status: 404},
		{raw: get1("/fb/missing?x=1"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=fallback"},
		{raw: get1("/fb/real.txt"), status: 200, body: "=real"},
		{raw: get1("/code/missing"), status: 410, body: "410 Gone"},
		{raw: get1("/dironly/"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/adir/"}},
		{raw: get1("/fileonly/"), status: 404}, // a directory does not match a file entry
		{raw: get1("/first/"), status: 200, body: "=A"},
		{raw: get1("/loop/x"), status: 500, body: "500 Internal Server Error", closed: true},
		{raw: get1("/php/some/thing?a=1"), status: 200, body: "=php uri=/index.php args=q=/php/some/thing&a=1"},
		{raw: get1("/args/x?a=1"), status: 200, body: "=/show/args/x|"}, // a fallback without "?" drops the args, as nginx
		{raw: get1("/alias/page"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=alias page"},
		{raw: get1("/alias/x.txt"), status: 200, body: "=alias x"},
		{raw: get1("/alias/none"), status: 200, body: "=alias other"}, // "/other.txt" relative to the alias
		{raw: get1("/trav/?a.txt"), status: 200, body: "=A"},
		{raw: get1("/trav/?../../../../etc/passwd"), status: 404}, // nginx would look outside the root
		{raw: get1("/trav/?%2e%2e/x"), status: 404},
		{raw: get1("/html/doc"), status: 200, headers: []string{"Content-Type: text/html"}, body: "=<p>doc</p>"},
		{raw: get1("/withroot/x"), status: 200, body: "=r2 fallback"},
		{raw: req("HEAD", "/code/missing"), status: 410, body: "="},
		{raw: req("POST", "/code/missing", "Content-Length: 0"), status: 410}, // try_files runs for every method
		{raw: req("POST", "/a.txt", "Content-Length: 0"), status: 405, headers: []string{"Allow: GET, HEAD"}},
		{raw: req("POST", "/php/x", "Content-Length: 0"), status: 200, body: "php"},
	})
}
