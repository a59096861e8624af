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
// yieldEvery). Counting the preemption signals the process receives is
// the observable part: about 10 in a 200 ms run without the yields, 0 or
// 1 with them; the test judges the median of five runs.
//
// The monitor also preempts a goroutine whose thread the kernel kept off
// the CPU for 10 ms, which a loaded machine does often, so the loop's
// thread runs at nice -20 where it may (root); where it may not, the
// test skips on a machine whose load average exceeds its CPUs.
func TestBusyLoopNotPreempted(t *testing.T) {
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
	const run = 200 * time.Millisecond
	var counts []int
	for len(counts) < 5 {
		urg := make(chan os.Signal, 1000)
		signal.Notify(urg, syscall.SIGURG)
		l.Post(&spinner{l: l, until: time.Now().Add(run)})
		for len(l.posted) > 0 {
			if err := l.RunOnce(); err != nil {
				t.Fatal(err)
			}
		}
		signal.Stop(urg)
		counts = append(counts, len(urg))
	}
	if slices.Sorted(slices.Values(counts))[2] <= 1 {
		return
	}
	if load := loadAverage(); !reniced && load > float64(runtime.NumCPU()) {
		t.Skipf("not allowed nice -20, on a machine at load average %.1f: preempted %v times", load, counts)
	}
	t.Fatalf("the busy loop was preempted %v times in five runs of %v", counts, run)
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
