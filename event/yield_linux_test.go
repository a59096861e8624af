//go:build linux

package event

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// spinner is posted work that keeps the loop busy in Go code for a
// millisecond per turn and posts itself again, as a loop under load that
// never waits.
type spinner struct {
	l     *Loop
	until time.Time
}

func (s *spinner) Posted() {
	for end := time.Now().Add(time.Millisecond); time.Now().Before(end); {
	}
	if time.Now().Before(s.until) {
		s.l.Post(s)
	}
}

// TestBusyLoopNotPreempted: a loop that is never idle still passes
// through the Go scheduler often enough that the runtime's monitor does
// not count it as running too long. Without that, the monitor preempts
// it with a signal (SIGURG) every 10–20 ms while it runs Go code, and
// takes its P away at every look while it is in a system call (see
// yieldEvery): about 10 preemptions in a 200 ms run without the yields,
// 0 or 1 with them.
func TestBusyLoopNotPreempted(t *testing.T) {
	expectNoPreemption(t, func(l *Loop, until time.Time) {
		l.Post(&spinner{l: l, until: until})
		for len(l.posted) > 0 {
			if err := l.RunOnce(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// slowReady is an fd that stays ready and whose every event keeps the
// loop busy in Go code for 100 µs, as a connection's read and write do
// when a tracer stops the worker at each.
type slowReady struct{}

func (slowReady) Event(uint32) {
	for end := time.Now().Add(100 * time.Microsecond); time.Now().Before(end); {
	}
}

// TestSlowBatchNotPreempted: one batch of events that takes longer than
// the monitor's 10 ms (here 200 ready fds at 100 µs each: 20 ms) still
// passes through the scheduler within it. A loop that yields only
// between batches is preempted about once per batch; one traced by
// strace, where every system call costs tens of microseconds, spends
// that long on a batch of 100 busy connections.
func TestSlowBatchNotPreempted(t *testing.T) {
	expectNoPreemption(t, func(l *Loop, until time.Time) {
		var fds []int
		defer func() {
			for _, fd := range fds {
				l.Del(fd)
				unix.Close(fd)
			}
		}()
		for range 200 {
			fd, err := unix.Eventfd(1, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
			if err := l.Add(fd, unix.EPOLLIN, slowReady{}); err != nil {
				t.Fatal(err)
			}
		}
		for time.Now().Before(until) {
			if err := l.RunOnce(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// expectNoPreemption runs a busy loop five times for 200 ms each (run
// keeps l busy until the time it is given) and fails when the median
// run received more than one preemption signal. Counting the signals
// (SIGURG) the process receives is the observable part of the monitor
// counting a goroutine as running too long: about one every 10–20 ms
// without the loop's yields.
//
// The monitor also preempts a goroutine whose thread the kernel kept off
// the CPU for 10 ms, which a loaded machine does often, so the loop's
// thread runs at nice -20 where it may (root); where it may not, the
// test skips on a machine whose load average exceeds its CPUs.
func expectNoPreemption(t *testing.T, run func(l *Loop, until time.Time)) {
	t.Helper()
	runtime.LockOSThread() // the nice value is the thread's
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	reniced := false
	if v, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && unix.Setpriority(unix.PRIO_PROCESS, tid, -20) == nil {
		reniced = true
		defer unix.Setpriority(unix.PRIO_PROCESS, tid, 20-v) // the syscall's value is 20-nice
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a GC cycle preempts too
	const length = 200 * time.Millisecond
	var counts []int
	for len(counts) < 5 {
		urg := make(chan os.Signal, 1000)
		signal.Notify(urg, syscall.SIGURG)
		run(l, time.Now().Add(length))
		signal.Stop(urg)
		counts = append(counts, len(urg))
	}
	if slices.Sorted(slices.Values(counts))[2] <= 1 {
		return
	}
	if load := loadAverage(); !reniced && load > float64(runtime.NumCPU()) {
		t.Skipf("not allowed nice -20, on a machine at load average %.1f: preempted %v times", load, counts)
	}
	t.Fatalf("the busy loop was preempted %v times in five runs of %v", counts, length)
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// pipeDrainer reads whatever is in a pipe.
type pipeDrainer struct{ fd int }

func (d pipeDrainer) Event(uint32) {
	var b [64]byte
	unix.Read(d.fd, b[:])
}

// TestActiveLoopWaitsBounded: after a wait that returned events, waits
// are bounded by activeWait, however far the next timer is, until the
// loop has had no event for activeFor; then it waits for its timers alone
// (see activeWait).
func TestActiveLoopWaitsBounded(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if err := l.Add(p[0], unix.EPOLLIN|unix.EPOLLET, pipeDrainer{p[0]}); err != nil {
		t.Fatal(err)
	}
	l.now += activeFor // past the start
	if got := l.waitMillis(); got != -1 {
		t.Fatalf("idle loop without timers waits %d ms, want -1 (no bound)", got)
	}
	unix.Write(p[1], []byte{1})
	if err := l.RunOnce(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.waitMillis(), int(activeWait/int64(time.Millisecond)); got != want {
		t.Fatalf("after an event: waits %d ms, want %d", got, want)
	}
	var tm Timer
	l.SetTimer(&tm, time.Millisecond, nopTimeout{})
	if got := l.waitMillis(); got != 2 { // 1 ms and 1 ns, rounded up
		t.Fatalf("a timer due sooner: waits %d ms, want 2", got)
	}
	l.StopTimer(&tm)
	l.now = l.eventAt + activeFor
	if got := l.waitMillis(); got != -1 {
		t.Fatalf("activeFor after the last event: waits %d ms, want -1", got)
	}
}

type nopTimeout struct{}

func (nopTimeout) Timeout() {}
