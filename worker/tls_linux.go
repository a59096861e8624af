//go:build linux

package worker

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"tern/conf"
	"tern/filters"
	"tern/worker/ssl"
)

// A connection on a TLS address goes through two more states before it
// reads requests: stHello, where the loop reads the ClientHello itself
// (ssl.ScanHello), and stHandshake, where a goroutine of the TLS engine
// runs the handshake while the loop only passes it the connection's
// epoll events. ssl_handshake_timeout, armed at accept, bounds both.
// Then the connection is a plain one whose reads and writes go through
// its *ssl.Conn. Bytes that are not TLS are read as a plain HTTP
// request, answered with nginx's 497 (400 "The plain HTTP request was
// sent to HTTPS port").

// beginTLS starts a connection accepted on the TLS address a.
func (c *conn) beginTLS(a *conf.Addr) {
	c.setState(stHello)
	c.w.loop.SetTimer(&c.Timer, a.Default.Root.SSL.HandshakeTimeout, c)
}

// stepHello acts on the bytes read so far in stHello. It reports whether
// it made progress; false means it needs more input.
func (c *conn) stepHello() bool {
	w := c.w
	b := c.buf
	if b == nil || b.len() == 0 {
		return false
	}
	if c.x != nil && c.x.awaitProxy {
		// The load balancer's PROXY protocol header comes before the
		// ClientHello.
		return c.readProxy()
	}
	// A connection that has begun its handshake is not idle: it is not
	// closed to make room for another, as nginx's reusable connections.
	w.idle.remove(c)
	switch ssl.ScanHello(b.b[b.start:b.end], w.bufs.largeSize) {
	case ssl.HelloMore:
		if b.end < len(b.b) {
			return false
		}
		if !c.growHello() {
			w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Int("bytes", b.len()).Msg("client sent too large a TLS ClientHello")
			c.close()
		}
		return true
	case ssl.HelloDone:
		c.setState(stHandshake)
		c.ext().tls = w.ssl.Start(int(c.fd), w.addrs[c.listener], b.b[b.start:b.end], c)
		return true
	case ssl.HelloPlain:
		c.ext().plainTLS = true
		c.setState(stIdle)
		return true
	case ssl.HelloTooLarge:
		w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client sent too large a TLS ClientHello")
	default:
		w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client sent something that is neither a TLS ClientHello nor HTTP")
	}
	c.close()
	return true
}

// growHello moves a ClientHello that filled the first buffer into a
// large one; false when it already is in one.
func (c *conn) growHello() bool {
	old := c.buf
	if len(old.b) >= c.w.bufs.largeSize {
		return false
	}
	nb := c.w.bufs.get(true)
	nb.end = copy(nb.b, old.b[old.start:old.end])
	c.w.bufs.put(old)
	c.buf = nb
	return true
}

// HandshakeDone takes the connection back from its handshake goroutine
// (ssl.Owner): on failure it closes; on success the connection waits for
// its first request as a fresh plain one does.
func (c *conn) HandshakeDone() {
	defer c.recoverPanic()
	w := c.w
	if c.buf != nil {
		// The ClientHello's buffer is the loop's again.
		w.bufs.put(c.buf)
		c.buf = nil
	}
	if c.closing {
		c.closing = false
		c.close()
		return
	}
	if err := c.x.tls.Err(); err != nil {
		w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Err(err).Msg("TLS handshake failed")
		c.close()
		return
	}
	c.readReady = true
	if c.x.tls.ALPN() == "h2" && w.h2 != nil {
		// The client chose HTTP/2 (RFC 9113 §3.2): its preface and
		// frames follow.
		c.startH2()
		c.drive()
		return
	}
	c.setState(stIdle)
	def := &w.addrs[c.listener].Default.Root.Settings
	w.loop.SetTimer(&c.Timer, def.ClientHeaderTimeout, c)
	w.idle.pushBack(c)
	c.drive()
}

// transport is what the connection's responses are written through.
func (c *conn) transport() filters.Transport {
	if t := c.tlsConn(); t != nil {
		return t
	}
	return (*sockTransport)(c)
}

// sockTransport is a plain connection's transport: writes go straight
// to its socket (filters.Socket). It is the conn itself, so that the
// transport costs the connection no field and taking it no allocation.
type sockTransport conn

func (s *sockTransport) Writev(bufs [][]byte, more bool) (int, error) {
	sock := filters.Socket{FD: int(s.fd)}
	return sock.Writev(bufs, more)
}

func (s *sockTransport) SendfileFD() int { return int(s.fd) }

func (s *sockTransport) Flush() error { return nil }

// tlsStatus checks a request on a TLS connection against the server its
// Host selected, as nginx: 421 when that server is not the one the
// handshake was made for (SNI) and has other certificates or client
// verification; 496 or 495 when ssl_verify_client wants a certificate
// the client did not send or that did not verify. It returns 0 when the
// request may go on.
func (c *conn) tlsStatus(rq *request) int {
	srv := rq.Loc.Server
	if c.x.tls.SNI() && !c.w.ssl.Same(c.x.tls.Server(), srv) {
		// RFC 9110 §15.5.20. nginx checks this only when the Host's
		// server verifies client certificates; a certificate the
		// client did not agree to is as wrong.
		c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client asked for a Host whose server has another certificate than the one negotiated")
		return 421
	}
	switch srv.Root.SSL.VerifyClient {
	case conf.VerifyOn:
		switch c.x.tls.ClientVerify() {
		case ssl.VerifyNone:
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client sent no required SSL certificate")
			return filters.StatusNoCert
		case ssl.VerifyFailed:
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client SSL certificate verify error")
			return filters.StatusCertError
		}
	case conf.VerifyOptional:
		if c.x.tls.ClientVerify() == ssl.VerifyFailed {
			c.w.log.WithLevel(conf.LogInfo).Uint64("conn", c.id).Msg("client SSL certificate verify error")
			return filters.StatusCertError
		}
	}
	return 0
}

// closeTLS ends the TLS side of a closing connection: a close_notify
// when it is healthy, the handshake goroutine called back when it runs.
// It reports false when the goroutine must finish first: close then
// comes from HandshakeDone.
func (c *conn) closeTLS() bool {
	t := c.x.tls
	if c.state == stHandshake {
		if !c.w.ssl.Cancel(t) {
			c.closing = true
			return false
		}
	} else {
		t.CloseNotify()
	}
	t.Release()
	c.x.tls = nil
	return true
}

// appendSSLVar appends one of the $ssl_ variables: empty without TLS, as
// nginx's.
func (rq *request) appendSSLVar(dst []byte, k conf.VarKind) []byte {
	if rq.conn == nil || rq.conn.tlsConn() == nil {
		return dst
	}
	c := rq.conn.tlsConn()
	cc := c.Client()
	switch k {
	case conf.VarSSLProtocol:
		return append(dst, conf.VersionName(c.Version())...)
	case conf.VarSSLCipher:
		return append(dst, conf.CipherName(c.Cipher())...)
	case conf.VarSSLServerName:
		return append(dst, c.ServerName()...)
	case conf.VarSSLSessionReused:
		if c.Resumed() {
			return append(dst, 'r')
		}
		return append(dst, '.')
	case conf.VarSSLSessionID:
		return hex.AppendEncode(dst, c.SessionID())
	case conf.VarSSLALPNProtocol:
		return append(dst, c.ALPN()...)
	case conf.VarSSLCiphers:
		for i, id := range c.Offered() {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = appendCipherName(dst, id)
		}
		return dst
	case conf.VarSSLClientVerify:
		switch {
		case cc == nil:
			return append(dst, "NONE"...)
		case c.ClientVerify() == ssl.VerifySuccess:
			return append(dst, "SUCCESS"...)
		}
		return append(append(dst, "FAILED:"...), cc.VerifyError...)
	}
	if cc == nil {
		return dst
	}
	switch k {
	case conf.VarSSLClientSDN:
		return append(dst, cc.SubjectDN...)
	case conf.VarSSLClientIDN:
		return append(dst, cc.IssuerDN...)
	case conf.VarSSLClientSerial:
		return append(dst, cc.Serial...)
	case conf.VarSSLClientCert:
		return append(dst, cc.FoldedPEM...)
	case conf.VarSSLClientRawCert:
		return append(dst, cc.PEM...)
	case conf.VarSSLClientEscapedCert:
		return append(dst, cc.EscapedPEM...)
	case conf.VarSSLClientSDNLegacy:
		return append(dst, cc.LegacySubject...)
	case conf.VarSSLClientIDNLegacy:
		return append(dst, cc.LegacyIssuer...)
	case conf.VarSSLClientVStart:
		return cc.NotBefore.UTC().AppendFormat(dst, opensslTime)
	case conf.VarSSLClientVEnd:
		return cc.NotAfter.UTC().AppendFormat(dst, opensslTime)
	case conf.VarSSLClientVRemain:
		days := int64(cc.NotAfter.Sub(rq.w.loop.Wall()) / (24 * time.Hour))
		return strconv.AppendInt(dst, max(days, 0), 10)
	}
	return dst
}

// opensslTime is how OpenSSL prints a certificate's validity
// (ASN1_TIME_print), as nginx's $ssl_client_v_start.
const opensslTime = "Jan _2 15:04:05 2006 GMT"

// appendCipherName appends a suite's OpenSSL name, or 0xXXXX for one
// tern does not know (GREASE, suites Go lacks).
func appendCipherName(dst []byte, id uint16) []byte {
	if name := conf.CipherName(id); !strings.HasPrefix(name, "0x") {
		return append(dst, name...)
	}
	const hex = "0123456789ABCDEF"
	return append(dst, '0', 'x', hex[id>>12], hex[id>>8&15], hex[id>>4&15], hex[id&15])
}
