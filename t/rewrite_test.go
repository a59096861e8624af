package t

import (
	"os"
	"path/filepath"
	"testing"
)

// rewriteServer holds the rewrite module's statements in the cases of
// nginx's rewrite.t and rewrite_if.t, and tern's own.
func rewriteServer(t *testing.T) *server {
	s := newServer(t, handlersConfig("", `
    location "/" {
      rewrite = ["^ http://example.com/ redirect"]
    }
    location "/add" { rewrite = ["^ http://example.com/?c=d redirect"] }
    location "/no"  { rewrite = ["^ http://example.com/?c=d? redirect"] }
    location "/perm" { rewrite = ["^/perm/(.*)$ /moved/$1 permanent"] }
    location "/return306" { return = "306" }
    location "/return200text" { return = "200 text" }
    location "/capture" {
      rewrite = ["^(.*) $1?c=d"]
      return  = "200 uri:$uri args:$args"
    }
    location "/capturedup" {
      rewrite = ["^(.*) $1?c=$1"]
      return  = "200 uri:$uri args:$args"
    }
    location "/last/" {
      rewrite = ["^/last/(.*)$ /target/$1 last", "^ /never"]
    }
    location "/noflag/" {
      rewrite = ["^/noflag/(.*)$ /tmp/$1", "^/tmp/(.*)$ /target/$1"]
    }
    location "/brk/" {
      rewrite = ["^/brk/(.*)$ /files/$1 break"]
    }
    location "/target/" {
      return = "200 target $uri $args"
    }
    location "/loop/" {
      rewrite = ["^ /loop/again last"]
    }
    location "/set/" {
      set     = { a = "one", b = "$a-two", args = "x=$a" }
      return  = "200 $a|$b|$args|$arg_x"
    }
    location "/if/" {
      set = { flag = "" }
      if "$arg_f !~ ^/" {
        set = { rel = "1" }
      }
      if "$arg_c" {
        set        = { flag = "yes" }
        add_header = { "X-If" = "in" }
      }
      if "$arg_c = 2" {
        return = "204"
      }
      if "$arg_m ~* ^(?P<word>f[a-z]+)$" {
        return = "200 matched $word $1"
      }
      return = "200 flag=$flag rel=$rel"
    }
    location "/file" {
      if "-f {{ROOT}}/$arg_c" { return = "200 plain" }
      if "-d {{ROOT}}/$arg_c" { return = "200 dir" }
      if "!-e {{ROOT}}/$arg_c" { return = "200 none" }
      if "-x {{ROOT}}/$arg_c" { return = "200 exec" }
      return = "200 other"
    }
    location "/srvif/" {
      return = "200 srvif $srv"
    }
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    server_name = ["second.test"]
    root = "{{ROOT}}"
    set = { srv = "server" }
    if "$http_x_go" {
      rewrite = ["^ /srvif/ last"]
    }
    location "/srvif/" { return = "200 srvif $srv $uri" }`))
	s.file("files/f.txt", "file f")
	s.file("dir/x", "")
	s.file("plain.txt", "p")
	exe := s.file("exe.sh", "#!/bin/sh\n")
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	return s.start()
}

func TestRewrite(t *testing.T) {
	s := rewriteServer(t)
	runHCases(t, s, []hcase{
		{raw: get1("/"), status: 302, headers: []string{"Location: http://example.com/"}},
		{raw: get1("/?a=b"), status: 302, headers: []string{"Location: http://example.com/?a=b"}},
		{raw: get1("/add"), status: 302, headers: []string{"Location: http://example.com/?c=d"}},
		{raw: get1("/add?a=b"), status: 302, headers: []string{"Location: http://example.com/?c=d&a=b"}},
		{raw: get1("/no?a=b"), status: 302, headers: []string{"Location: http://example.com/?c=d"}},
		{raw: get1("/perm/x?y=1"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/moved/x?y=1"}},
		{raw: get1("/return306"), status: 306},
		{raw: get1("/return200text"), status: 200, body: "=text"},
		{raw: get1("/capture/%25?a=b"), status: 200, body: "=uri:/capture/% args:c=d&a=b"},
		{raw: get1("/capturedup/%25?a=b"), status: 200, body: "=uri:/capturedup/% args:c=/capturedup/%25&a=b"},
		{raw: get1("/last/a?q=1"), status: 200, body: "=target /target/a q=1"},
		{raw: get1("/noflag/b"), status: 200, body: "=target /target/b "},
		{raw: get1("/brk/f.txt"), status: 200, body: "=file f"},
		{raw: get1("/loop/x"), status: 500, closed: true},
		{raw: get1("/set/"), status: 200, body: "=one|one-two|x=one|one"},
		{raw: get1("/if/?c=1"), status: 200, headers: []string{"X-If: in"}, body: "=flag=yes rel=1"},
		{raw: get1("/if/?c=0"), status: 200, headers: []string{"-X-If"}, body: "=flag= rel=1"},
		// The last if whose condition holds is the request's location,
		// as nginx: this one adds no X-If.
		{raw: get1("/if/?c=2"), status: 204, headers: []string{"-X-If"}},
		{raw: get1("/if/?m=FOOD"), status: 200, body: "=matched FOOD FOOD"},
		{raw: get1("/if/?m=bar&f=/x"), status: 200, body: "=flag= rel="},
		{raw: get1("/file?c=plain.txt"), status: 200, body: "=plain"},
		{raw: get1("/file?c=dir"), status: 200, body: "=dir"},
		{raw: get1("/file?c=nx"), status: 200, body: "=none"},
		{raw: "GET /x HTTP/1.1\r\nHost: second.test\r\nX-Go: 1\r\n\r\n", status: 200, body: "=srvif server /srvif/"},
		{raw: "GET /srvif/a HTTP/1.1\r\nHost: second.test\r\n\r\n", status: 200, body: "=srvif server /srvif/a"},
	})
}

// TestRewriteFileTests covers -x, which the cases above reach only for
// plain files and directories (nginx: a searchable directory is -x).
func TestRewriteFileTests(t *testing.T) {
	s := rewriteServer(t)
	if _, err := os.Stat(filepath.Join(s.root, "exe.sh")); err != nil {
		t.Fatal(err)
	}
	runHCases(t, s, []hcase{
		// -f wins first for a plain file; exe.sh is one.
		{raw: get1("/file?c=exe.sh"), status: 200, body: "=plain"},
	})
}

// TestRedirectForms: absolute_redirect, server_name_in_redirect and
// port_in_redirect, as nginx's http_absolute_redirect.t.
func TestRedirectForms(t *testing.T) {
	s := newServer(t, serversConfig(`
  absolute_redirect = false
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["on"]
    root        = "{{ROOT}}"
    absolute_redirect = true
    location "/return301" { return = "301 /redirect" }
    location "/return301/name" {
      return = "301 /redirect"
      server_name_in_redirect = true
    }
    location "/return301/port" {
      return = "301 /redirect"
      port_in_redirect = false
    }
    location "/i/" { alias = "{{ROOT}}/" }
  }
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["off"]
    root        = "{{ROOT}}"
    location "/return301" { return = "301 /redirect" }
    location "/i/" { alias = "{{ROOT}}/" }
  }`))
	s.file("dir/x", "")
	s.file("dir sp/x", "")
	s.start()
	host := func(h, path string) string { return "GET " + path + " HTTP/1.1\r\nHost: " + h + "\r\n\r\n" }
	runHCases(t, s, []hcase{
		{raw: host("on", "/dir"), status: 301, headers: []string{"Location: http://on:{{PORT}}/dir/"}},
		{raw: host("on", "/i/dir"), status: 301, headers: []string{"Location: http://on:{{PORT}}/i/dir/"}},
		{raw: host("on", "/dir%20sp?a=b"), status: 301, headers: []string{"Location: http://on:{{PORT}}/dir%20sp/?a=b"}},
		{raw: host("on", "/return301"), status: 301, headers: []string{"Location: http://on:{{PORT}}/redirect"}},
		{raw: host("host", "/return301/name"), status: 301, headers: []string{"Location: http://on:{{PORT}}/redirect"}},
		{raw: host("host", "/return301"), status: 301, headers: []string{"Location: http://host:{{PORT}}/redirect"}},
		{raw: host("host", "/return301/port"), status: 301, headers: []string{"Location: http://host/redirect"}},
		{raw: host("off", "/dir"), status: 301, headers: []string{"Location: /dir/"}},
		{raw: host("off", "/i/dir"), status: 301, headers: []string{"Location: /i/dir/"}},
		{raw: host("off", "/dir%20sp?a=b"), status: 301, headers: []string{"Location: /dir%20sp/?a=b"}},
		{raw: host("off", "/return301"), status: 301, headers: []string{"Location: /redirect"}},
	})
}

// TestMergeSlashes: merge_slashes = false keeps runs of slashes, and ".."
// removes one empty segment (nginx's merge_slashes.t).
func TestMergeSlashes(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    merge_slashes = false
    location "/" {
      add_header = { "X-URI" = "x $uri x" }
      return     = "204"
    }`))
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/foo//../bar"), status: 204, headers: []string{"X-URI: x /foo/bar x"}},
		{raw: get1("/foo///../bar"), status: 204, headers: []string{"X-URI: x /foo//bar x"}},
		{raw: get1("/a//b"), status: 204, headers: []string{"X-URI: x /a//b x"}},
	})
}

// TestNestedLocations: a location inside a location, chosen as nginx
// chooses one, inheriting from the one around it.
func TestNestedLocations(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/a/" {
      add_header = { "X-Level" = "a" }
      location "/a/b/" {
        location "= /a/b/c" { return = "200 exact-abc" }
      }
      location "~ \\.png$" { return = "200 png-in-a" }
    }
    location "~ \\.js$" { return = "200 js" }`))
	s.file("a/b/f.txt", "f in b")
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/a/b/f.txt"), status: 200, headers: []string{"X-Level: a"}, body: "=f in b"},
		{raw: get1("/a/b/c"), status: 200, body: "=exact-abc"},
		{raw: get1("/a/x.png"), status: 200, body: "=png-in-a"},
		{raw: get1("/a/x.js"), status: 200, body: "=js"},
	})
}
