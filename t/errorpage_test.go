package t

import (
	"testing"
	"time"
)

// TestErrorPage: error_page as nginx's ngx_http_send_error_page: an
// internal redirect (GET, except HEAD) answered with the original status
// or "=CODE"'s; a URL is a 302 (or the =CODE redirect status); one level
// only; the page's own failure answers with its own status.
func TestErrorPage(t *testing.T) {
	s := newServer(t, handlersConfig(`
  default_type = "text/plain"
  error_page = { "404" = "/errors/404.html" }
`, `
    client_max_body_size = "10"
    location "/errors/"      { }
    location "/code/"        { error_page = { "404" = "=200 /errors/404.html" } }
    location "/redir/"       { error_page = { "404" = "http://example.com/nf?u=$uri" } }
    location "/redir301/"    { error_page = { "404" = "=301 http://example.com/moved" } }
    location "/redirrel/"    { error_page = { "404" = "=307 errors/rel" } }
    location "/missingpage/" { error_page = { "404" = "/errors/nope.html" } }
    location "/forbid/"      { error_page = { "403" = "/errors/403.html" } }
    location "/ret/"         {
      error_page = { "404" = "/page-return" }
      return = "404"
    }
    location "= /page-return" { return = "200 custom $uri" }
    location "/ret302/"      {
      error_page = { "302" = "/errors/moved.html" }
      return = "302 http://example.com/x"
    }
    location "/post/"        { error_page = { "405" = "/errors/405.html" } }
    location "/vars/"        { error_page = { "404" = "/show?orig=$uri&$args" } }
    location "= /show"       { return = "200 $uri|$args" }
    location "/loop/"        { error_page = { "404" = "/loop/again" } }
    location "/cycle/"       {
      error_page = { "500" = "/errors/500.html" }
      try_files = ["/nope", "/cycle/x"]
    }
    location "/big/"         {
      client_max_body_size = "4"
      error_page = { "413" = "/errors/413.html" }
    }
    location "/dir/"         { error_page = { "301" = "/errors/moved.html" } }
    location "/off/"         { error_page = {} }
    location "/many/"        { error_page = { "403 404" = "=410 /errors/gone.html" } }
    location "/toclose/"     { error_page = { "404" = "/close" } }
    location "= /close"      { return = "444" }
`))
	s.file("errors/404.html", "custom 404")
	s.file("errors/403.html", "custom 403")
	s.file("errors/405.html", "custom 405")
	s.file("errors/413.html", "custom 413")
	s.file("errors/500.html", "custom 500")
	s.file("errors/gone.html", "custom gone")
	s.file("errors/moved.html", "custom moved")
	s.file("forbid/x", "")
	s.file("many/d/x", "")
	s.file("dir/sub/index.html", "sub")
	s.start()
	page404 := []string{"Content-Type: text/html", "Content-Length: 10", "ETag:", "-Last-Modified", "-Accept-Ranges"}
	runHCases(t, s, []hcase{
		{raw: get1("/nothing"), status: 404, headers: page404, body: "=custom 404"},
		{raw: get1("/errors/nothing"), status: 404, body: "=custom 404"},
		{raw: req("HEAD", "/nothing"), status: 404, headers: page404, body: "="},
		{raw: get1("/code/nothing"), status: 200, headers: []string{"Last-Modified:", "Accept-Ranges: bytes"}, body: "=custom 404"},
		{raw: get1("/redir/x?a=1"), status: 302, headers: []string{"Location: http://example.com/nf?u=/redir/x"}, body: "302 Moved Temporarily"},
		{raw: get1("/redir301/x"), status: 301, headers: []string{"Location: http://example.com/moved"}},
		{raw: get1("/redirrel/x"), status: 307, headers: []string{"Location: errors/rel"}},
		{raw: get1("/missingpage/x"), status: 404, headers: []string{"Content-Type: text/html"}, body: "<h1>404 Not Found</h1>"},
		{raw: get1("/forbid/"), status: 403, body: "=custom 403"},
		{raw: get1("/ret/x"), status: 404, headers: []string{"Content-Type: text/plain"}, body: "=custom /page-return"},
		{raw: get1("/ret302/x"), status: 302, headers: []string{"Location: http://example.com/x"}, body: "=custom moved"},
		{raw: req("POST", "/post/x", "Content-Length: 2") + "ab", status: 405, headers: []string{"Allow: GET, HEAD"}, body: "=custom 405"},
		{raw: req("DELETE", "/post/x"), status: 405, body: "=custom 405"},
		{raw: get1("/vars/a%20b?k=v"), status: 404, body: "=/show|orig=/vars/a b&k=v"},
		{raw: get1("/loop/x"), status: 404, body: "<h1>404 Not Found</h1>"}, // one level only
		// Ten internal redirects used up: the 500 gets no error_page.
		{raw: get1("/cycle/x"), status: 500, body: "<h1>500 Internal Server Error</h1>", closed: true},
		{raw: req("POST", "/big/x", "Content-Length: 5") + "12345", status: 413, body: "=custom 413", closed: true},
		{raw: get1("/dir/sub"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/dir/sub/"}, body: "=custom moved"},
		{raw: get1("/off/x"), status: 404, body: "<h1>404 Not Found</h1>"},
		{raw: get1("/many/x"), status: 410, body: "=custom gone"},
		{raw: get1("/many/d/"), status: 410, body: "=custom gone"},
	})
	c := s.dial()
	c.send(get1("/toclose/x"))
	c.expectClosed(2e9)
}

// TestKeepAliveAfterErrors: an error answered through the error path
// (400, 413, 414, 500, 501) ends the connection, as nginx; the same
// status sent by return keeps it, as nginx.
func TestKeepAliveAfterErrors(t *testing.T) {
	s := newServer(t, handlersConfig(`client_max_body_size = "10"`, `
    location "= /oops" { return = "500 oops" }
    location "= /nope" { return = "404" }
`))
	s.file("a.txt", "a")
	s.start()
	c := s.dial()
	for _, p := range []string{"/oops", "/nope", "/missing"} {
		r := c.do(req("GET", p))
		if r.header("Connection") != "keep-alive" {
			t.Fatalf("%s: %v", p, r)
		}
	}
	if r := c.do(req("GET", "/oops")); r.status != 500 || string(r.body) != "oops" {
		t.Fatalf("return 500: %v %q", r, r.body)
	}
	r := c.do("POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
	if r.status != 413 || r.header("Connection") != "close" {
		t.Fatalf("413: %v", r)
	}
	c.expectClosed(2 * time.Second)
}
