//go:build linux

// Package http2 is HTTP/2 (RFC 9113) on the worker's event loop: the
// frames of one connection, its streams and their flow control, HPACK
// (RFC 7541, golang.org/x/net/http2/hpack), and the output that
// interleaves the streams' responses in frames.
//
// A stream is state on the loop, never a goroutine. The worker reads the
// socket into the buffer the connection lends it (ReadBuffer, Received)
// and the connection parses the frames in it; a stream whose request head
// is complete goes to the worker (Handler.Request), which runs the same
// phases and filters as for HTTP/1.1 and hands the response back
// (Stream.Respond). Write then sends the heads and bodies in HEADERS and
// DATA frames, in batches written with one writev — or, on a cleartext
// connection, with sendfile for the payload of a DATA frame from a file
// whose pages are cached — until the socket or the windows are full.
//
// Ownership: everything here belongs to the worker's loop goroutine. A
// thread-pool read for a stream's body completes on the loop too
// (Stream.Resume).
package http2

import (
	"time"

	"golang.org/x/net/http2/hpack"

	"tern/filters"
)

// Handler is the worker's side of a connection.
type Handler interface {
	// Request takes a stream whose request head is complete and valid.
	// The worker answers with Stream.Respond or Stream.Reset, now or
	// later.
	Request(s *Stream)
	// Done ends the worker's part in a stream: its response was sent,
	// or the stream was reset, or the connection is closing. The worker
	// must not use s afterwards.
	Done(s *Stream)
}

// Config is what the configuration says of a connection.
type Config struct {
	// MaxStreams is http2_max_concurrent_streams.
	MaxStreams uint32
	// LineLimit bounds one field line and ListLimit the whole header
	// list, as large_client_header_buffers bounds an HTTP/1.1 head;
	// MaxFields bounds the number of fields.
	LineLimit, ListLimit, MaxFields int
	// Window is the receive window of each stream, for request bodies.
	Window uint32
	// KeepaliveTimeout closes a connection without streams; HeaderTimeout
	// bounds the wait for its first stream and a header block split in
	// frames; BodyTimeout the wait for
	// more of a request body; SendTimeout a stream that has data and no
	// window, and a socket that takes nothing.
	KeepaliveTimeout, HeaderTimeout, BodyTimeout, SendTimeout time.Duration
	// Budget is how many bytes one Write sends before it yields to
	// other connections (0: no limit).
	Budget int64
}

// Status is what Write says.
type Status int8

const (
	// Idle: everything that can be sent now was sent.
	Idle Status = iota
	// Blocked: the socket is full; write again on EPOLLOUT.
	Blocked
	// Yield: the turn's budget is spent, or a stream waits for the next
	// turn; write again on the next turn of the loop.
	Yield
	// Broken: the connection failed while writing; close it.
	Broken
)

// Conn is the HTTP/2 state of one connection.
type Conn struct {
	h      Handler
	shared *Shared
	tr     filters.Transport
	cfg    Config

	// Input.
	preface  int    // bytes of the client preface seen
	left     []byte // a partial frame, carried over to the next read
	leftLen  int    // its length, once ReadBuffer moved it
	settings bool   // the client's first SETTINGS came
	dec      reqDecoder
	hd       headDecoder
	block    []byte // a header block split over frames, until its end
	// A header block split in HEADERS and CONTINUATION frames: its
	// stream ID (0 when none is open), whether its HEADERS ended the
	// stream, the stream error its stream gets once it is decoded, the
	// bytes it took so far, and when it began.
	cont        uint32
	contEnd     bool
	contErr     ErrCode
	contStream  *Stream
	blockBytes  int
	blockStart  int64
	recvWindow  int64 // what the client may still send on the connection
	recvUnacked int64

	streams    []*Stream
	lastID     uint32 // the highest stream the client opened
	open       int    // streams counted against MaxStreams
	newStreams int    // streams opened by the current read

	// The peer's settings, and what we may still send.
	peerWindow   int64 // SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame int
	sendWindow   int64

	// Output (output.go, write_linux.go).
	enc      *hpack.Encoder
	memo     [memoFields]fieldMemo // see indexed
	sent     [8]sentField          // see repeatable
	sentNext uint8
	tableGen uint32 // changes of enc's dynamic table
	wbuf     []byte
	pieces   []piece
	pi       int   // the first piece not wholly written
	pOff     int64 // how much of it is
	queued   int64 // the batch's bytes
	written  int64 // how many of them are written
	ending   []*Stream
	ring     *Stream // streams with something to send
	ringLen  int     // how many
	turn     uint64
	again    bool  // a stream waits for the next turn
	share    int64 // a stream's share of the batch being filled
	blocked  int64 // loop time the socket filled up, 0 when it takes output
	scratch  []byte
	tail     int    // where the frame being queued starts in wbuf
	name     []byte // a field name lower-cased
	werr     error
	// slowDisk: a sendfile of file data on the loop waited for the disk
	// (slowSend or longer); file data goes into the batch from then on
	// (sendfile).
	slowDisk bool

	// Life.
	goaway     bool // GOAWAY sent: no new streams
	goawayID   uint32
	failed     bool // a connection error: GOAWAY sent, input ignored
	err        string
	errCode    ErrCode
	peerGoaway bool
	idleSince  int64

	// Abuse accounting (abuse.go).
	floodStart   int64
	floods       int
	resets       int
	closedCredit int
}

// New starts the HTTP/2 side of a connection: its SETTINGS go out with
// the first Write. tr is what frames are written through.
func New(h Handler, sh *Shared, tr filters.Transport, cfg Config) *Conn {
	cfg.Window = max(cfg.Window, defaultWindow)
	c := &Conn{
		h: h, shared: sh, tr: tr, cfg: cfg,
		recvWindow:   defaultWindow,
		peerWindow:   defaultWindow,
		peerMaxFrame: minMaxFrameSize,
		sendWindow:   defaultWindow,
		idleSince:    sh.now(),
	}
	c.hd.lim = &c.cfg
	c.dec = newReqDecoder(sh, defaultTableSize)
	c.enc = hpack.NewEncoder((*encWriter)(c))
	c.queue(appendSettings(c.wbufTail(), []setting{
		{settingMaxConcurrentStreams, cfg.MaxStreams},
		{settingInitialWindowSize, cfg.Window},
		{settingMaxHeaderListSize, uint32(cfg.ListLimit)},
	}))
	// The connection's window opens wide at once, as nginx's: request
	// bodies are bounded by their streams' windows and dropped as they
	// are read, so a wide connection window costs nothing, and a client
	// need not wait for it (nginx's test client waits for this frame).
	c.queue(appendWindowUpdate(c.wbufTail(), 0, maxWindow-defaultWindow))
	c.recvWindow = maxWindow
	return c
}

// Err says why the connection failed: the error code of its GOAWAY and
// what the client did, or "" while it has not.
func (c *Conn) Err() (ErrCode, string) { return c.errCode, c.err }

// fail ends the connection with a connection error (RFC 9113 §5.4.1):
// a GOAWAY with code, then the connection closes once it is written.
// The rest of the input is ignored.
func (c *Conn) fail(code ErrCode, why string) {
	if c.failed {
		return
	}
	c.failed = true
	c.errCode, c.err = code, why
	c.sendGoAway(code)
}

// sendGoAway queues a GOAWAY with the last stream the connection took.
func (c *Conn) sendGoAway(code ErrCode) {
	c.goaway = true
	c.goawayID = c.lastID
	c.queue(appendGoAway(c.wbufTail(), c.lastID, code))
}

// Shutdown stops the connection gracefully (a reload, a graceful stop,
// keepalive_timeout): GOAWAY with the last stream it took, whose streams
// are finished; Finished reports when they are.
func (c *Conn) Shutdown() {
	if !c.goaway {
		c.sendGoAway(ErrNo)
	}
}

// Finished reports whether the connection is done: it failed or was shut
// down, or the client went away, and no stream is left; the caller
// closes it once Write is Idle.
func (c *Conn) Finished() bool {
	return (c.failed || c.goaway || c.peerGoaway && c.lastID > 0) && (c.failed || len(c.streams) == 0)
}

// Close ends every stream the worker still has, when the connection
// closes. The worker closes the socket.
func (c *Conn) Close() {
	for len(c.streams) > 0 {
		s := c.streams[len(c.streams)-1]
		s.reset = true
		c.remove(s)
	}
	for _, s := range c.ending {
		c.finish(s)
	}
	c.ending = c.ending[:0]
	c.dropOutput()
	if c.left != nil {
		c.shared.putLeft(c.left)
		c.left = nil
	}
	c.dropBlock()
}

// Busy reports whether the connection has streams, or a partial frame:
// it is not idle.
func (c *Conn) Busy() bool { return len(c.streams) > 0 || len(c.left) > 0 || c.cont != 0 }

// stream returns the open stream id, nil when it has none.
func (c *Conn) stream(id uint32) *Stream {
	for _, s := range c.streams {
		if s.id == id {
			return s
		}
	}
	return nil
}

// idle reports whether id names a stream the client has not opened
// (RFC 9113 §5.1): even (we never push), or above the last it opened.
func (c *Conn) idle(id uint32) bool { return id&1 == 0 || id > c.lastID }

// newStream opens stream id.
func (c *Conn) newStream(id uint32) *Stream {
	s := c.shared.getStream()
	s.init(c, id)
	c.streams = append(c.streams, s)
	s.counted = true
	c.open++
	return s
}

// remove takes s out of the connection: the worker is done with it now,
// or once the batch that holds its frames is written.
func (c *Conn) remove(s *Stream) {
	for i, o := range c.streams {
		if o == s {
			last := len(c.streams) - 1
			c.streams[i] = c.streams[last]
			c.streams[last] = nil
			c.streams = c.streams[:last]
			break
		}
	}
	if s.counted {
		s.counted = false
		c.open--
	}
	c.credit()
	c.deactivate(s)
	if len(c.streams) == 0 {
		c.idleSince = c.shared.now()
	}
	if s.inBatch {
		// Its frames are in the batch being written: it is finished
		// once that is out.
		s.reset = true
		if !s.inEnding {
			s.inEnding = true
			c.ending = append(c.ending, s)
		}
		return
	}
	c.finish(s)
}

// finish hands s back to the worker, if it still has it, and then to the
// free list unless it is still open.
func (c *Conn) finish(s *Stream) {
	if s.withWorker {
		s.withWorker = false
		c.h.Done(s)
	}
	if !s.counted {
		c.shared.putStream(s)
	}
}

// resetStream ends s with RST_STREAM (a stream error, RFC 9113 §5.4.2).
func (c *Conn) resetStream(s *Stream, code ErrCode) {
	c.queue(appendRSTStream(c.wbufTail(), s.id, code))
	s.reset = true
	c.remove(s)
}

// streamError answers a frame on stream id, which tern does not hold
// (closed or refused), with RST_STREAM.
func (c *Conn) streamError(id uint32, code ErrCode) {
	c.queue(appendRSTStream(c.wbufTail(), id, code))
}

// closeLocal notes that END_STREAM of s was written.
func (c *Conn) closeLocal(s *Stream) {
	s.localClosed = true
	if s.withWorker {
		s.withWorker = false
		c.h.Done(s)
	}
	if s.remoteClosed || s.reset {
		c.remove(s)
		return
	}
	// The client still sends a body nobody reads: it may go on within
	// client_max_body_size and client_body_timeout, and is told to stop
	// beyond either (RFC 9113 §8.1: RST_STREAM with NO_ERROR).
	if s.MaxBody > 0 && s.bodyRecv >= s.MaxBody {
		c.resetStream(s, ErrNo)
		return
	}
	s.bodyBy = c.shared.now() + int64(c.cfg.BodyTimeout)
}

// Deadline is the loop time by which Timeout must run, 0 for none.
func (c *Conn) Deadline() int64 {
	if c.failed {
		return 0
	}
	var d int64
	earliest := func(t int64) {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if len(c.streams) == 0 && c.cont == 0 && len(c.pieces) == 0 {
		earliest(c.idleSince + int64(c.idleTimeout()))
	}
	if c.cont != 0 {
		earliest(c.blockStart + int64(c.cfg.HeaderTimeout))
	}
	if c.blocked > 0 {
		earliest(c.blocked + int64(c.cfg.SendTimeout))
	}
	for _, s := range c.streams {
		earliest(s.until)
		earliest(s.bodyBy)
		if s.stalled > 0 {
			earliest(s.stalled + int64(s.sendTimeout(c)))
		}
	}
	return d
}

// Timeout acts on the deadlines that passed. It reports false when the
// connection is to be closed at once, without a word: its socket takes
// nothing, or the client stopped in the middle of a header block.
func (c *Conn) Timeout() bool {
	now := c.shared.now()
	switch {
	case c.blocked > 0 && now >= c.blocked+int64(c.cfg.SendTimeout):
		c.err = "client timed out receiving frames"
		return false
	case c.cont != 0 && now >= c.blockStart+int64(c.cfg.HeaderTimeout):
		c.err = "client timed out sending a header block"
		return false
	}
	if len(c.streams) == 0 && c.cont == 0 && len(c.pieces) == 0 &&
		now >= c.idleSince+int64(c.idleTimeout()) {
		c.Shutdown()
		return true
	}
	for i := 0; i < len(c.streams); i++ {
		s := c.streams[i]
		if s.until > 0 && now >= s.until {
			s.until = 0
			c.activate(s)
		}
		if s.bodyBy > 0 && now >= s.bodyBy {
			// The response went out; the client is told to stop
			// sending the body nobody reads.
			c.resetStream(s, ErrNo)
			i--
			continue
		}
		if s.stalled > 0 && now >= s.stalled+int64(s.sendTimeout(c)) {
			// A client that keeps a window shut holds a response and
			// its memory for nothing (a slow-read attack): the
			// connection ends.
			c.fail(ErrEnhanceYourCalm, "client kept a flow-control window shut for send_timeout")
			return true
		}
	}
	return true
}

// idleTimeout is how long a connection without streams waits:
// client_header_timeout for its first stream, as for an HTTP/1.1
// request's head, then keepalive_timeout.
func (c *Conn) idleTimeout() time.Duration {
	if c.lastID == 0 {
		return c.cfg.HeaderTimeout
	}
	return c.cfg.KeepaliveTimeout
}

// sendTimeout is the send_timeout of the stream's response.
func (s *Stream) sendTimeout(c *Conn) time.Duration {
	if s.txn != nil && s.txn.Loc != nil {
		return s.txn.Loc.SendTimeout
	}
	return c.cfg.SendTimeout
}
