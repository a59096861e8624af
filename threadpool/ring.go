package threadpool

// minRing is the first allocation of a pool's task queue: 16 slots
// (256 bytes) hold a burst of a few tasks per thread of a small pool
// without a second growth, and a pool that never queues beyond its idle
// threads allocates nothing at all.
const minRing = 16

// ring is the FIFO of tasks waiting for a thread. It is a slice used as a
// circular buffer that starts empty and doubles when full, up to the most
// tasks that can ever wait at once (the pool's limit), so that a pool with
// nginx's default max_queue of 65536 holds memory for the longest queue it
// has actually seen, not for 65536 tasks. It never shrinks: after a burst
// the slots stay (16 bytes each, at most limit of them) so that the next
// burst does not allocate. Guarded by Pool.mu.
type ring struct {
	buf  []Task
	head int // index of the oldest task
	n    int // tasks held
}

// push appends t. max is the most tasks the ring will ever hold; the
// caller guarantees r.n < max.
func (r *ring) push(t Task, max int) {
	if r.n == len(r.buf) {
		r.grow(max)
	}
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = t
	r.n++
}

// pop removes and returns the oldest task; the ring must not be empty.
func (r *ring) pop() Task {
	t := r.buf[r.head]
	// Drop the reference, so that a task finished and freed by its owner
	// is not kept alive by a stale slot.
	r.buf[r.head] = nil
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	return t
}

// grow doubles a full ring, capped at max, keeping the order.
func (r *ring) grow(max int) {
	c := 2 * len(r.buf)
	if c < minRing {
		c = minRing
	}
	if c > max {
		c = max
	}
	buf := make([]Task, c)
	// The ring is full, so its tasks are buf[head:] then buf[:head].
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf, r.head = buf, 0
}
