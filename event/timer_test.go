package event

import (
	"math/rand"
	"sort"
	"testing"
)

type recTimer struct {
	Timer
	id    int
	fired *[]int
}

func (r *recTimer) Timeout() { *r.fired = append(*r.fired, r.id) }

// TestTimerHeapModel drives the heap with random set/stop/expire calls and
// checks it against a plain map of deadlines.
func TestTimerHeapModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var th timerHeap
	var fired []int
	timers := make([]*recTimer, 64)
	for i := range timers {
		timers[i] = &recTimer{id: i, fired: &fired}
		timers[i].index = -1
	}
	model := map[int]int64{}
	now := int64(0)
	for step := 0; step < 20000; step++ {
		r := timers[rng.Intn(len(timers))]
		switch op := rng.Intn(10); {
		case op < 5:
			when := now + 1 + rng.Int63n(1000)
			th.set(&r.Timer, when, r)
			model[r.id] = when
		case op < 7:
			th.stop(&r.Timer)
			delete(model, r.id)
		default:
			now += rng.Int63n(300)
			fired = fired[:0]
			th.expire(now)
			var want []int
			for id, w := range model {
				if w <= now {
					want = append(want, id)
					delete(model, id)
				}
			}
			got := append([]int(nil), fired...)
			sort.Ints(got)
			sort.Ints(want)
			if len(got) != len(want) {
				t.Fatalf("step %d: fired %v, want %v", step, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("step %d: fired %v, want %v", step, got, want)
				}
			}
		}
		if th.len() < len(model) || th.len() > len(timers) {
			t.Fatalf("step %d: heap holds %d timers, %d armed", step, th.len(), len(model))
		}
		for _, tm := range timers {
			_, armed := model[tm.id]
			if tm.Armed() != armed {
				t.Fatalf("step %d: timer %d armed=%v, want %v", step, tm.id, tm.Armed(), armed)
			}
		}
	}
}

// TestTimerLaterIsCheap checks that moving a deadline later leaves the
// heap alone and that the timer still fires at the new deadline only.
func TestTimerLaterIsCheap(t *testing.T) {
	var th timerHeap
	var fired []int
	r := &recTimer{id: 7, fired: &fired}
	th.set(&r.Timer, 100, r)
	th.set(&r.Timer, 500, r)
	if r.key != 100 || r.when != 500 {
		t.Fatalf("key %d when %d, want 100 500", r.key, r.when)
	}
	th.expire(100)
	if len(fired) != 0 || th.len() != 1 || r.key != 500 {
		t.Fatalf("fired %v len %d key %d after expire(100)", fired, th.len(), r.key)
	}
	th.expire(500)
	if len(fired) != 1 || th.len() != 0 || r.Armed() {
		t.Fatalf("fired %v len %d armed %v after expire(500)", fired, th.len(), r.Armed())
	}
}

func BenchmarkTimerReset(b *testing.B) {
	var th timerHeap
	var fired []int
	ts := make([]recTimer, 10000)
	for i := range ts {
		ts[i].fired = &fired
		ts[i].index = -1
		th.set(&ts[i].Timer, int64(1000+i), &ts[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &ts[i%len(ts)]
		th.set(&r.Timer, int64(2000+i), r)
	}
}

// TestReserveTimers: a heap with room for n timers arms n without
// growing (a worker reserves one per connection: each growth copied the
// array and left the old one to the collector), and reserving keeps the
// timers already armed.
func TestReserveTimers(t *testing.T) {
	const n = 1000
	var th timerHeap
	var fired []int
	timers := make([]recTimer, n)
	for i := range timers {
		timers[i] = recTimer{id: i, fired: &fired}
		timers[i].index = -1
	}
	for i := range 10 {
		th.set(&timers[i].Timer, int64(2*n-i), &timers[i])
	}
	th.reserve(n)
	array := &th.h[:n][0]
	for i := 10; i < n; i++ {
		th.set(&timers[i].Timer, int64(2*n-i), &timers[i])
	}
	if th.len() != n || &th.h[0] != array {
		t.Fatalf("%d timers armed, heap moved: %v", th.len(), &th.h[0] != array)
	}
	for th.len() > 0 {
		r := th.h[0]
		th.stop(r)
		r.h.Timeout()
	}
	for i, id := range fired {
		if id != n-1-i {
			t.Fatalf("timer %d fired %dth, want %dth", id, i, n-1-id)
		}
	}
}
