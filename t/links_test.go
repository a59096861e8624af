package t

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// TestSecureLink: nginx's documented use of secure_link: a link whose
// MD5 covers its expiry, the URI and the client's address; a wrong or
// missing hash is 403 and an expired link 410 (through if, as nginx).
// And the older secure_link_secret.
func TestSecureLink(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/p/" {
      secure_link     = "$arg_md5,$arg_expires"
      secure_link_md5 = "$secure_link_expires$uri$remote_addr secret"
      if "$secure_link = \"\"" {
        return = "403"
      }
      if "$secure_link = \"0\"" {
        return = "410"
      }
    }
    location "/show/" {
      secure_link     = "$arg_md5,$arg_expires"
      secure_link_md5 = "$secure_link_expires$uri$remote_addr secret"
      return = "200 [$secure_link] [$secure_link_expires]"
    }
    location "/old/" {
      secure_link_secret = "word"
      return = "200 [$secure_link]"
    }
`))
	s.file("p/file.pdf", "pdf")
	s.start()
	link := func(path string, expires int64) string {
		sum := md5.Sum([]byte(fmt.Sprintf("%d%s127.0.0.1 secret", expires, path)))
		return fmt.Sprintf("%s?md5=%s&expires=%d", path, base64.RawURLEncoding.EncodeToString(sum[:]), expires)
	}
	future := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	good := link("/p/file.pdf", future)
	cases := []struct {
		target string
		status int
		body   string
	}{
		{good, 200, "pdf"},
		{link("/p/file.pdf", past), 410, ""},
		{"/p/file.pdf" + link("/p/other.pdf", future)[len("/p/other.pdf"):], 403, ""}, // another URI's hash
		{fmt.Sprintf("/p/file.pdf?md5=%s&expires=%d", good[len("/p/file.pdf?md5="):len("/p/file.pdf?md5=")+22], future+1), 403, ""},
		{"/p/file.pdf", 403, ""},
		{"/p/file.pdf?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=" + fmt.Sprint(future), 403, ""},
		{"/p/file.pdf?md5=!!!&expires=1", 403, ""},
		{link("/show/x", future), 200, fmt.Sprintf("[1] [%d]", future)},
		{link("/show/x", past), 200, fmt.Sprintf("[0] [%d]", past)},
		{"/show/x?md5=xx", 200, "[] []"},
	}
	oldSum := md5.Sum([]byte("some/file.txtword"))
	cases = append(cases,
		struct {
			target string
			status int
			body   string
		}{"/old/" + hex.EncodeToString(oldSum[:]) + "/some/file.txt", 200, "[some/file.txt]"},
		struct {
			target string
			status int
			body   string
		}{"/old/" + hex.EncodeToString(oldSum[:]) + "/some/other.txt", 200, "[]"},
	)
	for i, c := range cases {
		r := s.get(req("GET", c.target))
		if r.status != c.status || c.body != "" && string(r.body) != c.body {
			t.Errorf("%d: %s: %d %q, want %d %q", i, c.target, r.status, r.body, c.status, c.body)
		}
	}
}

// TestValidReferers: $invalid_referer, acted on with if.
func TestValidReferers(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    server_name = ["example.com"]
    location "/img/" {
      valid_referers = ["none", "blocked", "server_names", "*.partner.test/shop/", "~\\.search\\."]
      if "$invalid_referer" {
        return = "403"
      }
    }
`))
	s.file("img/a.png", "png")
	s.start()
	for i, c := range []struct {
		referer string
		status  int
	}{
		{"", 200},
		{"Referer: http://example.com/page", 200},
		{"Referer: https://www.partner.test/shop/item", 200},
		{"Referer: https://www.partner.test/blog/", 403},
		{"Referer: http://www.search.example/?q=x", 200},
		{"Referer: http://evil.test/", 403},
		{"Referer: ZZZZZZZZZZZZZZZZZZZZ", 200}, // blocked
	} {
		var hdrs []string
		if c.referer != "" {
			hdrs = []string{c.referer}
		}
		if r := s.get(req("GET", "/img/a.png", hdrs...)); r.status != c.status {
			t.Errorf("%d: %q: %d, want %d", i, c.referer, r.status, c.status)
		}
	}
}

// TestLimitVariables: $limit_req_status and $limit_conn_status say what
// the limits did; set $limit_rate limits a response as limit_rate does.
func TestLimitVariables(t *testing.T) {
	s := newServer(t, handlersConfig(`
  limit_req_zone "one" {
    key  = "$binary_remote_addr"
    size = "1m"
    rate = "1r/m"
  }
  limit_conn_zone "c" {
    key  = "$binary_remote_addr"
    size = "1m"
  }
`, `
    location "/v/" {
      limit_req  = { zone = "one", nodelay = true }
      limit_conn = { c = 5 }
      add_header = { "X-Req" = { value = "$limit_req_status", always = true }, "X-Conn" = { value = "$limit_conn_status", always = true }, "X-Rate" = { value = "$limit_rate", always = true } }
    }
    location "/dry/" {
      limit_req  = { zone = "one" }
      limit_req_dry_run = true
      add_header = { "X-Req" = "$limit_req_status" }
    }
    location "/rate/" {
      set = { limit_rate = "100k" }
      add_header = { "X-Rate" = "$limit_rate" }
    }
`))
	s.file("v/x", "x")
	s.file("dry/x", "x")
	s.file("rate/x", "x")
	s.start()
	r1 := s.get(req("GET", "/v/x"))
	r2 := s.get(req("GET", "/v/x"))
	if r1.status != 200 || r1.header("X-Req") != "PASSED" || r1.header("X-Conn") != "PASSED" || r1.header("X-Rate") != "0" {
		t.Errorf("first: %d %v", r1.status, r1)
	}
	if r2.status != 503 || r2.header("X-Req") != "REJECTED" {
		t.Errorf("second: %d %v", r2.status, r2)
	}
	// The bucket is full from /v/: the dry run says it would refuse.
	if r := s.get(req("GET", "/dry/x")); r.status != 200 || r.header("X-Req") != "REJECTED_DRY_RUN" {
		t.Errorf("dry run: %d %q", r.status, r.header("X-Req"))
	}
	if r := s.get(req("GET", "/rate/x")); r.status != 200 || r.header("X-Rate") != "102400" {
		t.Errorf("set $limit_rate: %d %q", r.status, r.header("X-Rate"))
	}
}
