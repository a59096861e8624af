package threadpool

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests: far beyond what any of
// them needs, even under -race on a loaded 2-core machine, so that a
// failure is a hang found, not a slow machine.
const testTimeout = 20 * time.Second

// fakeWaker stands in for the loop's eventfd: Wake is a non-blocking send
// on a one-slot channel, so wake-ups coalesce as the loop's do.
type fakeWaker struct {
	c     chan struct{}
	wakes atomic.Int64
}

func newFakeWaker() *fakeWaker { return &fakeWaker{c: make(chan struct{}, 1)} }

func (w *fakeWaker) Wake() {
	w.wakes.Add(1)
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// drainUntil plays the loop: it waits for wake-ups and drains p until
// cond holds.
func drainUntil(t *testing.T, p *Pool, w *fakeWaker, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for !cond() {
		select {
		case <-w.c:
			p.Drain()
		case <-deadline:
			t.Fatalf("timed out; stats %+v", p.Stats())
		}
	}
}

// waitFor polls cond, for states that no wake-up announces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// newPool makes a pool that is closed and drained when the test ends.
func newPool(t *testing.T, threads, maxQueue int, w Waker) *Pool {
	t.Helper()
	p := New(t.Name(), threads, maxQueue, w)
	t.Cleanup(func() { p.Close(); p.Drain() })
	return p
}

// countTask counts its Runs (on a pool goroutine) and Dones (on the test
// goroutine); the pool's hand-over orders the two.
type countTask struct {
	runs, dones int
	gate        chan struct{} // if set, Run waits for it
}

func (c *countTask) Run() {
	if c.gate != nil {
		<-c.gate
	}
	c.runs++
}

func (c *countTask) Done() { c.dones++ }

func TestPostRunDone(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 4, 100, w)
	tasks := make([]countTask, 100)
	for i := range tasks {
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	drainUntil(t, p, w, func() bool { return p.Stats().Completed == uint64(len(tasks)) })
	for i := range tasks {
		if tasks[i].runs != 1 || tasks[i].dones != 1 {
			t.Errorf("task %d: %d runs, %d dones, want 1, 1", i, tasks[i].runs, tasks[i].dones)
		}
	}
	if s := p.Stats(); s != (Stats{Completed: 100}) {
		t.Errorf("stats %+v", s)
	}
}

// TestQueueFullAtBound fills a pool whose goroutines are all blocked, so
// that the count is exact: threads+maxQueue posts succeed, the next fails,
// and one completion makes room for exactly one more.
func TestQueueFullAtBound(t *testing.T) {
	for i, tc := range []struct{ threads, maxQueue int }{
		{1, 0}, {4, 0}, {2, 3}, {3, 40},
	} {
		w := newFakeWaker()
		p := New("disk", tc.threads, tc.maxQueue, w)
		gate := make(chan struct{})
		limit := tc.threads + tc.maxQueue
		tasks := make([]countTask, limit+1)
		for j := range tasks {
			tasks[j].gate = gate
		}
		for j := 0; j < limit; j++ {
			if err := p.Post(&tasks[j]); err != nil {
				t.Fatalf("#%d: post %d of %d: %v", i, j, limit, err)
			}
		}
		err := p.Post(&tasks[limit])
		want := `thread pool "disk" queue overflow: ` + strconv.Itoa(tc.maxQueue) + " tasks waiting"
		if !errors.Is(err, ErrQueueFull) || err.Error() != want {
			t.Fatalf("#%d: post over the bound: %v, want %s", i, err, want)
		}
		waitFor(t, "all threads busy", func() bool { return p.Stats().Running == tc.threads })
		if s := p.Stats(); s.Queued != tc.maxQueue || s.Rejected != 1 {
			t.Errorf("#%d: stats %+v, want %d queued, 1 rejected", i, s, tc.maxQueue)
		}
		gate <- struct{}{} // one task finishes
		drainUntil(t, p, w, func() bool { return p.Stats().Completed == 1 })
		if err := p.Post(&tasks[limit]); err != nil {
			t.Errorf("#%d: post after one completion: %v", i, err)
		}
		if err := p.Post(&countTask{}); !errors.Is(err, ErrQueueFull) {
			t.Errorf("#%d: post over the bound again: %v", i, err)
		}
		close(gate)
		drainUntil(t, p, w, func() bool { return p.Stats().Completed == uint64(limit+1) })
		p.Close()
	}
}

// repostTask posts itself again from Done until left reaches zero.
type repostTask struct {
	p    *Pool
	left int
	err  error
}

func (r *repostTask) Run() {}

func (r *repostTask) Done() {
	if r.left--; r.left > 0 && r.err == nil {
		r.err = r.p.Post(r)
	}
}

// TestRepostFromDoneNeverOverflows is the case nginx gets wrong: with one
// thread and max_queue=0, a completion handler that posts again can find
// the finished thread still counted and overflow. Here a task stops
// counting before its completion is visible.
func TestRepostFromDoneNeverOverflows(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 1, 0, w)
	const rounds = 20000
	r := &repostTask{p: p, left: rounds}
	if err := p.Post(r); err != nil {
		t.Fatal(err)
	}
	drainUntil(t, p, w, func() bool { return r.left == 0 || r.err != nil })
	if r.err != nil {
		t.Fatalf("repost with %d rounds left: %v", r.left, r.err)
	}
}

type stateTask struct {
	TaskState
	countTask
}

func TestPostInFlightRefused(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 1, 4, w)
	gate := make(chan struct{})
	task := &stateTask{countTask: countTask{gate: gate}}
	if err := p.Post(task); err != nil {
		t.Fatal(err)
	}
	if !task.InFlight() {
		t.Error("not in flight after Post")
	}
	if err := p.Post(task); err != ErrInFlight {
		t.Errorf("second post: %v, want ErrInFlight", err)
	}
	close(gate)
	drainUntil(t, p, w, func() bool { return task.dones == 1 })
	if task.InFlight() || task.runs != 1 {
		t.Errorf("after Done: in flight %v, %d runs", task.InFlight(), task.runs)
	}
	if err := p.Post(task); err != nil {
		t.Errorf("post after Done: %v", err)
	}
	drainUntil(t, p, w, func() bool { return task.dones == 2 })
}

// atomicTask may be in flight twice at once, so it counts with atomics.
type atomicTask struct{ runs, dones atomic.Int64 }

func (a *atomicTask) Run()  { a.runs.Add(1) }
func (a *atomicTask) Done() { a.dones.Add(1) }

// TestDoublePostKeepsQueueSound: without TaskState a second Post of the
// same task is not caught, but the pool's own state stays right.
func TestDoublePostKeepsQueueSound(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 2, 4, w)
	a := &atomicTask{}
	for i := 0; i < 3; i++ {
		if err := p.Post(a); err != nil {
			t.Fatal(err)
		}
	}
	drainUntil(t, p, w, func() bool { return a.dones.Load() == 3 })
	if a.runs.Load() != 3 {
		t.Errorf("%d runs, want 3", a.runs.Load())
	}
	if s := p.Stats(); s != (Stats{Completed: 3}) {
		t.Errorf("stats %+v", s)
	}
}

// poolGoroutines counts goroutines running Pool.worker, in every pool.
// When Close returns, each has called its WaitGroup's Done and has only
// its return left, so a test polls for them to be gone.
func poolGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "threadpool.(*Pool).worker(")
}

// closeTask records whether it started after Close returned.
type closeTask struct {
	countTask
	closed *atomic.Bool
	late   bool
}

func (c *closeTask) Run() {
	c.late = c.closed.Load()
	c.countTask.Run()
}

func TestCloseRunsQueuedAndRunning(t *testing.T) {
	const threads, queued = 2, 8
	waitFor(t, "other pools to exit", func() bool { return poolGoroutines() == 0 })
	w := newFakeWaker()
	p := New("close", threads, queued, w)
	gate := make(chan struct{})
	var closed atomic.Bool
	tasks := make([]closeTask, threads+queued)
	for i := range tasks {
		tasks[i] = closeTask{countTask: countTask{gate: gate}, closed: &closed}
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "threads busy", func() bool { return p.Stats().Running == threads })
	returned := make(chan struct{})
	go func() { p.Close(); closed.Store(true); close(returned) }()
	select {
	case <-returned:
		t.Fatal("Close returned with tasks running")
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	<-returned
	if s := p.Stats(); s != (Stats{Pending: len(tasks)}) {
		t.Errorf("stats after Close %+v, want all %d pending", s, len(tasks))
	}
	if err := p.Post(&countTask{}); err != ErrClosed {
		t.Errorf("post after Close: %v", err)
	}
	p.Drain()
	p.Drain()
	for i := range tasks {
		if tasks[i].runs != 1 || tasks[i].dones != 1 || tasks[i].late {
			t.Errorf("task %d: %d runs, %d dones, late %v", i, tasks[i].runs, tasks[i].dones, tasks[i].late)
		}
	}
	waitFor(t, "pool goroutines to exit after Close", func() bool { return poolGoroutines() == 0 })
	p.Close() // again: returns at once
}

func TestCloseIdlePool(t *testing.T) {
	waitFor(t, "other pools to exit", func() bool { return poolGoroutines() == 0 })
	p := New("idle", 8, 0, newFakeWaker())
	waitFor(t, "threads idle", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.idle == 8
	})
	p.Close()
	waitFor(t, "pool goroutines to exit after Close", func() bool { return poolGoroutines() == 0 })
}

func TestNewPanicsOnBadArguments(t *testing.T) {
	for i, tc := range []struct {
		threads, maxQueue int
		w                 Waker
	}{
		{0, 10, newFakeWaker()},
		{1, -1, newFakeWaker()},
		{1, 0, nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("#%d: New did not panic", i)
				}
			}()
			New("bad", tc.threads, tc.maxQueue, tc.w).Close()
		}()
	}
}

func TestPoolName(t *testing.T) {
	if n := newPool(t, 1, 0, newFakeWaker()).Name(); n != t.Name() {
		t.Errorf("name %q", n)
	}
}
