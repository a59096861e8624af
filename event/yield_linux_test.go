//go:build linux

package event

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
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
// it with a signal (SIGURG) every 10 ms while it runs Go code, and takes
// its P away at every look while it is in a system call (see yieldEvery).
// Counting the preemption signals the process receives is the observable
// part: about 30 in the 300 ms without the yields.
func TestBusyLoopNotPreempted(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a GC cycle preempts too
	urg := make(chan os.Signal, 1000)
	signal.Notify(urg, syscall.SIGURG)
	defer signal.Stop(urg)
	const run = 300 * time.Millisecond
	l.Post(&spinner{l: l, until: time.Now().Add(run)})
	for len(l.posted) > 0 {
		if err := l.RunOnce(); err != nil {
			t.Fatal(err)
		}
	}
	signal.Stop(urg)
	// A turn that the machine delays by more than the margin can still
	// be preempted once; an unyielding loop is preempted every 10 ms.
	if n := len(urg); n > 6 {
		t.Fatalf("the busy loop was preempted %d times in %v", n, run)
	}
}
