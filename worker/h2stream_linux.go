//go:build linux

package worker

import (
	"bytes"
	"time"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/worker/http2"
)

// Each HTTP/2 stream is a request of its own, borrowed from the worker's
// free list when its head is complete and given back when the stream
// ends: it goes through the same routing, phases, handlers and filters
// as an HTTP/1.1 request, and its response leaves through the stream
// (http2.Stream.Respond) instead of the write filter. A request that
// waits — for a path resolved on a pool thread, a password checked on
// one — waits alone: the connection's other streams go on.

// statusClientClosed is nginx's 499, logged for a request whose client
// gave up on it before its response began; nothing is sent.
const statusClientClosed = 499

// h2handler is a conn seen by its *http2.Conn (http2.Handler).
type h2handler conn

var _ http2.Handler = (*h2handler)(nil)

// Request serves a stream whose head is complete.
func (h *h2handler) Request(s *http2.Stream) {
	c := (*conn)(h)
	w := c.w
	rq := w.getRequest()
	rq.stream = s
	s.User = rq
	c.requests++
	event.Inc(&w.stats.Requests)
	w.env.Tick(w.loop.Wall())
	rq.start = w.loop.Now()
	rq.FD = int(c.fd)
	rq.peer = c.peer.addrPort()
	rq.conn = c
	rq.connID, rq.connReqs, rq.connStart = c.id, c.requests, c.born
	rq.https = c.x.tls != nil
	st := rq.fromH2(s.Head())
	if st == 0 {
		st = rq.route(w.addrs[c.listener])
	} else {
		rq.Loc = w.addrs[c.listener].Default.Root
	}
	if st == 0 && c.x.tls != nil {
		st = c.tlsStatus(rq)
	}
	if st == 0 && !rq.Loc.Server.Root.HTTP2 {
		// The Host names a server that does not speak HTTP/2 on this
		// address (RFC 9110 §15.5.20's 421, as nginx).
		w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client asked over HTTP/2 for a server without http2")
		st = 421
	}
	c.h2Limits(rq)
	if st == 0 {
		st = rq.streamBody()
	}
	if st != 0 {
		w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Uint32("stream", s.ID()).Int("status", st).Msg("client sent invalid request")
	}
	c.streamPhases(rq, st)
}

// h2Limits ends the connection gracefully once it has carried
// keepalive_requests streams, or lived keepalive_time, as nginx: this
// stream is served and GOAWAY names it (or a later one already opened);
// the client goes on on a new connection.
func (c *conn) h2Limits(rq *request) {
	loc := rq.Loc
	if int(c.requests) >= loc.KeepaliveRequests ||
		time.Duration(rq.start-c.born) > loc.KeepaliveTime {
		c.x.h2.Shutdown()
	}
}

// streamBody checks the request body against client_max_body_size; the
// stream discards it, within that size (http2.Stream.MaxBody).
func (rq *request) streamBody() int {
	r := &rq.Req
	rq.bodyMax = rq.Loc.ClientMaxBodySize
	rq.bodyDone = rq.stream.Head().EndStream
	rq.stream.MaxBody = rq.bodyMax
	if rq.bodyMax > 0 && r.ContentLength > rq.bodyMax {
		rq.errLog().Error().Uint64("conn", rq.connID).Int64("length", r.ContentLength).Msg("client intended to send too large body")
		return 413
	}
	return 0
}

// streamPhases runs the phases of a stream's request and starts its
// response, or lets it wait.
func (c *conn) streamPhases(rq *request, st int) {
	w := c.w
	st = w.runPhases(rq, st)
	switch {
	case st == statusPark:
		return // unpark runs them again
	case rq.wouldBlock:
		c.streamWaitOpen(rq)
		return
	case st == statusClose:
		// return 444: the stream ends without a response.
		rq.Resp.Status = 444
		rq.stream.Reset(http2.ErrInternal)
		return
	}
	c.prepare(rq)
	rq.Owner = rq
	w.streamChain.Run(&rq.Txn)
	rq.stream.Respond(&rq.Txn)
}

// streamWaitOpen resolves a path that would have waited for the disk on
// a pool thread; the stream waits alone.
func (c *conn) streamWaitOpen(rq *request) {
	task := &rq.open
	task.c, task.rq = c, rq
	task.noSym = rq.Loc.DisableSymlinks
	pool := c.w.env.Pools[rq.Loc.AIO.Pool]
	if pool == nil || pool.Post(task) != nil {
		rq.openRetries = maxOpenRetries
		c.streamRestart(rq)
		return
	}
	c.w.env.Stats.OffloadedOpens++
}

// streamRestart runs a stream's phases again from routing.
func (c *conn) streamRestart(rq *request) {
	rq.restart()
	c.streamPhases(rq, rq.route(c.w.addrs[c.listener]))
}

// streamOpenDone resumes a stream's request whose path the pool
// resolved, or frees it when its stream is gone.
func (rq *request) streamOpenDone() {
	if rq.orphan {
		rq.w.putRequest(rq)
		return
	}
	c := rq.conn
	defer c.recoverPanic()
	rq.openRetries++
	c.streamRestart(rq)
	c.drive()
}

// streamUnpark runs a parked stream request's phases again.
func (c *conn) streamUnpark(rq *request) {
	defer c.recoverPanic()
	rq.parkedOn = nil
	c.streamRestart(rq)
	c.drive()
}

// Resume continues a stream's response after a thread-pool read
// (filters.Owner), or frees the request when its stream is gone.
func (rq *request) Resume() {
	if rq.orphan {
		rq.w.putRequest(rq)
		return
	}
	c := rq.conn
	defer c.recoverPanic()
	rq.stream.Resume()
	c.drive()
}

// unpark runs the phases of a parked request again, once what it waited
// for is done.
func (rq *request) unpark() {
	c := rq.conn
	if rq.stream != nil {
		c.streamUnpark(rq)
		return
	}
	if c.state == stWait && c.rq == rq {
		c.unpark()
	}
}

// streamDelay is a stream's request delayed by limit_req: its timer
// runs the phases again.
type streamDelay request

func (d *streamDelay) Timeout() {
	rq := (*request)(d)
	if rq.stream != nil && rq.parkedOn == parkDelay {
		rq.conn.streamUnpark(rq)
	}
}

// Done ends a stream's request: logged, and freed unless a pool thread
// still works for it.
func (h *h2handler) Done(s *http2.Stream) {
	c := (*conn)(h)
	rq, _ := s.User.(*request)
	s.User = nil
	if rq == nil {
		return
	}
	if !s.Sent() && rq.Txn.HeadLen == 0 && rq.Resp.Status != 444 {
		// The client reset the stream before its response began
		// (nginx's 499, "client closed request").
		rq.Resp.Status = statusClientClosed
	}
	rq.completed = s.Sent()
	c.logRequest(rq, rq.connReqs)
	rq.stream = nil
	if rq.parkedOn == parkDelay {
		c.w.loop.StopTimer(&rq.delay)
	}
	if rq.TaskInFlight() || rq.open.InFlight() || rq.verify.InFlight() {
		rq.orphan = true
		return
	}
	c.w.putRequest(rq)
}

var crlf = []byte("\r\n")

// fromH2 makes the request of an HTTP/2 head: the pseudo-header fields
// are the request line, the fields are read as over HTTP/1.1. It returns
// 0, or the status to answer with.
func (rq *request) fromH2(h *http2.Head) int {
	r := &rq.Req
	r.Version = filters.HTTP20
	r.KeepAlive = true
	r.MethodName = h.Method
	r.Method = methodOf(h.Method)
	r.ContentLength = h.ContentLength
	r.Target = h.Path
	rq.line = append(append(append(append(rq.line[:0], h.Method...), ' '), h.Path...), " HTTP/2.0"...)
	r.Line = rq.line
	r.Head = h.Fields
	r.HeaderLen = h.BlockLen // $request_length: the HPACK bytes, as nginx
	if h.TooLarge {
		return filters.StatusHeaderTooLarge
	}
	if h.TooMany || h.Control {
		return 400 // max_headers, or a control character, as over HTTP/1.1
	}
	// An HTTP/2 :path is the origin form, or "*" (RFC 9113 §8.3.1).
	if p := h.Path; p[0] != '/' && !(len(p) == 1 && p[0] == '*') {
		return 400
	}
	if st := parseTarget(h.Path, r); st != 0 {
		return st
	}
	if h.Authority != nil {
		host, ok := validHost(h.Authority)
		if !ok {
			return 400
		}
		r.Host = host
	}
	var p parser
	for f := h.Fields; len(f) > 0; {
		i := bytes.Index(f, crlf)
		line := f[:i]
		f = f[i+2:]
		colon := bytes.IndexByte(line, ':')
		name, value := line[:colon], line[colon+2:]
		if string(name) == "content-length" {
			continue // checked by the connection, and the same if repeated
		}
		if len(name) <= maxKnownName {
			if st := p.known(string(name), value, r); st != 0 {
				return st
			}
		}
	}
	r.Expect100 = false // the body flows within the stream's window
	return 0
}
