//go:build linux

package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"iter"
	"net/url"
	"strings"

	"tern/conf"
	"tern/event"
)

const (
	// plainChunk is the most plaintext one tls.Conn.Write gets: four
	// full records, so that a batch of a file body is one write(2).
	plainChunk = 4 * maxPlaintext
	// outSize is a ciphertext buffer: plainChunk and the overhead of its
	// records (header, tag, content type), small records included.
	outSize = plainChunk + 4<<10
	// keepOuts bounds the free ciphertext buffers a worker keeps.
	keepOuts = 64
	// keepIns bounds the free input buffers of idle connections
	// (Conn.park) a worker keeps, and maxIn their size: two records.
	keepIns = 64
	maxIn   = 2 * (recordHeaderLen + maxPlaintext + 256)
)

// Engine is a worker's TLS: the configurations of its TLS servers and
// the handshakes in progress. It belongs to the loop goroutine.
//
// A handshake runs on a goroutine of its own, because crypto/tls cannot
// be driven by non-blocking reads (TestHandshakeErrorIsSticky). That
// goroutine is a coroutine of the loop (iter.Pull): the loop switches to
// it when the socket may be ready, it runs crypto/tls until its transport
// finds the socket empty (or full), and it switches back. The switch
// stays on the loop's OS thread (the runtime's coroswitch runs the
// coroutine on the switching goroutine's thread), so a handshake costs no
// thread wake-up, no context switch and no eventfd: it runs where nginx
// runs its own, on the loop, and each of its flights is a direct call
// (TestHandshakeStaysOnLoopThread).
//
// At most MaxHandshakes are in progress at once; connections whose
// ClientHello is complete beyond that wait in order for a slot. The loop
// reads the ClientHello before (ScanHello), so a connection that sends
// nothing, or sends it slowly, takes no goroutine.
//
// MaxHandshakes is worker_connections: a lower bound would let a client
// that sends that many ClientHellos and never answers the server's
// flight hold up every other handshake until ssl_handshake_timeout. A
// stalled handshake holds about 16 KiB (its goroutine's stack and
// crypto/tls's state; measured), against about 5 KiB for a connection
// whose ClientHello is still arriving and 0.3 KiB for one that sent
// nothing.
type Engine struct {
	loop *event.Loop
	// MaxHandshakes bounds the handshakes in progress at once.
	MaxHandshakes int
	running       int
	waiting       []*Conn
	inFlight      map[*Conn]struct{} // those whose coroutine was started

	// done are the finished handshakes, reported to their owners from
	// Posted: never from inside the owner's own call into the engine.
	done     []*Conn
	draining []*Conn
	posted   bool

	configs *Configs
	plain   []byte   // Writev's gathering buffer
	outs    [][]byte // free ciphertext buffers
	ins     [][]byte // free input buffers, empty slices of their arrays
}

// NewEngine makes the TLS engine of a worker for cfg's TLS servers.
func NewEngine(loop *event.Loop, cfg *conf.Config, keys TicketKeys) *Engine {
	return &Engine{
		loop:          loop,
		MaxHandshakes: cfg.WorkerConnections,
		configs:       NewConfigs(cfg, keys),
		plain:         make([]byte, plainChunk),
		inFlight:      make(map[*Conn]struct{}),
	}
}

// Start begins the handshake of the connection fd on addr, whose first
// bytes, the ClientHello, the loop has read into hello; the Conn reads
// them before the socket and keeps no reference to them once the
// handshake is done. The handshake runs until it waits for the client
// before Start returns; the owner hears of its end (HandshakeDone) from
// the loop later, never from inside Start.
func (e *Engine) Start(fd int, addr *conf.Addr, hello []byte, owner Owner) *Conn {
	c := &Conn{fd: fd, e: e, owner: owner, hello: hello, handshaking: true}
	c.tc = tls.Server((*transport)(c), e.configs.forAddr(addr))
	if e.running < e.MaxHandshakes {
		e.run(c)
	} else {
		c.queued = true
		e.waiting = append(e.waiting, c)
	}
	return c
}

// run makes the coroutine of c's handshake and runs it to its first
// wait.
func (e *Engine) run(c *Conn) {
	e.inFlight[c] = struct{}{}
	e.running++
	c.resume, c.stop = iter.Pull(c.handshake)
	c.Poke()
}

// handshake is the body of the connection's coroutine. yield switches
// back to the loop; the transport calls it when the socket is empty or
// full. A panic in it (in crypto/tls, or in a callback of ours) fails the
// handshake instead of the worker.
func (c *Conn) handshake(yield func(struct{}) bool) {
	c.yield = yield
	defer func() {
		c.yield = nil
		if v := recover(); v != nil {
			c.err = fmt.Errorf("panic in the TLS handshake: %v", v)
		}
		c.e.complete(c)
	}()
	err := c.tc.Handshake()
	if err == nil {
		cs := c.tc.ConnectionState()
		c.version, c.cipher, c.alpn = cs.Version, cs.CipherSuite, cs.NegotiatedProtocol
		c.serverName, c.resumed = cs.ServerName, cs.DidResume
		c.settleSessionID(cs.DidResume)
		var why string
		c.verify, why = c.e.configs.verifyClient(c.server, cs.PeerCertificates)
		if len(cs.PeerCertificates) > 0 {
			c.client = newClientCert(cs.PeerCertificates[0], why)
		}
	}
	c.err = err
}

// newClientCert is what the variables say of the client's certificate.
func newClientCert(leaf *x509.Certificate, why string) *ClientCert {
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	return &ClientCert{
		SubjectDN:     leaf.Subject.String(),
		IssuerDN:      leaf.Issuer.String(),
		Serial:        strings.ToUpper(leaf.SerialNumber.Text(16)),
		VerifyError:   why,
		LegacySubject: legacyDN(leaf.Subject),
		LegacyIssuer:  legacyDN(leaf.Issuer),
		NotBefore:     leaf.NotBefore,
		NotAfter:      leaf.NotAfter,
		PEM:           pemText,
		FoldedPEM:     strings.ReplaceAll(strings.TrimSuffix(pemText, "\n"), "\n", "\n\t") + "\n",
		EscapedPEM:    url.QueryEscape(pemText),
	}
}

// complete queues a finished handshake for its owner. All the
// handshakes that finish in one iteration of the loop are reported
// together, after its events.
func (e *Engine) complete(c *Conn) {
	e.done = append(e.done, c)
	if !e.posted {
		e.posted = true
		e.loop.Post(e)
	}
}

// Posted reports the finished handshakes to their owners and starts the
// waiting ones (event.Poster).
func (e *Engine) Posted() {
	e.posted = false
	e.draining, e.done = e.done, e.draining[:0]
	for i, c := range e.draining {
		e.draining[i] = nil
		delete(e.inFlight, c)
		e.running--
		c.finish()
		c.owner.HandshakeDone()
	}
	for e.running < e.MaxHandshakes && len(e.waiting) > 0 {
		c := e.waiting[0]
		e.waiting[0] = nil
		e.waiting = e.waiting[1:]
		c.queued = false
		e.run(c)
	}
	if len(e.waiting) == 0 {
		e.waiting = nil // let the queue's array go after a burst
	}
}

// finish moves a Conn from its handshake to the loop.
func (c *Conn) finish() {
	c.handshaking = false
	c.resume, c.stop = nil, nil
	// The rest of what the loop read first, if crypto/tls did not read
	// it all, must not point into the loop's buffer any more.
	c.hello = bytes.Clone(c.hello)
	if len(c.hello) == 0 {
		c.hello = nil
	}
	// crypto/tls may hold records it read during the handshake (a
	// request sent with the client's Finished): the first Read asks it.
	c.readable = true
	c.rs.uncertain = true
	c.dropHand()
}

// Cancel ends a handshake the loop gives up on (ssl_handshake_timeout,
// a closing worker). It reports whether the connection may be closed at
// once: true for one still waiting for a slot, false for one that
// started, which fails at once and which the owner hears of through
// HandshakeDone.
func (e *Engine) Cancel(c *Conn) bool {
	if c.queued {
		for i, w := range e.waiting {
			if w == c {
				e.waiting = append(e.waiting[:i], e.waiting[i+1:]...)
				break
			}
		}
		c.queued = false
		c.handshaking = false
		c.err = errCanceled
		return true
	}
	if !c.handshaking {
		return true
	}
	c.canceled = true
	c.Poke()
	return false
}

// Running is the number of handshakes in progress and waiting.
func (e *Engine) Running() (running, waiting int) { return e.running, len(e.waiting) }

// Close cancels every handshake, so that none of their goroutines is
// left behind when the worker closes its sockets on its way out.
func (e *Engine) Close() {
	for c := range e.inFlight {
		e.Cancel(c)
		if c.stop != nil {
			c.stop()
		}
	}
	e.waiting = nil
}

// gather copies the bytes of bufs from offset skip into the gathering
// buffer, as much as fits, and returns them. A single buffer is
// returned as it is.
func (e *Engine) gather(bufs [][]byte, skip int) []byte {
	for len(bufs) > 0 && skip >= len(bufs[0]) {
		skip -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) == 1 || len(bufs) > 0 && len(bufs[0])-skip >= plainChunk {
		b := bufs[0][skip:]
		return b[:min(len(b), plainChunk)]
	}
	p := e.plain[:0]
	for _, b := range bufs {
		b = b[skip:]
		skip = 0
		k := min(len(b), plainChunk-len(p))
		p = append(p, b[:k]...)
		if len(p) == plainChunk {
			break
		}
	}
	return p
}

func (e *Engine) getOut() []byte {
	if n := len(e.outs); n > 0 {
		b := e.outs[n-1]
		e.outs[n-1] = nil
		e.outs = e.outs[:n-1]
		return b
	}
	return make([]byte, 0, outSize)
}

func (e *Engine) putOut(b []byte) {
	if b != nil && cap(b) <= 2*outSize && len(e.outs) < keepOuts {
		e.outs = append(e.outs, b[:0])
	}
}

func (e *Engine) getIn() []byte {
	if n := len(e.ins); n > 0 {
		b := e.ins[n-1]
		e.ins[n-1] = nil
		e.ins = e.ins[:n-1]
		return b
	}
	return nil
}

func (e *Engine) putIn(b []byte) {
	if cap(b) > 0 && cap(b) <= maxIn && len(e.ins) < keepIns {
		e.ins = append(e.ins, b[:0])
	}
}

// Same reports whether servers a and b have the same certificates and
// client verification (Configs.Same).
func (e *Engine) Same(a, b *conf.Server) bool { return e.configs.Same(a, b) }

// SetTicketKeys makes keys the session ticket keys of the servers that
// have no ssl_session_ticket_key files: the master's. Call it before the
// loop runs.
func (e *Engine) SetTicketKeys(keys TicketKeys) { e.configs.keys = keys }

// SetACME makes store the source of the certificates of the servers
// with acme_certificate, and of the tls-alpn-01 answers. Call it before
// the loop runs.
func (e *Engine) SetACME(store *ACMEStore) { e.configs.acme = store }
