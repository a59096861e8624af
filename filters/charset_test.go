package filters

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"tern/conf"
)

// Test tables: 8-bit "x" to "y" swaps X and Y and maps 0xC1 to 0xE0;
// koi8-r to utf-8 knows а (0xC1) and ю (0xC0).
var (
	testBytes = func() *[256]byte {
		var b [256]byte
		for i := range b {
			b[i] = byte(i)
			if i >= 0x80 {
				b[i] = '?'
			}
		}
		b['X'], b['Y'], b[0xC1] = 'Y', 'X', 0xE0
		return &b
	}()
	testToUTF8 = func() *[256]string {
		var t [256]string
		for i := range t {
			t[i] = "?"
			if i < 0x80 {
				t[i] = string(rune(i))
			}
		}
		t[0xC1], t[0xC0] = "а", "ю"
		return &t
	}()
	testFromUTF8 = map[rune]byte{'а': 0xC1, 'ю': 0xC0}
)

func TestFromUTF8Split(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"аю", "\xc1\xc0"},
		{"a€b", "a&#8364;b"},        // unmapped: a character reference
		{"😀", "&#128512;"},          // beyond U+FFFF too
		{"a\xffb", "a?b"},           // invalid byte
		{"\xe2\x82", "?"},           // cut at the end of the body
		{"\xe2\x82x", "??x"},        // invalid: each byte is "?" as Go decodes
		{"\xd1\x8e\xd0", "\xc0?"},   // ю (U+044E), then a cut sequence
		{"ю\xd0\xb0!", "\xc0\xc1!"}, // split anywhere
		{"\xc0\x80", "??"},          // overlong
		{"x\xed\xa0\x80y", "x???y"}, // surrogate
		{"\xf0\x9f\x98", "?"},       // incomplete 4-byte at the end
		{"\xf0\x9f\x98\x80\xf0", "&#128512;?"},
	}
	for _, tt := range tests {
		want := tt.want
		for cut := 0; cut <= len(tt.in); cut++ {
			for cut2 := cut; cut2 <= len(tt.in); cut2++ {
				p := &recodeBody{rc: &conf.Recode{FromUTF8: testFromUTF8}}
				out := p.recode(nil, []byte(tt.in[:cut]), false)
				out = p.recode(out, []byte(tt.in[cut:cut2]), false)
				out = p.recode(out, []byte(tt.in[cut2:]), true)
				if string(out) != want {
					t.Errorf("%q cut at %d, %d: %q, want %q", tt.in, cut, cut2, out, want)
				}
			}
		}
	}
}

func FuzzFromUTF8(f *testing.F) {
	f.Add([]byte("ю\xd0\xb0!"), uint8(1))
	f.Add([]byte("\xe2\x82x\xff"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		c := int(cut) % (len(in) + 1)
		whole := (&recodeBody{rc: &conf.Recode{FromUTF8: testFromUTF8}}).recode(nil, in, true)
		p := &recodeBody{rc: &conf.Recode{FromUTF8: testFromUTF8}}
		split := p.recode(p.recode(nil, in[:c], false), in[c:], true)
		if !bytes.Equal(whole, split) {
			t.Fatalf("%q: whole %q, cut at %d %q", in, whole, c, split)
		}
		// Every byte out is ASCII or one the table maps to.
		for _, b := range whole {
			if b >= utf8.RuneSelf && b != 0xC0 && b != 0xC1 {
				t.Fatalf("%q: recoded to %q", in, whole)
			}
		}
	})
}

func recodeLoc(rc *conf.Recode) *conf.Location {
	return testLoc(func(s *conf.Settings) {
		s.Charset, s.SourceCharset, s.Recode = "y", "x", rc
		s.Gzip = true
	})
}

func TestRecodeBytesRange(t *testing.T) {
	data := []byte(strings.Repeat("X", 90) + "Y\xc1abcdefgh")
	tx := newTxn(recodeLoc(&conf.Recode{Bytes: testBytes}))
	tx.Req.AcceptEncoding = []byte("gzip")
	tx.Req.Range = []byte("bytes=88-95")
	fileResponse(tx, data, "text/html")
	tx.Resp.Charset = "y"
	runChain(tx)
	r := &tx.Resp
	if r.Status != 206 || r.ContentLength != 8 || r.ContentEncoding != "" || r.Charset != "y" || string(r.ContentRange) != "bytes 88-95/100" {
		t.Fatalf("status %d length %d encoding %q charset %q range %q", r.Status, r.ContentLength, r.ContentEncoding, r.Charset, r.ContentRange)
	}
	if got := produceAll(t, tx); string(got) != "YYX\xe0abcd" {
		t.Errorf("body %q", got)
	}
	tx.Reset()

	// Several ranges: the parts are recoded, the boundaries not.
	tx.Loc = recodeLoc(&conf.Recode{Bytes: testBytes})
	tx.Req.Method, tx.Req.Version = MethodGET, HTTP11
	tx.Req.Range = []byte("bytes=0-1,90-91")
	fileResponse(tx, data, "text/plain")
	tx.Resp.Charset = "y"
	runChain(tx)
	got := string(produceAll(t, tx))
	if tx.Resp.Status != 206 || int64(len(got)) != tx.Resp.ContentLength || !strings.Contains(got, "\r\n\r\nYY\r\n--") || !strings.Contains(got, "\r\n\r\nX\xe0\r\n--") || !strings.Contains(got, "Content-Range: bytes 90-91/100") {
		t.Errorf("multipart %d, length %d:\n%q", tx.Resp.Status, tx.Resp.ContentLength, got)
	}
}

func TestRecodeUTF8(t *testing.T) {
	cases := []struct {
		name    string
		rc      *conf.Recode
		in      string
		ctype   string
		charset string
		enc     string
		want    string // "" leaves the body alone
		status  int
		length  int64
	}{
		{name: "to utf-8", rc: &conf.Recode{ToUTF8: testToUTF8}, in: "X\xc1\xc0\xff", ctype: "text/html", charset: "y",
			want: "Xаю?", status: 200, length: -1},
		{name: "from utf-8", rc: &conf.Recode{FromUTF8: testFromUTF8}, in: "Xаю€", ctype: "text/html", charset: "y",
			want: "X\xc1\xc0&#8364;", status: 200, length: -1},
		{name: "no charset (type)", rc: &conf.Recode{ToUTF8: testToUTF8}, in: "X\xc1", ctype: "image/png", status: 206, length: 1},
		{name: "gzip_static", rc: &conf.Recode{ToUTF8: testToUTF8}, in: "X\xc1", ctype: "text/html", charset: "y", enc: "gzip", status: 206, length: 1},
	}
	for _, c := range cases {
		tx := newTxn(recodeLoc(c.rc))
		tx.Req.Range = []byte("bytes=0-0")
		fileResponse(tx, []byte(c.in), c.ctype)
		tx.Resp.Charset, tx.Resp.ContentEncoding = c.charset, c.enc
		runChain(tx)
		r := &tx.Resp
		if r.ContentLength != c.length || r.Status != c.status {
			t.Errorf("%s: status %d length %d", c.name, r.Status, r.ContentLength)
		}
		if c.enc != "" && r.Charset != "" {
			t.Errorf("%s: an encoded body keeps charset %q", c.name, r.Charset)
		}
		if c.want == "" {
			if r.Body.Producer != nil || tx.recode != nil {
				t.Errorf("%s: recoded", c.name)
			}
			continue
		}
		got := produceAll(t, tx)
		if dec := dechunk(t, got); dec != c.want {
			t.Errorf("%s: body %q, want %q", c.name, dec, c.want)
		}
		tx.Reset()
	}
}

// dechunk reads a chunked body.
func dechunk(tb testing.TB, b []byte) string {
	tb.Helper()
	var out []byte
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			tb.Fatalf("bad chunking %q", b)
		}
		var n int
		for _, c := range b[:i] {
			n = n*16 + strings.IndexByte("0123456789abcdef", c|0x20)
		}
		b = b[i+2:]
		if n == 0 {
			return string(out)
		}
		out = append(out, b[:n]...)
		b = b[n+2:]
	}
}

// TestRecodeOff: a location without recoding leaves the body and the
// Txn alone.
func TestRecodeOff(t *testing.T) {
	tx := newTxn(testLoc(func(s *conf.Settings) { s.Charset = "utf-8" }))
	fileResponse(tx, []byte("XY"), "text/html")
	tx.Resp.Charset = "utf-8"
	runChain(tx)
	if tx.Resp.Body.Producer != nil || tx.Resp.ContentLength != 2 || tx.recode != nil {
		t.Errorf("producer %v length %d", tx.Resp.Body.Producer, tx.Resp.ContentLength)
	}
}
