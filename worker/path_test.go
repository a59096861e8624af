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
		{"5 \r\nhello\r\n0\r\n\r\n", 0, -1, true, 0},            // whitespace after the size
		{"5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n", 0, -1, true, 0}, //
		// A CR in the framing ends a line: anything but LF after it
		// is an error (nginx: 400), not an extension.
		{"5\rXX\r\nhello\r\n0\r\n\r\n", 0, 0, false, 400},
		{"5\r\r\nhello\r\n0\r\n\r\n", 0, 0, false, 400},
		{"5;a\rb\r\nhello\r\n0\r\n\r\n", 0, 0, false, 400},
		{"5;a=b\r\r\nhello\r\n0\r\n\r\n", 0, 0, false, 400},
		{"0\r\nX: a\rb\r\n\r\n", 0, 0, false, 400},
		{"0\r\nX: a\r\r\n\r\n", 0, 0, false, 400},
		{"5\rX", 0, 0, false, 400}, // at once, without waiting for the line's end
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

// refChunked reads a chunked body a line at a time, as RFC 9112 §7.1
// and §2.2 say (a line ends in CRLF or a bare LF; a CR anywhere else in
// the framing is an error): the oracle FuzzChunked holds chunked to. It
// returns the bytes used when the body ended, whether it did, and the
// status of a bad body (400, or 413 past max). Bodies whose extensions
// and trailers pass maxChunkExtra are not its business.
func refChunked(b []byte, max int64) (n int, done bool, status int) {
	var total int64
	pos := 0
	for {
		line, next, final, bad := refLine(b, pos)
		if next < 0 {
			return len(b), false, 0
		}
		size, st := refSizeLine(line, total, max, final)
		if st == 0 && bad {
			st = 400
		}
		if st != 0 || next == 0 {
			return len(b), false, st
		}
		pos = next
		if size == 0 {
			return refTrailers(b, pos)
		}
		total += size
		if int64(len(b)-pos) < size {
			return len(b), false, 0
		}
		pos += int(size)
		switch {
		case pos == len(b), pos+1 == len(b) && b[pos] == '\r':
			return len(b), false, 0
		case b[pos] == '\n':
			pos++
		case b[pos] == '\r' && b[pos+1] == '\n':
			pos += 2
		default:
			return len(b), false, 400
		}
	}
}

// refLine returns the line at pos without its end and the offset after
// it; next is 0 for a line still unfinished (line is what there is of
// it), -1 when nothing of it is there. final says that line cannot grow:
// its LF, or the CR before it, is there. A CR must end the line: bad
// says one does not, and line ends before it.
func refLine(b []byte, pos int) (line []byte, next int, final, bad bool) {
	if pos == len(b) {
		return nil, -1, false, false
	}
	rest := b[pos:]
	end := bytes.IndexByte(rest, '\n')
	if end < 0 {
		end = len(rest)
	}
	line = rest[:end]
	if cr := bytes.IndexByte(line, '\r'); cr >= 0 {
		if cr < len(line)-1 {
			return line[:cr], 0, true, true
		}
		line, final = line[:cr], true
	}
	if end == len(rest) {
		return line, 0, final, false
	}
	return line, pos + end + 1, true, false
}

// refSizeLine reads "HEX [( ";" | SP | HTAB ) ext]" (ended says the line
// cannot grow): at most maxChunkDigits digits, the size checked against max
// digit by digit, then any bytes but controls other than HTAB.
func refSizeLine(line []byte, total, max int64, ended bool) (int64, int) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := unhex(line[i])
		if !ok {
			break
		}
		if i == maxChunkDigits {
			return 0, 400
		}
		size = size<<4 | int64(d)
		if max > 0 && total+size > max {
			return 0, 413
		}
	}
	if i == 0 && (i < len(line) || ended) {
		return 0, 400
	}
	if i < len(line) {
		if c := line[i]; c != ';' && c != ' ' && c != '\t' {
			return 0, 400
		}
		if !refText(line[i+1:]) {
			return 0, 400
		}
	}
	return size, 0
}

// refTrailers reads trailer lines up to the empty one that ends the body.
func refTrailers(b []byte, pos int) (int, bool, int) {
	for {
		line, next, _, bad := refLine(b, pos)
		switch {
		case next < 0:
			return len(b), false, 0
		case !refText(line) || bad:
			return len(b), false, 400
		case next > 0 && len(line) == 0:
			return next, true, 0
		case next == 0:
			return len(b), false, 0
		}
		pos = next
	}
}

// refText reports whether b has no control but HTAB.
func refText(b []byte) bool {
	for _, c := range b {
		if c != '\t' && (c < ' ' || c == 0x7f) {
			return false
		}
	}
	return true
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
		if len(body) <= maxChunkExtra {
			rn, rdone, rst := refChunked(body, 1<<20)
			if rst != st || rdone != done || (done || st == 0) && rn != n {
				t.Fatalf("%q: used %d done %v status %d; the RFC reading: %d %v %d", body, n, done, st, rn, rdone, rst)
			}
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

// TestNormalizeKeepSlashes: merge_slashes off keeps runs of slashes, and
// ".." removes one segment, empty or not (nginx's merge_slashes.t).
func TestNormalizeKeepSlashes(t *testing.T) {
	for i, c := range []struct{ in, want string }{
		{"/foo//../bar", "/foo/bar"},
		{"/foo///../bar", "/foo//bar"},
		{"/a//b", "/a//b"},
		{"/a/./b//", "/a/b//"},
		{"//..", "/"},
		{"/..", ""},
	} {
		got, st := normalize(nil, []byte(c.in), false)
		if c.want == "" {
			if st != 400 {
				t.Errorf("%d: %q: %q %d, want 400", i, c.in, got, st)
			}
			continue
		}
		if st != 0 || string(got) != c.want {
			t.Errorf("%d: %q: %q %d, want %q", i, c.in, got, st, c.want)
		}
	}
}
