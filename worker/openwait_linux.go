//go:build linux

package worker

import (
	"bytes"
	"syscall"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/threadpool"
)

// With aio = "threads", a path whose lookup would read the disk (its
// dentries or inode not cached) is resolved on a pool thread, so a cold
// directory never stalls the loop. nginx cannot do this: it opens on the
// loop. The phases run speculatively: every open and stat asks the kernel
// to fail with EAGAIN instead of waiting (openat2 RESOLVE_CACHED); one
// that does marks the request, the phases finish with whatever the error
// made of it, and that outcome is thrown away: nothing has been sent, the
// body setup is not repeated. A pool thread then resolves the path —
// which fills the kernel's caches — and the phases run again from routing.
// After maxOpenRetries the opens may wait, so a path evicted again at once
// cannot keep a request waiting forever.

// maxOpenRetries bounds the restarts of one request.
const maxOpenRetries = 3

// openTask resolves one path on a pool thread. It belongs to its request;
// between Post and Done only the pool goroutine running it touches it.
type openTask struct {
	threadpool.TaskState
	c     *conn
	rq    *request
	path  []byte // NUL-terminated
	noSym bool
}

// Run opens the path with O_PATH, waiting for the disk, and closes it:
// the lookup leaves the dentries and the inode in the kernel's caches.
func (t *openTask) Run() {
	if fd, e := openAt(t.path, unix.O_PATH|unix.O_CLOEXEC, t.noSym, false); e == 0 {
		closeFD(fd)
	}
}

// Done runs the request's phases again, on the loop goroutine.
func (t *openTask) Done() {
	if t.rq.stream != nil || t.rq.orphan {
		t.rq.streamOpenDone()
		return
	}
	t.c.openDone()
}

// noWait reports whether rq's opens must not wait for the disk.
func (w *Worker) noWait(rq *request) bool {
	return rq.Loc.AIO.Mode == conf.AIOThreads && rq.openRetries < maxOpenRetries &&
		w.env.Pools[rq.Loc.AIO.Pool] != nil
}

// blocked notes that resolving cpath would have waited for the disk; the
// first such path of a run is the one the pool resolves.
func (rq *request) blocked(cpath []byte) {
	if !rq.wouldBlock {
		rq.wouldBlock = true
		rq.open.path = append(rq.open.path[:0], cpath...)
	}
}

// symPolicyFor says whether disable_symlinks asks more of cpath than on
// or off: if_not_owner, or a from= part that cpath starts with.
func (rq *request) symPolicyFor(cpath []byte) (symPolicy, bool) {
	loc := rq.Loc
	if !loc.DisableSymlinks || !loc.SymlinksIfNotOwner && loc.SymlinksFrom.IsZero() {
		return symPolicy{}, false
	}
	p := symPolicy{owner: loc.SymlinksIfNotOwner}
	if !loc.SymlinksFrom.IsZero() {
		from := loc.SymlinksFrom.Append(rq.vs.symFrom[:0], rq)
		rq.vs.symFrom = from
		from = bytes.TrimRight(from, "/")
		n := len(cpath) - 1
		// nginx: a from= that the path does not start with checks all
		// of it.
		if len(from) > 0 && len(from) <= n && bytes.Equal(cpath[:len(from)], from) &&
			(len(from) == n || cpath[len(from)] == '/') {
			p.from = len(from)
		}
	}
	return p, p.owner || p.from > 0
}

// openFor opens the file cpath for rq; see openAt.
func (w *Worker) openFor(rq *request, cpath []byte) (int, syscall.Errno) {
	if p, walk := rq.symPolicyFor(cpath); walk {
		return openWalk(cpath, openFlags, p)
	}
	fd, e := openPath(cpath, rq.Loc.DisableSymlinks, w.noWait(rq))
	if e == unix.EAGAIN {
		rq.blocked(cpath)
	}
	return fd, e
}

// statFor stats cpath for rq; see openAt.
func (w *Worker) statFor(rq *request, cpath []byte, st *unix.Stat_t) syscall.Errno {
	if p, walk := rq.symPolicyFor(cpath); walk {
		fd, e := openWalk(cpath, unix.O_PATH|unix.O_CLOEXEC, p)
		if e != 0 {
			return e
		}
		e = fstat(fd, st)
		closeFD(fd)
		return e
	}
	e := statFile(cpath, rq.Loc.DisableSymlinks, w.noWait(rq), st)
	if e == unix.EAGAIN {
		rq.blocked(cpath)
	}
	return e
}

// waitOpen posts the blocked path to the location's pool and parks the
// connection until it is resolved. With the pool's queue full the request
// gets 500, as a send the queue has no room for does (nginx's answer to a
// thread pool queue overflow): opening on the loop instead would wait for
// the disk there, when the disk is what the queue waits for.
func (c *conn) waitOpen() {
	rq := c.rq
	task := &rq.open
	task.c, task.rq = c, rq
	task.noSym = rq.Loc.DisableSymlinks
	if err := c.w.env.Pools[rq.Loc.AIO.Pool].Post(task); err != nil { // noWait checked the pool
		c.rq.errLog().Error().Uint64("conn", c.id).Err(err).Msg("thread pool task refused")
		rq.restart()
		rq.setError(500)
		rq.closeAfter = true
		c.respond()
		return
	}
	c.w.env.Stats.OffloadedOpens++
	c.setState(stOpen)
}

// openDone resumes a request whose path the pool resolved.
func (c *conn) openDone() {
	defer c.recoverPanic()
	if c.closing {
		c.close()
		return
	}
	if c.state != stOpen {
		return
	}
	c.rq.openRetries++
	c.restartPhases()
	c.drive()
}
