//go:build linux

package threadpool

import (
	"testing"

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
