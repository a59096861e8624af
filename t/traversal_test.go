package t

import (
	"os"
	"strings"
	"testing"
)

// TestTraversalCorpus sends every encoding of "go above the root" we know
// of. Each must be refused (400) or not found (404) — never the secret
// file that sits next to the docroot — and the server must keep serving.
func TestTraversalCorpus(t *testing.T) {
	s := newServer(t, basicConfig(""))
	secret := "TOP SECRET " + strings.Repeat("x", 20)
	s.write("secret.txt", secret)
	s.file("a/b/inside.txt", "inside\n")
	s.start()
	corpus := []string{
		"/../secret.txt",
		"/..",
		"/../",
		"/a/../../secret.txt",
		"/a/b/../../../secret.txt",
		"/%2e%2e/secret.txt",
		"/%2E%2E/secret.txt",
		"/.%2e/secret.txt",
		"/%2e./secret.txt",
		"/..%2fsecret.txt",
		"/..%2Fsecret.txt",
		"/a%2f..%2f..%2fsecret.txt",
		"/%2e%2e%2fsecret.txt",
		"/%252e%252e/secret.txt",
		"/%252e%252e%252fsecret.txt",
		"//../secret.txt",
		"///..//..//secret.txt",
		"/a/./../../secret.txt",
		"/a/.%2e/.%2e/secret.txt",
		"/secret.txt%00.html",
		"/%00/../secret.txt",
		"/..\\secret.txt",
		"/a/b/..%5c..%5c..%5csecret.txt",
		"/%c0%ae%c0%ae/secret.txt",
		"/..;/secret.txt",
		"/./../secret.txt",
		"http://localhost/../secret.txt",
		"http://localhost/%2e%2e/secret.txt",
	}
	for i, p := range corpus {
		c := s.dial()
		raw := "GET " + p + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
		r := c.do(raw)
		if strings.Contains(string(r.body), "TOP SECRET") {
			t.Fatalf("%d: %q leaked the secret: %v", i, p, r)
		}
		if r.status != 400 && r.status != 404 {
			t.Errorf("%d: %q: status %d, want 400 or 404", i, p, r.status)
		}
	}
	// Inside the root, dot segments still resolve.
	for _, p := range []string{"/a/b/inside.txt", "/a/./b/inside.txt", "/a/x/../b/inside.txt", "/a/b/%2e/inside.txt", "//a//b//inside.txt"} {
		if r := s.get("GET " + p + " HTTP/1.1\r\nHost: l\r\n\r\n"); r.status != 200 || string(r.body) != "inside\n" {
			t.Errorf("%q: %v", p, r)
		}
	}
	if _, err := os.Stat(s.dir + "/secret.txt"); err != nil {
		t.Fatal(err)
	}
}
