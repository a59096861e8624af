package worker

import (
	"bytes"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	cases := []struct {
		raw  string
		want string // "" = 400
	}{
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"//a///b", "/a/b"},
		{"/a/./b", "/a/b"},
		{"/a/.", "/a/"},
		{"/a/..", "/"},
		{"/a/b/../c", "/a/c"},
		{"/a/b/../../c", "/c"},
		{"/..", ""},
		{"/../a", ""},
		{"/a/../..", ""},
		{"/a/../../b", ""},
		{"/%2e%2e/a", ""},
		{"/%2E%2e/a", ""},
		{"/a/%2e%2e/%2e%2e/b", ""},
		{"/a%2f..%2f..%2fb", ""},
		{"/a%2F..%2Fb", "/b"},
		{"/%2e/a", "/a"},
		{"/.%2e/a", ""},
		{"/a/...", "/a/..."},
		{"/a/..b", "/a/..b"},
		{"/%252e%252e/a", "/%2e%2e/a"}, // decoded once: double encoding stays literal
		{"/a%00b", ""},
		{"/a%0", ""},
		{"/a%", ""},
		{"/a%zz", ""},
		{"/a%20b", "/a b"},
		{"/caf%C3%A9", "/café"},
		{"/a\\..\\b", "/a\\..\\b"}, // a backslash is a file-name byte on Unix
		{"/.hidden", "/.hidden"},
	}
	for i, c := range cases {
		got, st := normalizePath([]byte("prefix"), []byte(c.raw))
		if c.want == "" {
			if st != 400 || string(got) != "prefix" {
				t.Errorf("%d: %q: got %q %d, want 400", i, c.raw, got, st)
			}
			continue
		}
		if st != 0 || string(got) != "prefix"+c.want {
			t.Errorf("%d: %q: got %q %d, want %q", i, c.raw, got, st, c.want)
		}
	}
}

// checkConfined fails unless path is absolute with no "." or ".."
// segment and no NUL.
func checkConfined(t *testing.T, path []byte) {
	t.Helper()
	if len(path) == 0 || path[0] != '/' || bytes.IndexByte(path, 0) >= 0 {
		t.Fatalf("bad path %q", path)
	}
	for _, seg := range bytes.Split(path[1:], []byte("/")) {
		if string(seg) == "." || string(seg) == ".." {
			t.Fatalf("dot segment left in %q", path)
		}
	}
	if bytes.Contains(path, []byte("//")) {
		t.Fatalf("double slash left in %q", path)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/", "//a//", "/a%2f..%2f..", "/%00", "/.%2e/"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || raw[0] != '/' {
			return
		}
		path, st := normalizePath(nil, raw)
		if st != 0 {
			if st != 400 || len(path) != 0 {
				t.Fatalf("status %d path %q", st, path)
			}
			return
		}
		checkConfined(t, path)
		// Normalising is idempotent once the escapes are gone.
		if bytes.IndexByte(path, '%') < 0 {
			again, st := normalizePath(nil, path)
			if st != 0 || !bytes.Equal(again, path) {
				t.Fatalf("%q -> %q -> %q (%d)", raw, path, again, st)
			}
		}
	})
}

func TestChunked(t *testing.T) {
	cases := []struct {
		body   string
		max    int64
		used   int // -1 = all
		done   bool
		status int
	}{
		{"0\r\n\r\n", 0, -1, true, 0},
		{"5\r\nhello\r\n0\r\n\r\nNEXT", 0, 15, true, 0},
		{"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", 0, -1, true, 0},
		{"a\nabcdefghij\n0\n\n", 0, -1, true, 0},
		{"A\r\nabcdefghij\r\n0\r\n\r\n", 0, -1, true, 0},
		{"5\r\nhel", 0, -1, false, 0},
		{"5\r\nhelloX\r\n", 0, 0, false, 400},
		{"\r\n", 0, 0, false, 400},
		{"g\r\n", 0, 0, false, 400},
		{"ffffffffffffffff\r\n", 0, 0, false, 400},
		{"5\r\nhello\r\n6\r\n", 10, 0, false, 413},
		{"5\r\nhello\r\n5\r\nhello\r\n0\r\n\r\n", 10, -1, true, 0},
		{"0\r\nBad\x01Trailer\r\n\r\n", 0, 0, false, 400},
	}
	for i, c := range cases {
		var ch chunked
		n, done, st := ch.feed([]byte(c.body), c.max)
		want := c.used
		if want < 0 {
			want = len(c.body)
		}
		if st != c.status || done != c.done || (st == 0 && n != want) {
			t.Errorf("%d: %q: used %d done %v status %d; want %d %v %d", i, c.body, n, done, st, want, c.done, c.status)
		}
	}
}

// TestChunkedSplit feeds a body in every split and checks the result does
// not depend on how it arrived.
func TestChunkedSplit(t *testing.T) {
	body := []byte("3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX: y\r\n\r\n")
	for split := 1; split < len(body); split++ {
		var ch chunked
		n1, done1, st1 := ch.feed(body[:split], 0)
		n2, done2, st2 := ch.feed(body[split:], 0)
		if st1 != 0 || st2 != 0 || done1 || !done2 || n1+n2 != len(body) {
			t.Fatalf("split %d: %d %v %d / %d %v %d", split, n1, done1, st1, n2, done2, st2)
		}
	}
}

func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 3)
	f.Add([]byte("1;x\n\n0\nT: v\n\n"), 1)
	f.Fuzz(func(t *testing.T, body []byte, split int) {
		if split < 0 || split > len(body) {
			split = len(body) / 2
		}
		var a, b chunked
		n, done, st := a.feed(body, 1<<20)
		if n > len(body) || (done && st != 0) {
			t.Fatalf("n %d done %v status %d", n, done, st)
		}
		n1, done1, st1 := b.feed(body[:split], 1<<20)
		if st1 != 0 || done1 {
			if st1 != st || (done1 && (!done || n1 != n)) {
				t.Fatalf("split result %d %v %d, whole %d %v %d", n1, done1, st1, n, done, st)
			}
			return
		}
		n2, done2, st2 := b.feed(body[split:], 1<<20)
		if done2 != done || st2 != st || (done && n1+n2 != n) {
			t.Fatalf("split %d+%d %v %d, whole %d %v %d", n1, n2, done2, st2, n, done, st)
		}
	})
}
