//go:build linux

package http2

import (
	"tern/filters"
)

// Stream is one request and its response on a connection (RFC 9113 §5.1).
// It is state on the loop, no goroutine: the connection reads its frames,
// the worker builds its response from its Head, and the connection sends
// the response in frames as the windows allow.
//
// Ownership: the loop goroutine. The worker holds a stream from
// Handler.Request to Handler.Done and must not touch it afterwards: the
// connection may reuse it for another stream.
type Stream struct {
	conn *Conn
	id   uint32
	head Head

	// What the client may still send on the stream (our window), and
	// what it sent of the body.
	recvWindow  int64
	recvUnacked int64 // consumed, not yet given back in a WINDOW_UPDATE
	bodyRecv    int64
	// MaxBody is client_max_body_size for the stream's body, 0 for no
	// limit: past it the stream's window is not given back, so that a
	// client cannot make tern discard more.
	MaxBody int64

	// What we may still send on the stream: the peer's window. It may
	// fall below zero when the peer shrinks SETTINGS_INITIAL_WINDOW_SIZE
	// (RFC 9113 §6.9.2).
	sendWindow int64

	txn *filters.Txn // the response, from Respond on
	// resFile's [resFrom, resTo) was in the page cache at the last look
	// (Conn.sendfile).
	resFile        *filters.File
	resFrom, resTo int64
	// buf holds file data read for the stream's DATA frames, borrowed
	// while it sends a body that is neither cached nor sent with
	// sendfile.
	buf []byte

	// The stream's life: the worker has it (Request called, Done not
	// yet), the client ended its half (END_STREAM), we ended ours
	// (END_STREAM written), it was reset.
	withWorker   bool
	remoteClosed bool
	endQueued    bool  // END_STREAM is in the batch being written
	endAt        int64 // where in that batch it ends (closeWritten)
	inEnding     bool  // in Conn.ending: finished once the batch is out
	localClosed  bool
	reset        bool
	// counted says that the stream counts against
	// SETTINGS_MAX_CONCURRENT_STREAMS.
	counted bool

	// Sending: the head went out; the stream waits for a thread-pool
	// read (Resume), for a limit_rate timer (until), or put frames in
	// the batch being written (its memory must not change until it is).
	headSent   bool
	waitThread bool
	until      int64
	inBatch    bool
	bufInBatch bool
	// pooled: its file data is being read on a pool thread into buf,
	// or was, and is taken from there next (ReadFile).
	pooled bool
	// cold: a pool thread had to read its file data once; the rest is
	// read into the batch, never sent with sendfile (Conn.sendfile).
	cold bool
	turn uint64 // the Write call in which its producer last ran
	// stalled is the loop time the stream began to wait for a window
	// with data to send, 0 when it is not waiting.
	stalled int64
	// bodyBy is the loop time by which more of the request body must
	// come (client_body_timeout), 0 when none is expected.
	bodyBy int64

	// The ring of streams with something to send.
	prev, next *Stream
	active     bool

	// User is the worker's request.
	User any
}

// ID is the stream identifier.
func (s *Stream) ID() uint32 { return s.id }

// Head is the request head.
func (s *Stream) Head() *Head { return &s.head }

// Respond starts sending t's response: the head, then the body. The
// response's filters have run; the stream takes the head and body from t
// (filters.Txn's Piece, Consume, Refill) and calls t.Owner.Resume-style
// hooks through Resume. The caller then lets the connection write.
func (s *Stream) Respond(t *filters.Txn) {
	if s.reset || s.txn != nil {
		return
	}
	s.txn = t
	t.HeadLen = 0
	s.conn.activate(s)
}

// Resume says that the thread-pool read the stream waited for is done.
func (s *Stream) Resume() {
	if s.waitThread {
		s.waitThread = false
		if !s.reset {
			s.conn.activate(s)
		}
	}
}

// Reset ends the stream with RST_STREAM: the worker closes a request
// without a response (return 444), or its response failed.
func (s *Stream) Reset(code ErrCode) {
	if !s.reset {
		s.conn.resetStream(s, code)
	}
}

// Sent reports whether the stream's whole response went out.
func (s *Stream) Sent() bool { return s.localClosed }

// BodyReceived is how many bytes of request body the stream has
// received (DATA payloads without padding).
func (s *Stream) BodyReceived() int64 { return s.bodyRecv }

// Waiting reports whether the stream waits for a thread-pool read.
func (s *Stream) Waiting() bool { return s.waitThread }

// bufKeep is the read buffer a stream borrows: one DATA frame of the
// largest http2_chunk_size tern sends at once.
func (s *Stream) buffer(n int) []byte {
	if cap(s.buf) < n {
		if s.buf != nil {
			s.conn.shared.putBuf(s.buf)
		}
		s.buf = s.conn.shared.getBuf(n)
	}
	return s.buf[:n]
}

func (s *Stream) init(c *Conn, id uint32) {
	s.conn, s.id = c, id
	s.head.reset()
	s.recvWindow = int64(c.cfg.Window)
	s.sendWindow = int64(c.peerWindow)
}

// release forgets the stream's state for its next use.
func (s *Stream) release() {
	if s.buf != nil {
		s.conn.shared.putBuf(s.buf)
	}
	h := s.head
	*s = Stream{head: h}
}
