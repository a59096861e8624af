//go:build linux

package ssl

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/event"
)

// TestConnFieldsFound pins the names and types of the tls.Conn buffers an
// idle connection gives up (retain.go): a Go release that changes them
// must fail here rather than let idle connections grow silently.
func TestConnFieldsFound(t *testing.T) {
	if !connFields.ok {
		t.Fatal("tls.Conn has no rawInput and hand bytes.Buffer and input bytes.Reader any more: update retain.go")
	}
}

// idleRig is an engine with finished handshakes over socketpairs.
type idleRig struct {
	t    *testing.T
	loop *event.Loop
	e    *Engine
	f    *confFixture
}

func newIdleRig(t *testing.T) *idleRig { return newIdleRigConf(t, twoServers) }

func newIdleRigConf(t *testing.T, src string) *idleRig {
	f := loadConf(t, src)
	loop, err := event.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Close() })
	return &idleRig{t: t, loop: loop, e: NewEngine(loop, f.cfg, StaticKeys{NewKey()}), f: f}
}

// holdConn is a client's transport that keeps what it is given while
// hold is set, so that a test can send a record in pieces.
type holdConn struct {
	net.Conn
	hold bool
	held []byte
}

func (h *holdConn) Write(p []byte) (int, error) {
	if h.hold {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// open makes a connection whose handshake is done.
func (r *idleRig) open() (*Conn, *tls.Conn, *holdConn) {
	return r.openWith(r.f.clientConfig("a.test"))
}

// openWith is open with the client's configuration cfg.
func (r *idleRig) openWith(cfg *tls.Config) (*Conn, *tls.Conn, *holdConn) {
	t := r.t
	fd, sock := socketPair(t)
	raw := &holdConn{Conn: sock}
	client := tls.Client(raw, cfg)
	done := make(chan error, 1)
	go func() { done <- client.Handshake() }()
	buf := make([]byte, 4096)
	var o owner
	c := r.e.Start(fd, r.f.cfg.HTTP.Addrs[0], buf[:readHelloFrom(t, fd, buf)], &o)
	if err := r.loop.Add(fd, event.In|event.Out|event.RDHup|event.ET, poker{c}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, r.loop, func() bool { return o.done == 1 })
	if err := <-done; err != nil || c.Err() != nil {
		t.Fatalf("handshake: client %v, server %v", err, c.Err())
	}
	return c, client, raw
}

// readAll reads from c until it has want bytes and the next Read says
// EAGAIN, as the worker reads.
func (r *idleRig) readAll(c *Conn, want int) string {
	var got []byte
	buf := make([]byte, 4096)
	runUntil(r.t, r.loop, func() bool {
		n, err := c.Read(buf)
		switch {
		case err == nil && n > 0:
			got = append(got, buf[:n]...)
		case err != nil && err != unix.EAGAIN:
			r.t.Fatal(err)
		}
		return len(got) >= want && err == unix.EAGAIN
	})
	return string(got)
}

// TestIdleConnHoldsNoInputBuffers: once a connection read everything
// there was, crypto/tls's input and handshake buffers are gone from it
// (their arrays in the engine's pool), and its next requests read
// correctly, whole or in pieces, from an array of the pool.
func TestIdleConnHoldsNoInputBuffers(t *testing.T) {
	r := newIdleRig(t)
	const n = 50
	type pair struct {
		c      *Conn
		client *tls.Conn
		raw    *holdConn
	}
	var conns []pair
	for range n {
		c, client, raw := r.open()
		if _, err := client.Write([]byte("GET /1 HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if got := r.readAll(c, 19); got != "GET /1 HTTP/1.1\r\n\r\n" {
			t.Fatalf("first request: %q", got)
		}
		conns = append(conns, pair{c, client, raw})
	}
	for i, p := range conns {
		if c := rawInputOf(p.c.tc).Cap(); c != 0 {
			t.Fatalf("conn %d: an idle connection keeps a %d-byte rawInput", i, c)
		}
		if c := handOf(p.c.tc).Cap(); c != 0 {
			t.Fatalf("conn %d: an idle connection keeps a %d-byte handshake buffer", i, c)
		}
	}
	if len(r.e.ins) == 0 {
		t.Fatal("no input buffer went to the pool")
	}
	// A request in one record, then one whose record comes in two
	// pieces: the first piece stays in crypto/tls, which keeps its
	// buffer until the record is whole.
	p := conns[0]
	req := "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"
	if _, err := p.client.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if got := r.readAll(p.c, len(req)); got != req {
		t.Fatalf("second request: %q", got)
	}
	p.raw.hold = true
	if _, err := p.client.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	p.raw.hold = false
	rec := p.raw.held
	if _, err := p.raw.Write(rec[:10]); err != nil {
		t.Fatal(err)
	}
	r.loop.CapWait(100 * time.Millisecond)
	if err := r.loop.RunOnce(); err != nil { // the piece's EPOLLIN
		t.Fatal(err)
	}
	if !p.c.readable {
		t.Fatal("no EPOLLIN for the piece")
	}
	r.readAll(p.c, 0)
	if rawInputOf(p.c.tc).Len() != 10 || p.c.parked {
		t.Fatalf("a partial record: rawInput holds %d bytes, parked %v", rawInputOf(p.c.tc).Len(), p.c.parked)
	}
	if _, err := p.raw.Write(rec[10:]); err != nil {
		t.Fatal(err)
	}
	if got := r.readAll(p.c, len(req)); got != req {
		t.Fatalf("third request: %q", got)
	}
	if !p.c.parked || rawInputOf(p.c.tc).Cap() != 0 {
		t.Fatal("the connection did not give its input buffer back after the third request")
	}
}

// TestFillKeepsTheEnd: what the socket says after the data that the
// loop's read took into crypto/tls (fill) reaches the connection in
// order: a request then close_notify reads as the request then the end;
// a request then a bare FIN, the same.
func TestFillKeepsTheEnd(t *testing.T) {
	r := newIdleRig(t)
	req := "GET / HTTP/1.1\r\n\r\n"
	// readEnd reads the request, then what follows it, running the
	// loop for the socket's events.
	readEnd := func(c *Conn) (string, error) {
		var got []byte
		buf := make([]byte, 4096)
		var end error
		done := false
		runUntil(t, r.loop, func() bool {
			for !done {
				n, err := c.Read(buf)
				switch {
				case err == unix.EAGAIN:
					return false
				case err != nil:
					end, done = err, true
				case n == 0:
					done = true
				default:
					got = append(got, buf[:n]...)
				}
			}
			return true
		})
		return string(got), end
	}
	for _, tc := range []struct {
		name string
		end  func(client *tls.Conn, raw *holdConn)
	}{
		{"close_notify", func(client *tls.Conn, _ *holdConn) { client.Close() }},
		{"FIN", func(_ *tls.Conn, raw *holdConn) { raw.Conn.(*net.UnixConn).CloseWrite() }},
	} {
		c, client, raw := r.open()
		if _, err := client.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		tc.end(client, raw)
		// The request and its end arrive together: both are in the
		// socket before the connection's first read.
		r.loop.CapWait(50 * time.Millisecond)
		r.loop.RunOnce()
		got, err := readEnd(c)
		if got != req {
			t.Errorf("%s: read %q", tc.name, got)
		}
		if err != nil {
			t.Errorf("%s: the end read as error %v", tc.name, err)
		}
	}
}
