package event

// Timers are kept in a binary min-heap ordered by the deadline each timer
// had when it was pushed. Moving a deadline later — what every keep-alive,
// header and send timeout does on each request — only stores the new
// deadline in the timer; the heap entry is fixed up when it reaches the top
// and turns out to be early. Moving a deadline earlier, or stopping a timer,
// updates the heap at once. So the common case costs one store, and the heap
// never holds more than one entry per timer.

// TimerHandler is called on the loop goroutine when a timer expires.
type TimerHandler interface {
	Timeout()
}

// Timer is a one-shot timer owned by the loop goroutine. Embed it in the
// state it times out; the zero value is a stopped timer.
type Timer struct {
	// when is the wanted deadline on the loop's clock; 0 when stopped.
	when int64
	// key is the deadline the heap is ordered by (key <= when).
	key int64
	// index is the position in the heap, or -1 when not in it.
	index int32
	h     TimerHandler
}

// Armed reports whether the timer is set.
func (t *Timer) Armed() bool { return t.when != 0 }

// When returns the deadline on the loop's clock, 0 when stopped.
func (t *Timer) When() int64 { return t.when }

// timerHeap is a min-heap of timers by key.
type timerHeap struct {
	h []*Timer
}

func (th *timerHeap) len() int { return len(th.h) }

// reserve makes room for n timers.
func (th *timerHeap) reserve(n int) {
	if cap(th.h) < n {
		h := make([]*Timer, len(th.h), n)
		copy(h, th.h)
		th.h = h
	}
}

// set arms t to fire at when (> 0) with handler h.
func (th *timerHeap) set(t *Timer, when int64, h TimerHandler) {
	t.h = h
	t.when = when
	if th.contains(t) {
		if when < t.key {
			t.key = when
			th.up(int(t.index))
		}
		return
	}
	t.key = when
	t.index = int32(len(th.h))
	th.h = append(th.h, t)
	th.up(int(t.index))
}

// stop disarms t and removes it from the heap.
func (th *timerHeap) stop(t *Timer) {
	t.when = 0
	if !th.contains(t) {
		return
	}
	i := int(t.index)
	last := len(th.h) - 1
	if i != last {
		th.swap(i, last)
	}
	th.h[last] = nil
	th.h = th.h[:last]
	t.index = -1
	if i != last {
		if !th.down(i) {
			th.up(i)
		}
	}
}

func (th *timerHeap) contains(t *Timer) bool {
	i := int(t.index)
	return i >= 0 && i < len(th.h) && th.h[i] == t
}

// next returns the earliest key in the heap, or 0 if empty. It may be
// earlier than the real deadline of that timer; expire fixes that up.
func (th *timerHeap) next() int64 {
	if len(th.h) == 0 {
		return 0
	}
	return th.h[0].key
}

// expire runs the handler of every timer whose deadline is at or before
// now. Handlers may set or stop any timer, including the one running.
func (th *timerHeap) expire(now int64) {
	for len(th.h) > 0 {
		t := th.h[0]
		if t.key > now {
			return
		}
		if t.when > now {
			// Moved later since it was pushed: re-key and sift down.
			t.key = t.when
			th.down(0)
			continue
		}
		th.stop(t)
		t.h.Timeout()
	}
}

func (th *timerHeap) swap(i, j int) {
	th.h[i], th.h[j] = th.h[j], th.h[i]
	th.h[i].index = int32(i)
	th.h[j].index = int32(j)
}

func (th *timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if th.h[p].key <= th.h[i].key {
			return
		}
		th.swap(i, p)
		i = p
	}
}

// down sifts element i down and reports whether it moved.
func (th *timerHeap) down(i int) bool {
	start := i
	n := len(th.h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && th.h[r].key < th.h[l].key {
			m = r
		}
		if th.h[i].key <= th.h[m].key {
			break
		}
		th.swap(i, m)
		i = m
	}
	return i != start
}
