//go:build linux

package event

import (
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type fdRec struct {
	events []uint32
}

func (r *fdRec) Event(ev uint32) { r.events = append(r.events, ev) }

func newLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestLoopDispatchesReadable(t *testing.T) {
	l := newLoop(t)
	r, w := pipe(t)
	rec := &fdRec{}
	if err := l.Add(r, In|ET, rec); err != nil {
		t.Fatal(err)
	}
	Write(w, []byte("x"))
	l.CapWait(time.Second)
	if err := l.RunOnce(); err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 1 || rec.events[0]&In == 0 {
		t.Fatalf("events %v, want one In", rec.events)
	}
}

// closer closes another fd of the same batch, whose event must then be
// dropped even though a new registration reuses the number.
type closer struct {
	l      *Loop
	victim int
	fired  *int
	reuse  func() int
}

func (c *closer) Event(uint32) {
	*c.fired++
	c.l.Forget(c.victim)
	unix.Close(c.victim)
	fd := c.reuse()
	if fd != c.victim {
		panic("fd not reused")
	}
	c.l.Add(fd, In|ET, &fdRec{})
}

func TestLoopDropsStaleEvent(t *testing.T) {
	l := newLoop(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	fired := 0
	var p [2]int
	c1 := &closer{l: l, victim: r2, fired: &fired, reuse: func() int {
		unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
		return p[0]
	}}
	c2 := &closer{l: l, victim: r1, fired: &fired, reuse: func() int {
		unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
		return p[0]
	}}
	l.Add(r1, In|ET, c1)
	l.Add(r2, In|ET, c2)
	Write(w1, []byte("x"))
	Write(w2, []byte("x"))
	l.CapWait(time.Second)
	l.RunOnce()
	// Whichever ran first closed the other and reused its number: the
	// other's queued event carries the old generation and is dropped.
	if fired != 1 {
		t.Fatalf("%d handlers ran, want 1", fired)
	}
	unix.Close(p[0])
	unix.Close(p[1])
}

type drainer struct {
	mu    sync.Mutex
	items int
	got   int
}

func (d *drainer) Drain() {
	d.mu.Lock()
	d.got += d.items
	d.items = 0
	d.mu.Unlock()
}

func TestLoopWakeFromGoroutines(t *testing.T) {
	l := newLoop(t)
	d := &drainer{}
	l.OnWake(d)
	const n = 1000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				d.mu.Lock()
				d.items++
				d.mu.Unlock()
				l.Wake()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.CapWait(50 * time.Millisecond)
		l.RunOnce()
		d.mu.Lock()
		got := d.got
		d.mu.Unlock()
		if got == 4*n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drained %d of %d", got, 4*n)
		}
	}
	<-done
}

func TestLoopSubmit(t *testing.T) {
	l := newLoop(t)
	ran := make(chan struct{})
	go l.Submit(func() { l.Stop(); close(ran) })
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	default:
		t.Fatal("submitted func did not run")
	}
}

type timeoutRec struct {
	at []int64
	l  *Loop
}

func (r *timeoutRec) Timeout() { r.at = append(r.at, r.l.Now()) }

func TestLoopTimerFires(t *testing.T) {
	l := newLoop(t)
	l.UpdateTime()
	rec := &timeoutRec{l: l}
	var tm Timer
	start := l.Now()
	l.SetTimer(&tm, 30*time.Millisecond, rec)
	for len(rec.at) == 0 {
		l.RunOnce()
	}
	if el := time.Duration(rec.at[0] - start); el < 30*time.Millisecond || el > time.Second {
		t.Fatalf("fired after %v, want >= 30ms", el)
	}
}

type posted struct {
	l     *Loop
	n     int
	limit int
}

func (p *posted) Posted() {
	p.n++
	if p.n < p.limit {
		p.l.Post(p)
	}
}

// TestLoopPostedRunsNextIteration checks that re-posting yields to the
// next iteration instead of looping inside one.
func TestLoopPostedRunsNextIteration(t *testing.T) {
	l := newLoop(t)
	p := &posted{l: l, limit: 3}
	l.Post(p)
	for i := 1; i <= 3; i++ {
		l.RunOnce()
		if p.n != i {
			t.Fatalf("after iteration %d ran %d times", i, p.n)
		}
	}
}

type acceptRec struct {
	fds  []int
	errs []error
}

func (a *acceptRec) Accepted(l *Listener, fd int, peer *unix.RawSockaddrAny) {
	a.fds = append(a.fds, fd)
}
func (a *acceptRec) AcceptError(l *Listener, err error) { a.errs = append(a.errs, err) }
func (a *acceptRec) Room() int                          { return 1 }

func listenFD(t *testing.T) (int, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	unix.SetNonblock(fd, true)
	t.Cleanup(func() { unix.Close(fd) })
	return fd, addr
}

func TestAcceptorAcceptsQueued(t *testing.T) {
	l := newLoop(t)
	fd, addr := listenFD(t)
	rec := &acceptRec{}
	a := NewAcceptor(l, rec)
	a.Add(&Listener{FD: fd})
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.fds) < 5 && time.Now().Before(deadline) {
		l.CapWait(100 * time.Millisecond)
		l.RunOnce()
	}
	if len(rec.fds) != 5 || len(rec.errs) != 0 {
		t.Fatalf("accepted %d (errors %v), want 5", len(rec.fds), rec.errs)
	}
	for _, c := range clients {
		c.Close()
	}
	for _, fd := range rec.fds {
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if fl&unix.O_NONBLOCK == 0 {
			t.Errorf("accepted fd %d is blocking", fd)
		}
		unix.Close(fd)
	}
}
