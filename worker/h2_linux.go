//go:build linux

package worker

import (
	"bytes"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/worker/http2"
)

// An HTTP/2 connection is a conn in state stH2 whose frames, streams and
// flow control are a *http2.Conn's. It begins on a TLS connection whose
// client chose "h2" through ALPN, or on a plain one whose first bytes
// are the HTTP/2 preface (prior knowledge, RFC 9113 §3.3) when the
// address's default server has http2 on. The conn reads and writes the
// socket as for HTTP/1.x — its readiness, timer, TLS and close are the
// same — and each stream is a request of its own (h2stream_linux.go).

// h2Config is what a connection on c's address takes from the
// configuration: the address's default server, or on TLS the server the
// handshake chose, as nginx.
func (c *conn) h2Config() http2.Config {
	srv := c.w.addrs[c.listener].Default
	if t := c.tlsConn(); t != nil {
		srv = t.Server()
	}
	s := &srv.Root.Settings
	return http2.Config{
		MaxStreams:       uint32(s.HTTP2MaxConcurrentStreams),
		LineLimit:        s.LargeClientHeaderBuffers.Size,
		ListLimit:        s.LargeClientHeaderBuffers.Num * s.LargeClientHeaderBuffers.Size,
		MaxFields:        s.MaxHeaders,
		Window:           h2Window,
		KeepaliveTimeout: s.KeepaliveTimeout,
		HeaderTimeout:    s.ClientHeaderTimeout,
		BodyTimeout:      s.ClientBodyTimeout,
		SendTimeout:      s.SendTimeout,
		Budget:           h2Budget(s.SendfileMaxChunk),
	}
}

// h2Budget is what one turn of an HTTP/2 connection sends before it
// yields to other connections: eight times sendfile_max_chunk, 2 MiB at
// the default. A turn gathers the DATA frames of all its streams into a
// few large writes, and HTTP/2 lost with the HTTP/1.1 turn: 4 downloads
// of a cached 256 MiB file over h2c cost the worker 0.71 CPU seconds per
// GiB with 256 KiB turns against 0.50–0.59 with 2 MiB (t/bench h2-large,
// two pairs, load average 5–6). 0 stays "no limit".
func h2Budget(chunk int64) int64 {
	if chunk > math.MaxInt64/8 {
		return math.MaxInt64
	}
	return 8 * chunk
}

// h2Window is the receive window of a stream: the body a client may
// send before it hears from tern (nginx's http2_body_preread_size).
const h2Window = 64 << 10

// h2Wanted reports whether c, a fresh plain connection, should look for
// the HTTP/2 preface.
func (c *conn) h2Wanted() bool {
	return c.w.h2 != nil && (c.x == nil || c.x.tls == nil && !c.x.plainTLS) && c.requests == 0 &&
		c.w.addrs[c.listener].Default.Root.HTTP2
}

// stepPreface decides, on the first bytes of a plain connection, between
// HTTP/2 with prior knowledge and HTTP/1.x. It reports false while the
// bytes so far could still be the preface.
func (c *conn) stepPreface() bool {
	b := c.buf.b[c.buf.start:c.buf.end]
	match, complete := http2.IsPreface(b)
	switch {
	case !match:
		c.beginRequest()
	case complete:
		c.startH2()
	default:
		return false
	}
	return true
}

// badPreface reports whether the first bytes b of a plain connection
// that could have spoken HTTP/2 are neither its preface nor HTTP/1.x: a
// line of three words whose last is no HTTP version. That is an invalid
// connection preface (RFC 9113 §3.4), and the connection closes without
// an HTTP/1.1 answer its client could not read; a request line without a
// version (HTTP/0.9) still gets 400.
func (c *conn) badPreface(b []byte) bool {
	if c.requests > 0 || c.w.h2 == nil || c.tlsConn() != nil || !c.w.addrs[c.listener].Default.Root.HTTP2 {
		return false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	f := bytes.Fields(b)
	return len(f) == 3 && !bytes.HasPrefix(f[2], []byte("HTTP/"))
}

// h2NotsentLowat is how many bytes an HTTP/2 connection's socket may hold
// that TCP has not sent yet (TCP_NOTSENT_LOWAT, tcp(7)); the rest of a
// batch waits in the Conn until EPOLLOUT. A socket buffer of megabytes
// holds frames in an order nothing can change any more, and with BBR, the
// congestion control of this machine and many others, a socket that
// never runs out of data is paced by a kernel timer per packet
// (tcp_pace_kick): over loopback with 4 h2c downloads, 11,083 of them a
// second for tern's worker against lighttpd's 1,799, and the writev that
// copied the data cost 0.54 µs per KiB where HTTP/1.1's sendfile cost
// 0.125. t/bench, 2 vCPUs, this value against none: a cached 512 MiB
// file over h2c, 4 connections, 1,734 → 3,411 MiB/s and 0.59 → 0.30 CPU
// s/GiB; 64 KiB files, 10 connections × 100 streams, 24,862 → 35,819
// requests/s and 40.0 → 27.8 µs of CPU each; 1 KiB and TLS unchanged. 8,
// 16 and 32 KiB measured alike; 64 KiB and 256 KiB gave back most of it.
// Under CUBIC it changes nothing measurable (53,451 against 54,080 64 KiB
// requests/s). The 64 KiB streams' p99 grew from 67 to 113 ms under BBR
// (p50 39 → 17 ms): the connections the kernel still paces fall behind.
const h2NotsentLowat = 16 << 10

// startH2 makes c an HTTP/2 connection. Bytes already read (the preface
// of a plain connection, and whatever followed it) are its first input.
func (c *conn) startH2() {
	w := c.w
	// TCP_NOTSENT_LOWAT (see h2NotsentLowat); a UNIX-domain socket
	// refuses it and is not paced anyway.
	unix.SetsockoptInt(int(c.fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, h2NotsentLowat)
	hc := http2.New((*h2handler)(c), w.h2, c.transport(), c.h2Config())
	c.ext().h2 = hc
	c.setState(stH2)
	if b := c.buf; b != nil {
		if b.len() > 0 {
			rb := hc.ReadBuffer()
			hc.Received(copy(rb, b.b[b.start:b.end]))
		}
		w.bufs.put(b)
		c.buf = nil
	}
	c.writeReady = true
}

// driveH2 reads and writes an HTTP/2 connection until it must wait. It
// reads all the input there is first, so that the responses to a batch
// of requests leave in one batch of frames.
func (c *conn) driveH2() {
	hc := c.x.h2
	for c.state == stH2 {
		for c.state == stH2 && c.readReady && hc.WantsRead() {
			c.readH2()
		}
		if c.state != stH2 {
			return
		}
		if c.writeReady && hc.WantsWrite() {
			switch hc.Write() {
			case http2.Blocked:
				if !c.broken {
					c.writeReady = false
				}
			case http2.Yield:
				if !c.posted {
					c.posted = true
					c.w.loop.Post(c)
				}
			case http2.Broken:
				c.w.log.WithLevel(sendErrorLevel(hc.WriteErr())).Uint64("conn", c.id).Err(hc.WriteErr()).Msg("sending frames failed")
				c.close()
				return
			}
		}
		if hc.Finished() && !hc.WantsWrite() {
			c.lingerClose()
			return
		}
		if !c.readReady || !hc.WantsRead() {
			break
		}
	}
	c.armH2()
}

// readH2 reads once into the connection's read buffer and parses the
// frames.
func (c *conn) readH2() {
	hc := c.x.h2
	rb := hc.ReadBuffer()
	var n int
	var err error
	t := c.x.tls
	if t != nil {
		n, err = t.Read(rb)
	} else {
		n, err = event.Read(int(c.fd), rb)
	}
	switch {
	case err == unix.EAGAIN:
		c.readReady = false
		hc.Received(0)
		return
	case err != nil || n == 0:
		hc.Received(0)
		if err != nil {
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Err(err).Msg("read failed")
		}
		c.close()
		return
	}
	c.uncounted += uint64(n)
	if n < len(rb) && !c.peerShut && !c.broken && t == nil {
		c.readReady = false // a short read drained the socket (see read)
	}
	hc.Received(n)
	if code, why := hc.Err(); why != "" && !c.x.h2logged {
		c.x.h2logged = true
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Str("error", code.String()).Msg(why)
	}
}

// armH2 sets the connection's timer to the connection's next deadline,
// and keeps it in the idle list while it has no stream, so that it may be
// closed to make room when connections run out.
func (c *conn) armH2() {
	hc := c.x.h2
	w := c.w
	if d := hc.Deadline(); d > 0 {
		w.loop.SetTimer(&c.Timer, time.Duration(max(d-w.loop.Now(), 0)), c)
	} else {
		w.loop.StopTimer(&c.Timer)
	}
	if hc.Busy() {
		w.idle.remove(c)
	} else {
		w.idle.pushBack(c)
	}
}

// timeoutH2 acts on the connection's deadline.
func (c *conn) timeoutH2() {
	if !c.x.h2.Timeout() {
		_, why := c.x.h2.Err()
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg(why)
		c.close()
		return
	}
	c.drive()
}

// shutdownH2 sends GOAWAY on a graceful stop or reload: the streams the
// connection took are finished, then it closes.
func (c *conn) shutdownH2() {
	c.x.h2.Shutdown()
	c.drive()
}

// closeH2 ends the connection's streams; their requests are freed, or
// once the pool thread that works for one is done (orphan).
func (c *conn) closeH2() {
	hc := c.x.h2
	c.x.h2 = nil
	hc.Close()
}
