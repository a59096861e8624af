package filters

import (
	"time"

	"tern/conf"
	"tern/threadpool"
)

// Result is what a filter tells the chain, after nginx's return codes.
type Result int8

const (
	// OK: go on with the next filter.
	OK Result = iota
	// Again: the response is not finished and waits for what Txn.Wait
	// names; the owner resumes it with Resume.
	Again
	// Done: the whole response was sent.
	Done
	// Error: the connection is broken or the response cannot be sent;
	// close the connection.
	Error
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Again:
		return "again"
	case Done:
		return "done"
	}
	return "error"
}

// Wait is what a response that returned Again waits for.
type Wait int8

const (
	// WaitNone: nothing; the response is done or not started.
	WaitNone Wait = iota
	// WaitWrite: the socket to become writable again (EPOLLOUT).
	WaitWrite
	// WaitPost: the next loop iteration. The write filter sent its
	// sendfile_max_chunk and yields so that other connections get a turn.
	WaitPost
	// WaitThread: a thread-pool task to complete; its completion calls
	// Owner.Resume.
	WaitThread
	// WaitTimer: Txn.Delay to pass. The response is limited by
	// limit_rate and has sent what it may for now.
	WaitTimer
)

// Filter is one step of the response chain. Header runs once per
// response, in chain order; a filter changes the response's status,
// headers or body and returns OK, or ends the chain early. The last filter
// is the write filter, which returns Done, Again or Error; the chain
// resumes it (Resumer) until it is Done.
type Filter interface {
	Header(t *Txn) Result
}

// Resumer is the filter that continues an unfinished response: the write
// filter.
type Resumer interface {
	Resume(t *Txn) Result
}

// Producer makes a body while it is being sent: compressed output, chunk
// framing around another producer's output. It is nginx's body filter
// chain cut to what a static server needs: a handler's body is complete
// when the chain runs, and only a filter that transforms it (gzip, then
// chunked) produces segments later.
//
// The write filter calls Produce when it has sent every segment of the
// body, after emptying Body.Segs; so a producer may reuse the memory its
// previous segments pointed at. It calls Produce at most once per turn of
// the event loop and yields (WaitPost) before the next piece, so that one
// large compressed response cannot hold the loop.
type Producer interface {
	// Produce appends the next segments to t.Resp.Body.Segs (possibly
	// none) and returns OK when more will follow, Done when these are
	// the last, Again when it waits for what it set in t.Wait (a
	// thread-pool read) having appended nothing, or Error with t.Err.
	Produce(t *Txn) Result
	// Release gives back what the producer holds (a compressor, its
	// buffers). It is called once, when the response ends, sent or not.
	Release(t *Txn)
}

// Owner is the connection a transaction belongs to; the write filter
// calls Resume when a thread-pool task it waited for completes.
type Owner interface {
	Resume()
}

// Transport carries a response to the client: the socket itself
// (Socket), or TLS over it. The write filter writes through it and never
// to a descriptor of its own choosing, so that a new way to the client
// (kernel TLS, say) is one more Transport.
type Transport interface {
	// Writev sends bufs in order and returns how many bytes it took: all
	// of them, or fewer when the socket is full (an EPOLLOUT follows).
	// more says that more of the response follows at once, so that a
	// partial segment may be held back (MSG_MORE, or unflushed records).
	Writev(bufs [][]byte, more bool) (int, error)
	// SendfileFD is the descriptor that file data may go to without
	// passing through memory — sendfile(2), on the loop or a pool
	// thread — or -1 when it must go through Writev: TLS encrypts in
	// user space. A kernel TLS transport would return its socket here
	// once the kernel has the keys, and file bodies would take the
	// sendfile path again unchanged.
	SendfileFD() int
	// Flush sends what the transport holds back (TLS records not yet
	// written). It returns syscall.EAGAIN when the socket is full.
	Flush() error
}

// Chain is the ordered filter chain of a worker; its last filter must be a
// Resumer.
type Chain []Filter

// Run runs every filter's Header in order on a new response.
func (c Chain) Run(t *Txn) Result {
	for _, f := range c {
		if r := f.Header(t); r != OK {
			return r
		}
	}
	return Done
}

// Resume continues a response that returned Again.
func (c Chain) Resume(t *Txn) Result {
	return c[len(c)-1].(Resumer).Resume(t)
}

// Txn is one request and its response as they go through the chain. A
// worker keeps a pool of them: a connection borrows one while a request
// is being served and gives it back when the response is finished, so an
// idle keep-alive connection holds none.
type Txn struct {
	Req  Request
	Resp Response
	// Loc holds the settings that apply: the matched location's.
	Loc *conf.Location
	// Env is the worker's shared state.
	Env *Env
	// FD is the connection's socket, for what is asked of the socket
	// itself (its local address); the response goes out through Conn.
	FD int
	// Conn is what the response is written to.
	Conn Transport
	// Owner resumes the connection after a thread-pool completion.
	Owner Owner
	// Vars evaluates the variables of configured values (add_header,
	// expires); the worker sets it once, to the request that embeds
	// this Txn, and Reset keeps it.
	Vars conf.Vars
	// Send100 prepends "100 Continue" to the head: the client is waiting
	// for it before it sends the body that will be discarded.
	Send100 bool

	// LimitRate paces the response to this many bytes a second, 0 for
	// no limit, after LimitRateAfter bytes (limit_rate,
	// limit_rate_after). RateStart is the loop time the response
	// started (see ratelimit.go).
	LimitRate      int64
	LimitRateAfter int64
	RateStart      int64
	// Delay is what a WaitTimer waits.
	Delay time.Duration

	// Head is the serialised response head.
	Head []byte
	// Buf is scratch space owned by the transaction: the decoded path,
	// the file path, header values the filters compute.
	Buf []byte

	// Wait is what an Again waits for.
	Wait Wait
	// HeadLen is the size of the head, for bytes_sent in the access log.
	HeadLen int
	// Sent counts bytes written, head included.
	Sent int64
	// Err says why a response ended in Error, for the error log.
	Err error

	// write progress: the head sent so far, then the current segment and
	// the bytes of it already sent.
	headSent int
	seg      int
	segOff   int64
	// task is the write filter's thread-pool task, kept with the Txn so
	// that it is allocated once; filled is the region it has just
	// brought into the page cache, which this turn sends without asking
	// the cache again. cached is the region the page cache last said it
	// holds whole, at cachedAt (the loop's clock), which the sends of
	// the next trustCached do not ask about again.
	task     any
	filled   filled
	cached   filled
	cachedAt int64
	// cold is the last region the pool was asked to read: ahead of it,
	// readahead may still be in flight (see coldReach). slowDisk is set
	// once the pool took slowFill or more to read one, or a read on the
	// loop's thread waited that long (slowRead): from then on, in flight
	// may be anywhere.
	cold     filled
	slowDisk bool
	// nagle is set while the socket has TCP_NODELAY off for this
	// response's file data (see setNagle).
	nagle bool
	// slowPeer is set while this response's client reads slower than
	// the loop sends: a file send came back short or found the socket
	// full, and no send since that poll(2) let through went out whole.
	// room is what the loop knows of the socket's room before the next
	// file send (see hasRoom).
	slowPeer bool
	room     room
	// pool is the thread pool of poolLoc's aio in poolEnv (offloadable),
	// kept across responses: neither changes while a worker runs, and
	// the lookup by name was a map access per send.
	poolLoc *conf.Location
	poolEnv *Env
	pool    *threadpool.Pool
	// memBuf holds file data on its way through a transport that cannot
	// take file data directly (TLS); allocated on first use, kept with
	// the Txn.
	memBuf []byte

	// The filters' per-response state, kept with the Txn so that a
	// response allocates nothing once the buffers have grown.
	//
	// vals holds header values the filters format (Content-Range,
	// Expires, a weak ETag, add_header values) and a multipart
	// response's boundary lines. Appending may move it; a slice taken
	// earlier still points at the old array, whose bytes never change.
	vals []byte
	// ranges are a Range header's ranges, in request order.
	ranges []byteRange
	// orig is the body as the handler built it, which the range filter
	// slices.
	orig []Segment
	// notModified marks a 304 made from this response's 200 by the
	// not-modified filter: the gzip filter still adds the Vary and
	// weak ETag the 200 would have had (RFC 9110 §15.4.5).
	notModified bool
	// recode is the recoding CharsetFilter chose for this response.
	recode *conf.Recode
	// producerDone is set once the body's producer returned Done.
	producerDone bool
	// chunker frames a producer's output as chunks.
	chunker chunker
}

// room is what the write filter knows of a socket's room for the next
// file send.
type room uint8

const (
	roomUnknown   room = iota
	roomSignalled      // an EPOLLOUT said so, and nothing was sent since
	roomPolled         // poll(2) said so, and nothing was sent since
)

// filled is a region of a file known to be in the page cache.
type filled struct {
	file     *File
	off, end int64
}

// Reset prepares t for a new request, keeping its buffers.
func (t *Txn) Reset() {
	t.releaseProducer()
	t.Req.Reset()
	t.Resp.Reset()
	t.Loc = nil
	t.Send100 = false
	t.LimitRate, t.LimitRateAfter, t.RateStart, t.Delay = 0, 0, 0, 0
	t.Head = t.Head[:0]
	t.Buf = t.Buf[:0]
	t.Wait = WaitNone
	t.HeadLen = 0
	t.Sent = 0
	t.Err = nil
	t.headSent = 0
	t.filled = filled{}
	t.cached = filled{}
	t.cold, t.slowDisk = filled{}, false
	t.nagle = false
	t.slowPeer, t.room = false, roomUnknown
	t.seg = 0
	t.segOff = 0
	t.resetFilters()
}

const (
	// maxKeptVals bounds the value buffer a Txn keeps between
	// responses: the boundary lines of a few hundred ranges.
	maxKeptVals = 32 << 10
	// maxKeptRanges bounds the range list a Txn keeps.
	maxKeptRanges = 128
)

// resetFilters forgets what the filters held for the last response,
// keeping buffers of reasonable size for the next one.
func (t *Txn) resetFilters() {
	t.vals = keep(t.vals, maxKeptVals)
	t.ranges = keep(t.ranges, maxKeptRanges)
	clear(t.orig)
	t.orig = keep(t.orig, maxKeptSegments)
	t.notModified = false
	t.recode = nil
	t.producerDone = false
	t.chunker = chunker{}
}

// keep empties s, or drops it when it grew past limit.
func keep[E any](s []E, limit int) []E {
	if cap(s) > limit {
		return nil
	}
	return s[:0]
}

// BodySent is how many body bytes went out.
func (t *Txn) BodySent() int64 {
	if n := t.Sent - int64(t.HeadLen); n > 0 {
		return n
	}
	return 0
}
