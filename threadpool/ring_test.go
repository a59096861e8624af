package threadpool

import "testing"

type idTask int

func (idTask) Run()  {}
func (idTask) Done() {}

// TestRingOrderAcrossGrowth pushes and pops in a pattern that wraps the
// ring around before each growth, checking FIFO order throughout.
func TestRingOrderAcrossGrowth(t *testing.T) {
	const max = 100
	var r ring
	next, want := 0, 0
	for round := 0; round < 50; round++ {
		for i := 0; i < 3 && r.n < max; i++ { // push 3
			r.push(idTask(next), max)
			next++
		}
		if round%2 == 0 { // pop 1 every other round: the ring fills slowly
			if got := r.pop(); got != idTask(want) {
				t.Fatalf("round %d: popped %v, want %d", round, got, want)
			}
			want++
		}
	}
	for r.n > 0 {
		if got := r.pop(); got != idTask(want) {
			t.Fatalf("drain: popped %v, want %d", got, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %d, pushed %d", want, next)
	}
	if len(r.buf) != max {
		t.Errorf("capacity %d, want capped at %d", len(r.buf), max)
	}
	for i, s := range r.buf {
		if s != nil {
			t.Fatalf("slot %d still holds %v after pop", i, s)
		}
	}
}

// TestQueueMemoryIsLazy: a pool with nginx's default max_queue allocates
// no queue until tasks wait, and then only what they need.
func TestQueueMemoryIsLazy(t *testing.T) {
	const defaultMaxQueue = 65536 // nginx's max_queue default
	w := newFakeWaker()
	p := newPool(t, 2, defaultMaxQueue, w)
	if c := len(p.queue.buf); c != 0 {
		t.Fatalf("new pool holds %d queue slots", c)
	}
	gate := make(chan struct{})
	tasks := make([]countTask, 40)
	for i := range tasks {
		tasks[i].gate = gate
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	c := len(p.queue.buf)
	p.mu.Unlock()
	if c < 38 || c > 64 {
		t.Errorf("40 tasks posted: %d queue slots, want 38..64", c)
	}
	close(gate)
	drainUntil(t, p, w, func() bool { return p.Stats().Completed == uint64(len(tasks)) })
}
