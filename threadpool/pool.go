package threadpool

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is one unit of blocking work. A task value is owned by the loop
// goroutine except between Post and Done, when only Run touches it.
type Task interface {
	// Run does the work, on a pool goroutine. It may block. It touches
	// only the task's own record.
	Run()
	// Done is called on the loop goroutine, by Drain, after Run returned.
	// It may Post the task again.
	Done()
}

// Waker wakes the event loop so that it calls Drain soon. Wake is called
// from pool goroutines; it must be safe from any goroutine and must not
// block. *event.Loop satisfies it.
type Waker interface {
	Wake()
}

var (
	// ErrQueueFull is what a Post over the pool's bound returns, wrapped
	// in a *QueueFullError that names the pool: test with errors.Is. The
	// caller fails the request (500) and logs the error.
	ErrQueueFull = errors.New("thread pool queue overflow")
	// ErrClosed is returned by Post after Close.
	ErrClosed = errors.New("thread pool closed")
	// ErrInFlight is returned by Post for a task that embeds TaskState and
	// has not had its Done yet: posting it again is a programming error
	// (nginx logs "task #N already active").
	ErrInFlight = errors.New("thread pool task posted while in flight")
)

// QueueFullError is the error Post returns over the bound; its message is
// nginx's: thread pool "NAME" queue overflow: N tasks waiting. Each pool
// makes its own once, so a rejection allocates nothing.
type QueueFullError struct {
	Pool    string // the pool's name
	Waiting int    // tasks waiting beyond the threads: always max_queue
}

// Error returns nginx's message for the overflow.
func (e *QueueFullError) Error() string {
	return fmt.Sprintf("thread pool %q queue overflow: %d tasks waiting", e.Pool, e.Waiting)
}

// Is reports whether target is ErrQueueFull.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Queued    int    // posted, waiting for a pool goroutine
	Running   int    // in Run now
	Pending   int    // Run returned, not yet taken by Drain
	Completed uint64 // Done called, since New
	Rejected  uint64 // Post returned ErrQueueFull, since New
}

// Pool is a bounded pool of goroutines for blocking work. See the package
// comment for who may call what. A panic in Run is not recovered: like a
// panic on any goroutine it ends the worker process.
type Pool struct {
	name string
	// limit is threads + max_queue: the most tasks that may be queued or
	// running at once.
	limit   int
	w       Waker
	errFull error

	mu       sync.Mutex
	work     sync.Cond // signalled when a task is queued or the pool closes
	queue    ring      // posted tasks no goroutine has taken yet
	inflight int       // tasks posted whose Run has not returned
	running  int       // tasks in Run
	idle     int       // goroutines waiting on work
	done     []Task    // tasks whose Run returned, in order, for Drain
	closed   bool

	// spare is the last batch Drain ran, kept for the next swap so that
	// the done list is not reallocated. Loop goroutine only.
	spare []Task

	completed atomic.Uint64
	rejected  atomic.Uint64
	exited    sync.WaitGroup
}

// New starts a pool of threads goroutines named name (for logs). maxQueue
// is nginx's max_queue: how many tasks may wait beyond the idle goroutines
// before Post fails; 0 allows only as many tasks as threads. w is woken
// after every completion; register the pool with the loop (OnWake) so the
// loop calls Drain. New panics if threads < 1, maxQueue < 0 or w is nil:
// the configuration was validated before.
func New(name string, threads, maxQueue int, w Waker) *Pool {
	if threads < 1 || maxQueue < 0 || w == nil {
		panic(fmt.Sprintf("threadpool.New(%q, threads=%d, maxQueue=%d): bad arguments", name, threads, maxQueue))
	}
	p := &Pool{
		name:    name,
		limit:   threads + maxQueue,
		w:       w,
		errFull: &QueueFullError{Pool: name, Waiting: maxQueue},
	}
	p.work.L = &p.mu
	p.exited.Add(threads)
	var started sync.WaitGroup
	started.Add(threads)
	for i := 0; i < threads; i++ {
		go p.worker(&started)
	}
	// Each goroutine has its thread when New returns: the runtime
	// creates those threads now, not in the middle of serving.
	started.Wait()
	return p
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Post queues t to run on a pool goroutine; its Done then runs on a later
// Drain. Loop goroutine only; it never blocks. t must not be nil.
//
// The bound is nginx's max_queue: Post fails with ErrQueueFull (wrapped,
// see QueueFullError) when threads+maxQueue tasks are already queued or
// running — nginx's "waiting" (queued tasks minus idle threads) has
// reached max_queue, since idle = threads − running. A task that an idle
// goroutine can take at once therefore does not count against maxQueue,
// and the count does not depend on how fast goroutines wake up. As in
// nginx, a task counts until its Run returns; unlike nginx, it stops
// counting in the same step that hands its completion over (nginx hands
// over first and uncounts later), so a Done that posts its task again
// always finds its slot free.
//
// After Close, Post fails with ErrClosed. A task that embeds TaskState
// and is still in flight is refused with ErrInFlight. A refused task gets
// no Done.
func (p *Pool) Post(t Task) error {
	if t == nil {
		panic("threadpool: Post(nil)")
	}
	st := stateOf(t)
	if st != nil && st.inFlight {
		return ErrInFlight
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.inflight >= p.limit {
		p.mu.Unlock()
		p.rejected.Add(1)
		return p.errFull
	}
	p.inflight++
	p.queue.push(t, p.limit)
	if p.idle > 0 {
		p.work.Signal()
	}
	p.mu.Unlock()
	if st != nil {
		// Only the loop goroutine reads or writes the flag, and Drain,
		// which clears it, runs on this goroutine: no ordering needed.
		st.inFlight = true
	}
	return nil
}

// Drain calls Done, on the calling goroutine, for every task whose Run has
// returned since the last Drain, in the order their goroutines handed them
// over. It is an
// event.Drainer: the loop calls it after a wake-up. Loop goroutine only.
// Tasks that finish while Drain runs are left for the next wake-up, which
// their goroutine has already asked for.
func (p *Pool) Drain() {
	p.mu.Lock()
	batch := p.done
	if len(batch) == 0 {
		p.mu.Unlock()
		return
	}
	// Take spare out while running, so that a Done that (wrongly) calls
	// Drain again gets a fresh slice instead of the one being walked.
	p.done, p.spare = p.spare[:0], nil
	p.mu.Unlock()
	for i, t := range batch {
		batch[i] = nil
		if st := stateOf(t); st != nil {
			st.inFlight = false // before Done, which may post it again
		}
		p.completed.Add(1)
		t.Done()
	}
	p.spare = batch[:0]
}

// Close stops the pool. Post fails with ErrClosed from then on. The pool
// goroutines run every task already queued, then exit; Close returns when
// every goroutine has finished its last task and is returning, so no Run
// is running or will start after it returns, and none of the goroutines
// is left behind (each has only its return left to run).
//
// Close does not call Done. When it returns, every task posted before it
// has had its Run return and has been handed over to Drain, and its
// goroutine has called Wake after handing it over: each Done has run
// already, or runs (exactly once, on the loop goroutine) in a Drain in
// progress or in the loop's next one. A loop that will not run again
// calls Drain itself after Close.
//
// After Close returns the pool never calls Wake again, so the loop may be
// closed then, not before.
//
// Close blocks for as long as the queued and running tasks take — on the
// loop goroutine that is the worker's shutdown path, as nginx's
// exit_worker waits for its threads. It is safe from any goroutine, and
// calling it again waits again and returns.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.work.Broadcast()
	p.mu.Unlock()
	p.exited.Wait()
}

// Stats returns the pool's counters. Safe from any goroutine; it takes the
// pool's mutex for a moment.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{Queued: p.queue.n, Running: p.running, Pending: len(p.done)}
	p.mu.Unlock()
	s.Completed = p.completed.Load()
	s.Rejected = p.rejected.Load()
	return s
}

// worker is one pool goroutine: it runs tasks until the pool is closed
// and its queue empty.
//
// It keeps one OS thread for its life and marks it SCHED_BATCH once, so
// that no task pays a sched_setattr and every task runs on a marked
// thread. The thread ends with the goroutine (it stays locked), so a
// marked thread never goes back to the runtime to run other goroutines.
func (p *Pool) worker(started *sync.WaitGroup) {
	defer p.exited.Done()
	runtime.LockOSThread()
	batchThread()
	started.Done()
	var t Task
	for {
		if t = p.next(t); t == nil {
			return
		}
		t.Run()
	}
}

// next hands prev (nil the first time) over for Drain and returns the next
// task to run, waiting for one; nil once the pool is closed and its queue
// empty. prev leaves the count that bounds Post in the same critical
// section that makes it visible to Drain, so that its Done can post again
// without a spurious overflow.
func (p *Pool) next(prev Task) Task {
	p.mu.Lock()
	if prev != nil {
		p.running--
		p.inflight--
		p.done = append(p.done, prev)
		if p.queue.n > 0 {
			// Busy: one lock both hands prev over and takes the next.
			t := p.take()
			p.mu.Unlock()
			p.w.Wake()
			return t
		}
		// Wake outside the lock (it may write the eventfd), and before
		// sleeping, or the completion would wait for the next task.
		p.mu.Unlock()
		p.w.Wake()
		p.mu.Lock()
	}
	for p.queue.n == 0 {
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		p.idle++
		p.work.Wait()
		p.idle--
	}
	t := p.take()
	p.mu.Unlock()
	return t
}

// take pops the oldest queued task for the calling goroutine. mu is held.
func (p *Pool) take() Task {
	p.running++
	return p.queue.pop()
}
