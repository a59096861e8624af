//go:build linux

package filters

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/threadpool"
)

// With aio = "threads", a file region whose pages are not all in the page
// cache is sent from a pool thread, so that the loop never sleeps on the
// disk; a region that is cached goes out inline, with no thread hop. nginx
// cannot tell the two apart on Linux and hops for every sendfile (its
// "Thread Pools" post says so); cachestat(2) (Linux 6.5) counts the cached
// pages of a range without copying or mapping anything.
//
// Ownership: a sendTask belongs to its Txn. Between Post and Done only the
// pool goroutine running it touches it; Done runs on the loop goroutine and
// hands the result back through the Txn's owner.

const pageSize = 4096

// sendTask is the one thread-pool task of a Txn, allocated once and
// reused: a sendfile (or, with sendfile off, a pread and a write) of one
// chunk, with the unsent response head in front when the chunk is the
// first thing the response sends.
type sendTask struct {
	threadpool.TaskState
	t *Txn

	sock, fd int
	head     []byte
	off      int64
	count    int
	copy     bool
	buf      []byte // for copy, allocated on first use
	// read makes the task a pread into into (gzip's input) instead of a
	// send; readFileAt takes its result.
	read bool
	into []byte

	headN, n int
	err      error
	done     bool
}

// Run sends on the pool goroutine. The socket is non-blocking: only the
// file read may sleep.
func (s *sendTask) Run() {
	s.headN, s.n, s.err = 0, 0, nil
	if s.read {
		for {
			s.n, s.err = unix.Pread(s.fd, s.into, s.off)
			if s.err != unix.EINTR {
				return
			}
		}
	}
	if len(s.head) > 0 {
		n, err := sendMore(s.sock, s.head)
		s.headN = n
		if err != nil || n < len(s.head) {
			s.err = err
			if err == nil {
				s.err = unix.EAGAIN // the socket took part of the head
			}
			return
		}
	}
	if s.copy {
		s.n, s.err = preadWrite(s.sock, s.fd, s.buf[:s.count], s.off)
		return
	}
	off := s.off
	for {
		s.n, s.err = unix.Sendfile(s.sock, s.fd, &off, s.count)
		if s.err != unix.EINTR {
			return
		}
	}
}

// Done hands the result back to the connection, on the loop goroutine.
func (s *sendTask) Done() {
	s.done = true
	s.t.Owner.Resume()
}

// sendMore writes p with MSG_MORE: the file data follows at once.
func sendMore(fd int, p []byte) (int, error) {
	var iov unix.Iovec
	iov.Base = &p[0]
	iov.SetLen(len(p))
	var msg unix.Msghdr
	msg.Iov = &iov
	msg.SetIovlen(1)
	r, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_MORE|unix.MSG_NOSIGNAL)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// preadWrite reads len(buf) bytes at off and writes what the socket takes.
func preadWrite(sock, fd int, buf []byte, off int64) (int, error) {
	n, err := unix.Pread(fd, buf, off)
	if err != nil || n == 0 {
		return 0, err
	}
	return unix.Write(sock, buf[:n])
}

// offloadable reports whether t's location sends file data from a pool,
// and returns the pool.
func offloadable(t *Txn) *threadpool.Pool {
	if t.Loc.AIO.Mode != conf.AIOThreads || t.Env.Pools == nil {
		return nil
	}
	return t.Env.Pools[t.Loc.AIO.Pool]
}

// post sends count bytes of segment s (and head, when not empty) from the
// pool. It returns Again with WaitThread, or Error when the pool refuses
// (a full queue: the worker answers 500 when nothing was sent yet).
func (w *WriteFilter) post(t *Txn, p *threadpool.Pool, s *Segment, head []byte, count int64) Result {
	task := t.sendTask()
	task.read = false
	task.sock, task.fd = t.Conn.SendfileFD(), s.File.FD
	task.head = head
	task.off = s.Off + t.segOff
	task.count = int(count)
	task.copy = !t.Loc.Sendfile
	if task.copy {
		if task.buf == nil {
			task.buf = make([]byte, copyChunk)
		}
		task.count = int(min(count, copyChunk))
	}
	task.done = false
	if err := p.Post(task); err != nil {
		t.Err = err
		return Error
	}
	t.Env.Stats.OffloadedSends++
	t.offloaded = true
	t.Wait = WaitThread
	return Again
}

// sendTask returns the Txn's task, allocating it on first use.
func (t *Txn) sendTask() *sendTask {
	task, _ := t.task.(*sendTask)
	if task == nil {
		task = &sendTask{t: t}
		t.task = task
	}
	return task
}

// postRead reads len(p) bytes of f at off on a pool thread, for a filter
// that transforms file data; readFileAt takes the result when the
// filter asks again.
func postRead(t *Txn, pool *threadpool.Pool, f *File, off int64, p []byte) Result {
	task := t.sendTask()
	task.read, task.done = true, false
	task.fd, task.off, task.into = f.FD, off, p
	if err := pool.Post(task); err != nil {
		t.Err = err
		return Error
	}
	t.Env.Stats.OffloadedSends++
	t.Wait = WaitThread
	return Again
}

// takeRead returns the result of a completed read of f at off into p,
// if that is what the task did.
func takeRead(t *Txn, f *File, off int64, p []byte) (n int, ok bool, err error) {
	task, _ := t.task.(*sendTask)
	if task == nil || !task.done || !task.read || task.fd != f.FD || task.off != off ||
		len(task.into) != len(p) || len(p) == 0 || &task.into[0] != &p[0] {
		return 0, false, nil
	}
	task.done, task.read = false, false
	return task.n, true, task.err
}

// TaskInFlight reports whether a pool thread is still using the Txn's
// socket and file: the connection must not close them until it is done.
func (t *Txn) TaskInFlight() bool {
	task, _ := t.task.(*sendTask)
	return task != nil && task.InFlight()
}

// finishTask applies the result of a completed task. It returns OK to go
// on sending, or what the response waits for.
func (w *WriteFilter) finishTask(t *Txn) Result {
	task, _ := t.task.(*sendTask)
	if task == nil || !task.done || task.read {
		return OK // nothing, or a read that readFileAt takes
	}
	task.done = false
	if task.headN > 0 {
		t.Sent += int64(task.headN)
		t.advance(task.headN)
	}
	if task.headN < len(task.head) || task.err != nil && task.n <= 0 {
		return w.taskFailed(t, task)
	}
	if task.count == 0 {
		return OK
	}
	_, r := w.sent(t, &t.Resp.Body.Segs[t.seg], int64(task.n))
	return r
}

func (w *WriteFilter) taskFailed(t *Txn, task *sendTask) Result {
	err := task.err
	if err == unix.EAGAIN || err == unix.EINTR || err == nil {
		// The socket was full when the thread tried; it may have drained
		// since, and the EPOLLOUT edge that said so was already seen.
		t.Wait = WaitWrite
		t.AgainStale = true
		return Again
	}
	t.Err = os.NewSyscallError("sendfile", err)
	return Error
}

// noCachestat is set once the kernel says it has no cachestat, or that
// this process may not use it: since Linux 6.x it answers EPERM unless
// the caller owns the file or may write to it, which a worker running as
// user (docs/directives/user.md) seldom does; the probes then decide.
var noCachestat bool

// resident reports whether sending fd's [off, off+n) will not wait for
// the disk. cachestat counts the pages present in the page cache — but a
// page that readahead has inserted and not yet filled is present too, and
// reading it waits for that I/O (measured here: 1–2 s behind a 20 MiB/s
// throttle). A read with RWF_NOWAIT fails on such a page instead, so the
// first, middle and last byte are probed too: readahead fills a file
// front to back, and its unfinished window is the one furthest ahead.
// Without cachestat, the probes alone decide.
func resident(fd int, off, n int64) bool {
	if n <= 0 {
		return true
	}
	if !noCachestat {
		var cs unix.Cachestat_t
		rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
		switch err := unix.Cachestat(uint(fd), &rng, &cs, 0); err {
		case nil:
			if pages := (off+n+pageSize-1)/pageSize - off/pageSize; int64(cs.Cache) < pages {
				return false
			}
		case unix.ENOSYS, unix.EPERM:
			noCachestat = true
		default:
			return false
		}
	}
	for _, at := range [3]int64{off, off + n/2, off + n - 1} {
		if !uptodate(fd, at) {
			return false
		}
	}
	return true
}

// preadNoWait reads into p at off what the page cache holds, with
// preadv2(RWF_NOWAIT): unix.EAGAIN when the first page is not there (a
// read would wait for the disk), a short count when a later one is not.
// A raw call: x/sys's Preadv2 allocates its iovecs.
func preadNoWait(fd int, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
			uintptr(off), 0, unix.RWF_NOWAIT)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, unix.EAGAIN
		}
		return 0, e
	}
}

// uptodate reads the byte at off with preadv2(RWF_NOWAIT), which returns
// EAGAIN rather than wait for the disk (Linux 4.14). A raw call: x/sys's
// Preadv2 allocates its iovecs.
func uptodate(fd int, off int64) bool {
	var b [1]byte
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(1)
	_, _, e := unix.RawSyscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
		uintptr(off), 0, unix.RWF_NOWAIT)
	return e == 0
}

// Resident reports whether sending fd's [off, off+n) will not wait for
// the disk (see resident): a connection that sends file data itself
// (HTTP/2 DATA frames) sends it inline, with sendfile, only then.
func Resident(fd int, off, n int64) bool { return resident(fd, off, n) }

// ReadFile reads file data at off into p for a connection that frames
// it itself (HTTP/2 DATA over TLS, or a region that is not cached): from
// the cache's copy when there is one, inline when its pages are cached,
// else on a pool thread (Again with WaitThread; Owner.Resume follows,
// and the same call then returns the data). See readFileAt.
func (t *Txn) ReadFile(f *File, off int64, p []byte) (int, Result) {
	return readFileAt(t, f, off, p)
}
