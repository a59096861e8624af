//go:build linux

package http2

import (
	"strconv"
	"unsafe"

	"golang.org/x/net/http2/hpack"

	"tern/filters"
)

// A response head becomes a HEADERS frame (RFC 9113 §8.3.2) with the
// fields filters.HeaderFilter writes over HTTP/1.1, in the same order,
// lower-case, without the connection fields (Connection,
// Transfer-Encoding: §8.2.2).
//
// Fields whose values are the same response after response — :status,
// Server, a Content-Type from the MIME table, Vary, Content-Encoding,
// Accept-Ranges, Allow — go through the HPACK encoder, which indexes
// them in its dynamic table, so that from the second response on each
// costs a byte or two. Values made per response (Date, Content-Length,
// Last-Modified, ETag, Location, Content-Range, add_header's) are
// literals without indexing (RFC 7541 §6.2.2), as nginx sends every
// field: indexing them would only churn the table, and their bytes live
// in buffers that change while the table would keep them.

// Static table indexes (RFC 7541 Appendix A) of the names written as
// literals.
const (
	idxContentLength = 28
	idxContentRange  = 30
	idxContentType   = 31
	idxDate          = 33
	idxETag          = 34
	idxLastModified  = 44
	idxLocation      = 46
)

// statusValues are the :status values, made once.
var statusValues [600]string

var serverFull, serverShort = "", "tern"

func init() {
	for i := 100; i < len(statusValues); i++ {
		statusValues[i] = strconv.Itoa(i)
	}
	serverFull = "tern/" + filters.ServerVersion
}

// writeHead appends the HEADERS frame (and CONTINUATION frames, for a
// head larger than the peer's frame size) of s's response.
func (c *Conn) writeHead(s *Stream) {
	t := s.txn
	lo := len(c.wbufTail())
	c.wbuf = append(c.wbuf, make([]byte, frameHeaderLen)...)
	c.encodeHead(t)
	block := len(c.wbuf) - lo - frameHeaderLen
	flags := uint8(flagEndHeaders)
	empty := t.Empty()
	if empty {
		flags |= flagEndStream
	}
	if block <= c.peerMaxFrame {
		putFrameHeader(c.wbuf[lo:], block, frameHeaders, flags, s.id)
	} else {
		c.splitHead(lo, s.id, flags&flagEndStream)
	}
	c.addBuf(lo)
	t.HeadLen = len(c.wbuf) - lo
	t.Sent += int64(t.HeadLen)
	s.headSent = true
	s.inBatch = true
	if empty {
		c.ended(s, c.queued)
	}
}

// splitHead cuts the header block at wbuf[lo+frameHeaderLen:] into a
// HEADERS frame and CONTINUATION frames of the peer's frame size.
func (c *Conn) splitHead(lo int, id uint32, endStream uint8) {
	c.scratch = append(c.scratch[:0], c.wbuf[lo+frameHeaderLen:]...)
	c.wbuf = c.wbuf[:lo]
	rest := c.scratch
	typ, flags := frameHeaders, endStream
	for {
		n := min(len(rest), c.peerMaxFrame)
		if n == len(rest) {
			flags |= flagEndHeaders
		}
		c.wbuf = appendFrameHeader(c.wbuf, n, typ, flags, id)
		c.wbuf = append(c.wbuf, rest[:n]...)
		rest = rest[n:]
		if len(rest) == 0 {
			break
		}
		typ, flags = frameContinuation, 0
	}
	if cap(c.scratch) > headKeep {
		c.scratch = nil
	}
}

// encodeHead appends the header block of t's response.
func (c *Conn) encodeHead(t *filters.Txn) {
	r := &t.Resp
	status := r.Status
	if status < 100 || status >= len(statusValues) {
		status = 500
	}
	c.indexed(memoStatus, ":status", statusValues[status])
	if t.Loc == nil || t.Loc.ServerTokens {
		c.indexed(memoServer, "server", serverFull)
	} else {
		c.indexed(memoServer, "server", serverShort)
	}
	c.repeatable(memoDate, idxDate, "date", t.Env.Date)
	switch {
	case status == 304:
	case r.ContentTypeBytes != nil:
		c.literal(idxContentType, "", r.ContentTypeBytes)
	case r.ContentType != "" && r.Charset == "":
		c.indexed(memoContentType, "content-type", r.ContentType)
	case r.ContentType != "":
		c.scratch = filters.AppendContentTypeValue(c.scratch[:0], r)
		c.literal(idxContentType, "", c.scratch)
	}
	if r.ContentLength >= 0 && !filters.NoLengthStatus(status) {
		c.scratch = strconv.AppendInt(c.scratch[:0], r.ContentLength, 10)
		c.repeatable(memoContentLength, idxContentLength, "content-length", c.scratch)
	}
	if r.LastModified != 0 && (status == 200 || status == 206 || status == 304) {
		v := r.LastModifiedText
		if v == nil {
			c.scratch = filters.AppendHTTPDate(c.scratch[:0], r.LastModified)
			v = c.scratch
		}
		c.repeatable(memoLastModified, idxLastModified, "last-modified", v)
	}
	if r.Location != nil {
		c.literal(idxLocation, "", r.Location)
	}
	if r.Vary {
		c.indexed(memoVary, "vary", "Accept-Encoding")
	}
	if r.ETag != nil {
		c.repeatable(memoETag, idxETag, "etag", r.ETag)
	}
	for i := range r.Headers {
		if h := &r.Headers[i]; !connectionField(h.Name) {
			c.literal(0, h.Name, h.Value)
		}
	}
	if r.ContentEncoding != "" {
		c.indexed(memoContentEncoding, "content-encoding", r.ContentEncoding)
	}
	if r.AcceptRanges {
		c.indexed(memoAcceptRanges, "accept-ranges", "bytes")
	}
	if r.ContentRange != nil {
		c.literal(idxContentRange, "", r.ContentRange)
	}
	if r.Allow != "" {
		c.indexed(memoAllow, "allow", r.Allow)
	}
}

// indexed encodes a field whose name and value are immutable strings,
// which the encoder may keep in its dynamic table. site says which field
// of a head it is (memoStatus...): where the field was encoded as an
// index into the tables last time and the dynamic table has not changed
// since, the same bytes are appended again. The encoder's search of its
// tables hashed both strings for every field of every head: 6.3 % of the
// worker's samples serving 1 KiB over h2c at 10 connections × 8 streams.
func (c *Conn) indexed(site int, name, value string) {
	m := &c.memo[site]
	if m.n > 0 && m.gen == c.tableGen && m.value == unsafe.StringData(value) && m.len == len(value) {
		c.wbuf = append(c.wbuf, m.enc[:m.n]...)
		return
	}
	start := len(c.wbuf)
	c.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
	out := c.wbuf[start:]
	switch {
	case len(out) == 0:
	case out[0]&0x80 != 0 && len(out) <= len(m.enc):
		// An indexed field (RFC 7541 §6.1) left the table as it was.
		*m = fieldMemo{value: unsafe.StringData(value), len: len(value), gen: c.tableGen, n: uint8(len(out))}
		copy(m.enc[:], out)
	case out[0]&0xc0 == 0x40 || out[0]&0xe0 == 0x20:
		// A literal with incremental indexing (§6.2.1), or a table size
		// update before the field (§6.3): the indexes moved.
		c.tableGen++
	}
}

// The fields of a head that indexed keeps the encoding of, one each.
const (
	memoStatus = iota
	memoServer
	memoContentType
	memoVary
	memoContentEncoding
	memoAcceptRanges
	memoAllow
	memoDate
	memoContentLength
	memoLastModified
	memoETag
	memoFields
)

// fieldMemo is how a field was encoded last (indexed), valid while the
// dynamic table stays at generation gen.
type fieldMemo struct {
	value *byte // the value's bytes: the strings indexed takes are immutable
	len   int
	gen   uint32
	n     uint8 // bytes of enc in use; 0: nothing kept
	enc   [3]byte
}

// repeatable encodes a field whose value is a response's own (the Date
// of its second, a file's Content-Length, Last-Modified and ETag) and
// may come again on the connection. The first time a value is sent, it
// is a literal without indexing (RFC 7541 §6.2.2), which leaves the
// dynamic table to the fields every response shares: a page's assets
// each come once. A value sent again is a repeat (a file polled, a
// client that reloads, each second's Date) and enters the table, where
// it costs the client one byte to decode from then on instead of a
// Huffman-coded string (h2load spent 0.6 µs more per 1 KiB response on
// tern's heads than on lighttpd's, which index what they send twice).
// The connection remembers the last len(c.sent) values it sent.
func (c *Conn) repeatable(site int, idx uint64, name string, v []byte) {
	if len(v) > litMax {
		c.wbuf = c.shared.literalField(c.wbuf, idx, v)
		return
	}
	key := litHash(idx, v)
	for i := range c.sent {
		e := &c.sent[i]
		if e.key != key || e.idx != uint8(idx) {
			continue
		}
		if !e.again {
			e.val, e.again = string(v), true // the table's own copy
		} else if e.val != unsafe.String(unsafe.SliceData(v), len(v)) {
			break // another value with the same hash
		}
		c.indexed(site, name, e.val)
		return
	}
	c.sent[c.sentNext] = sentField{key: key, idx: uint8(idx)}
	c.sentNext = (c.sentNext + 1) % uint8(len(c.sent))
	c.wbuf = c.shared.literalField(c.wbuf, idx, v)
}

// sentField is a value repeatable sent: its hash and field, and once it
// came again, the value itself, immutable, as the dynamic table holds it.
type sentField struct {
	key   uint64
	val   string
	idx   uint8
	again bool
}

// literal appends a literal field without indexing (RFC 7541 §6.2.2):
// the name by its static index, or when idx is 0 as a string, lowered.
func (c *Conn) literal(idx uint64, name string, value []byte) {
	b := c.wbuf
	if idx > 0 {
		b = appendVarInt(b, 4, 0, idx)
	} else {
		b = append(b, 0)
		low := c.lowerName(name)
		b = appendString(b, unsafe.String(unsafe.SliceData(low), len(low)))
	}
	c.wbuf = appendString(b, unsafe.String(unsafe.SliceData(value), len(value)))
}

// lowerName returns name lower-cased (RFC 9113 §8.2.1), in the
// connection's scratch space when it has upper-case letters.
func (c *Conn) lowerName(name string) []byte {
	c.name = append(c.name[:0], name...)
	for i, ch := range c.name {
		if 'A' <= ch && ch <= 'Z' {
			c.name[i] = ch + 'a' - 'A'
		}
	}
	return c.name
}

// connectionField reports the HTTP/1.1 connection fields, which an
// add_header must not carry into HTTP/2 (RFC 9113 §8.2.2).
func connectionField(name string) bool {
	for _, f := range [...]string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"} {
		if len(name) == len(f) && asciiEqualFold(name, f) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, lower string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// appendString appends an HPACK string literal (RFC 7541 §5.2),
// Huffman-coded when that is shorter.
func appendString(b []byte, s string) []byte {
	if n := hpack.HuffmanEncodeLength(s); n < uint64(len(s)) {
		b = appendVarInt(b, 7, 0x80, n)
		return hpack.AppendHuffmanString(b, s)
	}
	b = appendVarInt(b, 7, 0, uint64(len(s)))
	return append(b, s...)
}

// appendVarInt appends an HPACK integer with an n-bit prefix (RFC 7541
// §5.1) into a first byte whose other bits are high.
func appendVarInt(b []byte, n uint, high byte, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, high|byte(v))
	}
	b = append(b, high|byte(limit))
	v -= limit
	for v >= 128 {
		b = append(b, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(b, byte(v))
}
