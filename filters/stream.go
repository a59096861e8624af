package filters

// A response on an HTTP/2 stream leaves the chain before the chunked
// filter: its head becomes a HEADERS frame and its body DATA frames,
// which the connection interleaves with the other streams' within the
// flow-control windows the client grants (worker/http2). The connection
// takes the body through the cursor below — Piece, Consume, Refill —
// with the same segments, producers (gzip) and thread-pool reads
// (ReadFile) as the write filter, so that a handler or filter never
// knows which protocol carries its response.

// NewStreamChain returns the filters of a response sent in HTTP/2
// frames: NewChain's, in the same order, up to the recode filter. A
// stream needs no chunked framing (DATA frames end with END_STREAM), and
// its head and body are written by the connection, not by the write
// filter. Run returns Done once the head is final.
func NewStreamChain() Chain {
	return Chain{
		NotModifiedFilter{},
		HeadersFilter{},
		CharsetFilter{},
		GzipFilter{},
		RangeFilter{},
		RecodeFilter{},
	}
}

// Piece returns at most max bytes of the body at the write position: a
// memory slice (Mem), or a region of a file whose contents are not in
// memory (File, Off, Len). ok is false when every segment has been
// taken; Refill then makes more, or says that the body is complete.
// A piece's memory stays valid until the next Refill.
func (t *Txn) Piece(max int64) (p Segment, ok bool) {
	segs := t.Resp.Body.Segs
	if t.Resp.HeaderOnly || t.seg >= len(segs) || max <= 0 {
		return Segment{}, t.seg < len(segs) && !t.Resp.HeaderOnly
	}
	s := &segs[t.seg]
	n := min(s.Size()-t.segOff, max)
	if s.InMemory() {
		b := s.Bytes()[t.segOff:]
		return Segment{Mem: b[:n]}, true
	}
	return Segment{File: s.File, Off: s.Off + t.segOff, Len: n}, true
}

// Consume moves the write position n bytes on — n at most the size of
// the piece Piece returned — and counts them sent.
func (t *Txn) Consume(n int64) {
	s := &t.Resp.Body.Segs[t.seg]
	t.Sent += n
	t.segOff += n
	if t.segOff >= s.Size() {
		t.seg++
		t.segOff = 0
	}
}

// Ends reports whether the body ends once the current piece's n bytes
// are consumed: no segment follows, and no producer makes more.
func (t *Txn) Ends(n int64) bool {
	segs := t.Resp.Body.Segs
	if t.seg >= len(segs) {
		return t.Resp.Body.Producer == nil || t.producerDone
	}
	return t.seg == len(segs)-1 && t.segOff+n >= segs[t.seg].Size() &&
		(t.Resp.Body.Producer == nil || t.producerDone)
}

// Empty reports whether the response has no body to send: a HEAD, a
// 304, or a body of no segments that no producer adds to.
func (t *Txn) Empty() bool {
	return t.Resp.HeaderOnly || len(t.Resp.Body.Segs) == 0 && t.Resp.Body.Producer == nil
}

// Refill asks the body's producer for its next segments, once every
// segment has been taken and the memory they pointed at is no longer in
// use. It returns OK when segments (possibly none) were added, Done when
// the body is complete, Again when the producer waits for what t.Wait
// names (a thread-pool read: Owner.Resume follows), or Error with t.Err.
func (t *Txn) Refill() Result {
	turn := false
	if r, more := t.refill(&turn); !more {
		return r
	}
	return OK
}

// RateAllowance returns how many bytes limit_rate lets the response
// send now, and false when that is too little to send at all: t.Delay
// then says how long to wait. Without a limit it allows everything.
func (t *Txn) RateAllowance() (int64, bool) {
	if t.LimitRate <= 0 {
		return 1<<63 - 1, true
	}
	return t.rateAllowance(t.Env.Clock())
}

// Producing reports whether a producer still makes the body: Refill
// then runs it, and the memory of the segments it made before may be
// reused.
func (t *Txn) Producing() bool {
	return t.Resp.Body.Producer != nil && !t.producerDone && !t.Resp.HeaderOnly
}
