package filters

import "strconv"

// ChunkedFilter frames a body of unknown length (ContentLength < 0) as
// nginx's chunked filter: on HTTP/1.1 with chunked transfer coding (RFC
// 9112 §7.1), one chunk per piece the body is produced in and the last
// chunk "0\r\n\r\n" (no trailers); on HTTP/1.0, which has no chunks, the
// body ends when the connection closes, so keep-alive is turned off.
// Responses without a body (HEAD, 1xx, 204, 304) are left alone.
type ChunkedFilter struct{}

var _ Filter = ChunkedFilter{}

var (
	crlf = []byte("\r\n")
	// lastChunk ends the body: the last chunk and the empty trailer
	// section; lastChunk[2:] when no chunk came before it.
	lastChunk = []byte("\r\n0\r\n\r\n")
)

// Header sets up the framing.
func (ChunkedFilter) Header(t *Txn) Result {
	r := &t.Resp
	if r.ContentLength >= 0 || r.HeaderOnly || noLengthStatus(r.Status) {
		return OK
	}
	if t.Req.Version < HTTP11 {
		r.KeepAlive = false
		return OK
	}
	r.Chunked = true
	c := &t.chunker
	c.inner = r.Body.Producer
	// What the body already holds is the first chunk: move it one place
	// up to make room for its size line.
	n := len(r.Body.Segs)
	r.Body.Segs = append(r.Body.Segs, Segment{})
	copy(r.Body.Segs[1:], r.Body.Segs[:n])
	c.frame(t, 0, c.inner == nil)
	if c.inner != nil {
		r.Body.Producer = c
	}
	return OK
}

// chunker frames another producer's output: it is the producer the
// write filter sees once the chunked filter ran.
type chunker struct {
	inner Producer
	// line holds the chunk-size line of the chunk being sent: 16 hex
	// digits at most, and CRLF.
	line [16 + 2]byte
}

var _ Producer = (*chunker)(nil)

// Produce has the inner producer append its piece, then frames it.
func (c *chunker) Produce(t *Txn) Result {
	b := &t.Resp.Body
	mark := len(b.Segs)
	b.Segs = append(b.Segs, Segment{}) // the size line, once known
	r := c.inner.Produce(t)
	switch r {
	case OK, Done:
		c.frame(t, mark, r == Done)
	default:
		b.Segs = b.Segs[:mark]
	}
	return r
}

// Release releases the inner producer.
func (c *chunker) Release(t *Txn) {
	if c.inner != nil {
		c.inner.Release(t)
		c.inner = nil
	}
}

// frame turns Segs[mark+1:] into one chunk, using Segs[mark] (an empty
// placeholder) for its size line, and ends the body when last. No data
// makes no chunk: a zero-size chunk would end the body.
func (c *chunker) frame(t *Txn, mark int, last bool) {
	b := &t.Resp.Body
	var size int64
	for i := mark + 1; i < len(b.Segs); i++ {
		size += b.Segs[i].Size()
	}
	if size == 0 {
		b.Segs = b.Segs[:mark]
		if last {
			b.AddMem(lastChunk[2:])
		}
		return
	}
	line := strconv.AppendInt(c.line[:0], size, 16)
	b.Segs[mark] = Segment{Mem: append(line, crlf...)}
	if last {
		b.AddMem(lastChunk)
	} else {
		b.AddMem(crlf)
	}
}
