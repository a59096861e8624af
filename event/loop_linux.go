//go:build linux

package event

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Epoll event bits, re-exported so that callers need not import x/sys.
const (
	In        = unix.EPOLLIN
	Out       = unix.EPOLLOUT
	RDHup     = unix.EPOLLRDHUP
	Err       = unix.EPOLLERR
	Hup       = unix.EPOLLHUP
	ET        = unix.EPOLLET
	Exclusive = unix.EPOLLEXCLUSIVE
)

const (
	// maxEvents is how many ready fds one epoll_wait returns. Under load
	// a bigger batch amortises the syscall over more connections; 512
	// events are 6 KiB.
	maxEvents = 512
	// slotChunk fds share one chunk of the handler table, so that a
	// worker with few connections holds a few KiB, not rlimit × 24 bytes.
	slotChunk = 1024
)

// Handler receives the epoll events of one fd, on the loop goroutine.
type Handler interface {
	Event(events uint32)
}

// Poster is something queued with Post to run after the current batch.
type Poster interface {
	Posted()
}

// Ticker is called once per iteration, before the loop waits; it may cap
// the wait with CapWait. The accept lock uses it.
type Ticker interface {
	Tick()
}

// Drainer is called on the loop goroutine after another goroutine called
// Wake: it collects whatever that goroutine handed over.
type Drainer interface {
	Drain()
}

// slot is the handler registered for one fd. gen is stored in the epoll
// event's data next to the fd, so an event for an fd that was closed and
// reused since epoll_wait returned is recognised and dropped.
type slot struct {
	h   Handler
	gen uint32
}

// Loop is one epoll event loop. Every method except Wake and Submit must be
// called from the goroutine that runs Run; that goroutine owns the loop and
// everything registered with it.
type Loop struct {
	epfd    int
	events  []unix.EpollEvent
	slots   [][]slot
	nextGen uint32

	timers  timerHeap
	posted  []Poster
	running []Poster
	tickers []Ticker
	waitCap int64 // ns; 0 = none, cleared by each wait

	start    time.Time
	now      int64     // ns since start, monotonic
	wall     time.Time // wall clock at the same instant
	monoBase int64     // CLOCK_MONOTONIC at start, ns
	yieldAt  int64     // l.now of the next Gosched (yieldEvery)
	eventAt  int64     // l.now of the last wait that returned events

	wakeFD      int
	wakePending atomic.Uint32
	drainers    []Drainer
	submitMu    sync.Mutex
	submitted   []func()
	submitting  []func()

	stopped bool
	// mutex, when this worker uses the accept lock, is released after
	// the accept events of each wait (see AcceptMutex).
	mutex *AcceptMutex
}

// New creates a loop with its epoll set and wake-up eventfd.
func New() (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &Loop{
		epfd:    epfd,
		events:  make([]unix.EpollEvent, maxEvents),
		nextGen: 1,
		start:   time.Now(),
	}
	l.wall = l.start
	// Go's monotonic clock is CLOCK_MONOTONIC counted from the process's
	// start; Mono needs the machine's, which every process shares.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("clock_gettime", err)
	}
	l.monoBase = ts.Nano()
	if err := l.initWake(); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	return l, nil
}

// Close releases the epoll set and the eventfd. The loop must not run.
func (l *Loop) Close() error {
	unix.Close(l.wakeFD)
	return unix.Close(l.epfd)
}

// Now is the loop's clock in nanoseconds: monotonic, read once per
// iteration after epoll_wait returns (nginx's cached time).
func (l *Loop) Now() int64 { return l.now }

// Mono is Now on CLOCK_MONOTONIC: the same clock in every process of the
// machine, for deadlines kept in shared memory. No syscall: it is Now
// plus the offset read when the loop was made.
func (l *Loop) Mono() int64 { return l.monoBase + l.now }

// Wall is the wall-clock time read together with Now.
func (l *Loop) Wall() time.Time { return l.wall }

// UpdateTime re-reads the clock. The loop does it after every wait; a
// handler that did something slow may call it too.
func (l *Loop) UpdateTime() {
	l.wall = time.Now()
	l.now = int64(l.wall.Sub(l.start))
}

func (l *Loop) slotOf(fd int) *slot {
	c := fd / slotChunk
	if fd < 0 || c >= len(l.slots) || l.slots[c] == nil {
		return nil
	}
	return &l.slots[c][fd%slotChunk]
}

func (l *Loop) newSlot(fd int) *slot {
	c := fd / slotChunk
	for c >= len(l.slots) {
		l.slots = append(l.slots, nil)
	}
	if l.slots[c] == nil {
		l.slots[c] = make([]slot, slotChunk)
	}
	return &l.slots[c][fd%slotChunk]
}

// Add registers fd with the given events (In, Out, ET, ...) and handler.
func (l *Loop) Add(fd int, events uint32, h Handler) error {
	s := l.newSlot(fd)
	s.h = h
	s.gen = l.nextGen
	l.nextGen++
	if l.nextGen == 0 {
		l.nextGen = 1
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(s.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		*s = slot{}
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Mod changes the events of a registered fd.
func (l *Loop) Mod(fd int, events uint32) error {
	s := l.slotOf(fd)
	if s == nil || s.h == nil {
		return os.NewSyscallError("epoll_ctl", unix.ENOENT)
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(s.gen)}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev))
}

// Del removes fd from the epoll set; the fd stays open.
func (l *Loop) Del(fd int) error {
	l.Forget(fd)
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil))
}

// Forget drops fd's handler without an epoll_ctl: call it just before
// closing fd, which removes it from the epoll set by itself. Events for
// it still queued in this batch are then dropped as stale.
func (l *Loop) Forget(fd int) {
	if s := l.slotOf(fd); s != nil {
		*s = slot{}
	}
}

// SetTimer arms t to call h after d (rounded to the loop's clock).
func (l *Loop) SetTimer(t *Timer, d time.Duration, h TimerHandler) {
	if d < 0 {
		d = 0
	}
	l.timers.set(t, l.now+int64(d)+1, h)
}

// ReserveTimers makes room for n armed timers at once, so that the heap
// does not grow by copying while connections pile up: each copy left
// the old array behind until the next collection, about 40 bytes per
// connection of a worker's first 10,000. The room costs virtual memory
// until timers use it.
func (l *Loop) ReserveTimers(n int) { l.timers.reserve(n) }

// StopTimer disarms t.
func (l *Loop) StopTimer(t *Timer) { l.timers.stop(t) }

// Post queues p to run after the current batch of events, before the next
// wait, which then does not block. A Poster tracks whether it is queued.
func (l *Loop) Post(p Poster) { l.posted = append(l.posted, p) }

// AddTicker registers t to run once per iteration.
func (l *Loop) AddTicker(t Ticker) { l.tickers = append(l.tickers, t) }

// CapWait bounds the next wait to d. Tickers call it; so may a handler,
// or the loop's owner before RunOnce.
func (l *Loop) CapWait(d time.Duration) {
	if d <= 0 {
		d = 1
	}
	if l.waitCap == 0 || int64(d) < l.waitCap {
		l.waitCap = int64(d)
	}
}

// Stop makes Run return after the current iteration.
func (l *Loop) Stop() { l.stopped = true }

// Stopped reports whether Stop was called.
func (l *Loop) Stopped() bool { return l.stopped }

// Run waits for and dispatches events until Stop.
func (l *Loop) Run() error {
	l.UpdateTime()
	for !l.stopped {
		if err := l.RunOnce(); err != nil {
			return err
		}
	}
	return nil
}

// RunOnce runs one iteration: tickers, wait, events, timers, posted.
func (l *Loop) RunOnce() error {
	for _, t := range l.tickers {
		t.Tick()
	}
	// A cap set since the last wait (by a ticker, a handler, or the
	// caller before RunOnce) bounds this wait only.
	wait := l.waitMillis()
	l.waitCap = 0
	n, err := epollWait(l.epfd, l.events, wait)
	l.UpdateTime()
	if n > 0 {
		l.eventAt = l.now
	}
	if err != nil && err != unix.EINTR {
		return os.NewSyscallError("epoll_wait", err)
	}
	if l.mutex != nil && l.mutex.held {
		l.acceptFirst(n)
		l.mutex.release()
	}
	for i := 0; i < n; i++ {
		if i&(yieldCheckEvents-1) == yieldCheckEvents-1 {
			// A batch can outlast the monitor's 10 ms: 100 busy
			// connections take that long when each system call is
			// slow (a loaded machine, a tracer).
			l.UpdateTime()
			l.yieldIfDue()
		}
		ev := &l.events[i]
		s := l.slotOf(int(ev.Fd))
		if s == nil || s.h == nil || s.gen != uint32(ev.Pad) {
			continue // closed, or closed and reused, since the wait
		}
		s.h.Event(ev.Events)
	}
	l.timers.expire(l.now)
	l.runPosted()
	l.yieldIfDue()
	return nil
}

// yieldIfDue passes through the Go scheduler when yieldEvery has gone by
// since the last time.
func (l *Loop) yieldIfDue() {
	if l.now >= l.yieldAt {
		l.yieldAt = l.now + yieldEvery
		runtime.Gosched()
	}
}

// yieldEvery is how often a busy loop passes through the Go scheduler.
// The runtime's monitor thread (sysmon, runtime/proc.go) treats a
// goroutine that has not been scheduled for 10 ms as running too long:
// it sends it a preemption signal while it runs Go code and, while it is
// in a system call, takes its P away at every look until it is scheduled
// again — and, having taken one, looks again every 20 µs. The loop never
// blocks in Go's sense (epoll_wait is a system call), so without a yield
// it stays in that state from its first 10 busy milliseconds on: with 4
// downloads of a cached 512 MiB file the worker lost its P about 400
// times a second and spent 0.21 CPU seconds per GiB sent, against 0.12
// with this yield (docs/design.md#the-event-loop). One Gosched of the
// unlocked loop goroutine costs about 0.2 µs in the loop, but it also
// wakes the worker's idle P's thread, which finds nothing to do and
// sleeps again: two futex calls per yield. 8 ms leaves the monitor's
// 10 ms a margin and makes 125 yields a second rather than 200.
//
// Within a batch the loop reads the clock every yieldCheckEvents events,
// so that a batch that takes long (100 busy connections on a loaded
// machine, or under strace, where each system call costs tens of
// microseconds) yields within it: before, the loop traced by strace
// received about 25 preemption signals a second (3 system calls each),
// and a batch of 200 events of 100 µs was preempted at every batch
// (TestSlowBatchNotPreempted).
const (
	yieldEvery       = int64(8 * time.Millisecond)
	yieldCheckEvents = 16
)

// activeWait bounds each wait of a loop that has had events within
// activeFor. A wait is a system call, and the runtime's monitor (sysmon,
// runtime/proc.go) takes the P of a thread that has been in one for
// 10 ms. When the other P is idle too, the monitor then sleeps until
// some thread leaves a system call, and the loop's next wake-up restarts
// it at its shortest period: 50 looks 20 µs apart, then doubling. A loop
// woken every 10 ms or so — a few clients reading slower than it sends,
// each socket signalling room every few tens of milliseconds — paid that
// restart at almost every wake-up: with 4 clients reading 50 MiB/s each,
// served in turns that run until the socket is full (filters'
// slowTurnChunks), 8,000–10,000 monitor sleeps and 9,700–11,800 context
// switches per GiB sent, and 0.24–0.27 CPU seconds, against 1,000–2,000,
// 3,200–4,300 and 0.09–0.18 with waits bounded to 4 ms. A loop idle for
// activeFor waits as long as its timers allow, and the monitor sleeps
// with it.
const (
	activeWait = int64(4 * time.Millisecond)
	activeFor  = int64(50 * time.Millisecond)
)

// acceptFirst dispatches the listening sockets' events of the batch and
// marks them done, so that the accept lock is released before the other
// events are handled (nginx's posted accept events).
func (l *Loop) acceptFirst(n int) {
	for i := 0; i < n; i++ {
		ev := &l.events[i]
		s := l.slotOf(int(ev.Fd))
		if s == nil || s.gen != uint32(ev.Pad) {
			continue
		}
		if ln, ok := s.h.(*Listener); ok {
			ev.Fd = -1 // dispatched
			ln.Event(ev.Events)
		}
	}
}

func (l *Loop) runPosted() {
	// Swap so that what a posted handler posts runs next iteration (after
	// a non-blocking wait), letting other connections in between: nginx's
	// posted_next fairness for a fast client past sendfile_max_chunk.
	l.running, l.posted = l.posted, l.running[:0]
	for i, p := range l.running {
		l.running[i] = nil
		p.Posted()
	}
}

// waitMillis is the epoll_wait timeout: 0 with posted work, else until the
// next timer or wait cap, else forever (-1).
func (l *Loop) waitMillis() int {
	if len(l.posted) > 0 || l.stopped {
		return 0
	}
	d := int64(-1)
	if next := l.timers.next(); next != 0 {
		d = next - l.now
		if d < 0 {
			d = 0
		}
	}
	if l.waitCap > 0 && (d < 0 || l.waitCap < d) {
		d = l.waitCap
	}
	if l.now-l.eventAt < activeFor && (d < 0 || d > activeWait) {
		d = activeWait
	}
	if d < 0 {
		return -1
	}
	// Round up: waking a little late costs nothing, waking early costs
	// another iteration that finds nothing expired.
	ms := (d + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}
