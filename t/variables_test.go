package t

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// variablesServer uses variables wherever nginx allows them: add_header
// (with always), expires, index, root, try_files, return, and map
// variables of every kind of key.
func variablesServer(t *testing.T) *server {
	s := newServer(t, serversConfig(`
  map "$uri" "$kind" {
    default = "other"
    values  = {
      "/a.TXT"        = "exact"
      "~^/img/(?P<base>[a-z]+)\\.png$" = "image $base $1"
      "~*\\.CSS$"     = "style"
    }
  }
  map "$http_host" "$site" {
    hostnames = true
    default   = "none"
    values    = { "*.example.com" = "wild", "example.org" = "org", "www.example.*" = "tail" }
  }
  map "$arg_e" "$exp" {
    default = "off"
    values  = { "h" = "1h", "epoch" = "epoch", "bad" = "soon" }
  }
  map "$sent_http_content_type" "$ct_policy" {
    default   = ""
    values    = { "~*text/html" = "html-policy" }
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root   = "{{ROOT}}"
    add_header = {
      "X-URI"    = "$uri?$args ($is_args)"
      "X-Kind"   = "$kind"
      "X-Site"   = "$site"
      "X-Arg"    = "[$arg_q]"
      "X-Foo"    = "$http_x_foo"
      "X-Cookie" = "$cookie_c"
      "X-Status" = { value = "$status", always = true }
      "X-CT"     = "$sent_http_content_type"
      "X-Policy" = "$ct_policy"
      "X-Empty"  = "$arg_none"
    }
    expires = "$exp"
    location "/idx/" {
      index = ["${arg_i}.html", "index.html"]
    }
    location "/byhost/" {
      root = "{{ROOT}}/hosts/$host"
    }
    location "/ret" {
      return = "200 $request_method $request_uri $server_port $remote_addr $server_protocol"
    }
  }
`))
	s.file("a.txt", "a\n")
	s.file("s.css", "css\n")
	s.file("p.html", "<p>\n")
	s.file("img/cat.png", "png")
	s.file("idx/two.html", "two\n")
	s.file("idx/index.html", "index\n")
	s.file("hosts/one.test/byhost/f.txt", "host one\n")
	return s.start()
}

func TestVariables(t *testing.T) {
	s := variablesServer(t)
	cases := []struct {
		req     string
		status  int
		headers map[string]string // "" = absent
		body    string
	}{
		{req("GET", "/a.txt?q=1&Q=2"), 200, map[string]string{
			"X-URI": "/a.txt?q=1&Q=2 (?)", "X-Kind": "exact", "X-Arg": "[1]", "X-Status": "200",
			"X-CT": "text/plain", "X-Policy": "", "X-Empty": "", "Expires": "", "X-Foo": "", "X-Site": "none",
		}, "a\n"},
		{req("GET", "/a.txt?Q=2", "X-Foo: one", "x-foo: two", "Cookie: a=1; c=sweet; d=4"), 200, map[string]string{
			"X-URI": "/a.txt?Q=2 (?)", "X-Arg": "[2]", "X-Foo": "one, two", "X-Cookie": "sweet",
		}, "a\n"},
		{req("GET", "/img/cat.png"), 200, map[string]string{"X-Kind": "image cat cat", "X-URI": "/img/cat.png? ()"}, "png"},
		{req("GET", "/s.css"), 200, map[string]string{"X-Kind": "style"}, "css\n"},
		{req("GET", "/p.html"), 200, map[string]string{"X-Kind": "other", "X-Policy": "html-policy", "X-CT": "text/html"}, "<p>\n"},
		{"GET /a.txt HTTP/1.1\r\nHost: a.b.example.com\r\n\r\n", 200, map[string]string{"X-Site": "wild"}, "a\n"},
		{"GET /a.txt HTTP/1.1\r\nHost: EXAMPLE.org.\r\n\r\n", 200, map[string]string{"X-Site": "org"}, "a\n"},
		{"GET /a.txt HTTP/1.1\r\nHost: www.example.net\r\n\r\n", 200, map[string]string{"X-Site": "tail"}, "a\n"},
		// always: on a 404 only the always header is added.
		{req("GET", "/missing"), 404, map[string]string{"X-Status": "404", "X-URI": "", "X-Kind": ""}, ""},
		// A 304 has no Content-Type, and $sent_http_content_type is
		// empty for the headers it gets (nginx's not-modified filter
		// clears the type before the headers filter runs).
		{req("GET", "/p.html", "If-None-Match: *"), 304, map[string]string{
			"X-CT": "", "X-Policy": "", "X-Status": "304", "Content-Type": "",
		}, ""},
		// expires through a map.
		{req("GET", "/a.txt?e=h"), 200, map[string]string{"Cache-Control": "max-age=3600"}, "a\n"},
		{req("GET", "/a.txt?e=epoch"), 200, map[string]string{"Cache-Control": "no-cache", "Expires": "Thu, 01 Jan 1970 00:00:01 GMT"}, "a\n"},
		{req("GET", "/a.txt?e=bad"), 200, map[string]string{"Cache-Control": "", "Expires": ""}, "a\n"},
		// index and root with variables.
		{req("GET", "/idx/?i=two"), 200, nil, "two\n"},
		{req("GET", "/idx/?i=none"), 200, nil, "index\n"},
		{"GET /byhost/f.txt HTTP/1.1\r\nHost: One.Test\r\n\r\n", 200, nil, "host one\n"},
		{"GET /byhost/f.txt HTTP/1.1\r\nHost: two.test\r\n\r\n", 404, nil, ""},
		{req("GET", "/ret?x=%41"), 200, nil, "GET /ret?x=%41 " + strconv.Itoa(s.port) + " 127.0.0.1 HTTP/1.1"},
	}
	for i, c := range cases {
		r := s.get(c.req)
		if r.status != c.status {
			t.Errorf("%d: %q: status %d, want %d", i, c.req, r.status, c.status)
			continue
		}
		for name, want := range c.headers {
			got, ok := r.lookup(name)
			if want == "" && ok {
				t.Errorf("%d: %q: %s: %q, want none", i, c.req, name, got)
			} else if want != "" && got != want {
				t.Errorf("%d: %q: %s: %q, want %q", i, c.req, name, got, want)
			}
		}
		if c.body != "" && string(r.body) != c.body {
			t.Errorf("%d: %q: body %q, want %q", i, c.req, r.body, c.body)
		}
	}
}

// TestUnknownVariable: a variable tern does not know is an error of
// tern -t with the file, line and column, never a literal.
func TestUnknownVariable(t *testing.T) {
	cases := []struct{ conf, want string }{
		{`add_header = { "X" = "a $nosuch b" }`, "tern.hcl:12,25: Unknown variable: $nosuch"},
		{`expires = "$nosuch"`, "tern.hcl:12,12: Unknown variable: $nosuch"},
		{`index = ["${nosuch}.html"]`, "tern.hcl:12,11: Unknown variable: $nosuch"},
		{`charset = "$charset"`, "tern.hcl:12,11: Invalid charset"},
		{`location "~ /\\.(?!well-known/)" {}`, "tern.hcl:12,17: Invalid location: \"/\\\\.(?!well-known/)\": negative lookahead"},
	}
	for i, c := range cases {
		s := newServer(t, handlersConfig("", c.conf))
		out, err := exec.Command(ternBin, "-t", "-c", s.dir+"/tern.hcl").CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%d: %s: tern -t: %v\n%s\nwant %q", i, c.conf, err, out, c.want)
		}
	}
}

// TestVariableTimes checks the clock and connection variables' forms.
func TestVariableTimes(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/t" {
      return = "200 $msec|$time_iso8601|$time_local|$request_time|$connection|$connection_requests|$request_id|$pid|$nginx_version"
    }`))
	s.start()
	c := s.dial()
	r1 := c.do(req("GET", "/t"))
	r2 := c.do(req("GET", "/t"))
	f1, f2 := strings.Split(string(r1.body), "|"), strings.Split(string(r2.body), "|")
	if len(f1) != 9 || len(f2) != 9 {
		t.Fatalf("bodies %q %q", r1.body, r2.body)
	}
	msec, err := strconv.ParseFloat(f1[0], 64)
	if err != nil || time.Since(time.UnixMilli(int64(msec*1000))).Abs() > time.Minute || !strings.Contains(f1[0], ".") {
		t.Errorf("$msec %q", f1[0])
	}
	if _, err := time.Parse("2006-01-02T15:04:05-07:00", f1[1]); err != nil {
		t.Errorf("$time_iso8601 %q: %v", f1[1], err)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", f1[2]); err != nil {
		t.Errorf("$time_local %q: %v", f1[2], err)
	}
	if f1[4] != f2[4] || f1[5] != "1" || f2[5] != "2" {
		t.Errorf("$connection %q %q, $connection_requests %q %q", f1[4], f2[4], f1[5], f2[5])
	}
	if len(f1[6]) != 32 || f1[6] == f2[6] {
		t.Errorf("$request_id %q %q", f1[6], f2[6])
	}
	if pid, err := strconv.Atoi(f1[7]); err != nil || pid != s.workers()[0] {
		t.Errorf("$pid %q, worker %v", f1[7], s.workers())
	}
	if f1[8] == "" {
		t.Errorf("$nginx_version empty")
	}
}

// TestAliasInRegexLocation: in a regular expression location the alias,
// made from captures, is the whole path; try_files entries follow it
// (nginx's http_try_files.t "alias in regex location").
func TestAliasInRegexLocation(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "~ ^/pics/(?P<name>[a-z]+)\\.png$" {
      alias = "{{ROOT}}/store/$name.img"
    }
    location "~ /alias-re.html" {
      alias     = "{{ROOT}}/directory"
      try_files = ["$uri", "=404"]
    }`))
	s.file("store/cat.img", "cat image")
	s.file("directory/alias-re.html", "SEE THIS")
	s.start()
	for i, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/pics/cat.png", 200, "cat image"},
		{"/pics/dog.png", 404, ""},
		{"/alias-re.html", 200, "SEE THIS"},
	} {
		r := s.get(req("GET", c.path))
		if r.status != c.status || c.body != "" && string(r.body) != c.body {
			t.Errorf("%d: %s: %d %q, want %d %q", i, c.path, r.status, r.body, c.status, c.body)
		}
	}
}

// tternT runs tern -t on s's configuration and returns its output; it
// fails the test when tern -t succeeds.
func tternT(t *testing.T, s *server) string {
	t.Helper()
	out, err := exec.Command(ternBin, "-t", "-c", s.dir+"/tern.hcl").CombinedOutput()
	if err == nil {
		t.Errorf("tern -t succeeded:\n%s", out)
	}
	return string(out)
}
