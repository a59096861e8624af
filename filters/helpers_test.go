package filters

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"tern/conf"
)

// testNow is the clock of every test Txn: Sun, 06 Nov 1994 08:49:37 GMT.
var testNow = time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)

// testMTime is the modification time of the test file, a day earlier.
var testMTime = testNow.Add(-24 * time.Hour).Unix()

// testLoc returns a location with tern's defaults for the filters,
// changed by set.
func testLoc(set func(*conf.Settings)) *conf.Location {
	loc := &conf.Location{Settings: conf.Settings{
		Etag:             true,
		IfModifiedSince:  conf.IMSExact,
		MaxRanges:        -1,
		GzipTypes:        []string{"text/html", "text/plain"},
		GzipMinLength:    20,
		GzipCompLevel:    1,
		ServerTokens:     true,
		Sendfile:         true,
		SendfileMaxChunk: 2 << 20,
		KeepaliveTimeout: 75 * time.Second,
	}}
	if set != nil {
		set(&loc.Settings)
	}
	return loc
}

// newTxn returns a Txn for a GET over HTTP/1.1 at testNow.
// tpl compiles a configured value without user variables.
func tpl(s string) conf.Template {
	t, err := conf.ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// noVars answers every variable with nothing.
type noVars struct{}

func (noVars) AppendVar(dst []byte, _ *conf.Var) []byte { return dst }

func newTxn(loc *conf.Location) *Txn {
	t := &Txn{Vars: noVars{}}
	t.Reset()
	t.Loc = loc
	t.Env = &Env{}
	t.Env.Tick(testNow)
	t.Req.Method = MethodGET
	t.Req.Version = HTTP11
	t.Resp.KeepAlive = true
	return t
}

// fileResponse fills t's response as the static handler does for a
// cached file holding data.
func fileResponse(t *Txn, data []byte, ctype string) {
	f := &File{FD: -1, Size: int64(len(data)), MTime: testMTime, Name: []byte("/f"), Data: data}
	r := &t.Resp
	r.Status = 200
	r.ContentType = ctype
	r.ContentLength = f.Size
	r.LastModified = f.MTime
	r.AcceptRanges = true
	r.ETag = []byte(`"2e8b2e01-` + hexLen(len(data)) + `"`)
	r.Body.AddFile(f, 0, f.Size)
}

func hexLen(n int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 16 {
		b = append(b, digits[n%16])
	}
	slices.Reverse(b)
	return string(b)
}

// bodyBytes concatenates the body's segments (in-memory ones only).
func bodyBytes(tb testing.TB, b *Body) []byte {
	tb.Helper()
	var out []byte
	for i := range b.Segs {
		s := &b.Segs[i]
		if !s.InMemory() {
			tb.Fatalf("segment %d is not in memory", i)
		}
		out = append(out, s.Bytes()...)
	}
	return out
}

// runChain runs the filters before header serialisation.
func runChain(t *Txn) {
	for _, f := range (Chain{NotModifiedFilter{}, HeadersFilter{}, CharsetFilter{}, GzipFilter{}, RangeFilter{}, RecodeFilter{}, ChunkedFilter{}}) {
		if r := f.Header(t); r != OK {
			panic("filter returned " + r.String())
		}
	}
}

// produceAll drains the body's producer as the write filter would, and
// returns the whole body.
func produceAll(tb testing.TB, t *Txn) []byte {
	tb.Helper()
	out := bytes.Clone(bodyBytes(tb, &t.Resp.Body))
	for turns := 0; t.Resp.Body.Producer != nil; turns++ {
		if turns > 1<<20 {
			tb.Fatal("producer never finishes")
		}
		turn := false
		r, more := t.refill(&turn)
		if !more {
			if r != Done {
				tb.Fatalf("refill: %v (%v)", r, t.Err)
			}
			break
		}
		out = append(out, bodyBytes(tb, &t.Resp.Body)...)
	}
	return out
}

// header returns the value of the named field among the response's
// extra headers, and whether it is there.
func header(r *Response, name string) (string, bool) {
	for _, h := range r.Headers {
		if h.Name == name {
			return string(h.Value), true
		}
	}
	return "", false
}
