package worker

import (
	"bytes"
	"strings"
	"testing"

	"tern/filters"
)

var testLimits = headLimits{line: 8192, total: 4 * 8192, headers: maxHeaders}

func parseAll(t testing.TB, raw string, lim *headLimits) (*filters.Request, int, int) {
	t.Helper()
	var p parser
	r := &filters.Request{}
	r.Reset()
	b := []byte(raw)
	st := p.parse(b, r, lim)
	return r, st, p.pos
}

func TestParseRequestStatuses(t *testing.T) {
	long := strings.Repeat("a", 9000)
	cases := []struct {
		raw  string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", parseDone},
		{"GET / HTTP/1.0\r\n\r\n", parseDone},
		{"\r\n\r\nGET / HTTP/1.0\r\n\r\n", parseDone},
		{"GET / HTTP/1.1\nHost: a\n\n", parseDone},
		{"GET / HTTP/1.1\r\n\r\n", 400},                        // 1.1 without Host
		{"GET http://a/ HTTP/1.1\r\n\r\n", parseDone},          // absolute form carries the host
		{"GET /\r\n\r\n", 400},                                 // HTTP/0.9
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},             //
		{"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},             //
		{"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},             //
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},              // an HTTP/2 preface where HTTP/2 is not spoken
		{"GET / HTTP/1\r\nHost: a\r\n\r\n", 400},               //
		{"GET / http/1.1\r\nHost: a\r\n\r\n", 400},             // HTTP-name is case-sensitive
		{"GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", 400},           //
		{"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},             // method not a token
		{strings.Repeat("A", 33) + " / HTTP/1.1\r\n\r\n", 400}, // method over 32
		{strings.Repeat("A", 32) + " / HTTP/1.1\r\nHost: a\r\n\r\n", parseDone},
		{"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},  // control in target
		{"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400},  //
		{"GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400},        // not origin form
		{"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400}, //
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", parseDone},
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},                      // space before colon
		{"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},            // obs-fold
		{"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},            //
		{"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400},            //
		{"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},          // NUL in value
		{"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},            // bare CR in value
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},            // duplicate Host
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},                     //
		{"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400},                    //
		{"GET / HTTP/1.1\r\nHost: \r\n\r\n", 400},                        //
		{"GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", 400},                     // bad port
		{"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},                    //
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400}, //
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400}, //
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", parseDone},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"GET /" + long, 414}, // refused before the line ends
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + long + "\r\n\r\n", filters.StatusHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + long, filters.StatusHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: "+strings.Repeat("b", 8000)+"\r\n", 5) + "\r\n", filters.StatusHeaderTooLarge},
		{"GET / HTTP/1.1\r\nHost: a\r\n", parseMore},
		{"GET / HTTP/1.1\r\nHo", parseMore},
		{"GET / HT", parseMore},
		{"GET / HTTP/1.1\r\nHost: a\r", parseMore},
		// A bare CR, not followed by LF, is refused as soon as the byte
		// after it is there (nginx: 400 at once), not when the line ends
		// or client_header_timeout does.
		{"GET / HTTP/1.1\r\nHost: a\r\n\rX", 400},
		{"GET / HTTP/1.1\r\nHost: a\rX", 400},
		{"GET / HTTP/1.1\rX", 400},
		{"GET /\rX", 400},
		{"\rX", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},
	}
	for i, c := range cases {
		_, st, _ := parseAll(t, c.raw, &testLimits)
		if st != c.want {
			t.Errorf("%d: %q: status %d, want %d", i, trunc(c.raw), st, c.want)
		}
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestParseTooManyHeaders(t *testing.T) {
	lim := headLimits{line: 8192, total: 1 << 20, headers: 5}
	five := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", 4) + "\r\n"
	six := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", 5) + "\r\n"
	if _, st, _ := parseAll(t, five, &lim); st != parseDone {
		t.Errorf("5 fields: %d", st)
	}
	if _, st, _ := parseAll(t, six, &lim); st != filters.StatusHeaderTooLarge {
		t.Errorf("6 fields: %d", st)
	}
}

func TestParseFields(t *testing.T) {
	raw := "GET http://Example.COM:8080/a%20b/c?x=1&y#frag HTTP/1.1\r\n" +
		"Host: ignored.example\r\n" +
		"If-None-Match: \"abc\"\r\n" +
		"If-None-Match: \"second\"\r\n" +
		"Range:   bytes=0-1  \r\n" +
		"Connection: foo, Close\r\n" +
		"Content-Length: 12\r\n" +
		"Expect: 100-Continue\r\n" +
		"User-Agent: t/1\r\n" +
		"Referer:\r\n" +
		"\r\n" + "pipelined"
	r, st, pos := parseAll(t, raw, &testLimits)
	if st != parseDone {
		t.Fatalf("status %d", st)
	}
	checks := []struct{ name, got, want string }{
		{"method", string(r.MethodName), "GET"},
		{"target", string(r.Target), "http://Example.COM:8080/a%20b/c?x=1&y#frag"},
		{"rawpath", string(r.RawPath), "/a%20b/c"},
		{"args", string(r.Args), "x=1&y"},
		{"host", string(r.Host), "Example.COM"},
		{"hostheader", string(r.HostHeader), "ignored.example"},
		{"inm", string(r.IfNoneMatch), `"abc"`},
		{"range", string(r.Range), "bytes=0-1"},
		{"ua", string(r.UserAgent), "t/1"},
		{"rest", raw[pos:], "pipelined"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("%d %s: %q, want %q", i, c.name, c.got, c.want)
		}
	}
	if r.Method != filters.MethodGET || r.Version != filters.HTTP11 || r.KeepAlive ||
		r.ContentLength != 12 || !r.Expect100 || r.Referer == nil || len(r.Referer) != 0 || r.HeaderLen != pos {
		t.Errorf("request %+v", r)
	}
}

func TestParseKeepAlive(t *testing.T) {
	cases := []struct {
		raw  string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
	}
	for i, c := range cases {
		r, st, _ := parseAll(t, c.raw, &testLimits)
		if st != parseDone || r.KeepAlive != c.want {
			t.Errorf("%d: status %d keepalive %v, want %v", i, st, r.KeepAlive, c.want)
		}
	}
}

// TestParseIncremental feeds a request a byte at a time: every prefix is
// "more", the whole is done, and the result equals a one-shot parse.
func TestParseIncremental(t *testing.T) {
	raw := "GET /x?y HTTP/1.1\r\nHost: A.b\r\nRange: bytes=1-\r\n\r\n"
	var p parser
	r := &filters.Request{}
	r.Reset()
	b := []byte(raw)
	for n := 1; n < len(b); n++ {
		if st := p.parse(b[:n], r, &testLimits); st != parseMore {
			t.Fatalf("prefix %d: status %d", n, st)
		}
	}
	if st := p.parse(b, r, &testLimits); st != parseDone {
		t.Fatalf("whole: status %d", st)
	}
	if string(r.Host) != "A.b" || string(r.Range) != "bytes=1-" || string(r.Args) != "y" {
		t.Fatalf("request %+v", r)
	}
}

func TestParseAllocs(t *testing.T) {
	raw := []byte("GET /index.html?a=b HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n" +
		"Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	buf := make([]byte, len(raw))
	var p parser
	var r filters.Request
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, raw)
		p.reset()
		r.Reset()
		if st := p.parse(buf, &r, &testLimits); st != parseDone {
			t.Fatalf("status %d", st)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per parse", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	raw := []byte("GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n" +
		"Accept: */*\r\nConnection: keep-alive\r\n\r\n")
	buf := make([]byte, len(raw))
	var p parser
	var r filters.Request
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		copy(buf, raw)
		p.reset()
		r.Reset()
		p.parse(buf, &r, &testLimits)
	}
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a:80/x?y HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"\r\nGET /%2e%2e/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lim := headLimits{line: 256, total: 1024, headers: 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p parser
		r := &filters.Request{}
		r.Reset()
		st := p.parse(b, r, &lim)
		switch st {
		case parseMore:
			// A CR inside the unfinished line can never be followed
			// by the LF that would make it a line end.
			if cr := bytes.IndexByte(b[p.pos:], '\r'); cr >= 0 && p.pos+cr < len(b)-1 {
				t.Fatalf("waits for more after a bare CR: %q", b[p.pos:])
			}
			return
		case 400, 414, 501, 505, filters.StatusHeaderTooLarge:
			return
		case parseDone:
		default:
			t.Fatalf("status %d", st)
		}
		if p.pos > len(b) || r.HeaderLen != p.pos {
			t.Fatalf("pos %d len %d headerlen %d", p.pos, len(b), r.HeaderLen)
		}
		if r.RawPath == nil || (r.RawPath[0] != '/' && string(r.RawPath) != "*") {
			t.Fatalf("raw path %q", r.RawPath)
		}
		if r.Version != filters.HTTP10 && r.Version != filters.HTTP11 {
			t.Fatalf("version %d", r.Version)
		}
		if r.Version == filters.HTTP11 && len(r.Host) == 0 {
			t.Fatalf("1.1 without host accepted")
		}
		if r.Chunked && r.ContentLength >= 0 {
			t.Fatalf("both chunked and length")
		}
		// The normalised path never climbs out of the root.
		if r.RawPath[0] == '/' {
			path, st := normalizePath(nil, r.RawPath)
			if st == 0 {
				checkConfined(t, path)
			}
		}
	})
}

// TestValidHost: nginx's host validation (ngx_http_validate_host, 1.29):
// after an IP literal only a port, a port at most 65535, no empty labels.
func TestValidHost(t *testing.T) {
	for i, c := range []struct {
		in, want string
		ok       bool
	}{
		{"example.com", "example.com", true},
		{"example.com.", "example.com", true},
		{"example.com:8080", "example.com", true},
		{"example.com:", "example.com", true},
		{"[::1]", "[::1]", true},
		{"[::1]:80", "[::1]", true},
		{"[abcd::ef98:0:7654:321].", "", false},
		{"[abcd::ef98:0:7654:321].:98", "", false},
		{"[::1]x", "", false},
		{"[::1", "", false},
		{"a..b", "", false},
		{"123.49.0.78:98777", "", false},
		{"h:65535", "h", true},
		{"h:65536", "", false},
		{".", "", false},
		{"", "", false},
	} {
		got, ok := validHost([]byte(c.in))
		if ok != c.ok || ok && string(got) != c.want {
			t.Errorf("%d: validHost(%q) = %q %v, want %q %v", i, c.in, got, ok, c.want, c.ok)
		}
	}
}
