//go:build linux

package worker

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/threadpool"
)

// serve handles a request whose head is complete: route it, set up the
// discarding of its body, run the phases (handler_linux.go) that build the
// response, and start sending it.
func (c *conn) serve() {
	w := c.w
	rq := c.rq
	w.env.Tick(w.loop.Wall())
	rq.FD = int(c.fd)
	rq.peer = c.peer.addrPort()
	rq.conn = c
	rq.connID, rq.connReqs, rq.connStart = c.id, c.requests+1, c.born
	rq.https = c.tlsConn() != nil
	st := rq.route(w.addrs[c.listener])
	if st == 0 {
		// nginx's post-read phase: realip with the server's settings.
		rq.realIP(&rq.Loc.Server.Root.Settings)
	}
	if x := c.x; x != nil {
		switch {
		case x.plainTLS:
			st = filters.StatusToHTTPS
		case st == 0 && x.tls != nil:
			st = c.tlsStatus(rq)
		}
	}
	if st == 0 {
		st = c.setupBody()
	}
	c.runPhases(st)
}

// runPhases builds the response — unless st already says what to answer
// — and starts sending it, or parks the request while a path that would
// have waited for the disk is resolved on a pool thread.
func (c *conn) runPhases(st int) {
	w := c.w
	rq := c.rq
	st = w.runPhases(rq, st)
	if st == statusPark {
		c.setState(stWait)
		return
	}
	if rq.wouldBlock {
		c.waitOpen()
		return
	}
	if st == statusClose {
		// return 444: nginx closes the connection without a response,
		// and logs 444.
		rq.Resp.Status = 444
		c.logAccess()
		c.close()
		return
	}
	c.respond()
}

// runPhases builds rq's response, unless st already says what to answer,
// and returns 0 when it is built, statusPark or statusClose.
func (w *Worker) runPhases(rq *request, st int) int {
	if st == 0 {
		st = w.handle(rq)
	}
	if st > 0 {
		st = w.special(rq, st)
	}
	return st
}

// unpark runs the phases of a parked request again, once what it waited
// for is done.
func (c *conn) unpark() {
	defer c.recoverPanic()
	testPanic(c, "completion")
	c.rq.parkedOn = nil
	c.restartPhases()
	c.drive()
}

// restartPhases runs the phases again from routing, after a run that
// would have waited for the disk.
func (c *conn) restartPhases() {
	c.rq.restart()
	c.runPhases(c.rq.route(c.w.addrs[c.listener]))
}

// content is nginx's content phase: the handler that builds the response
// for the request's location. It returns 0 when the response is built, an
// HTTP status, or statusRedirect after an internal redirect. A new
// handler is one more case.
func (w *Worker) content(rq *request) int {
	switch path := rq.Req.Path; {
	case rq.Loc.StubStatus:
		return w.serveStubStatus(rq)
	case rq.Loc.Metrics:
		return w.serveMetrics(rq)
	case rq.Req.Method != filters.MethodGET && rq.Req.Method != filters.MethodHEAD:
		// A static location answers GET and HEAD only (RFC 9110 §9.1), before
		// looking at the file system: nginx's static module gives 404
		// to a POST for a missing file and 405 for an existing one.
		return 405
	case path[len(path)-1] == '/':
		return w.serveDirectory(rq)
	default:
		return w.serveStatic(rq)
	}
}

// setupBody checks the request body's size and discards what of it is
// already buffered. It returns 0 or the status to answer with.
func (c *conn) setupBody() int {
	rq := c.rq
	r := &rq.Req
	if !r.HasBody() {
		rq.bodyDone = true
		return 0
	}
	rq.bodyMax = rq.Loc.ClientMaxBodySize
	if rq.bodyMax > 0 && r.ContentLength > rq.bodyMax {
		c.rq.errLog().Error().Uint64("conn", c.id).Int64("length", r.ContentLength).Msg("client intended to send too large body")
		return 413
	}
	rq.bodyLeft = r.ContentLength
	if r.Chunked {
		rq.bodyLeft = -1
	}
	if st := c.discardBuffered(); st != 0 {
		return st
	}
	// The client waits for "100 Continue" before it sends the body that
	// this response will make it discard.
	rq.Send100 = r.Expect100 && !rq.bodyDone
	return 0
}

// discardBuffered drops the body bytes in the buffer. It returns 0, or
// 400/413 for a bad or too large chunked body.
func (c *conn) discardBuffered() int {
	rq := c.rq
	b := c.buf
	avail := b.b[b.start:b.end]
	if rq.bodyLeft >= 0 {
		n := int64(len(avail))
		if n > rq.bodyLeft {
			n = rq.bodyLeft
		}
		b.start += int(n)
		rq.bodyLeft -= n
		rq.bodyDone = rq.bodyLeft == 0
		return 0
	}
	n, done, st := rq.body.feed(avail, rq.bodyMax)
	b.start += n
	rq.bodyDone = done
	if st == 413 {
		c.rq.errLog().Error().Uint64("conn", c.id).Msg("client intended to send too large chunked body")
	}
	return st
}

// respond runs the filter chain on the response the request built.
func (c *conn) respond() {
	testPanic(c, "event")
	w := c.w
	rq := c.rq
	resp := &rq.Resp
	resp.KeepAlive = rq.keepAlive(int(c.requests), w.quitting)
	if h := rq.Loc.KeepaliveHeader; resp.KeepAlive && h > 0 {
		resp.KeepAliveTimeout = int64(h / time.Second)
	}
	c.prepare(rq)
	rq.Owner = c
	c.setState(stWrite)
	c.afterWrite(w.chain.Run(&rq.Txn))
}

// prepare sets up the response rq built for the filter chain: a HEAD's
// head alone, auth_basic's challenge, the transport and limit_rate.
func (c *conn) prepare(rq *request) {
	w := c.w
	resp := &rq.Resp
	if rq.Req.Method == filters.MethodHEAD {
		resp.HeaderOnly = true
	}
	if resp.Status == 401 && rq.realm != "" {
		// auth_basic's challenge, kept through an error_page.
		rq.authHdr = append(append(append(rq.authHdr[:0], `Basic realm="`...), rq.realm...), '"')
		resp.AddHeader("WWW-Authenticate", rq.authHdr)
	}
	rq.FD = int(c.fd)
	rq.Conn = c.transport()
	rq.Env = &w.env
	if rate := rq.limitRate(); rate > 0 {
		rq.LimitRate, rq.LimitRateAfter = rate, rq.Loc.LimitRateAfter
		rq.RateStart = w.loop.Now()
	}
}

// afterWrite acts on what the write filter said.
func (c *conn) afterWrite(r filters.Result) {
	rq := c.rq
	switch r {
	case filters.Done:
		c.responseDone()
	case filters.Again:
		switch rq.Wait {
		case filters.WaitWrite:
			if !c.broken {
				c.writeReady = false
			}
			// send_timeout runs between two writes that make progress.
			c.w.loop.SetTimer(&c.Timer, rq.Loc.SendTimeout, c)
		case filters.WaitPost:
			if !c.posted {
				c.posted = true
				c.w.loop.Post(c)
			}
		case filters.WaitThread:
			// A pool thread reads the disk; it never touches the
			// socket, so what the loop knows of the socket stands.
			c.w.loop.StopTimer(&c.Timer)
		case filters.WaitTimer:
			// limit_rate: the next quantum is due after Delay.
			c.w.loop.SetTimer(&c.Timer, rq.Delay, c)
		}
	default:
		if rq.Sent == 0 && errors.Is(rq.Err, threadpool.ErrQueueFull) {
			// Nothing went out yet: answer 500, as nginx does when a
			// thread pool's queue overflows.
			c.rq.errLog().Error().Uint64("conn", c.id).Err(rq.Err).Msg("thread pool task refused")
			rq.Err = nil
			rq.file.release()
			rq.setError(500)
			rq.closeAfter = true
			c.respond()
			return
		}
		if rq.Err != nil {
			c.rq.errLog().WithLevel(sendErrorLevel(rq.Err)).Uint64("conn", c.id).Err(rq.Err).Msg("sending response failed")
		}
		c.logAccess()
		c.close()
	}
}

// sendErrorLevel is the level of a failed send, as nginx's
// ngx_connection_error: info for what the client did (it closed or reset
// the connection, or the network between went away), error for the rest
// (a file that shrank, a failed read).
func sendErrorLevel(err error) zerolog.Level {
	for _, e := range [...]error{unix.EPIPE, unix.ECONNRESET, unix.ENOTCONN, unix.ETIMEDOUT,
		unix.ENETDOWN, unix.ENETUNREACH, unix.EHOSTDOWN, unix.EHOSTUNREACH} {
		if errors.Is(err, e) {
			return conf.LogInfo
		}
	}
	return conf.LogError
}

// responseDone logs the request and moves on to discarding the rest of
// its body, the next request, or closing.
func (c *conn) responseDone() {
	rq := c.rq
	c.logAccess()
	rq.file.release()
	if rq.bodyDone {
		c.finishRequest()
		return
	}
	if !rq.Resp.KeepAlive {
		c.lingerClose()
		return
	}
	c.setState(stBody)
	c.w.loop.SetTimer(&c.Timer, rq.Loc.ClientBodyTimeout, c)
}

// finishRequest ends a request whose response is sent and body read.
func (c *conn) finishRequest() {
	w := c.w
	rq := c.rq
	keep := rq.Resp.KeepAlive
	loc := rq.Loc
	c.rq = nil
	w.putRequest(rq)
	if !keep {
		if (c.buf != nil && c.buf.len() > 0) || c.readReady {
			c.lingerClose()
		} else {
			c.close()
		}
		return
	}
	c.requests++
	c.setState(stIdle)
	timeout := loc.KeepaliveTimeout
	if w.quitting {
		// The head promised keep-alive before the graceful stop began,
		// so the client may send its next request at once: closing now
		// would race with it (nginx closes, and the client sees a
		// reset). The connection gets the grace an idle one got when
		// the stop began; a request in it is answered with
		// Connection: close.
		timeout = min(timeout, quitGrace)
	}
	w.loop.SetTimer(&c.Timer, timeout, c)
	w.idle.pushBack(c)
}

func (c *conn) logAccess() { c.logRequest(c.rq, c.requests+1) }

// logRequest counts rq and writes its access log entry; requests is its
// number on the connection ($connection_requests).
func (c *conn) logRequest(rq *request, requests uint32) {
	w := c.w
	srv := c.w.addrs[c.listener].Default
	if rq.Loc != nil {
		srv = rq.Loc.Server
	}
	w.requestDone(rq, srv, c.uncounted)
	c.uncounted = 0
	if rq.Loc == nil || len(rq.Loc.AccessLogs) == 0 {
		return
	}
	if rq.stream == nil {
		// A stream's request knows from its stream (h2stream_linux.go).
		rq.completed = rq.Err == nil && rq.Resp.Status != 444 && rq.BodySent() >= rq.Resp.ContentLength
	}
	e := entry{
		peer:     rq.peer,
		rq:       rq,
		connID:   c.id,
		requests: requests,
		now:      w.loop.Wall(),
		elapsed:  time.Duration(w.loop.Now() - rq.start),
	}
	if t := c.tlsConn(); t != nil {
		e.tls = tlsInfo{version: t.Version(), cipher: t.Cipher(), alpn: t.ALPN()}
		e.hasTLS = true
	}
	for i := range rq.Loc.AccessLogs {
		dest := &rq.Loc.AccessLogs[i]
		al := w.logs[dest.Path]
		if al == nil || !dest.If.IsZero() && !rq.truthy(dest.If) {
			continue
		}
		e.format = dest.Format
		if e.format == nil {
			e.format = rq.Loc.AccessLogFormat
		}
		al.write(&e)
	}
}

// truthy reports whether t expands to neither "" nor "0" (access_log's
// if=).
func (rq *request) truthy(t conf.Template) bool {
	v := t.Append(rq.vs.pending[:0], rq)
	rq.vs.pending = v
	return len(v) > 0 && !(len(v) == 1 && v[0] == '0')
}

// lingerClose half-closes the connection after its last response and
// drains input until the client closes too, or lingering time is up.
func (c *conn) lingerClose() {
	if c.h2Conn() != nil {
		c.closeH2()
	}
	if c.rq != nil {
		c.w.putRequest(c.rq)
		c.rq = nil
	}
	if t := c.tlsConn(); t != nil {
		t.CloseNotify()
	}
	if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil {
		c.close()
		return
	}
	c.setState(stLinger)
	c.ext().lingerBy = c.w.loop.Now() + int64(lingeringTime)
	c.w.loop.SetTimer(&c.Timer, lingeringTimeout, c)
	c.readReady = true
}

// lingerRead drops what the client sends during a lingering close.
func (c *conn) lingerRead() {
	if c.buf == nil {
		c.buf = c.w.bufs.get(false)
	}
	c.buf.start, c.buf.end = 0, 0
	n, err := event.Read(int(c.fd), c.buf.b)
	if n > 0 {
		c.uncounted += uint64(n)
	}
	switch {
	case err == unix.EAGAIN:
		c.readReady = false
		rest := time.Duration(c.x.lingerBy - c.w.loop.Now())
		if rest > lingeringTimeout {
			rest = lingeringTimeout
		}
		c.w.loop.SetTimer(&c.Timer, rest, c)
	case err != nil || n == 0:
		c.close()
	}
}

// close closes the connection and gives back everything it holds.
func (c *conn) close() {
	if c.state == stClosed {
		return
	}
	if c.rq != nil && (c.rq.TaskInFlight() || c.rq.open.InFlight() || c.rq.verify.InFlight() || c.rq.list.InFlight()) {
		// A pool thread is sending on this socket from this file: close
		// both when its completion comes back (Resume).
		c.closing = true
		return
	}
	if c.h2Conn() != nil {
		c.closeH2()
	}
	if c.tlsConn() != nil && !c.closeTLS() {
		return // the handshake goroutine finishes first (HandshakeDone)
	}
	w := c.w
	if c.uncounted > 0 {
		// Bytes no finished response accounted for: a request cut
		// short, or what a lingering close drained.
		if sc := w.labels.servers[c.server()]; sc != nil {
			event.Add(&sc.BytesReceived, c.uncounted)
		}
		c.uncounted = 0
	}
	if c.rq != nil {
		w.putRequest(c.rq)
		c.rq = nil
	}
	if c.buf != nil {
		w.bufs.put(c.buf)
		c.buf = nil
	}
	if c.x != nil {
		w.putExt(c.x)
		c.x = nil
	}
	w.idle.remove(c)
	w.loop.StopTimer(&c.Timer)
	w.loop.Forget(int(c.fd))
	unix.Close(int(c.fd))
	c.setState(stClosed)
	c.posted = false
	c.closing = false
	w.active--
	w.updateDisabled()
}

// server is the server the connection's request is for: its location's,
// else (a request refused before routing) the listening address's
// default.
func (c *conn) server() *conf.Server {
	if c.rq != nil && c.rq.Loc != nil {
		return c.rq.Loc.Server
	}
	return c.w.addrs[c.listener].Default
}
