package filters

import (
	"bytes"
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"testing"

	"tern/conf"
)

func TestParseRange(t *testing.T) {
	const ign, ok, uns = rangeIgnore, rangeOK, rangeUnsatisfiable
	cases := []struct {
		v    string
		size int64
		max  int
		res  rangeResult
		want string // "start-end" pairs, end exclusive
	}{
		{"bytes=0-8", 1000, -1, ok, "0-9"},
		{"bytes=-10", 1000, -1, ok, "990-1000"},
		{"bytes=990-", 1000, -1, ok, "990-1000"},
		{"bytes=990-1990", 1000, -1, ok, "990-1000"},
		{"bytes=0-10001", 1000, -1, ok, "0-1000"},
		{"bytes=-2000", 1000, -1, ok, "0-1000"},
		{"BYTES=1-1", 1000, -1, ok, "1-2"},
		{"bytes= 1 - 2 ", 1000, -1, ok, "1-3"},
		{"bytes=0-9, -10, 10-19", 1000, -1, ok, "0-10 990-1000 10-20"},
		{"bytes=0-9,\t-10 , ,10-19,", 1000, -1, ok, "0-10 990-1000 10-20"},
		{"bytes=0-9, -10, 100000-, 10-19", 1000, -1, ok, "0-10 990-1000 10-20"},
		{"bytes=5-5,5-5", 1000, -1, ok, "5-6 5-6"},
		{"bytes=0-0,-1", 1, -1, ign, ""}, // two ranges adding up past the size
		{"bytes=0-10001, 0-0", 1000, -1, ign, ""},
		{"bytes=100000-", 1000, -1, uns, ""},
		{"bytes=1000-1000", 1000, -1, uns, ""},
		{"bytes=-0", 1000, -1, uns, ""},
		{"bytes=1000-, 2000-", 1000, -1, uns, ""},
		{"bytes=99999999999999999999-", 1000, -1, uns, ""},
		{"bytes=0-99999999999999999999", 1000, -1, ok, "0-1000"},
		{"bytes=-99999999999999999999", 1000, -1, ok, "0-1000"},
		// Empty representation (nginx ticket #1031).
		{"bytes=0-", 0, -1, ign, ""},
		{"bytes=-5", 0, -1, ign, ""},
		{"bytes=5-", 0, -1, uns, ""},
		// An invalid ranges-specifier: 416, as nginx (RFC 9110 §14.2).
		{"bytes=alpha", 1000, -1, uns, ""},
		{"bytes=10-alpha", 1000, -1, uns, ""},
		{"bytes=10", 1000, -1, uns, ""},
		{"bytes=10-11 12-", 1000, -1, uns, ""},
		{"bytes=5-4", 1000, -1, uns, ""},
		{"bytes=0-1,5-4", 1000, -1, uns, ""},
		{"bytes=--5", 1000, -1, uns, ""},
		{"bytes=-", 1000, -1, uns, ""},
		{"bytes=1-2-3", 1000, -1, uns, ""},
		{"bytes=+1-2", 1000, -1, uns, ""},
		{"bytes=0-1,x", 1000, -1, uns, ""},
		{"bytes=", 1000, -1, uns, ""},
		{"bytes= , ", 1000, -1, uns, ""},
		// Not the bytes unit: ignored.
		{"bytes 0-1", 1000, -1, ign, ""},
		{"items=0-1", 1000, -1, ign, ""},
		{"bytes =0-1", 1000, -1, ign, ""},
		{"", 1000, -1, ign, ""},
		// max_ranges counts satisfiable ranges only.
		{"bytes=0-9, -10", 1000, 2, ok, "0-10 990-1000"},
		{"bytes=0-9, -10, 10000-", 1000, 2, ok, "0-10 990-1000"},
		{"bytes=0-9, -10, 10-19", 1000, 2, ign, ""},
		{"bytes=0-9", 1000, 1, ok, "0-10"},
		// Boundary overhead with max_ranges unlimited: n ranges count
		// 256 bytes each, and may exceed the size by 4096: 19 single
		// bytes of 1000 make 4883, 20 make 5140 > 5096.
		{"bytes=0-0,2-2", 10, -1, ok, "0-1 2-3"},
		{"bytes=" + strings.Repeat("0-0,", 17), 1, -1, ign, ""},
		{"bytes=" + strings.TrimSuffix(strings.Repeat("0-99,", 16), ","), 100, -1, ign, ""},
		{"bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 19), ","), 1000, -1, ok, strings.TrimSpace(strings.Repeat("0-1 ", 19))},
		{"bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 20), ","), 1000, -1, ign, ""},
		{"bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 20), ","), 1000, 20, ok, strings.TrimSpace(strings.Repeat("0-1 ", 20))},
	}
	for i, c := range cases {
		got, res := parseRange([]byte(c.v), c.size, c.max, nil)
		s := ""
		if res == rangeOK {
			for _, r := range got {
				s += fmt.Sprintf("%d-%d ", r.start, r.end)
			}
			s = strings.TrimSpace(s)
		}
		if res != c.res || s != c.want {
			t.Errorf("%d: parseRange(%q, %d, %d) = %d %q, want %d %q", i, c.v, c.size, c.max, res, s, c.res, c.want)
		}
	}
}

var data1000 = func() []byte {
	var b []byte
	for i := range 100 {
		b = fmt.Appendf(b, "X%03dXXXXXX", i)
	}
	return b
}()

// TestRangeFilter checks the response each kind of Range makes.
func TestRangeFilter(t *testing.T) {
	cases := []struct {
		rng, ifRange string
		method       Method
		off          bool // max_ranges 0
		status       int
		cr           string // Content-Range
		body         string // for a single range; "" to skip
		acceptRanges bool
	}{
		{rng: "bytes=0-8", status: 206, cr: "bytes 0-8/1000", body: "X000XXXXX"},
		{rng: "bytes=-10", status: 206, cr: "bytes 990-999/1000", body: "X099XXXXXX"},
		{rng: "bytes=990-", status: 206, cr: "bytes 990-999/1000", body: "X099XXXXXX"},
		{rng: "bytes=990-1990", status: 206, cr: "bytes 990-999/1000", body: "X099XXXXXX"},
		{rng: "bytes=100000-", status: 416, cr: "bytes */1000"},
		{rng: "bytes=alpha", status: 416, cr: "bytes */1000"},
		{rng: "items=0-8", status: 200, acceptRanges: true},
		{rng: "bytes=0-8", method: MethodHEAD, status: 200, acceptRanges: true},
		{rng: "bytes=0-8", off: true, status: 200},
		{rng: "", status: 200, acceptRanges: true},
		// If-Range: a strong tag equal to the ETag, or Last-Modified.
		{rng: "bytes=0-8", ifRange: `"2e8b2e01-3e8"`, status: 206, cr: "bytes 0-8/1000", body: "X000XXXXX"},
		{rng: "bytes=0-8", ifRange: `"other"`, status: 200, acceptRanges: true},
		{rng: "bytes=0-8", ifRange: `W/"2e8b2e01-3e8"`, status: 200, acceptRanges: true},
		{rng: "bytes=0-8", ifRange: "Sat, 05 Nov 1994 08:49:37 GMT", status: 206, cr: "bytes 0-8/1000", body: "X000XXXXX"},
		{rng: "bytes=0-8", ifRange: "Sat, 05 Nov 1994 08:49:38 GMT", status: 200, acceptRanges: true},
		{rng: "bytes=0-8", ifRange: "Sat, 05 Nov 1994 08:49:36 GMT", status: 200, acceptRanges: true},
		{rng: "bytes=0-8", ifRange: "yesterday", status: 200, acceptRanges: true},
		{rng: "bytes=100000-", ifRange: `"other"`, status: 200, acceptRanges: true},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) {
			if c.off {
				s.MaxRanges = 0
			}
		}))
		if c.method != 0 {
			tx.Req.Method = c.method
		}
		tx.Req.Range, tx.Req.IfRange = bytesOrNil(c.rng), bytesOrNil(c.ifRange)
		fileResponse(tx, data1000, "text/plain")
		RangeFilter{}.Header(tx)
		r := &tx.Resp
		if r.Status != c.status || string(r.ContentRange) != c.cr || r.AcceptRanges != c.acceptRanges {
			t.Errorf("%d: %q: status %d Content-Range %q Accept-Ranges %v; want %d %q %v",
				i, c.rng, r.Status, r.ContentRange, r.AcceptRanges, c.status, c.cr, c.acceptRanges)
			continue
		}
		body := bodyBytes(t, &r.Body)
		if int64(len(body)) != r.ContentLength {
			t.Errorf("%d: Content-Length %d, body %d bytes", i, r.ContentLength, len(body))
		}
		if c.body != "" && string(body) != c.body {
			t.Errorf("%d: body %q, want %q", i, body, c.body)
		}
		if c.status == 416 && (!bytes.Contains(body, []byte("416 Requested Range Not Satisfiable")) || r.LastModified != 0 || r.ETag == nil) {
			t.Errorf("%d: 416 body %q Last-Modified %d ETag %q", i, body, r.LastModified, r.ETag)
		}
	}
}

// TestMultipart checks a multipart response byte for byte, from a cached
// body (memory) and from a body of several segments.
func TestMultipart(t *testing.T) {
	for _, charset := range []string{"", "utf-8"} {
		tx := newTxn(testLoc(nil))
		tx.Req.Range = []byte("bytes=0-9, -10, 100000-, 10-19")
		fileResponse(tx, data1000, "text/plain")
		tx.Resp.Charset = charset
		RangeFilter{}.Header(tx)
		r := &tx.Resp
		b := fmt.Sprintf("%020d", tx.Env.boundary)
		ct := "Content-Type: text/plain\r\n"
		if charset != "" {
			ct = "Content-Type: text/plain; charset=utf-8\r\n"
		}
		want := "\r\n--" + b + "\r\n" + ct + "Content-Range: bytes 0-9/1000\r\n\r\nX000XXXXXX" +
			"\r\n--" + b + "\r\n" + ct + "Content-Range: bytes 990-999/1000\r\n\r\nX099XXXXXX" +
			"\r\n--" + b + "\r\n" + ct + "Content-Range: bytes 10-19/1000\r\n\r\nX001XXXXXX" +
			"\r\n--" + b + "--\r\n"
		body := bodyBytes(t, &r.Body)
		if r.Status != 206 || string(r.ContentTypeBytes) != "multipart/byteranges; boundary="+b ||
			r.ContentRange != nil || r.AcceptRanges || string(body) != want || r.ContentLength != int64(len(want)) {
			t.Fatalf("charset %q: %d %q %q length %d body\n%q\nwant\n%q", charset, r.Status, r.ContentTypeBytes, r.ContentRange, r.ContentLength, body, want)
		}
	}
}

// TestRangeSegments slices a body of several memory segments, as a
// handler's text body may be, at every pair of offsets.
func TestRangeSegments(t *testing.T) {
	parts := []string{"abc", "d", "efghij", "k", "lmnopqrstuvwxyz"}
	whole := strings.Join(parts, "")
	for start := range len(whole) {
		for end := start; end < len(whole); end++ {
			tx := newTxn(testLoc(nil))
			tx.Req.Range = fmt.Appendf(nil, "bytes=%d-%d", start, end)
			r := &tx.Resp
			r.Status, r.ContentLength, r.AcceptRanges = 200, int64(len(whole)), true
			for _, p := range parts {
				r.Body.AddMem([]byte(p))
			}
			RangeFilter{}.Header(tx)
			if got := string(bodyBytes(t, &r.Body)); got != whole[start:end+1] || r.ContentLength != int64(len(got)) {
				t.Fatalf("%d-%d: %q (length %d)", start, end, got, r.ContentLength)
			}
		}
	}
}

// TestManyRanges checks that a response with more parts than Body holds
// inline keeps its grown segment list for the next response.
func TestManyRanges(t *testing.T) {
	loc := testLoc(nil)
	tx := newTxn(loc)
	f := &File{FD: -1, Size: int64(len(data1000)), Data: data1000}
	rng := []byte("bytes=0-0,10-10,20-20,30-30,40-40,50-50,60-60,70-70,80-80,90-90")
	run := func() {
		tx.Reset()
		tx.Loc = loc
		tx.Req.Range = rng
		r := &tx.Resp
		r.Status, r.ContentLength, r.AcceptRanges = 200, f.Size, true
		r.Body.AddFile(f, 0, f.Size)
		RangeFilter{}.Header(tx)
	}
	run()
	if tx.Resp.Status != 206 || len(tx.Resp.Body.Segs) != 21 {
		t.Fatalf("status %d, %d segments", tx.Resp.Status, len(tx.Resp.Body.Segs))
	}
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%v allocations per multipart response", n)
	}
}

// TestRangeAllocs: the single-range path allocates nothing.
func TestRangeAllocs(t *testing.T) {
	loc := testLoc(nil)
	tx := newTxn(loc)
	f := &File{FD: 5, Size: 1 << 20, MTime: testMTime}
	etag := []byte(`"2e8b2e01-100000"`)
	rng, ifRange := []byte("bytes=1000-2000"), []byte(`"2e8b2e01-100000"`)
	run := func() {
		tx.Reset()
		tx.Loc = loc
		tx.Req.Range, tx.Req.IfRange = rng, ifRange
		r := &tx.Resp
		r.Status, r.ContentLength, r.AcceptRanges, r.ETag = 200, f.Size, true, etag
		r.Body.AddFile(f, 0, f.Size)
		RangeFilter{}.Header(tx)
	}
	run()
	if s := tx.Resp.Body.Segs; tx.Resp.Status != 206 || len(s) != 1 || s[0].Off != 1000 || s[0].Len != 1001 {
		t.Fatalf("status %d segments %+v", tx.Resp.Status, s)
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocations per range response", n)
	}
}

var contentRangeRE = regexp.MustCompile(`^Content-Range: bytes (\d+)-(\d+)/(\d+)\r\n\r\n`)

// FuzzParseRange runs the range filter on any Range value: it never
// panics, every range lies within the body, and the Content-Length is
// the size of the body it builds.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-8", "bytes=-10", "bytes=990-", "bytes=0-9, -10, 100000-, 10-19", "bytes=5-4",
		"bytes=0-0,0-0", "bytes=99999999999999999999-", "bytes= 1 - 2 ,,", "BYTES=-0",
	} {
		f.Add(s, int64(1000), 3)
	}
	f.Add("bytes=0-", int64(0), -1)
	f.Fuzz(func(t *testing.T, v string, size int64, maxRanges int) {
		size = min(max(size, 0), 1<<16)
		data := make([]byte, size)
		rand.New(rand.NewSource(size)).Read(data)
		tx := newTxn(testLoc(func(s *conf.Settings) { s.MaxRanges = maxRanges }))
		tx.Req.Range = []byte(v)
		fileResponse(tx, data, "text/plain")
		RangeFilter{}.Header(tx)
		r := &tx.Resp
		body := bodyBytes(t, &r.Body)
		if int64(len(body)) != r.ContentLength {
			t.Fatalf("Content-Length %d, body %d bytes", r.ContentLength, len(body))
		}
		for _, br := range tx.ranges {
			if br.start < 0 || br.start >= br.end || br.end > size {
				t.Fatalf("range [%d, %d) of %d bytes", br.start, br.end, size)
			}
		}
		switch r.Status {
		case 200:
			if !bytes.Equal(body, data) {
				t.Fatal("200 without the whole body")
			}
		case 206:
			checkParts(t, r, body, data)
		case 416:
		default:
			t.Fatalf("status %d", r.Status)
		}
	})
}

// checkParts checks that each part of a 206 holds the bytes its
// Content-Range names.
func checkParts(t *testing.T, r *Response, body, data []byte) {
	if r.ContentRange != nil {
		var first, last, size int64
		fmt.Sscanf(string(r.ContentRange), "bytes %d-%d/%d", &first, &last, &size)
		if !bytes.Equal(body, data[first:last+1]) || size != int64(len(data)) {
			t.Fatalf("%q: body differs", r.ContentRange)
		}
		return
	}
	b := bytes.TrimPrefix(r.ContentTypeBytes, []byte("multipart/byteranges; boundary="))
	parts := bytes.Split(body, []byte("\r\n--"+string(b)))
	if len(parts) < 3 || len(parts[0]) != 0 || string(parts[len(parts)-1]) != "--\r\n" {
		t.Fatalf("multipart body %q", body)
	}
	for _, p := range parts[1 : len(parts)-1] {
		p = bytes.TrimPrefix(p, []byte("\r\nContent-Type: text/plain\r\n"))
		m := contentRangeRE.FindSubmatch(p)
		if m == nil {
			t.Fatalf("part %q", p)
		}
		var first, last int64
		fmt.Sscan(string(m[1]), &first)
		fmt.Sscan(string(m[2]), &last)
		if !bytes.Equal(p[len(m[0]):], data[first:last+1]) {
			t.Fatalf("part %d-%d differs", first, last)
		}
	}
}
