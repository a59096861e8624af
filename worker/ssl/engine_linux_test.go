//go:build linux

package ssl

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/event"
)

// poker passes a connection's epoll events to its handshake.
type poker struct{ c *Conn }

func (p poker) Event(ev uint32) {
	switch {
	case p.c.handshaking:
		p.c.Poke()
	case ev&(event.RDHup|event.Err|event.Hup) != 0:
		p.c.Shut()
	case ev&event.In != 0:
		p.c.Readable()
	}
}

// owner records HandshakeDone.
type owner struct{ done int }

func (o *owner) HandshakeDone() { o.done++ }

// socketPair returns a non-blocking server end and a net.Conn client end.
func socketPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "client")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); c.Close() })
	return fds[0], c
}

// runUntil runs the loop until cond holds, for at most 5 s.
func runUntil(t *testing.T, l *event.Loop, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		l.CapWait(10 * time.Millisecond)
		if err := l.RunOnce(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestEngineQueue: beyond MaxHandshakes, a handshake waits for a slot; a
// running one is canceled through its goroutine, a waiting one at once.
func TestEngineQueue(t *testing.T) {
	f := loadConf(t, twoServers)
	loop, err := event.New()
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	e := NewEngine(loop, f.cfg, StaticKeys{NewKey()})
	e.MaxHandshakes = 1
	addr := f.cfg.HTTP.Addrs[0]

	// A: a ClientHello, then silence.
	fdA, _ := socketPair(t)
	hello := clientHello(t, f.clientConfig("a.test"))
	var oa, ob, oc owner
	a := e.Start(fdA, addr, hello, &oa)
	// B: a real client, which waits for A's slot.
	fdB, cb := socketPair(t)
	client := tls.Client(cb, f.clientConfig("b.test"))
	clientErr := make(chan error, 1)
	go func() { clientErr <- client.Handshake() }()
	// The loop reads B's ClientHello itself; here the test does.
	rawB := make([]byte, 4096)
	n := readHelloFrom(t, fdB, rawB)
	b := e.Start(fdB, addr, rawB[:n], &ob)
	fdC, _ := socketPair(t)
	c := e.Start(fdC, addr, hello, &oc)
	if running, waiting := e.Running(); running != 1 || waiting != 2 {
		t.Fatalf("running %d, waiting %d", running, waiting)
	}
	// C gives up while waiting: it may close at once.
	if !e.Cancel(c) || oc.done != 0 {
		t.Fatal("a waiting handshake was not canceled at once")
	}
	// A gives up: its goroutine finishes, then B runs and completes.
	if e.Cancel(a) {
		t.Fatal("a running handshake reported canceled at once")
	}
	runUntil(t, loop, func() bool { return oa.done == 1 })
	if !errors.Is(a.Err(), errCanceled) {
		t.Fatalf("A: %v", a.Err())
	}
	// B's handshake waits for the loop's pokes, which the
	// socket's epoll events bring, as in the worker.
	if err := loop.Add(fdB, event.In|event.Out|event.RDHup|event.ET, poker{b}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, loop, func() bool { return ob.done == 1 })
	if b.Err() != nil || <-clientErr != nil || b.Server().Names[0] != "b.test" {
		t.Fatalf("B: %v", b.Err())
	}
	if running, waiting := e.Running(); running != 0 || waiting != 0 {
		t.Fatalf("after: running %d, waiting %d", running, waiting)
	}
	e.Close()
}

// readHelloFrom reads a complete ClientHello from fd.
func readHelloFrom(t *testing.T, fd int, buf []byte) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(5 * time.Second); ScanHello(buf[:n], len(buf)) != HelloDone; {
		m, err := unix.Read(fd, buf[n:])
		if m > 0 {
			n += m
		} else if err != unix.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("reading the ClientHello: %v", err)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	return n
}

// TestHandshakeStaysOnLoopThread: the handshake runs on the loop's own
// thread, within the loop's calls (Start runs it to its first wait), so
// that a flight costs no thread wake-up; it is reported done from the
// loop's posted work. Before its coroutine, the handshake ran on a
// goroutine of its own that Start only started.
func TestHandshakeStaysOnLoopThread(t *testing.T) {
	runtime.LockOSThread() // so that every Gettid below names one thread
	defer runtime.UnlockOSThread()
	f := loadConf(t, twoServers)
	loop, err := event.New()
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	e := NewEngine(loop, f.cfg, StaticKeys{NewKey()})
	addr := f.cfg.HTTP.Addrs[0]
	var tids []int
	cfg := e.configs.byAddr[addr].Clone()
	pick := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		tids = append(tids, unix.Gettid())
		return pick(h)
	}
	e.configs.byAddr[addr] = cfg

	fd, cb := socketPair(t)
	client := tls.Client(cb, f.clientConfig("b.test"))
	clientErr := make(chan error, 1)
	go func() {
		err := client.Handshake()
		if err == nil {
			// A request with the client's Finished, as browsers send.
			_, err = client.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		}
		clientErr <- err
	}()
	raw := make([]byte, 4096)
	var o owner
	c := e.Start(fd, addr, raw[:readHelloFrom(t, fd, raw)], &o)
	if len(tids) != 1 || tids[0] != unix.Gettid() {
		t.Fatalf("the handshake ran on threads %v before Start returned, want [%d] (the loop's)", tids, unix.Gettid())
	}
	if err := loop.Add(fd, event.In|event.Out|event.RDHup|event.ET, poker{c}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, loop, func() bool { return o.done == 1 })
	if c.Err() != nil || <-clientErr != nil || c.Server().Names[0] != "b.test" {
		t.Fatalf("handshake: %v", c.Err())
	}
	// The request that came with the client's Finished is the loop's.
	buf := make([]byte, 64)
	var got []byte
	for deadline := time.Now().Add(5 * time.Second); len(got) < 18 && time.Now().Before(deadline); {
		n, err := c.Read(buf)
		if err == unix.EAGAIN {
			loop.CapWait(10 * time.Millisecond)
			loop.RunOnce()
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("read %q", got)
	}
	if running, waiting := e.Running(); running != 0 || waiting != 0 {
		t.Fatalf("after: running %d, waiting %d", running, waiting)
	}
}
