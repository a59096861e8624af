//go:build linux

package event

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// roomRec is an AcceptHandler with a settable Room.
type roomRec struct {
	acceptRec
	room int
}

func (r *roomRec) Room() int { return r.room }

// dialN opens n connections to addr; the kernel completes them into the
// listen queue whether or not anybody accepts.
func dialN(t *testing.T, addr string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// TestAcceptorBatch: one wake-up accepts at most acceptBatch connections;
// the rest come on the next waits (the socket is level-triggered).
func TestAcceptorBatch(t *testing.T) {
	l := newLoop(t)
	fd, addr := listenFD(t)
	rec := &roomRec{room: 1000}
	a := NewAcceptor(l, rec)
	a.Add(&Listener{FD: fd})
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	dialN(t, addr, 3*acceptBatch)
	defer func() { closeAll(rec.fds) }()
	l.CapWait(time.Second)
	l.RunOnce()
	if len(rec.fds) != acceptBatch {
		t.Fatalf("first wake-up accepted %d, want %d", len(rec.fds), acceptBatch)
	}
	for i := 0; i < 10 && len(rec.fds) < 3*acceptBatch; i++ {
		l.CapWait(time.Second)
		l.RunOnce()
	}
	if len(rec.fds) != 3*acceptBatch {
		t.Fatalf("accepted %d, want %d", len(rec.fds), 3*acceptBatch)
	}
}

// mutexWorker is one simulated worker: a loop, an acceptor on its own
// copy of a shared listening socket, and an accept mutex.
type mutexWorker struct {
	loop *Loop
	rec  *roomRec
	acc  *Acceptor
	m    *AcceptMutex
}

func newMutexWorker(t *testing.T, sh *Shared, lnFD, slot, pid int, delay time.Duration) *mutexWorker {
	t.Helper()
	fd, err := unix.Dup(lnFD)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	w := &mutexWorker{loop: newLoop(t), rec: &roomRec{room: 100}}
	w.acc = NewAcceptor(w.loop, w.rec)
	w.acc.Add(&Listener{FD: fd})
	sh.Occupy(slot, pid)
	w.m = NewAcceptMutex(w.loop, w.acc, sh, slot, pid, delay)
	if err := w.acc.Enable(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeAll(w.rec.fds) })
	return w
}

// runUntil runs w's loop until cond or d passes; it reports cond.
func (w *mutexWorker) runUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		w.loop.RunOnce()
	}
	return true
}

// TestAcceptMutexStoppedHolder: a holder that stops renewing its lease
// (here: its loop no longer runs, as under SIGSTOP) loses the lock once
// the lease expires, and another worker accepts within 1.5 × the delay.
func TestAcceptMutexStoppedHolder(t *testing.T) {
	sh := newShared(t)
	fd, addr := listenFD(t)
	const delay = 100 * time.Millisecond
	a := newMutexWorker(t, sh, fd, 0, 1001, delay)
	b := newMutexWorker(t, sh, fd, 1, 1002, delay)
	// a takes the lock before its wait, and stops there.
	a.loop.UpdateTime()
	a.m.Tick()
	if !a.m.Held() || sh.AcceptLock().Holder() != 1001 {
		t.Fatal("a did not take the free lock")
	}
	stopped := time.Now()
	b.loop.UpdateTime()
	b.m.Tick()
	if b.m.Held() {
		t.Fatal("b took a live lease")
	}
	dialN(t, addr, 1)
	if !b.runUntil(2*time.Second, func() bool { return len(b.rec.fds) == 1 }) {
		t.Fatalf("b accepted nothing in 2s; lock holder %d", sh.AcceptLock().Holder())
	}
	if el := time.Since(stopped); el > 3*delay {
		t.Errorf("b accepted %v after a stopped, want within about 1.5 × %v", el, delay)
	}
	if len(a.rec.fds) != 0 {
		t.Fatal("the stopped worker accepted")
	}
	// a comes back: its release fails, the lock being b's or free.
	a.loop.CapWait(time.Millisecond)
	a.loop.RunOnce()
	if h := sh.AcceptLock().Holder(); h == 1001 && !a.m.Held() {
		t.Fatalf("holder %d", h)
	}
}

// TestAcceptMutexNoRoom: a worker without room, or paused at EMFILE, does
// not take the lock; one at its limit (room 0) takes it when no other
// worker has room, and accepts one connection per wake-up.
func TestAcceptMutexNoRoom(t *testing.T) {
	sh := newShared(t)
	fd, addr := listenFD(t)
	w := newMutexWorker(t, sh, fd, 0, 1001, 50*time.Millisecond)
	w.loop.UpdateTime()
	w.rec.room = -1
	w.m.Tick()
	if w.m.Held() || sh.AcceptLock().Holder() != 0 {
		t.Fatal("a worker without room took the lock")
	}
	w.rec.room = 100
	w.acc.paused = true
	w.m.Tick()
	if w.m.Held() || sh.AcceptLock().Holder() != 0 {
		t.Fatal("a worker paused at EMFILE took the lock")
	}
	w.acc.paused = false
	w.rec.room = 0
	dialN(t, addr, 3)
	w.m.Tick()
	if !w.m.Held() {
		t.Fatal("a worker at its limit, alone, did not take the lock")
	}
	w.loop.CapWait(time.Second)
	w.loop.RunOnce()
	if len(w.rec.fds) != 1 {
		t.Fatalf("at its limit, accepted %d in one wake-up, want 1", len(w.rec.fds))
	}
}
