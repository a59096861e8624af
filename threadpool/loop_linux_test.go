//go:build linux

package threadpool

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"tern/event"
)

// lostWakeAfter is how long a loop iteration may wait with work in flight
// before the test calls it a lost wake-up: the tasks here take
// microseconds, so seconds of silence mean the eventfd was never written.
const lostWakeAfter = 5 * time.Second

// testLoop is an event.Loop whose every wait is capped at wait. The cap
// is set from Tick because RunOnce clears any CapWait made before it:
// only a Ticker can cap the wait of the iteration it runs in.
type testLoop struct {
	*event.Loop
	wait time.Duration
}

func (tl *testLoop) Tick() { tl.CapWait(tl.wait) }

// runOnce runs one iteration whose wait is capped at d, and returns how
// long it took.
func (tl *testLoop) runOnce(tb testing.TB, d time.Duration) time.Duration {
	tb.Helper()
	tl.wait = d
	start := time.Now()
	if err := tl.RunOnce(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// newLoop makes a loop for the test; create it before the pool, so that
// the cleanups close the pool (whose goroutines write the eventfd) first.
func newLoop(tb testing.TB) *testLoop {
	tb.Helper()
	l, err := event.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	tl := &testLoop{Loop: l, wait: lostWakeAfter}
	l.AddTicker(tl)
	return tl
}

// newLoopPool makes a loop and a pool that drains into it; the pool is
// closed and drained, then the loop closed, when the test ends.
func newLoopPool(tb testing.TB, threads, maxQueue int) (*testLoop, *Pool) {
	tb.Helper()
	l := newLoop(tb)
	p := New("loop", threads, maxQueue, l)
	l.OnWake(p)
	tb.Cleanup(func() { p.Close(); p.Drain() })
	return l, p
}

// runUntil runs the loop until cond holds, failing on a lost wake-up.
func runUntil(t *testing.T, l *testLoop, p *Pool, cond func() bool) {
	t.Helper()
	for !cond() {
		if l.runOnce(t, lostWakeAfter) >= lostWakeAfter && !cond() {
			t.Fatalf("loop waited %v with work in flight: lost wake-up; stats %+v", lostWakeAfter, p.Stats())
		}
	}
}

// goid returns the calling goroutine's id, from its stack header
// ("goroutine 17 [running]:"). Tests only: it costs a stack walk.
func goid() uint64 {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	id, err := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// whereTask records which goroutine ran each half, and counts Dones in a
// loop-owned counter with no lock: a Done on any other goroutine races
// with the test's read of it, which -race reports.
type whereTask struct {
	runG, doneG uint64
	loopDones   *int
}

func (w *whereTask) Run()  { w.runG = goid() }
func (w *whereTask) Done() { w.doneG = goid(); *w.loopDones++ }

func TestDoneRunsOnLoopGoroutine(t *testing.T) {
	runtime.LockOSThread() // as the worker's loop goroutine is
	defer runtime.UnlockOSThread()
	l, p := newLoopPool(t, 4, 1000)
	loopG := goid()
	dones := 0
	tasks := make([]whereTask, 1000)
	for i := range tasks {
		tasks[i].loopDones = &dones
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	runUntil(t, l, p, func() bool { return dones == len(tasks) })
	for i, w := range tasks {
		if w.doneG != loopG || w.runG == loopG || w.runG == 0 {
			t.Fatalf("task %d: Run on goroutine %d, Done on %d; loop is %d", i, w.runG, w.doneG, loopG)
		}
	}
}

// manyTask is one of many; Done tops the pool up again from the loop.
type manyTask struct {
	i           int
	runs, dones int
	d           *manyDriver
}

func (m *manyTask) Run() {
	m.runs++
	if m.i%7 == 0 {
		runtime.Gosched() // vary the timing of completions
	}
}

func (m *manyTask) Done() {
	m.dones++
	m.d.done++
	if m.i%3 == 0 {
		m.d.topUp() // post from inside Drain, too
	}
}

// manyDriver posts tasks in order until the pool is full. Loop-owned.
type manyDriver struct {
	p          *Pool
	tasks      []manyTask
	next, done int
	full       int // ErrQueueFull seen
	err        error
}

func (d *manyDriver) topUp() {
	for d.next < len(d.tasks) && d.err == nil {
		err := d.p.Post(&d.tasks[d.next])
		if errors.Is(err, ErrQueueFull) {
			d.full++
			return
		}
		d.err = err
		d.next++
	}
}

// TestManyTasksNoLostWakeup pushes 100k tasks through a small queue with
// completions landing while the loop drains and posts: each task runs and
// is done exactly once, and the loop never sleeps with work finished.
func TestManyTasksNoLostWakeup(t *testing.T) {
	const n = 100000
	l, p := newLoopPool(t, 8, 64)
	d := &manyDriver{p: p, tasks: make([]manyTask, n)}
	for i := range d.tasks {
		d.tasks[i] = manyTask{i: i, d: d}
	}
	runUntil(t, l, p, func() bool {
		d.topUp()
		return d.done == n || d.err != nil
	})
	if d.err != nil {
		t.Fatal(d.err)
	}
	for i := range d.tasks {
		if m := &d.tasks[i]; m.runs != 1 || m.dones != 1 {
			t.Fatalf("task %d: %d runs, %d dones", i, m.runs, m.dones)
		}
	}
	s := p.Stats()
	if s.Completed != n || s.Rejected != uint64(d.full) || s.Queued+s.Running+s.Pending != 0 {
		t.Errorf("stats %+v, want %d completed, %d rejected", s, n, d.full)
	}
	t.Logf("%d tasks, %d posts refused with ErrQueueFull", n, d.full)
}

// TestCloseWhileLoopRuns closes the pool from another goroutine while the
// loop keeps running: queued tasks still run, and each Done runs once, on
// the loop.
func TestCloseWhileLoopRuns(t *testing.T) {
	l, p := newLoopPool(t, 2, 30)
	gate := make(chan struct{})
	dones := 0
	tasks := make([]gatedWhere, 32)
	for i := range tasks {
		tasks[i] = gatedWhere{whereTask{loopDones: &dones}, gate}
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	time.AfterFunc(10*time.Millisecond, func() { close(gate) })
	runUntil(t, l, p, func() bool { return dones == len(tasks) })
	<-closed
	l.runOnce(t, 10*time.Millisecond)
	if dones != len(tasks) {
		t.Fatalf("%d dones for %d tasks", dones, len(tasks))
	}
	if err := p.Post(&tasks[0]); err != ErrClosed {
		t.Errorf("post after Close: %v", err)
	}
}

type gatedWhere struct {
	whereTask
	gate chan struct{}
}

func (g *gatedWhere) Run() { <-g.gate; g.whereTask.Run() }

// TestCloseOnLoopLeavesDonesForNextIteration: Close called on the loop
// goroutine returns with the completions on the done list and the eventfd
// written, so the next iteration runs every Done without another wake-up.
func TestCloseOnLoopLeavesDonesForNextIteration(t *testing.T) {
	l, p := newLoopPool(t, 3, 20)
	gate := make(chan struct{})
	dones := 0
	tasks := make([]gatedWhere, 23)
	for i := range tasks {
		tasks[i] = gatedWhere{whereTask{loopDones: &dones}, gate}
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	time.AfterFunc(10*time.Millisecond, func() { close(gate) })
	p.Close()
	if dones != 0 {
		t.Fatalf("Close ran %d Dones", dones)
	}
	if took := l.runOnce(t, lostWakeAfter); dones != len(tasks) || took >= lostWakeAfter {
		t.Fatalf("one iteration after Close: %d of %d dones, waited %v", dones, len(tasks), took)
	}
}
