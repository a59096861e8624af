//go:build linux

package worker

import (
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/worker/http2"
	"tern/worker/proxyproto"
	"tern/worker/ssl"
)

// connState is where a connection is in its life.
type connState uint8

const (
	// stIdle waits for the first byte of a request: a fresh connection,
	// or a keep-alive one between requests. It holds no buffer and no
	// request unless pipelined bytes are already buffered.
	stIdle connState = iota
	// stHead reads a request head.
	stHead
	// stWrite sends a response; it waits for what the Txn's Wait says.
	stWrite
	// stBody discards the rest of a request body after the response.
	stBody
	// stOpen waits for a pool thread to resolve a path that would have
	// made the loop wait for the disk (openwait_linux.go).
	stOpen
	// stWait is a request parked in its phases (statusPark) until a pool
	// thread checked a password or read a user file; its phases then run
	// again.
	stWait
	// stHello reads a ClientHello on a TLS address, and stHandshake
	// waits for the handshake goroutine (tls_linux.go).
	stHello
	stHandshake
	// stH2 is an HTTP/2 connection: its streams are its requests
	// (h2_linux.go).
	stH2
	// stLinger has sent its last response and half-closed the socket; it
	// reads and drops what the client still sends, so that closing does
	// not reset the connection under the response (nginx's lingering
	// close).
	stLinger
	stClosed
)

const (
	// lingeringTimeout is how long a lingering close waits for more
	// input; lingeringTime bounds the whole of it (nginx's defaults).
	lingeringTimeout = 5 * time.Second
	lingeringTime    = 30 * time.Second
)

// conn is one client connection. An idle plain one is this struct
// alone, its epoll slot, its timer's place in the loop's heap and its
// fd: buffers and request state are borrowed from the worker while a
// request is in progress, and what only TLS, HTTP/2, the PROXY protocol
// or a lingering close need is in a connExt that the others never
// allocate. Each byte here is about 10 KB per 10,000 idle connections
// (TestIdleConnSize pins the size).
type conn struct {
	event.Timer
	w   *Worker
	rq  *request
	buf *rbuf
	// x is the connection's connExt, nil on a plain HTTP/1.x one that
	// has not begun a lingering close.
	x  *connExt
	id uint64
	// born is the loop time of the accept ($connection_time).
	born int64
	// uncounted is the bytes read from the connection that no finished
	// response has been charged with yet.
	uncounted uint64
	peer      peerAddr
	listener  uint16
	fd        int32
	requests  uint32
	// idlePrev and idleNext link the worker's idle list (connList).
	idlePrev, idleNext int32
	state              connState

	// The socket's readiness, kept as the level it is: epoll reports
	// each change once (edge-triggered), so what it said stays true
	// until a read or write finds otherwise.
	readReady  bool // input may be waiting: until EAGAIN, or a short read before the peer's FIN
	writeReady bool // the socket may take more output
	peerShut   bool // the peer sent its FIN (EPOLLRDHUP): a read returns 0 once the input is drained
	broken     bool // EPOLLHUP or EPOLLERR: every read and write fails from now on
	posted     bool
	inIdle     bool
	closing    bool // close once the thread-pool task or handshake in flight is done
}

// connExt is the state of a connection that only some connections
// have. The worker keeps given-back ones for the next connection that
// needs one (getExt).
type connExt struct {
	// tls is the connection's TLS, nil on a plain address.
	tls *ssl.Conn
	// h2 is the connection's HTTP/2 state, nil on HTTP/1.x.
	h2 *http2.Conn
	// proxy is what the PROXY protocol header said, when hasProxy
	// (proxyconn_linux.go). Behind a pointer, so that the TLS and
	// HTTP/2 connections, which have no header, do not carry its 72
	// bytes; putExt keeps it for the connExt's next connection.
	proxy *proxyproto.Header
	// lingerBy is the loop time a lingering close ends.
	lingerBy   int64
	hasProxy   bool
	awaitProxy bool // a PROXY protocol header comes first
	plainTLS   bool // plain HTTP on a TLS address: its request gets 497
	h2logged   bool // the HTTP/2 connection error was logged
}

// ext returns the connection's connExt, taking one from the worker the
// first time.
func (c *conn) ext() *connExt {
	if c.x == nil {
		c.x = c.w.getExt()
	}
	return c.x
}

// tlsConn returns the connection's TLS, nil on a plain connection.
func (c *conn) tlsConn() *ssl.Conn {
	if c.x == nil {
		return nil
	}
	return c.x.tls
}

// h2Conn returns the connection's HTTP/2 state, nil on HTTP/1.x.
func (c *conn) h2Conn() *http2.Conn {
	if c.x == nil {
		return nil
	}
	return c.x.h2
}

// proxyHeader returns what the connection's PROXY protocol header said,
// nil without one.
func (c *conn) proxyHeader() *proxyproto.Header {
	if c.x == nil || !c.x.hasProxy {
		return nil
	}
	return c.x.proxy
}

func (w *Worker) getExt() *connExt {
	if n := len(w.extFree); n > 0 {
		x := w.extFree[n-1]
		w.extFree = w.extFree[:n-1]
		return x
	}
	return new(connExt)
}

func (w *Worker) putExt(x *connExt) {
	*x = connExt{proxy: x.proxy}
	w.extFree = append(w.extFree, x)
}

// peerAddr is the client's address in 18 bytes, where a netip.AddrPort
// takes 32: the address in its 16-byte form (an IPv4 one mapped) and
// the port. Port 0, which no TCP peer has, is no address (a socketpair
// in tests).
type peerAddr struct {
	ip   [16]byte
	port uint16
}

// addrPort returns the address as the rest of the worker uses it.
func (p *peerAddr) addrPort() netip.AddrPort {
	if p.port == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom16(p.ip).Unmap(), p.port)
}

// Event takes the epoll events of the connection.
func (c *conn) Event(ev uint32) {
	defer c.recoverPanic()
	if c.state == stHandshake {
		c.x.tls.Poke() // the handshake goroutine does the I/O
		return
	}
	if t := c.tlsConn(); t != nil {
		if ev&(event.RDHup|event.Err|event.Hup) != 0 {
			t.Shut()
		} else if ev&event.In != 0 {
			t.Readable()
		}
	}
	if ev&(event.Err|event.Hup) != 0 {
		// Let the next read or write find out what happened; they
		// never wait again.
		c.broken = true
		c.readReady, c.writeReady = true, true
	}
	if ev&event.RDHup != 0 {
		// The FIN may have come in the segment that brought the last
		// request bytes: a read that drains them is short, and no
		// edge will follow, so input stays ready until a read
		// returns 0.
		c.peerShut = true
	}
	if ev&event.Out != 0 {
		c.writeReady = true
	}
	if ev&(event.In|event.RDHup) != 0 {
		c.readReady = true
	}
	c.drive()
}

// Posted resumes a response that yielded after sendfile_max_chunk.
func (c *conn) Posted() {
	defer c.recoverPanic()
	if !c.posted {
		return
	}
	c.posted = false
	testPanic(c, "posted")
	if c.state == stH2 {
		c.drive()
		return
	}
	if c.state == stWrite && c.rq.Wait == filters.WaitPost {
		c.afterWrite(c.w.chain.Resume(&c.rq.Txn))
		c.drive()
	}
}

// Resume continues a response after its thread-pool task completed
// (filters.Owner).
func (c *conn) Resume() {
	defer c.recoverPanic()
	if c.closing {
		c.close()
		return
	}
	if c.state == stWrite && c.rq.Wait == filters.WaitThread {
		c.afterWrite(c.w.chain.Resume(&c.rq.Txn))
		c.drive()
	}
}

// Timeout closes a connection whose timer expired: idle for
// keepalive_timeout, a head slower than client_header_timeout, a body
// slower than client_body_timeout, a client slower than send_timeout, or
// a lingering close that is over. A response paused by limit_rate goes
// on instead.
func (c *conn) Timeout() {
	defer c.recoverPanic()
	testPanic(c, "timer")
	switch c.state {
	case stHead:
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client timed out reading request head")
	case stHello, stHandshake:
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client timed out in TLS handshake")
	case stOpen, stWait:
		if c.state == stWait && c.rq.parkedOn == parkDelay {
			c.unpark() // limit_req's delay is over
		}
		return // else a deadline left over from before the request; the pool answers
	case stH2:
		c.timeoutH2()
		return
	case stWrite:
		if c.rq.Wait == filters.WaitTimer {
			// limit_rate's pause is over.
			c.afterWrite(c.w.chain.Resume(&c.rq.Txn))
			c.drive()
			return
		}
		if c.rq.Wait != filters.WaitWrite {
			// A keep-alive or header deadline left over from before
			// the response: only send_timeout applies now, and only
			// while waiting for the socket.
			return
		}
		c.rq.errLog().WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client timed out receiving response")
	case stBody:
		c.rq.errLog().WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client timed out sending body")
	}
	c.close()
}

// pausedReset ends a response that limit_rate paused when the client
// reset the connection (EPOLLERR or EPOLLHUP): nothing more can be sent,
// and waiting for the pause to end would keep it counted as writing, as
// nginx does not (its ngx_http_test_reading notices at once). A FIN alone
// is a half-close, and the response goes on.
func (c *conn) pausedReset() {
	errno, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || errno == 0 {
		errno = int(unix.ECONNRESET)
	}
	c.rq.Err = os.NewSyscallError("epoll", syscall.Errno(errno))
	c.afterWrite(filters.Error)
}

// drive advances the connection until it must wait for the network, a
// timer or a thread. Handlers change state and return; only this loop
// reads, so a pipeline of requests costs no recursion.
func (c *conn) drive() {
	for {
		switch c.state {
		case stClosed, stOpen, stWait, stHandshake:
			return
		case stH2:
			c.driveH2()
			return
		case stWrite:
			if c.broken && c.rq.Wait == filters.WaitTimer {
				c.pausedReset()
				return
			}
			if c.rq.Wait != filters.WaitWrite || !c.writeReady {
				return
			}
			c.afterWrite(c.w.chain.Resume(&c.rq.Txn))
		case stLinger:
			if !c.readReady {
				return
			}
			c.lingerRead()
		default:
			if c.step() {
				continue
			}
			if !c.readReady {
				c.releaseIdleBuf()
				return
			}
			c.read()
		}
	}
}

// step acts on buffered input in the reading states. It reports whether
// it made progress; false means it needs more input.
func (c *conn) step() bool {
	switch c.state {
	case stIdle:
		if c.buf == nil || c.buf.len() == 0 {
			return false
		}
		if c.x != nil && c.x.awaitProxy {
			return c.readProxy()
		}
		if c.h2Wanted() {
			return c.stepPreface()
		}
		c.beginRequest()
		return true
	case stHello:
		return c.stepHello()
	case stHead:
		return c.parseHead()
	case stBody:
		if c.buf == nil || c.buf.len() == 0 {
			return false
		}
		if st := c.discardBuffered(); st != 0 {
			c.close()
			return true
		}
		if c.rq.bodyDone {
			c.finishRequest()
		}
		return true
	}
	return false
}

// read reads once into the buffer.
func (c *conn) read() {
	if c.buf == nil {
		c.buf = c.w.bufs.get(false)
	}
	b := c.buf
	switch {
	case b.start == b.end:
		b.start, b.end = 0, 0
	case b.end == len(b.b):
		// step grows a head that fills the buffer before asking for
		// input, so only consumed bytes can be in the way.
		b.end = copy(b.b, b.b[b.start:b.end])
		b.start = 0
	}
	var n int
	var err error
	t := c.tlsConn()
	if t != nil {
		n, err = t.Read(b.b[b.end:])
	} else {
		n, err = event.Read(int(c.fd), b.b[b.end:])
	}
	if n > 0 {
		c.uncounted += uint64(n)
	}
	switch {
	case err == unix.EAGAIN:
		c.readReady = false
	case err != nil:
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Err(err).Msg("read failed")
		c.close()
	case n == 0:
		if c.state == stHead {
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client closed connection while sending request head")
		}
		c.close()
	default:
		if n < len(b.b)-b.end && !c.peerShut && !c.broken && t == nil {
			// A short read drained the socket; with edge-triggered
			// epoll, more input brings a new event. After the peer's
			// FIN nothing more will, and the next read returns 0.
			// (Over TLS, records may wait in crypto/tls: ssl.Conn.Read
			// says EAGAIN when none is left.)
			c.readReady = false
		}
		b.end += n
	}
}

// releaseIdleBuf gives the buffer back when nothing is in it, so that an
// idle connection holds none.
func (c *conn) releaseIdleBuf() {
	if c.buf != nil && c.buf.len() == 0 && c.state != stHead && c.state != stHello {
		c.w.bufs.put(c.buf)
		c.buf = nil
	}
}

// beginRequest starts a request on the first buffered byte.
func (c *conn) beginRequest() {
	w := c.w
	b := c.buf
	if b.start > 0 {
		// Move a pipelined request to the front, so the head has the
		// whole buffer to grow into.
		b.end = copy(b.b, b.b[b.start:b.end])
		b.start = 0
	}
	w.idle.remove(c)
	rq := w.getRequest()
	c.rq = rq
	rq.peer = c.peer.addrPort() // until serve: a refused head's log line
	rq.start = w.loop.Now()
	def := &w.addrs[c.listener].Default.Root.Settings
	rq.lim = headLimits{
		line:    def.LargeClientHeaderBuffers.Size,
		total:   def.LargeClientHeaderBuffers.Num * def.LargeClientHeaderBuffers.Size,
		headers: def.MaxHeaders,
	}
	c.setState(stHead)
	// No header timer yet: most heads arrive whole in one read, and the
	// keep-alive timer still pending is later than any deadline this
	// request can need before parseHead arms one.
}

// parseHead parses the buffered head and serves the request once it is
// complete. It reports whether it made progress.
func (c *conn) parseHead() bool {
	rq := c.rq
	b := c.buf
	st := rq.p.parse(b.b[b.start:b.end], &rq.Req, &rq.lim)
	if st == parseMore {
		if !rq.headTimer {
			// One timer from the head's first byte to its end, not
			// reset by each byte (nginx's client_header_timeout): a slow-loris client
			// cannot stretch it.
			rq.headTimer = true
			def := &c.w.addrs[c.listener].Default.Root.Settings
			c.w.loop.SetTimer(&c.Timer, def.ClientHeaderTimeout-time.Duration(c.w.loop.Now()-rq.start), c)
		}
		if b.end < len(b.b) {
			return false
		}
		c.growBuffer()
		return true
	}
	b.start += rq.p.pos
	if st != parseDone {
		if c.badPreface(b.b[:b.end]) {
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client sent an invalid connection preface")
			c.close()
			return true
		}
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Int("status", st).Msg("client sent invalid request")
		c.refuse(st)
		return true
	}
	c.serve()
	return true
}

// refuse answers a head that cannot be served with status's built-in
// page, in the default server's settings, and ends the connection after
// it: the request's framing is not to be trusted.
func (c *conn) refuse(status int) {
	rq := c.rq
	c.w.env.Tick(c.w.loop.Wall()) // its Date, as serve's
	rq.Loc = c.w.addrs[c.listener].Default.Root
	rq.setError(status)
	rq.closeAfter = true
	rq.bodyDone = true
	c.respond()
}

// growBuffer moves a head that filled the first buffer into a large one.
// The head's fields point into the old buffer, so it is parsed again from
// its start — this happens only to heads over client_header_buffer_size.
func (c *conn) growBuffer() {
	old := c.buf
	nb := c.w.bufs.get(true)
	if len(nb.b) <= len(old.b) {
		// Already the large buffer: the parser's limits stop a head
		// before it fills this, so this is a bug; refuse the request.
		c.w.bufs.put(nb)
		c.refuse(filters.StatusHeaderTooLarge)
		return
	}
	nb.end = copy(nb.b, old.b[old.start:old.end])
	c.w.bufs.put(old)
	c.buf = nb
	c.rq.p.reset()
	c.rq.Req.Reset()
}

// unsafePointer converts for the sockaddr casts.
func unsafePointer(p *unix.RawSockaddrAny) unsafe.Pointer { return unsafe.Pointer(p) }
