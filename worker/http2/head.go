package http2

import (
	"tern/filters"
)

// Head is a stream's request head as the HPACK decoder emitted it,
// checked against RFC 9113 §8.2 and §8.3. Its slices point into the
// stream's own buffer and stay valid until the worker is done with the
// stream (Handler.Done).
type Head struct {
	// The request pseudo-header fields; Authority is nil when absent.
	Method, Scheme, Authority, Path []byte
	// Fields holds the regular fields as HTTP/1.1 field lines, "name:
	// value\r\n", names lower-case: cookie fields joined into one line
	// (RFC 9113 §8.2.3), and a "host" line made from :authority when
	// the client sent no host field (as nginx), so that $http_host and
	// $http_cookie read the same as over HTTP/1.1.
	Fields []byte
	// ContentLength is the content-length field, -1 when absent.
	ContentLength int64
	// TooLarge is set when one field line is longer than a header
	// buffer: the request gets 494 ("Request Header Or Cookie Too
	// Large"), as over HTTP/1.1. TooMany is set when there are more
	// regular fields than max_headers: 400, as over HTTP/1.1.
	TooLarge, TooMany bool
	// Control is set when a field value holds a control character
	// other than NUL, CR and LF (which make the request malformed,
	// RFC 9113 §8.2.1): 400, as over HTTP/1.1 and as nginx answers a
	// Host with one.
	Control bool
	// BlockLen is the size of the request's header block, its HEADERS
	// and CONTINUATION fragments without padding: $request_length, as
	// nginx counts it.
	BlockLen int
	// EndStream is set when the request has no body: its HEADERS frame
	// ended the stream.
	EndStream bool

	buf    []byte
	cookie []byte
	// offsets of the pseudo-header values in buf, [lo, hi); lo < 0 when
	// absent.
	pseudo [4][2]int
	fields int // where the regular fields start in buf
}

// Which pseudo-header is which, in Head.pseudo.
const (
	pseudoMethod = iota
	pseudoScheme
	pseudoAuthority
	pseudoPath
)

// headKeep bounds the buffers a Head keeps for its stream's next use.
const headKeep = 8 << 10

func (h *Head) reset() {
	h.Method, h.Scheme, h.Authority, h.Path, h.Fields = nil, nil, nil, nil, nil
	h.ContentLength = -1
	h.TooLarge, h.TooMany, h.Control, h.EndStream = false, false, false, false
	h.BlockLen = 0
	if cap(h.buf) > headKeep {
		h.buf = nil
	}
	if cap(h.cookie) > headKeep {
		h.cookie = nil
	}
	h.buf, h.cookie = h.buf[:0], h.cookie[:0]
	for i := range h.pseudo {
		h.pseudo[i] = [2]int{-1, -1}
	}
	h.fields = -1
}

// headDecoder takes the fields of one header block from the HPACK
// decoder. head is nil for a block whose stream is refused or ignored:
// its fields still go through the decoder, whose table must follow the
// peer's (RFC 7541 §2.2), but are dropped.
type headDecoder struct {
	head    *Head
	trailer bool // a trailer section: no pseudo-header fields
	// malformed: the block breaks RFC 9113 §8 (a stream error).
	malformed bool
	// calm: the decoded list outgrew the limit (ENHANCE_YOUR_CALM).
	calm    bool
	regular bool // a regular field has been seen
	sawHost bool
	size    int // the decoded list's size as HTTP/1.1 lines
	fields  int // regular fields (max_headers)
	lim     *Config
}

// A field's verdict (judge): what checkValue finds in its value, and
// badName when its name is forbidden (not a lower-case token, or
// connection-specific). The HPACK decoder keeps each table entry's, so
// that a field sent as an index is not checked again.
type verdict uint8

const badName verdict = 4

func judge(name, value string) verdict {
	v := verdict(checkValue(value))
	if (len(name) == 0 || name[0] != ':') && (!validName(name) || connectionSpecific(name, value)) {
		v |= badName
	}
	return v
}

// field takes one decoded field.
func (d *headDecoder) field(name, value string) { d.judged(name, value, judge(name, value)) }

// judged takes one decoded field whose verdict is v.
func (d *headDecoder) judged(name, value string, v verdict) {
	// Count what the client makes us hold, kept or not: an HPACK bomb
	// (a small block that references large table entries many times)
	// ends here, before any memory grows.
	d.size += len(name) + len(value) + len(": \r\n")
	if d.size > d.lim.ListLimit {
		d.calm = true
	}
	if d.calm || d.malformed {
		return
	}
	switch v &^ badName {
	case valueMalformed:
		d.malformed = true
		return
	case valueControl:
		if d.head != nil {
			d.head.Control = true
		}
	}
	if len(name) > 0 && name[0] == ':' {
		d.pseudoField(name, value)
		return
	}
	d.regular = true
	d.fields++
	if v&badName != 0 {
		d.malformed = true
		return
	}
	h := d.head
	if h == nil || d.trailer {
		return
	}
	if len(name)+len(value)+len(": ") > d.lim.LineLimit {
		h.TooLarge = true
		return
	}
	if d.fields > d.lim.MaxFields {
		h.TooMany = true
		return
	}
	switch name {
	case "content-length":
		n, ok := parseLength(value)
		if !ok || h.ContentLength >= 0 && h.ContentLength != n {
			d.malformed = true // RFC 9110 §8.6: one valid value
			return
		}
		h.ContentLength = n
	case "cookie":
		// RFC 9113 §8.2.3: joined with "; " for HTTP/1.1 semantics.
		if len(h.cookie) > 0 {
			h.cookie = append(h.cookie, "; "...)
		}
		h.cookie = append(h.cookie, value...)
		return
	case "host":
		d.sawHost = true
	}
	if h.fields < 0 {
		h.fields = len(h.buf)
	}
	h.buf = append(h.buf, name...)
	h.buf = append(h.buf, ": "...)
	h.buf = append(h.buf, value...)
	h.buf = append(h.buf, "\r\n"...)
}

// pseudoField takes a pseudo-header field (RFC 9113 §8.3.1): only the
// four of a request, each once, all before the regular fields, none in
// a trailer section.
func (d *headDecoder) pseudoField(name, value string) {
	i := -1
	switch name {
	case ":method":
		i = pseudoMethod
	case ":scheme":
		i = pseudoScheme
	case ":authority":
		i = pseudoAuthority
	case ":path":
		i = pseudoPath
	}
	h := d.head
	if i < 0 || d.regular || d.trailer || h != nil && h.pseudo[i][0] >= 0 {
		d.malformed = true
		return
	}
	if h == nil {
		return
	}
	lo := len(h.buf)
	h.buf = append(h.buf, value...)
	h.pseudo[i] = [2]int{lo, len(h.buf)}
}

// finish checks the complete block and sets the Head's slices.
func (d *headDecoder) finish() {
	h := d.head
	if h == nil || d.trailer || d.malformed || d.calm {
		return
	}
	p := &h.pseudo
	// RFC 9113 §8.3.1: :method, :scheme and a non-empty :path, once
	// each (CONNECT, which has neither of the last two, is not served).
	if p[pseudoMethod][0] < 0 || p[pseudoScheme][0] < 0 || p[pseudoPath][0] < 0 ||
		p[pseudoPath][0] == p[pseudoPath][1] || !filters.IsToken(h.buf[p[pseudoMethod][0]:p[pseudoMethod][1]]) {
		d.malformed = true
		return
	}
	if h.fields < 0 {
		h.fields = len(h.buf)
	}
	if len(h.cookie) > 0 {
		h.buf = append(h.buf, "cookie: "...)
		h.buf = append(h.buf, h.cookie...)
		h.buf = append(h.buf, "\r\n"...)
	}
	if a := p[pseudoAuthority]; !d.sawHost && a[0] >= 0 {
		h.buf = append(h.buf, "host: "...)
		h.buf = append(h.buf, h.buf[a[0]:a[1]]...)
		h.buf = append(h.buf, "\r\n"...)
	}
	at := func(i int) []byte {
		if p[i][0] < 0 {
			return nil
		}
		return h.buf[p[i][0]:p[i][1]:p[i][1]]
	}
	h.Method, h.Scheme, h.Authority, h.Path = at(pseudoMethod), at(pseudoScheme), at(pseudoAuthority), at(pseudoPath)
	h.Fields = h.buf[h.fields:]
}

// connectionSpecific reports a field that RFC 9113 §8.2.2 forbids: the
// HTTP/1.1 connection fields, and te with any value but "trailers".
func connectionSpecific(name, value string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	case "te":
		return value != "trailers"
	}
	return false
}

// validName: a token (RFC 9110 §5.6.2) without upper-case letters (RFC
// 9113 §8.2.1: a name with them makes the request malformed).
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !filters.TokenChar(c) || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// What checkValue finds in a field value.
const (
	valueOK = iota
	// valueMalformed: NUL, CR or LF anywhere, or white space at either
	// end (RFC 9113 §8.2.1): a stream error.
	valueMalformed
	// valueControl: another control character, which RFC 9113 leaves
	// to the server: 400, as over HTTP/1.1 (Head.Control).
	valueControl
)

// checkValue says what a field value holds (valueOK...). It runs for
// every field of every request, so it skips eight bytes at a time while
// none is a control character: a byte below 0x20 sets the high bit of
// its lane in x - 0x20… where its own high bit is clear (bytes of 0x80
// and above have it set), and 0x7f is a zero lane of x ^ 0x7f….
func checkValue(v string) int {
	if n := len(v); n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n-1] == ' ' || v[n-1] == '\t') {
		return valueMalformed
	}
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		del := x ^ 0x7f*ones
		if (x-0x20*ones)&^x&highs|(del-ones)&^del&highs != 0 {
			break
		}
	}
	st := valueOK
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return valueMalformed
		case c < ' ' && c != '\t' || c == 0x7f:
			st = valueControl
		}
	}
	return st
}

// parseLength parses a content-length: 1*DIGIT, at most 18 digits.
func parseLength(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
