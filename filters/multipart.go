package filters

import "math/rand/v2"

// boundaryDigits is the width of a boundary: nginx prints its counter
// zero-padded to NGX_ATOMIC_T_LEN, 20 digits on 64-bit systems.
const boundaryDigits = 20

// multipartRanges makes the response a 206 multipart/byteranges of
// t.ranges (RFC 9110 §14.6), laid out byte for byte as nginx's:
//
//	CRLF "--" BOUNDARY CRLF
//	"Content-Type: " TYPE [ "; charset=" CHARSET ] CRLF   (when the 200 had a type)
//	"Content-Range: bytes " FIRST "-" LAST "/" SIZE CRLF
//	CRLF
//	DATA
//	... one such part per range, then
//	CRLF "--" BOUNDARY "--" CRLF
//
// The boundary lines are built in Txn.vals and the data are slices of the
// body (file regions or memory), so the Content-Length is exact before
// anything is sent.
func (t *Txn) multipartRanges() {
	r := &t.Resp
	size := r.ContentLength
	boundary := t.Env.nextBoundary()
	start := len(t.vals)
	t.vals = appendBoundary(append(t.vals, "multipart/byteranges; boundary="...), boundary)
	ctype := t.valsFrom(start)
	for i := range t.ranges {
		t.ranges[i].hdr = len(t.vals)
		t.vals = t.appendPartHeader(boundary, t.ranges[i], size)
	}
	tail := len(t.vals)
	t.vals = append(appendBoundary(append(t.vals, "\r\n--"...), boundary), "--\r\n"...)

	t.orig = append(t.orig[:0], r.Body.Segs...)
	clear(r.Body.Segs)
	r.Body.Segs = r.Body.Segs[:0]
	var length int64
	for i, br := range t.ranges {
		end := tail
		if i+1 < len(t.ranges) {
			end = t.ranges[i+1].hdr
		}
		r.Body.AddMem(t.vals[br.hdr:end])
		sliceBody(&r.Body, t.orig, br.start, br.end)
		length += int64(end-br.hdr) + br.end - br.start
	}
	r.Body.AddMem(t.vals[tail:])
	length += int64(len(t.vals) - tail)

	r.Status = 206
	r.ContentTypeBytes = ctype
	r.ContentLength = length
	r.AcceptRanges = false
	r.ContentRange = nil
}

// appendPartHeader appends the lines before one part's data.
func (t *Txn) appendPartHeader(boundary uint64, br byteRange, size int64) []byte {
	r := &t.Resp
	b := appendBoundary(append(t.vals, "\r\n--"...), boundary)
	b = append(b, "\r\n"...)
	if r.ContentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, r.ContentType...)
		if r.Charset != "" {
			b = append(b, "; charset="...)
			b = append(b, r.Charset...)
		}
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Range: bytes "...)
	b = appendContentRange(b, br, size)
	return append(b, "\r\n\r\n"...)
}

// appendBoundary appends n zero-padded to boundaryDigits.
func appendBoundary(b []byte, n uint64) []byte {
	var d [boundaryDigits]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:]...)
}

// nextBoundary returns the number that delimits the parts of a multipart
// range response. nginx counts from 1 in shared memory, for all workers;
// a worker here starts its own count at a random point, so that workers
// do not repeat each other's boundaries and a file cannot be written in
// advance to contain the next one (RFC 2046 §5.1.1 asks that the
// boundary not occur in the parts).
func (e *Env) nextBoundary() uint64 {
	if e.boundary == 0 {
		e.boundary = rand.Uint64() >> 1 // leaves room to count
	}
	e.boundary++
	return e.boundary
}
