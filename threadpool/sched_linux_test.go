//go:build linux

package threadpool

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// policyTask records the scheduling policy of the thread that runs it.
type policyTask struct {
	policy uint32
	err    error
	done   bool
}

func (p *policyTask) Run() {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		p.err = err
		return
	}
	p.policy = attr.Policy
}

func (p *policyTask) Done() { p.done = true }

// TestTasksRunBatch checks that a task runs on a SCHED_BATCH thread, so
// that its wake-up does not preempt the event loop. (The loop's thread is
// locked to its goroutine before any task exists, so no task marks it.)
func TestTasksRunBatch(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 2, 8, w)
	tasks := make([]policyTask, 4)
	for i := range tasks {
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	drainUntil(t, p, w, func() bool {
		for i := range tasks {
			if !tasks[i].done {
				return false
			}
		}
		return true
	})
	for i, task := range tasks {
		if task.err != nil {
			t.Fatalf("task %d: sched_getattr: %v", i, task.err)
		}
		if task.policy != unix.SCHED_BATCH {
			t.Errorf("task %d ran with policy %d, want SCHED_BATCH (%d)", i, task.policy, unix.SCHED_BATCH)
		}
	}
}

// tidTask records the thread that runs it.
type tidTask struct {
	tid  int
	done bool
}

func (p *tidTask) Run()  { p.tid = unix.Gettid() }
func (p *tidTask) Done() { p.done = true }

// TestTasksKeepTheirThreads: every task of a pool runs on one of its
// goroutines' own threads, so that marking each thread once, when its
// goroutine starts, marks every task's thread (TestTasksRunBatch); no
// task pays for a sched_setattr. Before, pool goroutines moved between
// threads and each task marked the one it ran on.
func TestTasksKeepTheirThreads(t *testing.T) {
	w := newFakeWaker()
	p := newPool(t, 2, 64, w)
	threads := map[int]bool{}
	for round := 0; round < 20; round++ {
		tasks := make([]tidTask, 16)
		for i := range tasks {
			if err := p.Post(&tasks[i]); err != nil {
				t.Fatal(err)
			}
		}
		drainUntil(t, p, w, func() bool {
			for i := range tasks {
				if !tasks[i].done {
					return false
				}
			}
			return true
		})
		for _, task := range tasks {
			threads[task.tid] = true
		}
		// Other goroutines between rounds: with the pool's goroutines
		// unlocked, the runtime hands their threads around.
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); runtime.Gosched(); time.Sleep(time.Millisecond) }()
		}
		wg.Wait()
	}
	if len(threads) > 2 {
		t.Fatalf("320 tasks of a 2-goroutine pool ran on %d threads", len(threads))
	}
}

// TestBatchThreadKeepsNice: marking a thread SCHED_BATCH keeps the nice
// value it inherited, so that a tern started with nice (systemd's Nice=,
// nice(1)) does not get pool threads at nice 0, ahead of its own event
// loop. Before, sched_setattr set the nice value of the attribute it was
// given, 0, and as root the pool threads ran at nice 0.
func TestBatchThreadKeepsNice(t *testing.T) {
	done := make(chan struct{})
	var before, after int
	var err error
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread ends with the goroutine
		tid := unix.Gettid()
		if err = unix.Setpriority(unix.PRIO_PROCESS, tid, 7); err != nil {
			return
		}
		before, err = threadNice(tid)
		if err != nil {
			return
		}
		batchThread()
		after, err = threadNice(tid)
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if before != 7 || after != 7 {
		t.Fatalf("nice %d before batchThread, %d after; want 7 and 7", before, after)
	}
}

// threadNice is the nice value of thread tid.
func threadNice(tid int) (int, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, err
	}
	return int(attr.Nice), nil
}
