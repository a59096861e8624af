//go:build linux

package worker

import (
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/threadpool"
)

// With aio = "threads" a worker closes the files it opened on a pool
// thread, not on its loop: closing the last descriptor of a file that was
// deleted meanwhile frees its blocks, a write to the disk, and a close on
// NFS is a round trip to the server. nginx closes on its loop.
//
// Closes are batched: a closer has at most one task on its pool, which
// closes the descriptors handed over since the last one. A batch goes
// when it holds closeBatch descriptors or its first has waited closeDelay,
// and not before the previous one is done. The descriptors stay open until
// then, which costs nothing but their numbers. Posting each close at once
// while the pool was idle cost a pool thread's wake-up, a completion and
// two context switches per response: on 64 KiB files without
// open_file_cache, 43.5 µs of worker CPU per request against 38.6 with
// closes on the loop (perf stat, wrk -c100, one worker on its CPU).

// closeRetry is how soon a closer tries again when its pool's queue was
// full: the queue drains as the disk catches up.
const closeRetry = 10 * time.Millisecond

// closeDelay is how long a descriptor handed over waits for others to
// fill its batch; closeBatch is the batch that goes at once. At 20,000
// responses a second a batch goes every 3 ms. A variable for tests.
var closeDelay = 5 * time.Millisecond

const closeBatch = 64

// fdCloser closes descriptors on one pool's threads. It belongs to the
// loop goroutine, but for the batch in flight, which its task's Run owns.
type fdCloser struct {
	event.Timer
	loop    *event.Loop
	pool    *threadpool.Pool
	pending []int32 // handed over, not yet in a batch
	task    closeTask
	stats   *filters.Stats // the worker's counts of closes on the pool
}

// closeTask closes one batch.
type closeTask struct {
	threadpool.TaskState
	c   *fdCloser
	fds []int32
}

// Run closes the batch, waiting for whatever a close waits for.
func (t *closeTask) Run() {
	for _, fd := range t.fds {
		unix.Close(int(fd))
	}
}

// Done empties the batch and lets the next one go when it is due.
func (t *closeTask) Done() {
	t.fds = t.fds[:0]
	t.c.schedule()
}

// closer returns the closer of pool, made on first use; nil for no pool,
// where files are closed at once.
func (w *Worker) closer(pool *threadpool.Pool) *fdCloser {
	if pool == nil {
		return nil
	}
	if c := w.closers[pool]; c != nil {
		return c
	}
	if w.closers == nil {
		w.closers = make(map[*threadpool.Pool]*fdCloser)
	}
	c := &fdCloser{loop: w.loop, pool: pool, stats: &w.env.Stats}
	c.task.c = c
	w.closers[pool] = c
	return c
}

// fileCloser is the closer of the files loc opens: its pool's with aio
// = "threads", else none.
func (w *Worker) fileCloser(loc *conf.Location) *fdCloser {
	if loc.AIO.Mode != conf.AIOThreads {
		return nil
	}
	return w.closer(w.env.Pools[loc.AIO.Pool])
}

// close closes fd: on the pool when c is not nil, else now.
func (c *fdCloser) close(fd int) {
	if c == nil {
		closeFD(fd)
		return
	}
	c.pending = append(c.pending, int32(fd))
	c.schedule()
}

// schedule sends a full batch now and arms the timer for one that is not.
func (c *fdCloser) schedule() {
	switch {
	case len(c.pending) >= closeBatch:
		c.flush()
	case len(c.pending) > 0 && !c.Armed():
		c.loop.SetTimer(&c.Timer, closeDelay, c)
	}
}

// flush posts what is pending unless a batch is in flight (its Done
// schedules the rest); with the pool's queue full it tries again after
// closeRetry.
func (c *fdCloser) flush() {
	if len(c.pending) == 0 || c.task.InFlight() {
		return
	}
	c.task.fds, c.pending = c.pending, c.task.fds[:0]
	if err := c.pool.Post(&c.task); err != nil {
		c.task.fds, c.pending = c.pending, c.task.fds // back as they were
		if !c.Armed() {
			c.loop.SetTimer(&c.Timer, closeRetry, c)
		}
		return
	}
	c.loop.StopTimer(&c.Timer)
	c.stats.OffloadedCloses += uint64(len(c.task.fds))
	c.stats.OffloadedCloseBatches++
}

// Timeout sends a batch that has waited closeDelay, or retries one the
// pool's queue had no room for.
func (c *fdCloser) Timeout() { c.flush() }

// closeNow closes what is pending on the loop, when the pool is gone (the
// worker is exiting).
func (c *fdCloser) closeNow() {
	for _, fd := range c.pending {
		closeFD(int(fd))
	}
	c.pending = c.pending[:0]
	c.loop.StopTimer(&c.Timer)
}
