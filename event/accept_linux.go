//go:build linux

package event

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Listener is a listening socket a worker accepts on. Its fd must be
// non-blocking (the flag lives on the open file description, so it holds
// in every process that inherited the socket).
type Listener struct {
	FD int
	// Index is the caller's name for the socket: which configured address
	// it serves.
	Index int
	// Exclusive registers the socket with EPOLLEXCLUSIVE, so that the
	// kernel wakes one waiting worker per connection instead of all.
	Exclusive bool
	// Own marks a socket of this worker alone (listen ... reuseport, one
	// socket per worker): the accept mutex never takes it out of the
	// epoll set, and it is never registered exclusive.
	Own bool

	a       *Acceptor
	enabled bool
	// accepts counts connections since the last re-registration of an
	// Exclusive socket.
	accepts int
}

// AcceptHandler receives what the Acceptor accepts.
type AcceptHandler interface {
	// Accepted hands over fd, a non-blocking close-on-exec socket
	// accepted from l, and its peer address.
	Accepted(l *Listener, fd int, peer *unix.RawSockaddrAny)
	// AcceptError reports a failed accept4 other than EAGAIN.
	AcceptError(l *Listener, err error)
	// Room is how many more connections the handler takes: > 0 free
	// ones, 0 when a new one costs an idle one, < 0 when a new one would
	// be closed at once. Without room a worker leaves the accept lock,
	// and the connections, to the others.
	Room() int
}

// Acceptor accepts on a set of listening sockets until each says EAGAIN.
// When the process runs out of descriptors (EMFILE, ENFILE), accepting
// would fail again at once — a level-triggered listener would spin — so the
// Acceptor takes its sockets out of the epoll set for a delay, as nginx.
type Acceptor struct {
	loop      *Loop
	h         AcceptHandler
	listeners []*Listener
	// Backoff is how long accepting pauses after EMFILE/ENFILE (nginx
	// uses accept_mutex_delay).
	Backoff time.Duration
	// Disabled is nginx's ngx_accept_disabled, kept by the handler as
	// connections open and close: worker_connections/8 minus the free
	// connections. While it is positive the worker is above 7/8 of its
	// connections: under the accept mutex it leaves the lock to a
	// competing worker with fewer connections (nginx skips that many
	// tries instead), with EPOLLEXCLUSIVE it re-registers its sockets
	// after each batch so that the kernel prefers other workers.
	Disabled int

	rsa    unix.RawSockaddrAny
	paused bool
	want   bool // Enable was called and Disable was not
	closed bool
	resume Timer
	mutex  *AcceptMutex // nil: the shared sockets are always polled
}

// NewAcceptor creates an Acceptor that hands connections to h.
func NewAcceptor(loop *Loop, h AcceptHandler) *Acceptor {
	return &Acceptor{loop: loop, h: h, Backoff: 500 * time.Millisecond}
}

// Add adds a listening socket; it is polled once Enable is called.
func (a *Acceptor) Add(l *Listener) {
	l.a = a
	a.listeners = append(a.listeners, l)
	if a.want && !a.paused {
		a.enable(l)
	}
}

// Listeners returns the sockets added.
func (a *Acceptor) Listeners() []*Listener { return a.listeners }

// Enable puts every listening socket in the epoll set.
func (a *Acceptor) Enable() error {
	a.want = true
	if a.paused {
		return nil
	}
	for _, l := range a.listeners {
		if err := a.enable(l); err != nil {
			return err
		}
	}
	return nil
}

// Disable takes every listening socket out of the epoll set.
func (a *Acceptor) Disable() {
	a.want = false
	for _, l := range a.listeners {
		a.disable(l)
	}
}

// Enabled reports whether the sockets are being polled.
func (a *Acceptor) Enabled() bool { return a.want && !a.paused }

// canAccept reports whether a connection accepted now would be kept: the
// acceptor is enabled, not paused for lack of descriptors, and the
// handler has room.
func (a *Acceptor) canAccept() bool {
	return a.want && !a.paused && !a.closed && a.h.Room() >= 0
}

func (a *Acceptor) enable(l *Listener) error {
	if l.enabled || a.closed {
		return nil
	}
	if a.mutex != nil && !l.Own && !a.mutex.held {
		return nil // the shared sockets wait for the lock
	}
	// Level-triggered: a socket left with connections in its queue (the
	// batch stopped early, or another worker took the lock) is reported
	// again on the next wait.
	ev := uint32(In)
	if l.Exclusive && !l.Own {
		ev |= Exclusive
	}
	if err := a.loop.Add(l.FD, ev, l); err != nil {
		return err
	}
	l.enabled = true
	return nil
}

func (a *Acceptor) disable(l *Listener) {
	if !l.enabled {
		return
	}
	a.loop.Del(l.FD)
	l.enabled = false
}

// enableShared puts the sockets shared with other workers in the epoll
// set: this worker took the accept lock.
func (a *Acceptor) enableShared() {
	if !a.want || a.paused {
		return
	}
	for _, l := range a.listeners {
		if !l.Own {
			a.enable(l)
		}
	}
}

// disableShared takes the shared sockets out: another worker holds the
// lock.
func (a *Acceptor) disableShared() {
	for _, l := range a.listeners {
		if !l.Own {
			a.disable(l)
		}
	}
}

// Close stops accepting for good and closes this process's copy of every
// listening socket (a worker that quits). The sockets stay open in the
// processes that still hold them, with their queued connections.
func (a *Acceptor) Close() {
	if a.mutex != nil {
		a.mutex.Stop()
	}
	a.Disable()
	a.closed = true
	a.loop.StopTimer(&a.resume)
	for _, l := range a.listeners {
		if l.FD >= 0 {
			unix.Close(l.FD)
			l.FD = -1
		}
	}
}

// reorderEvery is how many accepts an EPOLLEXCLUSIVE socket takes before
// it is registered again: Linux wakes the waiter that registered first, so
// without this one worker gets nearly every connection (nginx 1.21.6,
// ngx_reorder_accept_events).
const reorderEvery = 16

// acceptBatch caps the connections accepted per wake-up. Accepting until
// EAGAIN let a burst land on one worker — past its worker_connections,
// closing its own keep-alive clients to make room — while the others
// slept. After a batch the worker handles its other events and, under
// the accept mutex, releases the lock, so the balance rule decides who
// takes the next batch; a level-triggered socket with connections left
// is reported again on the next wait. nginx's multi_accept off takes one
// connection per wake-up; a few amortise the wait over a burst.
const acceptBatch = 8

// Event accepts up to acceptBatch connections.
func (l *Listener) Event(uint32) {
	a := l.a
	for n := 0; l.enabled; n++ {
		if n == acceptBatch || n > 0 && l.leaveRest() {
			l.reorder()
			return
		}
		fd, err := accept4(l.FD, &a.rsa)
		switch err {
		case nil:
			l.accepts++
			a.h.Accepted(l, fd, &a.rsa)
			continue
		case unix.EAGAIN:
			l.reorder()
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue // the peer gave up while queued; try the next one
		case unix.EMFILE, unix.ENFILE:
			a.h.AcceptError(l, os.NewSyscallError("accept4", err))
			a.pause()
			return
		default:
			a.h.AcceptError(l, os.NewSyscallError("accept4", err))
			return
		}
	}
}

// leaveRest reports that the connections still queued on a socket shared
// under the accept mutex are better left to another worker: this one has
// no free connection left, and would have to close one of its own to
// take the next. The mutex's next Tick gives the lock to a worker with
// room, or back to this one when none has any.
func (l *Listener) leaveRest() bool {
	return l.a.mutex != nil && !l.Own && l.a.h.Room() <= 0
}

// reorder moves an EPOLLEXCLUSIVE registration to the back of the
// socket's wait queue every reorderEvery accepts, or at once while the
// worker is above 7/8 of its connections.
func (l *Listener) reorder() {
	if !l.Exclusive || l.Own || (l.accepts < reorderEvery && l.a.Disabled <= 0) {
		return
	}
	l.accepts = 0
	l.a.disable(l)
	if err := l.a.enable(l); err != nil {
		l.a.h.AcceptError(l, err)
	}
}

// pause stops polling the listeners for Backoff.
func (a *Acceptor) pause() {
	for _, l := range a.listeners {
		a.disable(l)
	}
	a.paused = true
	a.loop.SetTimer(&a.resume, a.Backoff, a)
}

// Timeout ends an EMFILE pause.
func (a *Acceptor) Timeout() {
	a.paused = false
	if a.want && !a.closed {
		a.Enable()
	}
}
