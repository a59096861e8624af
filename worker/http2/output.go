//go:build linux

package http2

import (
	"slices"

	"tern/conf"
	"tern/filters"
)

// The output side. Frames go out in batches: fill appends control
// frames, heads and DATA frames to a buffer the connection borrows
// (wbuf), with the payloads that are not worth copying — a cached
// file's memory, a file region for sendfile — as pieces of their own;
// Write sends the batch with writev (and sendfile), and only once it is
// all written is the next one filled. So a stream's memory in a batch
// stays as it is until the batch is out: a producer (gzip) runs again,
// and a stream's read buffer is reused, only in the next batch.
//
// Streams with something to send are in a ring; each round of fill gives
// each of them a turn: a frame, or up to turnBytes of file data read at
// once, so that the streams of a page share the connection instead of
// waiting for one another.

const (
	// batchBytes is about the most one batch holds: enough that a
	// hundred small responses leave in one writev, little enough that
	// the buffer stays cheap to keep.
	batchBytes = 128 << 10
	// batchPieces bounds a batch's pieces, under the iovecs of one
	// writev (filters' Socket takes 64).
	batchPieces = 48
	// copyMax is the largest DATA payload copied into the batch; a
	// larger one is written from where it is.
	copyMax = 2 << 10
)

// pieceKind says where a piece of a batch is.
type pieceKind uint8

const (
	pieceBuf  pieceKind = iota // wbuf[lo:hi]
	pieceMem                   // mem
	pieceFile                  // n bytes of file fd at off, by sendfile
)

type piece struct {
	kind   pieceKind
	lo, hi int
	mem    []byte
	file   *filters.File
	off, n int64
}

func (p *piece) size() int64 {
	switch p.kind {
	case pieceBuf:
		return int64(p.hi - p.lo)
	case pieceMem:
		return int64(len(p.mem))
	}
	return p.n
}

// wbufTail returns the batch buffer to append a frame to.
func (c *Conn) wbufTail() []byte {
	if c.wbuf == nil {
		c.wbuf = c.shared.getWbuf()
	}
	c.tail = len(c.wbuf)
	return c.wbuf
}

// queue takes the buffer a frame was appended to (from wbufTail) and
// adds the frame to the batch.
func (c *Conn) queue(b []byte) {
	c.wbuf = b
	c.addBuf(c.tail)
}

// addBuf adds wbuf[lo:] to the batch, as part of the last piece when
// that ends where it starts.
func (c *Conn) addBuf(lo int) {
	if c.pieces == nil {
		c.pieces = c.shared.getPieces()
	}
	c.queued += int64(len(c.wbuf) - lo)
	if n := len(c.pieces); n > 0 && c.pieces[n-1].kind == pieceBuf && c.pieces[n-1].hi == lo {
		c.pieces[n-1].hi = len(c.wbuf)
		return
	}
	c.pieces = append(c.pieces, piece{kind: pieceBuf, lo: lo, hi: len(c.wbuf)})
}

// addPiece adds a piece of memory or file to the batch.
func (c *Conn) addPiece(p piece) {
	c.queued += p.size()
	c.pieces = append(c.pieces, p)
}

// encWriter is where the HPACK encoder writes: the batch buffer.
type encWriter Conn

func (w *encWriter) Write(p []byte) (int, error) {
	c := (*Conn)(w)
	c.wbuf = append(c.wbuf, p...)
	return len(p), nil
}

// activate puts s in the ring of streams with something to send.
func (c *Conn) activate(s *Stream) {
	if s.active || s.reset {
		return
	}
	s.active = true
	c.ringLen++
	if c.ring == nil {
		s.prev, s.next = s, s
		c.ring = s
		return
	}
	last := c.ring.prev
	s.prev, s.next = last, c.ring
	last.next, c.ring.prev = s, s
}

func (c *Conn) deactivate(s *Stream) {
	if !s.active {
		return
	}
	s.active = false
	c.ringLen--
	if s.next == s {
		c.ring = nil
	} else {
		s.prev.next, s.next.prev = s.next, s.prev
		if c.ring == s {
			c.ring = s.next
		}
	}
	s.prev, s.next = nil, nil
}

// WantsWrite reports whether Write has something to do.
func (c *Conn) WantsWrite() bool { return len(c.pieces) > c.pi || c.ring != nil && !c.failed }

// full reports whether the batch is as large as it gets.
func (c *Conn) full() bool {
	return len(c.wbuf) >= batchBytes || len(c.pieces) >= batchPieces
}

// fill fills a new batch from the streams in the ring.
func (c *Conn) fill() {
	for !c.full() && c.ring != nil {
		progress := false
		// The ring's length is counted, not walked: with a hundred
		// streams a batch takes frames from a few of them, and a walk
		// touched every stream's memory for each batch (fill was
		// 1.6 % of the samples, 64 KiB over h2c at 100 streams).
		n := c.ringLen
		// Each stream's share of what the batch still takes: a stream
		// that reads its frames from a file takes that much at once.
		c.share = int64(batchBytes-len(c.wbuf)) / int64(n)
		s := c.ring
		for i := 0; i < n && !c.full(); i++ {
			next := s.next
			if c.emit(s) {
				progress = true
			}
			s = next
		}
		if c.ring != nil && s.active {
			c.ring = s // the next round begins where this one stopped
		}
		if !progress {
			return
		}
	}
}

// emit adds the next frame of s to the batch. It reports whether it did.
func (c *Conn) emit(s *Stream) bool {
	if s.reset || s.waitThread || s.until > 0 || s.endQueued || s.txn == nil {
		c.deactivate(s)
		return false
	}
	if !s.headSent {
		c.writeHead(s)
		return true
	}
	return c.emitData(s)
}

// emitData adds one DATA frame of s, as large as http2_chunk_size, the
// peer's frame size and the windows allow.
func (c *Conn) emitData(s *Stream) bool {
	t := s.txn
	// Every segment taken: the producer makes more, or the body is
	// complete. An empty DATA frame needs no window.
	for {
		if _, ok := t.Piece(1); ok {
			break
		}
		if t.Producing() {
			if s.inBatch {
				return false // its output is in this batch
			}
			if s.turn == c.turn {
				c.again = true // once per turn of the loop
				return false
			}
			s.turn = c.turn
		}
		switch t.Refill() {
		case filters.OK:
			continue
		case filters.Done:
			c.dataFrame(s, 0, true)
			return true
		case filters.Again:
			c.wait(s)
			return false
		default:
			c.streamFailed(s)
			return true
		}
	}
	win := min(s.sendWindow, c.sendWindow)
	now := c.shared.now()
	if win <= 0 {
		// Stalled until a WINDOW_UPDATE or SETTINGS reopens it.
		if s.stalled == 0 {
			s.stalled = now
		}
		c.deactivate(s)
		return false
	}
	s.stalled = 0
	frame := min(chunkSize(t), c.peerMaxFrame)
	limit := win // what the windows and limit_rate let out now
	if t.LimitRate > 0 {
		allow, ok := t.RateAllowance()
		if !ok {
			s.until = now + int64(t.Delay)
			c.deactivate(s)
			return false
		}
		limit = min(limit, allow)
	}
	n := min(limit, int64(frame))
	p, _ := t.Piece(n)
	switch {
	case p.File == nil:
		size := int64(len(p.Mem))
		c.dataFrame(s, size, t.Ends(size))
		if size <= copyMax {
			c.wbuf = append(c.wbuf, p.Mem...)
			c.addBuf(len(c.wbuf) - int(size))
		} else {
			c.addPiece(piece{kind: pieceMem, mem: p.Mem})
		}
		t.Consume(size)
	case c.sendfile(s, t, &p, frame):
		c.dataFrame(s, p.Len, t.Ends(p.Len))
		c.addPiece(piece{kind: pieceFile, file: p.File, off: p.Off, n: p.Len})
		t.Consume(p.Len)
	default:
		if !s.pooled {
			switch c.readFrames(s, t, frame, limit) {
			case filters.OK:
				return true
			case filters.Error:
				c.streamFailed(s)
				return true
			}
			// Not in the page cache: a pool thread reads it.
		}
		if s.bufInBatch {
			return false
		}
		buf := s.buffer(int(p.Len))
		m, r := t.ReadFile(p.File, p.Off, buf)
		switch r {
		case filters.OK:
			s.pooled = false
		case filters.Again:
			if t.Wait == filters.WaitThread {
				s.pooled, s.cold = true, true
			}
			c.wait(s)
			return false
		default:
			c.streamFailed(s)
			return true
		}
		size := int64(m)
		c.dataFrame(s, size, t.Ends(size))
		c.addPiece(piece{kind: pieceMem, mem: buf[:m]})
		s.bufInBatch = true
		t.Consume(size)
	}
	return true
}

// readFrames adds DATA frames of s whose payloads are read from its file
// straight into the batch, each after its header, with one read: as many
// frames of at most frame bytes as the stream's share of the batch, limit
// (its windows and limit_rate: at least a byte) and the file's cached
// pages allow. So over TLS a batch of file data costs one read and one
// encryption pass, and no copy between them. It returns OK, Error, or Again when the
// first page is not cached (nothing is added: a pool thread reads it).
func (c *Conn) readFrames(s *Stream, t *filters.Txn, frame int, limit int64) filters.Result {
	room := max(int64(max(frame, turnBytes)), min(c.share, int64(batchBytes-len(c.wbuf))))
	p, _ := t.Piece(min(limit, room, int64(frame)*maxReadFrames))
	b := c.wbufTail()
	start := len(b)
	frames := int((p.Len + int64(frame) - 1) / int64(frame))
	b = slices.Grow(b, frames*frameHeaderLen+int(p.Len))
	iov := c.shared.iov[:0]
	for rest := int(p.Len); rest > 0; rest -= frame {
		size := min(rest, frame)
		b = appendFrameHeader(b, size, frameData, 0, s.id)
		iov = append(iov, b[len(b):len(b)+size])
		b = b[:len(b)+size]
	}
	m, r := t.ReadCached(p.File, p.Off, iov)
	clear(iov)
	if r != filters.OK {
		c.wbuf = b[:start]
		return r
	}
	// The frames the m bytes read fill; the last may be short.
	last := t.Ends(int64(m))
	end := start
	for rest := m; rest > 0; {
		size := min(rest, frame)
		rest -= size
		var flags uint8
		if rest == 0 && last {
			flags = flagEndStream
		}
		putFrameHeader(b[end:], size, frameData, flags, s.id)
		end += frameHeaderLen + size
		c.credit()
	}
	c.wbuf = b[:end]
	c.addBuf(start)
	s.sendWindow -= int64(m)
	c.sendWindow -= int64(m)
	s.inBatch = true
	t.Consume(int64(m))
	if last {
		c.ended(s, c.queued)
	}
	return filters.OK
}

// turnBytes is the file data a stream may add to a batch in one turn of
// the ring, whatever its share: with a hundred streams a share is 1 KiB
// or so, and a turn of one frame each left every 64 KiB response to be
// revisited four times, its state cold each time. A whole small response
// per turn cost 6-8 % less CPU per 64 KiB response over h2c, at 8 and at
// 100 streams per connection (h2load -c10, CUBIC and BBR, 11 rounds of
// 12); streams still take turns every 64 KiB.
const turnBytes = 64 << 10

// maxReadFrames bounds the frames of one readFrames: one read's buffers.
const maxReadFrames = iovMax

// sendfile reports whether the DATA payload p, of frames of frame bytes,
// goes out with sendfile: on a cleartext connection with sendfile on,
// for frames of at least sendfileFrame bytes, when its pages are cached
// or there is no thread pool to read them on (as the write filter
// decides). Otherwise it is read into the batch (readFrames), or from a
// cold disk into the stream's buffer on a pool thread.
//
// With aio threads, a stream whose file needed a pool thread once (cold),
// every stream of a connection whose sendfile once waited for the disk
// (slowDisk), and every stream whose file a response of any connection
// found behind a slow disk lately (File.SlowDisk: a sendfile or a pool
// read that took slowSend or more), reads into the batch with
// RWF_NOWAIT, which stops short at a page still being read: the pool's
// read starts readahead past what it read, and a look at a region probes
// three of its pages (cachestat counts a page in flight as present), so
// a sendfile there would wait for that disk on the loop. The write filter
// keeps HTTP/1.1 responses off the loop there the same way
// (docs/design.md, "The thread pool").
func (c *Conn) sendfile(s *Stream, t *filters.Txn, p *filters.Segment, frame int) bool {
	if c.tr.SendfileFD() < 0 || !t.Loc.Sendfile || frame < sendfileFrame {
		return false
	}
	if t.Loc.AIO.Mode != conf.AIOThreads {
		return true
	}
	if s.cold || c.slowDisk || p.File.SlowDisk(c.shared.now()) {
		return false
	}
	end := p.Off + p.Len
	if s.resFile == p.File && p.Off >= s.resFrom && end <= s.resTo {
		return true
	}
	// One look at the page cache covers the frames of the next
	// residentAhead bytes, as one look covers a sendfile_max_chunk over
	// HTTP/1.1: a look per frame cost three system calls per 8 KiB.
	if ahead := min(p.File.Size, p.Off+residentAhead); ahead > end && filters.Resident(p.File.FD, p.Off, ahead-p.Off) {
		s.resFile, s.resFrom, s.resTo = p.File, p.Off, ahead
		return true
	}
	return filters.Resident(p.File.FD, p.Off, p.Len)
}

// sendfileFrame is the smallest DATA frame whose payload is worth a
// sendfile of its own. Each frame's header must be written before it, so
// frames of 8 KiB (nginx's http2_chunk_size) cost two system calls per
// 8 KiB that way; read into the batch, a 128 KiB batch of them costs one
// preadv2 and one writev, and its two copies are cheaper than the 30
// calls saved (a 64 MiB file over h2c: 0.85-0.94 s of CPU per GiB sent
// against 1.96-2.04 s with sendfile). From 64 KiB frames on, which a
// client allows with SETTINGS_MAX_FRAME_SIZE, sendfile's copy saved
// outweighs its calls.
const sendfileFrame = 64 << 10

// residentAhead is how far one look at the page cache reaches.
const residentAhead = 2 << 20

// chunkSize is http2_chunk_size for t's location.
func chunkSize(t *filters.Txn) int {
	if t.Loc != nil && t.Loc.HTTP2ChunkSize > 0 {
		return int(t.Loc.HTTP2ChunkSize)
	}
	return defaultChunk
}

// defaultChunk is http2_chunk_size's default: HTTP/2's default frame
// size (RFC 9113 §4.2), which every client takes. nginx's is 8 KiB;
// 16 KiB frames halve the frames, and cost 7 % less CPU per 64 KiB
// response over h2c (h2load -c10 -m8: 15.4 against 14.3 µs).
const defaultChunk = 16 << 10

// dataFrame appends the header of a DATA frame of size bytes of s, whose
// payload the caller adds, and accounts for it.
func (c *Conn) dataFrame(s *Stream, size int64, last bool) {
	var flags uint8
	if last {
		flags = flagEndStream
	}
	c.queue(appendFrameHeader(c.wbufTail(), int(size), frameData, flags, s.id))
	c.credit()
	s.sendWindow -= size
	c.sendWindow -= size
	s.inBatch = true
	if last {
		c.ended(s, c.queued+size) // after the payload the caller adds next
	}
}

// ended notes that the batch holds the END_STREAM of s, ending at byte
// end of the batch.
func (c *Conn) ended(s *Stream, end int64) {
	s.endQueued = true
	s.endAt = end
	c.deactivate(s)
	if !s.inEnding {
		s.inEnding = true
		c.ending = append(c.ending, s)
	}
}

// wait parks s on what its response waits for: a thread-pool read
// (Resume ends it), or the next turn of the loop.
func (c *Conn) wait(s *Stream) {
	if s.txn.Wait == filters.WaitThread {
		s.waitThread = true
		c.deactivate(s)
		return
	}
	c.again = true
}

// streamFailed resets a stream whose response cannot go on (a file that
// shrank, a failed read): RST_STREAM with INTERNAL_ERROR, as nginx.
func (c *Conn) streamFailed(s *Stream) {
	c.resetStream(s, ErrInternal)
}

// batchDone ends a batch that was written whole: its buffers go back,
// and the streams whose END_STREAM or reset it carried are finished.
func (c *Conn) batchDone() {
	c.dropOutput()
	for _, s := range c.streams {
		s.inBatch, s.bufInBatch = false, false
	}
	ending := c.ending
	for i, s := range ending {
		ending[i] = nil
		s.inBatch, s.bufInBatch, s.inEnding = false, false, false
		if s.reset {
			c.finish(s)
			continue
		}
		c.closeLocal(s)
	}
	c.ending = ending[:0]
}

// closeWritten closes the streams whose END_STREAM the part of the batch
// written so far carried: the client has seen them end, and may open
// others in their place (RFC 9113 §5.1.2) before the rest of the batch
// is out. Each of them had its last frame in the batch there, so nothing
// of theirs is left to write. A stream that was reset waits for the
// batch's end, as batchDone does.
func (c *Conn) closeWritten() {
	ending := c.ending
	k := 0
	for _, s := range ending {
		if s.reset || s.endAt > c.written {
			ending[k] = s
			k++
			continue
		}
		s.inBatch, s.bufInBatch, s.inEnding = false, false, false
		c.closeLocal(s)
	}
	clear(ending[k:])
	c.ending = ending[:k]
}

// dropOutput gives the batch's buffers back.
func (c *Conn) dropOutput() {
	if c.wbuf != nil {
		c.shared.putWbuf(c.wbuf)
		c.wbuf = nil
	}
	if c.pieces != nil {
		c.shared.putPieces(c.pieces)
		c.pieces = nil
	}
	c.pi, c.pOff = 0, 0
	c.queued, c.written = 0, 0
}
