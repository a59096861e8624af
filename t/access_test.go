package t

import (
	"bufio"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// dialFrom connects to s from the loopback address src (any of
// 127.0.0.0/8 is local on Linux), so that one test can be several
// clients for allow and deny.
func (s *server) dialFrom(src string) *client {
	s.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &client{t: s.t, c: c, br: bufio.NewReader(c)}
}

// basic is an Authorization header with Basic credentials.
func basic(user, pass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// acase is a request from a client address and what it gets.
type acase struct {
	from   string
	path   string
	hdrs   []string
	status int
	body   string // the whole body, when not ""
	realm  string // the WWW-Authenticate realm a 401 carries
}

func runACases(t *testing.T, s *server, cases []acase) {
	t.Helper()
	for i, c := range cases {
		from := c.from
		if from == "" {
			from = "127.0.0.1"
		}
		r := s.dialFrom(from).do(req("GET", c.path, c.hdrs...))
		if r.status != c.status {
			t.Errorf("%d: %s from %s: status %d, want %d (%q)", i, c.path, from, r.status, c.status, trunc(string(r.body)))
			continue
		}
		if c.body != "" && string(r.body) != c.body {
			t.Errorf("%d: %s from %s: body %q, want %q", i, c.path, from, r.body, c.body)
		}
		want := ""
		if c.realm != "" {
			want = `Basic realm="` + c.realm + `"`
		}
		if got := r.header("WWW-Authenticate"); got != want {
			t.Errorf("%d: %s from %s: WWW-Authenticate %q, want %q", i, c.path, from, got, want)
		}
	}
}

// TestAllowDeny: the access module's rules, first match wins, inherited
// only by a level without rules of its own; return runs before them
// (nginx's rewrite phase comes first); internal locations only answer
// internal redirects.
func TestAllowDeny(t *testing.T) {
	s := newServer(t, handlersConfig(`
  allow = ["127.0.0.0/8"]
  deny  = "all"
`, `
    location "/doc/" {
      deny  = "127.0.0.2"
      allow = ["127.0.0.0/24", "::1"]
    }
    location "/listed/" {
      allow = ["127.0.0.0/24", "::1"]
      deny  = "all"
    }
    location "/open/" { allow = [] }
    location "/inherit/" { }
    location "/returned/" {
      deny   = "all"
      return = "200 returned"
    }
    location "/private/" { internal = true }
    location "/tried/"   { try_files = ["/private/page.html", "=404"] }
    location "/err/"     { error_page = { "404" = "/private/page.html" } }
    location "/denied/"  {
      deny       = "all"
      error_page = { "403" = "/private/page.html" }
    }
`))
	s.file("doc/a.txt", "doc")
	s.file("open/a.txt", "open")
	s.file("listed/a.txt", "listed")
	s.file("inherit/a.txt", "inherit")
	s.file("private/page.html", "private")
	s.file("tried/x", "")
	s.start()
	runACases(t, s, []acase{
		{path: "/doc/a.txt", status: 200, body: "doc"},
		{from: "127.0.0.3", path: "/doc/a.txt", status: 200, body: "doc"},
		// The deny of one address before the allow of its network.
		{from: "127.0.0.2", path: "/doc/a.txt", status: 403},
		// No rule matches: allowed.
		{from: "127.0.1.1", path: "/doc/a.txt", status: 200},
		{from: "127.0.0.2", path: "/listed/a.txt", status: 200, body: "listed"},
		{from: "127.0.1.1", path: "/listed/a.txt", status: 403},
		// A location without rules inherits the server's (http's).
		{from: "127.0.1.1", path: "/inherit/a.txt", status: 200, body: "inherit"},
		{from: "127.0.0.2", path: "/open/a.txt", status: 200, body: "open"},
		{path: "/returned/x", status: 200, body: "returned"},
		{path: "/private/page.html", status: 404},
		{path: "/tried/y", status: 200, body: "private"},
		{path: "/err/missing", status: 404, body: "private"},
		{path: "/denied/x", status: 403, body: "private"},
	})
	waitFileHas(t, filepath.Join(s.dir, "logs/error.log"), `"client":"127.0.0.2","uri":"/doc/a.txt","time":`)
}

// TestAuthBasic: every htpasswd scheme nginx reads, the statuses of
// nginx's auth_basic module, satisfy any, and a user file that changes.
func TestAuthBasic(t *testing.T) {
	s := newServer(t, handlersConfig(`
  auth_basic_user_file = "{{DIR}}/htpasswd"
`, `
    location "/staff/" { auth_basic = "Staff \u00e9" }
    location "/staff/public/" { auth_basic = "off" }
    location "/missing/" {
      auth_basic = "x"
      auth_basic_user_file = "{{DIR}}/no-such-file"
    }
    location "/any/" {
      auth_basic = "Any"
      satisfy    = "any"
      allow      = "127.0.0.1"
      deny       = "all"
    }
    location "/all/" {
      auth_basic = "All"
      allow      = "127.0.0.1"
      deny       = "all"
    }
    location "/paged/" {
      auth_basic = "Paged"
      error_page = { "401" = "/401.html" }
    }
    location "/team/" {
      auth_basic = "Team"
      auth_basic_user_file = "{{DIR}}/teams/$http_x_team"
    }
    location "/docroot/" {
      auth_basic = "Docroot"
      auth_basic_user_file = "$document_root/docroot/.htpasswd"
    }
`))
	// Made by htpasswd 2.4 (-B -C 5, -m, -s), then {SSHA}, {PLAIN},
	// DES crypt and openssl passwd -6 and -5.
	s.write("htpasswd", "# staff\n"+
		"alice:$2y$05$KnETdNBoLvQthGGSmZGMYeyugbv.M4yV1I4Xrd8kq9aX0GTCy47J2\n"+
		"bob:$apr1$dy9ghhny$256rZ7JZ0d8/URlitXeXe1:Bob\r\n"+
		"carol:{SHA}SAv9mAXCuLCIWvLrguJf85sCv4E=\n"+
		"dan:{SSHA}3kid4g1+f6MYfzcXg79hRsKYJc9TQUxUWQ==\n"+
		"erin:{PLAIN}open sesame\n"+
		"eve:isgf5rkjvvpfQ\n"+
		"fay:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n"+
		"gus:$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5\n")
	// One user file per team, named by a request header; one in the
	// docroot.
	s.write("teams/red", "red:{PLAIN}r\n")
	s.write("teams/blue", "blue:{PLAIN}b\n")
	s.file("docroot/.htpasswd", "doc:{PLAIN}d\n")
	for _, d := range []string{"staff", "staff/public", "missing", "any", "all", "paged", "team", "docroot"} {
		s.file(d+"/f", d)
	}
	s.file("401.html", "please log in")
	s.start()
	realm := "Staff \u00e9"
	runACases(t, s, []acase{
		{path: "/staff/f", status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("alice", "wonder land")}, status: 200, body: "staff"},
		{path: "/staff/f", hdrs: []string{basic("alice", "wonderland")}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("bob", "secret")}, status: 200, body: "staff"},
		{path: "/staff/f", hdrs: []string{basic("bob", "secrets")}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("carol", "p@ss")}, status: 200},
		{path: "/staff/f", hdrs: []string{basic("dan", "secret")}, status: 200},
		{path: "/staff/f", hdrs: []string{basic("erin", "open sesame")}, status: 200},
		{path: "/staff/f", hdrs: []string{basic("erin", "open")}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("fay", "Hello world!")}, status: 200},
		{path: "/staff/f", hdrs: []string{basic("fay", "Hello world")}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("gus", "Hello world!")}, status: 200},
		{path: "/staff/f", hdrs: []string{basic("nobody", "x")}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{basic("Alice", "wonder land")}, status: 401, realm: realm},
		// DES crypt is not supported: nginx's crypt() failing is 500.
		{path: "/staff/f", hdrs: []string{basic("eve", "crypt12")}, status: 500},
		{path: "/staff/f", hdrs: []string{"Authorization: Bearer abc"}, status: 401, realm: realm},
		{path: "/staff/f", hdrs: []string{"Authorization: Basic %%%"}, status: 401, realm: realm},
		{path: "/staff/public/f", status: 200, body: "staff/public"},
		{path: "/missing/f", hdrs: []string{basic("alice", "wonder land")}, status: 403},
		// satisfy any: the address or the password.
		{path: "/any/f", status: 200, body: "any"},
		{from: "127.0.0.2", path: "/any/f", status: 401, realm: "Any"},
		{from: "127.0.0.2", path: "/any/f", hdrs: []string{basic("carol", "p@ss")}, status: 200},
		// satisfy all: both.
		{path: "/all/f", status: 401, realm: "All"},
		{path: "/all/f", hdrs: []string{basic("carol", "p@ss")}, status: 200},
		{from: "127.0.0.2", path: "/all/f", hdrs: []string{basic("carol", "p@ss")}, status: 403},
		// An error page keeps the challenge.
		{path: "/paged/f", status: 401, body: "please log in", realm: "Paged"},
		// A user file path with variables: each request reads its own.
		{path: "/team/f", hdrs: []string{"X-Team: red", basic("red", "r")}, status: 200, body: "team"},
		{path: "/team/f", hdrs: []string{"X-Team: blue", basic("red", "r")}, status: 401, realm: "Team"},
		{path: "/team/f", hdrs: []string{"X-Team: blue", basic("blue", "b")}, status: 200, body: "team"},
		{path: "/team/f", hdrs: []string{"X-Team: red", basic("blue", "b")}, status: 401, realm: "Team"},
		{path: "/team/f", hdrs: []string{"X-Team: green", basic("red", "r")}, status: 403},
		{path: "/docroot/f", hdrs: []string{basic("doc", "d")}, status: 200, body: "docroot"},
		{path: "/docroot/f", hdrs: []string{basic("red", "r")}, status: 401, realm: "Docroot"},
	})

	// A changed file is read again within a second.
	s.write("htpasswd", "carol:{PLAIN}new\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get(req("GET", "/staff/f", basic("carol", "new")))
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new password is refused 5 s after the file changed: %d", r.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := s.get(req("GET", "/staff/f", basic("alice", "wonder land"))); r.status != 401 {
		t.Errorf("a user removed from the file: %d, want 401", r.status)
	}
	// A file that disappears is 403 (nginx: ENOENT).
	os.Remove(filepath.Join(s.dir, "htpasswd"))
	deadline = time.Now().Add(5 * time.Second)
	for s.get(req("GET", "/staff/f", basic("carol", "new"))).status != 403 {
		if time.Now().After(deadline) {
			t.Fatal("a removed user file is still used after 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuthBasicSlowHashOffLoop: a bcrypt check (cost 12, a quarter of a
// second) runs on a pool thread: a request that arrives meanwhile on the
// same worker is answered first; and a match is remembered, so the next
// request with the same credentials is answered at once.
func TestAuthBasicSlowHashOffLoop(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("slow"), 12)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, handlersConfig(`
  access_log_format = "combined"
`, `
    location "/slow/" {
      auth_basic = "Slow"
      auth_basic_user_file = "{{DIR}}/htpasswd"
    }
`))
	s.write("htpasswd", "frank:"+string(hash)+"\n")
	s.file("slow/f", "slow")
	s.file("fast", "fast")
	s.start()
	// Warm the user file, so that what follows times the hash alone.
	s.get(req("GET", "/slow/f", basic("frank", "warm-up, wrong")))

	slow := s.dial()
	fast := s.dial()
	start := time.Now()
	slow.send(req("GET", "/slow/f", basic("frank", "slow")))
	time.Sleep(20 * time.Millisecond)
	fast.send(req("GET", "/fast"))
	done := make(chan time.Duration, 1)
	go func() {
		fast.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := readResponse(fast.br, "GET")
		if err != nil || r.status != 200 {
			done <- -1
			return
		}
		done <- time.Since(start)
	}()
	if r := slow.read("GET"); r.status != 200 || string(r.body) != "slow" {
		t.Fatalf("the bcrypt user: %d %q", r.status, r.body)
	}
	slowTime := time.Since(start)
	fastTime := <-done
	if fastTime < 0 || fastTime >= slowTime {
		t.Errorf("a static request waited for the bcrypt check: %v, the check %v", fastTime, slowTime)
	}
	again := time.Now()
	if r := s.get(req("GET", "/slow/f", basic("frank", "slow"))); r.status != 200 {
		t.Fatalf("the same credentials again: %d", r.status)
	}
	if d := time.Since(again); d > slowTime/2 {
		t.Errorf("a remembered match took %v, the first check %v", d, slowTime)
	}
	// $remote_user in the combined log.
	waitLog(t, s, "127.0.0.1 - frank [")
}

// waitFileHas waits until the file at path contains want: the logs are
// written off the event loop.
func waitFileHas(t *testing.T, path, want string) {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ = os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
	}
	t.Errorf("%s lacks %s:\n%s", path, want, b)
}
