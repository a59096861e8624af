//go:build linux

package worker

import (
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/threadpool"
)

// With aio = "threads" a worker closes the files it opened on a pool
// thread, not on its loop: closing the last descriptor of a file that was
// deleted meanwhile frees its blocks, a write to the disk, and a close on
// NFS is a round trip to the server. nginx closes on its loop.
//
// Closes are batched: a closer has at most one task on its pool, which
// closes the descriptors handed over since the last one; the next batch
// goes when it is done. The descriptors stay open until then, which costs
// nothing but their numbers.

// closeRetry is how soon a closer tries again when its pool's queue was
// full: the queue drains as the disk catches up.
const closeRetry = 10 * time.Millisecond

// fdCloser closes descriptors on one pool's threads. It belongs to the
// loop goroutine, but for the batch in flight, which its task's Run owns.
type fdCloser struct {
	event.Timer
	loop    *event.Loop
	pool    *threadpool.Pool
	pending []int32 // handed over, not yet in a batch
	task    closeTask
	stats   *uint64 // the worker's count of descriptors closed on the pool
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

// Done empties the batch and sends the next.
func (t *closeTask) Done() {
	t.fds = t.fds[:0]
	t.c.flush()
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
	c := &fdCloser{loop: w.loop, pool: pool, stats: &w.env.Stats.OffloadedCloses}
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
	c.flush()
}

// flush posts what is pending unless a batch is in flight; with the
// pool's queue full it tries again after closeRetry.
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
	*c.stats += uint64(len(c.task.fds))
}

// Timeout retries a batch the pool's queue had no room for.
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
