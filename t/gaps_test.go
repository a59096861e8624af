package t

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAutoindexFormats: autoindex_format xml and jsonp, and
// autoindex_exact_size off (nginx's autoindex_format.t and autoindex.t).
func TestAutoindexFormats(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    autoindex = true
    location "/xml/"   { autoindex_format = "xml" }
    location "/jsonp/" { autoindex_format = "jsonp" }
    location "/human/" { autoindex_exact_size = false }`))
	big := strings.Repeat("x", 20000)
	for _, d := range []string{"xml", "jsonp", "human"} {
		s.file(d+"/test-file", strings.Repeat("y", 42))
		s.file(d+"/big", big)
		s.file(d+"/test-\"-double", "")
		if err := os.MkdirAll(s.root+"/"+d+"/test-dir", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/xml/"), status: 200, headers: []string{"Content-Type: text/xml; charset=utf-8"},
			body: `size="42">test-file</file>`},
		{raw: get1("/xml/"), status: 200, body: `">test-dir</directory>`},
		{raw: get1("/xml/"), status: 200, body: `>test-&quot;-double</file>`},
		{raw: get1("/jsonp/?callback=foo"), status: 200, headers: []string{"Content-Type: application/javascript"},
			body: "/* callback */\r\nfoo(["},
		{raw: get1("/jsonp/?callback="), status: 200, headers: []string{"Content-Type: application/json"}, body: "[\r\n{"},
		{raw: get1("/jsonp/?callback=a(b"), status: 400, closed: true},
		{raw: get1("/human/"), status: 200, body: "    20K\r\n"},
	})
}

// TestKeepaliveRules: keepalive_disable (MSIE 6 after a POST),
// keepalive_time, keepalive_timeout's header (nginx's http_keepalive.t).
func TestKeepaliveRules(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/" { return = "200 ok" }
    location "/h" {
      keepalive_timeout = "9s 7s"
      return            = "200 ok"
    }
    location "/safari" {
      keepalive_disable = ["safari"]
      return            = "200 ok"
    }
    location "/time" {
      keepalive_time = "1s"
      return         = "200 ok"
    }`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: req("POST", "/", "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0)", "Content-Length: 0"), status: 200, closed: true},
		{raw: req("POST", "/", "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", "Content-Length: 0"), status: 200},
		{raw: req("GET", "/", "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0)"), status: 200},
		{raw: get1("/h"), status: 200, headers: []string{"Keep-Alive: timeout=7"}},
		{raw: get1("/"), status: 200, headers: []string{"-Keep-Alive"}},
		{raw: req("GET", "/safari", "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605 Version/17 Safari/605"), status: 200, closed: true},
		{raw: req("GET", "/safari", "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Chrome/120 Safari/537"), status: 200},
	})
	// keepalive_time: a request later than that after the accept is the
	// connection's last.
	c := s.dial()
	if r := c.do(get1("/time")); r.header("Connection") != "keep-alive" {
		t.Fatalf("first request: %v", r)
	}
	time.Sleep(1200 * time.Millisecond)
	if r := c.do(get1("/time")); r.header("Connection") != "close" {
		t.Errorf("after keepalive_time: Connection %q", r.header("Connection"))
	}
}

// TestRequestRules: TRACE is 405 wherever it goes, a request without Host
// goes to the server named "", a Host with anything after an IPv6
// literal but a port is 400, and max_headers bounds the fields.
func TestRequestRules(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["localhost"]
    max_headers = 3
    location "/" { return = "200 localhost" }
  }
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = [""]
    location "/" { return = "200 empty" }
  }`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: "TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 405, closed: true},
		{raw: "GET / HTTP/1.0\r\n\r\n", status: 200, body: "=empty", closed: true},
		{raw: "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", status: 200, body: "=localhost", closed: true},
		{raw: "GET http://[abcd::ef98:0:7654:321]./ HTTP/1.0\r\n\r\n", status: 400, closed: true},
		{raw: "GET http://[abcd::ef98:0:7654:321].:98/ HTTP/1.0\r\n\r\n", status: 400, closed: true},
		{raw: "GET / HTTP/1.1\r\nHost: localhost:98777\r\n\r\n", status: 400, closed: true},
		{raw: "GET / HTTP/1.1\r\nHost: localhost\r\nA: 1\r\nB: 2\r\n\r\n", status: 200, body: "=localhost"},
		{raw: "GET / HTTP/1.1\r\nHost: localhost\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", status: 400, closed: true},
	})
}

// TestCharsetTypes: charset goes on the types charset_types lists (and
// text/html), and on every text/* type without it.
func TestCharsetTypes(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    charset = "utf-8"
    location "/listed/" { charset_types = ["text/css", "application/json"] }`))
	for _, d := range []string{"", "listed/"} {
		s.file(d+"a.css", "c")
		s.file(d+"a.txt", "t")
		s.file(d+"a.json", "{}")
		s.file(d+"a.html", "h")
	}
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/a.css"), status: 200, headers: []string{"Content-Type: text/css; charset=utf-8"}},
		{raw: get1("/a.json"), status: 200, headers: []string{"Content-Type: application/json"}},
		{raw: get1("/listed/a.css"), status: 200, headers: []string{"Content-Type: text/css; charset=utf-8"}},
		{raw: get1("/listed/a.txt"), status: 200, headers: []string{"Content-Type: text/plain"}},
		{raw: get1("/listed/a.json"), status: 200, headers: []string{"Content-Type: application/json; charset=utf-8"}},
		{raw: get1("/listed/a.html"), status: 200, headers: []string{"Content-Type: text/html; charset=utf-8"}},
	})
}

// TestRefusedDate: a request refused before routing (a version tern
// does not speak) carries the current Date, not the one of the worker's
// last served request.
func TestRefusedDate(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root   = "{{ROOT}}"
  }`))
	s.file("index.html", "hi\n")
	s.start()
	if r := s.get("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.status != 200 {
		t.Fatalf("GET: %d", r.status)
	}
	time.Sleep(2500 * time.Millisecond)
	r := s.get("GET / HTTP/3.0\r\nHost: x\r\n\r\n")
	date, err := http.ParseTime(r.header("Date"))
	if r.status != 505 || err != nil {
		t.Fatalf("%d, Date %q: %v", r.status, r.header("Date"), err)
	}
	if age := time.Since(date); age > 1500*time.Millisecond || age < -time.Second {
		t.Errorf("Date %s is %v old", r.header("Date"), age.Round(time.Millisecond))
	}
}
