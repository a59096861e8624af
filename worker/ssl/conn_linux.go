//go:build linux

package ssl

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
)

// Owner is the worker's connection a Conn belongs to.
type Owner interface {
	// HandshakeDone runs on the loop goroutine when the handshake
	// goroutine is finished, successfully (Err is nil) or not.
	HandshakeDone()
}

// Conn is one TLS connection of a worker: a tls.Conn over a transport
// that the Conn itself implements.
//
// Ownership: from Engine.Start until the Engine reports the handshake
// done (Owner.HandshakeDone), the handshake's coroutine owns the Conn and
// its tls.Conn, and runs only inside the loop's calls to Poke and
// Cancel; the loop calls nothing else. Then the loop owns
// it, and calls Read, Writev and Flush directly: the transport answers
// "would block" (a temporary net.Error, which crypto/tls survives)
// instead of waiting.
type Conn struct {
	tc    *tls.Conn
	fd    int
	e     *Engine
	owner Owner

	// While the handshake runs (or waits for a slot).
	handshaking bool
	queued      bool
	canceled    bool
	hello       []byte                  // bytes the loop read before the handshake (the ClientHello), read first
	resume      func() (struct{}, bool) // switches to the handshake's coroutine
	stop        func()                  // ends the coroutine (Engine.Close)
	yield       func(struct{}) bool     // switches back to the loop, in the coroutine
	err         error
	server      *conf.Server // the server SNI selected, else the address's default
	sni         bool         // the client sent SNI
	verify      Verify

	// What the handshake agreed, for the request path and the log.
	version, cipher uint16
	alpn            string
	serverName      string
	resumed         bool
	sid             [sessionIDLen]byte // the session's ID (sessionID), when sidState is sidOwn
	sidState        uint8
	client          *ClientCert // the client's certificate, when asked for and sent
	offered         []uint16    // the client's cipher suites

	// After the handshake.
	readable bool   // the socket may have input: set by Readable, cleared on EAGAIN or a short read
	shut     bool   // the peer's FIN came (or the socket broke): input stays readable
	eof      bool   // the peer closed (close_notify or end of stream)
	broken   bool   // a read or write failed: no close_notify
	parked   bool   // crypto/tls's input buffer is in the engine's pool (park)
	rerr     error  // what the socket answered fill, for crypto/tls's next read
	out      []byte // ciphertext not yet written, out[sent:]
	sent     int
	rs       recordScan
}

// Verify is the outcome of checking a client certificate.
type Verify int8

const (
	// VerifyNone: no certificate was asked for or sent.
	VerifyNone Verify = iota
	// VerifySuccess: the certificate chains to ssl_client_certificate
	// within ssl_verify_depth.
	VerifySuccess
	// VerifyFailed: it does not, or it was not checked
	// (optional_no_ca).
	VerifyFailed
)

// Err is the handshake's error, nil when it succeeded.
func (c *Conn) Err() error { return c.err }

// Server is the server the handshake selected: by SNI, else the
// address's default server.
func (c *Conn) Server() *conf.Server { return c.server }

// SNI reports whether the client named a server.
func (c *Conn) SNI() bool { return c.sni }

// ClientVerify is the outcome of the client certificate check.
func (c *Conn) ClientVerify() Verify { return c.verify }

// Version is the protocol version, e.g. tls.VersionTLS13.
func (c *Conn) Version() uint16 { return c.version }

// Cipher is the cipher suite.
func (c *Conn) Cipher() uint16 { return c.cipher }

// ALPN is the application protocol agreed, or "".
func (c *Conn) ALPN() string { return c.alpn }

// ServerName is the name the client sent (SNI), or "".
func (c *Conn) ServerName() string { return c.serverName }

// Resumed reports whether the session was resumed.
func (c *Conn) Resumed() bool { return c.resumed }

// SessionID is the session's ID ($ssl_session_id): made with its first
// ticket and carried in every ticket of the session, so that a resumed
// session has the ID it was made with. nil for a session without
// tickets.
func (c *Conn) SessionID() []byte {
	if c.sidState != sidOwn {
		return nil
	}
	return c.sid[:]
}

// Offered is the cipher suites the client offered.
func (c *Conn) Offered() []uint16 { return c.offered }

// Client is the client's certificate, nil when none was asked for or
// sent.
func (c *Conn) Client() *ClientCert { return c.client }

// ClientCert is what the variables say of a client certificate, made at
// the handshake so that requests only copy it.
type ClientCert struct {
	// SubjectDN and IssuerDN are RFC 2253 names; Serial is upper-case
	// hexadecimal, as nginx's $ssl_client_serial.
	SubjectDN, IssuerDN, Serial string
	// LegacySubject and LegacyIssuer are OpenSSL's one-line form.
	LegacySubject, LegacyIssuer string
	// NotBefore and NotAfter bound its validity.
	NotBefore, NotAfter time.Time
	// PEM is the certificate; FoldedPEM has a tab after every line break
	// but the last (nginx's $ssl_client_cert, a folded header value);
	// EscapedPEM is percent-encoded ($ssl_client_escaped_cert).
	PEM, FoldedPEM, EscapedPEM string
	// VerifyError says why verification failed ("" when it did not).
	VerifyError string
}

// Poke runs the handshake until it must wait for the socket again. The
// loop calls it on every epoll event of the connection during the
// handshake; it does nothing once the handshake finished or while it
// waits for a slot.
func (c *Conn) Poke() {
	if c.resume != nil {
		cs := c.e.configs
		cs.current = c
		c.resume()
		cs.current = nil
	}
}

// Readable says that the socket has input (EPOLLIN).
func (c *Conn) Readable() { c.readable = true }

// Shut says that the peer sent its FIN (EPOLLRDHUP) or the socket broke
// (EPOLLHUP, EPOLLERR): no edge follows the last input, so the socket
// stays readable until a read returns 0 or fails.
func (c *Conn) Shut() { c.shut, c.readable = true, true }

// Read reads plaintext like event.Read: unix.EAGAIN when none is
// there, 0 and nil at the end of the stream (close_notify, or the peer's
// FIN), another error when the connection is broken.
func (c *Conn) Read(p []byte) (int, error) {
	if c.eof {
		return 0, nil
	}
	if !c.readable && c.rs.consumed() {
		// The socket is drained and crypto/tls holds no whole record:
		// asking it would cost an allocation (its reads allocate
		// whenever they reach the transport) to learn the same.
		c.park()
		return 0, unix.EAGAIN
	}
	c.unpark()
	c.fill()
	n, err := c.tc.Read(p)
	switch {
	case n > 0:
		if n < len(p) {
			c.rs.returned++
		} else {
			c.rs.uncertain = true // p was full: more of the record may be there
		}
		if err == io.EOF {
			c.eof = true // a close_notify right after the data
		}
		return n, nil
	case err == errWouldBlock:
		c.rs.resync()
		c.park()
		return 0, unix.EAGAIN
	case err == io.EOF:
		c.eof = true
		return 0, nil
	case err == nil:
		return 0, unix.EAGAIN
	}
	c.broken = true
	return 0, err
}

// recordScan follows the record boundaries of the ciphertext handed to
// crypto/tls after the handshake, to tell when it cannot hold a whole
// record: every record delivered was returned by a Read that drained it,
// and the stream ends on a boundary.
type recordScan struct {
	hdr       [recordHeaderLen]byte
	hdrGot    int // header bytes of the current record seen
	bodyLeft  int // body bytes of the current record still to come
	delivered uint64
	returned  uint64
	uncertain bool // a Read may have left plaintext or records behind
}

// feed notes ciphertext handed to crypto/tls.
func (r *recordScan) feed(b []byte) {
	for len(b) > 0 {
		if r.bodyLeft > 0 {
			k := min(r.bodyLeft, len(b))
			r.bodyLeft -= k
			b = b[k:]
			if r.bodyLeft == 0 {
				r.delivered++
			}
			continue
		}
		r.hdr[r.hdrGot] = b[0]
		r.hdrGot++
		b = b[1:]
		if r.hdrGot == recordHeaderLen {
			r.hdrGot = 0
			r.bodyLeft = int(r.hdr[3])<<8 | int(r.hdr[4])
			if r.bodyLeft == 0 {
				r.delivered++
			}
		}
	}
}

// consumed reports whether crypto/tls has surely consumed every whole
// record it was given.
func (r *recordScan) consumed() bool {
	return !r.uncertain && r.hdrGot == 0 && r.bodyLeft == 0 && r.delivered == r.returned
}

// resync is called when crypto/tls said it holds no whole record.
func (r *recordScan) resync() {
	r.returned, r.uncertain = r.delivered, false
}

// Writev encrypts bufs into records and writes them (filters.Transport).
// It takes everything unless the socket fills up while ciphertext is
// still waiting: then it returns what it took, and the rest goes with
// the next call, after an EPOLLOUT. With more, the records stay in the
// Conn until the next Writev or Flush, so that a response head and the
// first piece of its file body leave in one system call.
func (c *Conn) Writev(bufs [][]byte, more bool) (int, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	done := 0
	for done < total {
		if c.pending() > 0 {
			if err := c.Flush(); err == unix.EAGAIN {
				return done, nil
			} else if err != nil {
				return done, err
			}
		}
		p := c.e.gather(bufs, done)
		if _, err := c.tc.Write(p); err != nil {
			c.broken = true
			return done, err
		}
		done += len(p)
	}
	if !more || c.pending() >= flushAt {
		if err := c.Flush(); err != nil && err != unix.EAGAIN {
			return done, err
		}
	}
	return done, nil
}

// flushAt is how much ciphertext Writev holds back for more: beyond
// that, writing it beats waiting.
const flushAt = 16 << 10

// SendfileFD is -1: file data must pass through memory to be encrypted.
// This is the seam for kernel TLS: once the kernel has the keys
// (setsockopt SOL_TLS TLS_TX), a transport would return the socket here
// and file bodies would go out with sendfile again.
func (c *Conn) SendfileFD() int { return -1 }

// Flush writes the ciphertext waiting in the Conn. It returns
// unix.EAGAIN when the socket is full.
func (c *Conn) Flush() error {
	for c.pending() > 0 {
		n, err := event.Write(c.fd, c.out[c.sent:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			if err != unix.EAGAIN {
				c.broken = true
			}
			return err
		}
		c.sent += n
	}
	c.e.putOut(c.out)
	c.out, c.sent = nil, 0
	return nil
}

func (c *Conn) pending() int { return len(c.out) - c.sent }

// CloseNotify sends a close_notify alert if the connection is healthy,
// and whatever alert crypto/tls left waiting if it is not (a refused
// renegotiation, a bad record), as far as the socket takes them at once:
// closing never waits for them.
func (c *Conn) CloseNotify() {
	if c.handshaking || c.tc == nil {
		return
	}
	if !c.broken {
		c.tc.CloseWrite()
	}
	c.Flush()
}

// Release gives back what the Conn holds. The loop calls it when the
// connection closes; the Conn is not used again.
func (c *Conn) Release() {
	if c.out != nil {
		c.e.putOut(c.out)
		c.out = nil
	}
	c.tc = nil
}

var _ filters.Transport = (*Conn)(nil)

// transport is the net.Conn crypto/tls reads and writes: the socket,
// seen from the handshake goroutine as a blocking connection and from
// the loop as one that never waits.
type transport Conn

// Read gives crypto/tls ciphertext: during the handshake, the bytes the
// loop read first, then the socket, switching back to the loop until its
// next poke when it is empty; afterwards the socket until it is empty, then errWouldBlock.
func (t *transport) Read(p []byte) (int, error) {
	c := (*Conn)(t)
	if len(c.hello) > 0 {
		n := copy(p, c.hello)
		c.hello = c.hello[n:]
		return n, nil
	}
	if err := c.rerr; err != nil {
		c.rerr = nil
		return 0, err
	}
	for {
		if c.handshaking && c.canceled {
			return 0, errCanceled
		}
		if !c.handshaking && !c.readable {
			return 0, errWouldBlock
		}
		n, err := event.Read(c.fd, p)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if !c.handshaking {
				c.readable = false
				return 0, errWouldBlock
			}
			if !c.wait() {
				return 0, errCanceled
			}
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: err}
		case n == 0:
			return 0, io.EOF
		default:
			if !c.handshaking {
				if n < len(p) && !c.shut {
					// A short read drained the socket; an EPOLLIN edge
					// says when there is more.
					c.readable = false
				}
				c.rs.feed(p[:n])
			}
			return n, nil
		}
	}
}

// Write takes ciphertext from crypto/tls. During the handshake it writes
// to the socket, switching back to the loop until its next poke when it
// is full; afterwards
// it keeps the records in out for Flush, and never fails: crypto/tls
// treats any write error as fatal (TestWriteErrorIsPermanent).
func (t *transport) Write(p []byte) (int, error) {
	c := (*Conn)(t)
	if !c.handshaking {
		if c.out == nil {
			c.out = c.e.getOut()
		}
		c.out = append(c.out, p...)
		return len(p), nil
	}
	for done := 0; done < len(p); {
		if c.canceled {
			return done, errCanceled
		}
		n, err := event.Write(c.fd, p[done:])
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if !c.wait() {
				return done, errCanceled
			}
		case err != nil:
			return done, &net.OpError{Op: "write", Net: "tcp", Err: err}
		default:
			done += n
		}
	}
	return len(p), nil
}

// wait switches back to the loop until its next Poke, in the handshake's
// coroutine. It reports false when the handshake was canceled
// meanwhile.
func (c *Conn) wait() bool {
	return c.yield(struct{}{}) && !c.canceled
}

// Close is never called: the worker closes the socket.
func (t *transport) Close() error { return nil }

func (t *transport) LocalAddr() net.Addr              { return nil }
func (t *transport) RemoteAddr() net.Addr             { return nil }
func (t *transport) SetDeadline(time.Time) error      { return nil }
func (t *transport) SetReadDeadline(time.Time) error  { return nil }
func (t *transport) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*transport)(nil)

// errno is the syscall error inside err, if any.
func errno(err error) syscall.Errno {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	e, _ := err.(syscall.Errno)
	return e
}
