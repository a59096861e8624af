package filters

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand"
	"strings"
	"testing"

	"tern/conf"
)

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		ae string
		ok bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"deflate, gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;Q=0.001", true},
		{"gzip;q=1", true},
		{"gzip;q=1.000", true},
		{"gzip;q=1.001", false}, // invalid weight: 0, as nginx
		{"gzip;q=0.5000", false},
		{"gzip;q=2", false},
		{"gzip;q=", false},
		{"gzip;level=1;q=0.5", true},
		{"gzip ; q=0.5 ", true},
		{"*", true},
		{"*;q=0", false},
		{"*;q=0, gzip", true},
		{"gzip;q=0, *", false},
		{"identity", false},
		{"", false},
		{"gzipx", false},
		{"xgzip", false},
		{"deflate;q=0.5, br", false},
		{",,gzip,,", true},
	}
	for i, c := range cases {
		if got := AcceptsGzip([]byte(c.ae)); got != c.ok {
			t.Errorf("%d: AcceptsGzip(%q) = %v, want %v", i, c.ae, got, c.ok)
		}
	}
}

func TestGzipType(t *testing.T) {
	cases := []struct {
		types []string
		ct    string
		ok    bool
	}{
		{[]string{"text/css"}, "text/css", true},
		{[]string{"text/css"}, "TEXT/CSS", true},
		{[]string{"text/css"}, "text/css; charset=utf-8", true},
		{[]string{"text/css"}, "text/html", true}, // always, as nginx
		{[]string{"text/css"}, "text/plain", false},
		{[]string{"text/css"}, "", false},
		{[]string{"*"}, "image/png", true},
		{[]string{"*"}, "", true},
		{nil, "text/html", true},
	}
	for i, c := range cases {
		loc := testLoc(func(s *conf.Settings) { s.GzipTypes = c.types })
		if got := gzipType(loc, c.ct); got != c.ok {
			t.Errorf("%d: gzipType(%q, %q) = %v", i, c.types, c.ct, got)
		}
	}
}

// TestGzipFilter checks when the filter compresses and what it does to
// the head.
func TestGzipFilter(t *testing.T) {
	text := []byte(strings.Repeat("hello, tern! ", 10))
	cases := []struct {
		name    string
		set     func(*Txn)
		off     bool // gzip = false
		gzipped bool // Content-Encoding: gzip
		vary    bool
		etag    string
	}{
		{name: "plain", gzipped: true, vary: true, etag: `W/"2e8b2e01-82"`},
		{name: "off", off: true, etag: `"2e8b2e01-82"`},
		{name: "no Accept-Encoding", set: func(t *Txn) { t.Req.AcceptEncoding = nil }, vary: true, etag: `"2e8b2e01-82"`},
		{name: "q=0", set: func(t *Txn) { t.Req.AcceptEncoding = []byte("gzip;q=0") }, vary: true, etag: `"2e8b2e01-82"`},
		{name: "HTTP/1.0", set: func(t *Txn) { t.Req.Version = HTTP10 }, vary: true, etag: `"2e8b2e01-82"`},
		{name: "type", set: func(t *Txn) { t.Resp.ContentType = "image/png" }, etag: `"2e8b2e01-82"`},
		{name: "short", set: func(t *Txn) { t.Resp.ContentLength = 19 }, etag: `"2e8b2e01-82"`},
		{name: "encoded", set: func(t *Txn) { t.Resp.ContentEncoding = "br" }, etag: `"2e8b2e01-82"`},
		{name: "404", set: func(t *Txn) { t.Resp.Status = 404 }, gzipped: true, vary: true, etag: `W/"2e8b2e01-82"`},
		{name: "403", set: func(t *Txn) { t.Resp.Status = 403 }, gzipped: true, vary: true, etag: `W/"2e8b2e01-82"`},
		{name: "206", set: func(t *Txn) { t.Resp.Status = 206 }, etag: `"2e8b2e01-82"`},
		{name: "500", set: func(t *Txn) { t.Resp.Status = 500 }, etag: `"2e8b2e01-82"`},
		{name: "HEAD", set: func(t *Txn) { t.Resp.HeaderOnly = true }, gzipped: true, vary: true, etag: `W/"2e8b2e01-82"`},
		{name: "weak already", set: func(t *Txn) { t.Resp.ETag = []byte(`W/"x"`) }, gzipped: true, vary: true, etag: `W/"x"`},
		{name: "unquoted", set: func(t *Txn) { t.Resp.ETag = []byte(`x`) }, gzipped: true, vary: true, etag: ``},
		{name: "unknown length", set: func(t *Txn) { t.Resp.ContentLength = -1 }, gzipped: true, vary: true, etag: `W/"2e8b2e01-82"`},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) { s.Gzip = !c.off }))
		tx.Req.AcceptEncoding = []byte("gzip, deflate")
		fileResponse(tx, text, "text/plain")
		if c.set != nil {
			c.set(tx)
		}
		GzipFilter{}.Header(tx)
		r := &tx.Resp
		if (r.ContentEncoding == "gzip") != c.gzipped || r.Vary != c.vary || string(r.ETag) != c.etag {
			t.Errorf("%d %s: Content-Encoding %q Vary %v ETag %q", i, c.name, r.ContentEncoding, r.Vary, r.ETag)
			continue
		}
		if !c.gzipped {
			continue
		}
		if r.ContentLength != -1 || r.AcceptRanges {
			t.Errorf("%d %s: Content-Length %d Accept-Ranges %v", i, c.name, r.ContentLength, r.AcceptRanges)
		}
		if (r.Body.Producer == nil) != r.HeaderOnly {
			t.Errorf("%d %s: producer %v for HeaderOnly %v", i, c.name, r.Body.Producer, r.HeaderOnly)
		}
		tx.Reset() // gives the compressor back
	}
}

// TestGzipRoundTrip compresses bodies of several sizes, kinds and levels
// through the producer and the chunked framing, and decompresses them.
func TestGzipRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	random := make([]byte, 300<<10)
	rnd.Read(random)
	text := bytes.Repeat([]byte("<p>the quick brown fox jumps over the lazy dog</p>\n"), 20000)
	cases := []struct {
		data   []byte
		level  int
		pieces bool // cut into several memory segments
	}{
		{text[:20], 1, false},
		{text[:1000], 9, false},
		{text, 1, false},
		{text, 6, true},
		{random, 1, false},
		{random[:gzipTurnInput], 1, false},
		{random[:gzipTurnInput+1], 2, true},
	}
	env := &Env{}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) { s.Gzip, s.GzipCompLevel = true, c.level }))
		tx.Env = env
		tx.Req.AcceptEncoding = []byte("gzip")
		fileResponse(tx, c.data, "text/html")
		if c.pieces {
			tx.Resp.Body.Reset()
			for p := c.data; len(p) > 0; {
				n := min(len(p), 1+rnd.Intn(100<<10))
				tx.Resp.Body.AddMem(p[:n])
				p = p[n:]
			}
		}
		runChain(tx)
		if !tx.Resp.Chunked || tx.Resp.ContentEncoding != "gzip" {
			t.Fatalf("%d: chunked %v encoding %q", i, tx.Resp.Chunked, tx.Resp.ContentEncoding)
		}
		wire := produceAll(t, tx)
		zipped, err := unchunk(wire)
		if err != nil {
			t.Fatalf("%d: %v in %q", i, err, wire)
		}
		got, err := gunzip(zipped)
		if err != nil || !bytes.Equal(got, c.data) {
			t.Fatalf("%d: %v: %d bytes back, want %d", i, err, len(got), len(c.data))
		}
		if zipped[9] != gzipOSUnix {
			t.Errorf("%d: OS byte %d", i, zipped[9])
		}
		tx.Reset()
	}
	if n := len(env.gzip.idle); n != 1 {
		t.Errorf("%d idle producers, want 1: each response gave its own back", n)
	}
	if n := len(env.gzip.bufs); n != 1 {
		t.Errorf("%d idle buffers, want 1: each response gave its own back", n)
	}
	for l, zw := range env.gzip.zw {
		if want := l == 1 || l == 2 || l == 6 || l == 9; (zw != nil) != want {
			t.Errorf("level %d: compressor %v, want one per level used", l, zw != nil)
		}
	}
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(zr)
}

// FuzzAcceptEncoding: never panics, and agrees with a simple reading of
// RFC 9110 §12.5.3.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=0.5, gzip;q=0", "x-gzip;q=1.000", "br, deflate", ",;q=,", "gzip;q=0.0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ae string) {
		got := AcceptsGzip([]byte(ae))
		gz, star := -1, -1
		for _, m := range strings.Split(ae, ",") {
			coding, params, _ := strings.Cut(m, ";")
			coding = strings.Trim(coding, " \t")
			q := weight([]byte(params))
			switch {
			case strings.EqualFold(coding, "gzip") || strings.EqualFold(coding, "x-gzip"):
				gz = max(gz, q)
			case coding == "*":
				star = max(star, q)
			}
		}
		want := gz > 0 || gz < 0 && star > 0
		if got != want {
			t.Fatalf("AcceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	})
}

// TestGzipAllocs: once a worker's pool has a compressor, a compressed
// response allocates nothing, from the filters to its last chunk.
func TestGzipAllocs(t *testing.T) {
	loc := testLoc(func(s *conf.Settings) { s.Gzip = true })
	tx := newTxn(loc)
	env := tx.Env
	data := bytes.Repeat([]byte("allocation-free "), 300)
	f := &File{FD: -1, Size: int64(len(data)), Data: data}
	ae, etag := []byte("gzip"), []byte(`"x"`)
	run := func() {
		tx.Reset()
		tx.Loc, tx.Env = loc, env
		tx.Req.Method, tx.Req.Version, tx.Req.AcceptEncoding = MethodGET, HTTP11, ae
		r := &tx.Resp
		r.Status, r.ContentLength, r.AcceptRanges, r.ETag, r.ContentType = 200, f.Size, true, etag, "text/html"
		r.Body.AddFile(f, 0, f.Size)
		runChain(tx)
		HeaderFilter{}.Header(tx)
		for r.Body.Producer != nil {
			turn := false
			if _, more := tx.refill(&turn); !more {
				break
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%v allocations per compressed response", n)
	}
}

// TestGzipTurnState: a response keeps no compressor between turns, and
// its output buffer — the one thing it keeps — holds a turn of the
// worst input there is (random bytes) without growing; once it is done,
// buffers beyond maxIdleGzipBufs are given back.
func TestGzipTurnState(t *testing.T) {
	random := make([]byte, 5*gzipTurnInput+7)
	rand.New(rand.NewSource(2)).Read(random)
	env := &Env{}
	loc := testLoc(func(s *conf.Settings) { s.Gzip = true })
	var txs []*Txn
	for i := 0; i < maxIdleGzipBufs+3; i++ {
		tx := newTxn(loc)
		tx.Env = env
		tx.Req.AcceptEncoding = []byte("gzip")
		fileResponse(tx, random, "text/html")
		runChain(tx)
		txs = append(txs, tx)
	}
	// Every response makes its first turn, as stalled clients would
	// leave them: each holds its output, none a compressor.
	for i, tx := range txs {
		turn := false
		if r, more := tx.refill(&turn); !more || r != OK {
			t.Fatalf("%d: first turn %v (%v)", i, r, tx.Err)
		}
		g := tx.Resp.Body.Producer.(*chunker).inner.(*gzipBody)
		if cap(g.out.b) != gzipBufSize || &g.out.b[:1][0] != &g.mem.b[0] || g.in.b != nil {
			t.Fatalf("%d: a turn of %d random bytes made %d bytes and moved out of the buffer (cap %d), or kept its input", i, gzipTurnInput, len(g.out.b), cap(g.out.b))
		}
	}
	for i, tx := range txs {
		zipped, err := unchunk(produceAll(t, tx))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got, err := gunzip(zipped); err != nil || !bytes.Equal(got, random) {
			t.Fatalf("%d: %v: %d bytes back, want %d", i, err, len(got), len(random))
		}
		tx.Reset()
	}
	if n := len(env.gzip.bufs); n != maxIdleGzipBufs {
		t.Errorf("%d idle buffers after %d responses, want %d", n, len(txs), maxIdleGzipBufs)
	}
}
