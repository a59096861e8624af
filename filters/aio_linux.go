//go:build linux

package filters

import (
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/threadpool"
)

// With aio = "threads", the event loop never waits for the disk: before
// each chunk of a file goes out, the write filter asks whether its pages
// are in the page cache. When they are, the loop sends the chunk inline,
// with no thread hop. When they are not, a pool thread reads and sends
// the chunk in one sendfile (see ready: pages read for the loop to send
// later can be reclaimed first); the first chunk of a response, whose
// head waits for it, is only brought in (a sendfile to /dev/null, which
// reads the pages as a send to the socket would and copies nothing) and
// the loop sends it from the cache. The decision is taken per chunk, so
// one cold region does not send the rest of a large file through the
// pool. nginx cannot tell cached from cold on Linux and hops for
// every sendfile (its "Thread Pools" post says so); cachestat(2) (Linux
// 6.5) counts the cached pages of a range without copying or mapping
// anything.
//
// Ownership: a diskTask belongs to its Txn. Between Post and Done only the
// pool goroutine running it touches it; Done runs on the loop goroutine and
// hands the result back through the Txn's owner.

const (
	pageSize = 4096
	// maxFill bounds the region one pool task brings into the page
	// cache, and so how long the client waits for the first bytes: a
	// sendfile from the pool sent each 64 KiB as it came, a fill sends
	// nothing before the region is in (at 20 MiB/s, 256 KiB takes
	// 13 ms). The kernel's readahead keeps the disk busy between fills.
	maxFill = 256 << 10
	// maxInline bounds the region one look at the page cache covers
	// when only the RWF_NOWAIT probes can look (no cachestat): three
	// probed pages stand for it, so it stays nginx's default
	// sendfile_max_chunk, and a cold page far ahead does not hold back
	// the cached ones before it.
	maxInline = 2 << 20
	// maxLook is the region one look covers when cachestat counts every
	// page of it: one call walks its 2,048 pages in a few microseconds,
	// where looking at each 2 MiB turn made four calls per turn.
	maxLook = 8 << 20
	// trustCached is how long a region the page cache said it holds is
	// sent without asking again: the turns of one fast download, a few
	// milliseconds apart. A page seen cached that recently is seldom
	// reclaimed before it goes out; a slow client's next turn asks
	// again.
	trustCached = 10 * time.Millisecond
	// coldReach is how far past a region the pool read the loop looks
	// at every page before it sends inline: the readahead that read
	// started runs up to read_ahead_kb ahead (8 MiB on these machines)
	// and fills its window behind the disk's queue, and a look that
	// probes three pages passed over pages still being read — 0.3 to
	// 2.4 s stalls of the loop's sendfile in t/bench's open phase, with
	// cachestat and without.
	coldReach = 8 << 20
	// slowFill is how long a pool read of one region (maxFill or less)
	// may take before the response's disk counts as slow (Txn.slowDisk).
	// Behind a slow disk, pages of the regions ahead are in flight
	// anywhere, not only within coldReach of the pool's read: the loop's
	// own inline sends start readahead whenever they pass its mark, and
	// reclaim takes pages that readahead brought in and nobody has sent
	// yet (kdamond's pageout of idle page cache, here), which the next
	// readahead reads again. cachestat counts such a page present, and
	// three probes pass over it: in t/bench's open phase, a loop's
	// sendfile 22 MiB past the pool's read waited 4.6 s for one. So
	// after a slow read every region is asked about page by page
	// (readableNow), for the rest of the response; its copy of 256 KiB
	// costs ~30 µs, against the ~13 ms a 20 MiB/s disk takes to read it.
	// A fast disk reads 256 KiB in a millisecond or two and keeps the
	// cheaper looks.
	slowFill = 10 * time.Millisecond
	// slowRemembered is how long a File whose disk a response found
	// slow (slowFill) makes every other response sending it start
	// there too (File.slowAt): behind a slow disk, each response that
	// finds it out by itself does so with a stall of the loop, and a
	// popular file on such a disk has many responses. Each slow pool read
	// of the file marks it again, so the mark lasts while the disk is
	// read and ends a few seconds after the file is all cached, when
	// the page-by-page looks (~30 µs per 256 KiB) have no more use.
	slowRemembered = 2 * time.Second
)

// diskTask is the one thread-pool task of a Txn, allocated once and
// reused: it brings count bytes of a file at off into the page cache, or
// with read set reads len(into) bytes into into (the input of a filter
// that transforms file data, and file data over TLS).
type diskTask struct {
	threadpool.TaskState
	t *Txn

	fd    int
	off   int64
	count int
	read  bool
	into  []byte
	// sock, when not -1, is the socket the region goes to from the
	// pool thread, in the call that reads it (see ready).
	sock int
	// posted is the loop's clock when the task was posted (see
	// slowFill).
	posted int64

	n    int
	err  error
	done bool
}

// Run reads on the pool goroutine; it is the only place that waits for
// the disk.
func (d *diskTask) Run() {
	d.n, d.err = 0, nil
	if d.read {
		for {
			d.n, d.err = unix.Pread(d.fd, d.into, d.off)
			if d.err != unix.EINTR {
				return
			}
		}
	}
	if d.sock >= 0 {
		d.n, d.err = sendRegion(d.sock, d.fd, d.off, d.count)
		return
	}
	d.n, d.err = fill(d.fd, d.off, d.count)
}

// sendRegion sends [off, off+count) of fd to the non-blocking socket
// sock, waiting for the disk where it must: what the socket takes, or
// unix.EAGAIN when it takes nothing; 0 at the end of the file.
func sendRegion(sock, fd int, off int64, count int) (int, error) {
	for {
		n, err := unix.Sendfile(sock, fd, &off, count)
		if err == unix.EINTR {
			continue
		}
		if err != nil && n <= 0 {
			return 0, err
		}
		return n, nil
	}
}

// Done hands the result back to the connection, on the loop goroutine.
func (d *diskTask) Done() {
	d.done = true
	d.t.Owner.Resume()
}

// devNull is where fill sends pages to: /dev/null takes splices and
// drops them. Opened once per process, on first use.
var devNull = sync.OnceValues(func() (int, error) {
	return unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
})

// fill brings [off, off+count) of fd into the page cache, waiting for the
// disk, and returns how many of those bytes the file has: fewer at its
// end. A sendfile to /dev/null gets each page as a send to a socket
// would (the kernel's filemap_splice_read, readahead included), then
// drops it: nothing is copied.
func fill(fd int, off int64, count int) (int, error) {
	sink, err := devNull()
	if err != nil {
		return 0, err
	}
	total := 0
	for total < count {
		n, err := unix.Sendfile(sink, fd, &off, count-total)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return total, err
		case n == 0:
			return total, nil // the end of the file
		}
		total += n
	}
	return total, nil
}

// offloadable reports whether t's location reads cold file data on a
// pool, and returns the pool.
func offloadable(t *Txn) *threadpool.Pool {
	if t.poolLoc != t.Loc || t.poolEnv != t.Env {
		t.poolLoc, t.poolEnv, t.pool = t.Loc, t.Env, nil
		if t.Loc.AIO.Mode == conf.AIOThreads && t.Env.Pools != nil {
			t.pool = t.Env.Pools[t.Loc.AIO.Pool]
		}
	}
	return t.pool
}

// ready says how much of the count bytes of segment s at the write
// position the loop can send without waiting for the disk: those of a
// region a pool task has just filled, or of one the page cache said it
// holds less than trustCached ago, else, when every page of the next
// region (up to maxLook, then maxInline, then maxFill) is cached, as
// many as that region holds. When they are not cached, it posts a task
// that brings them in and returns Again with WaitThread (Error when the
// pool refuses: a full queue, which the worker answers with 500 when
// nothing was sent yet).
//
// With sock (the response's socket, when everything before the region
// has gone out and it goes out by sendfile; else -1), the task sends
// the region to the socket itself, in the same call that reads it,
// instead of bringing it in for the loop to send: pages read for a
// fill are not safe in the page cache until the loop's send. Proactive
// reclaim (here DAMON, with a 20 MiB/s throttle behind it) took pages of
// a region a fill had just read, and the loop's sendfile then read them
// again, behind the other downloads' queued reads: 111–193 ms each in
// t/bench's open phase, the loop stalled with every client waiting.
func ready(t *Txn, pool *threadpool.Pool, s *Segment, count int64, sock int) (int64, Result) {
	off := s.Off + t.segOff
	if f := t.filled; f.file == s.File && off >= f.off && off < f.end {
		// Trusted once, for the send right after the fill; a later turn
		// (the socket was full) asks the page cache again.
		t.filled = filled{}
		return min(count, f.end-off), OK
	}
	t.filled = filled{}
	rest := s.Len - t.segOff
	var now int64
	if t.Env.Clock != nil {
		now = t.Env.Clock()
	}
	if !t.slowDisk && s.File.SlowDisk(now) {
		// Another response found this file's disk slow: this one
		// starts there, without marking it again.
		t.slowFrom(s, off, 0)
	}
	if c := t.cold; c.file == s.File && (t.slowDisk || off >= c.off && off < c.end+coldReach) {
		// Near what the pool read last, or anywhere behind a slow
		// disk: one region at a time, every page of it asked, nothing
		// trusted for later turns.
		t.cached = filled{}
		n := min(rest, count, maxFill)
		t.Env.Stats.CacheLooks++
		ok, calls := readableNow(s.File.FD, off, n)
		t.Env.Stats.CacheLookCalls += uint64(calls)
		if ok {
			return n, OK
		}
		return post(t, pool, s, off, int(n), sock)
	}
	if t.Env.Clock != nil {
		// A region trusted is trusted for whole chunks: a chunk that
		// runs past its end is looked at again from where it starts,
		// rather than cut there into two sends.
		if c := t.cached; c.file == s.File && off >= c.off && off+count <= c.end && now-t.cachedAt < int64(trustCached) {
			return count, OK
		}
		if c := s.File.seen; c.file == s.File && off >= c.off && off+count <= c.end && now-s.File.seenAt < int64(trustCached) {
			// Another response looked moments ago: a hot file
			// costs one look per trustCached, not three probes
			// per response.
			return count, OK
		}
	}
	// One look covers more than this turn sends (sendfile_max_chunk,
	// or what the socket takes): the next turns send from it without
	// looking again. Near a cold region the look shrinks to maxFill
	// before the pool is asked to fill.
	looked := int64(0)
	for _, look := range [...]int64{maxLook, maxInline, maxFill} {
		n := min(rest, look)
		if n == looked || look > maxInline && noCachestat {
			continue // refused already, or more than the probes can vouch for
		}
		looked = n
		t.Env.Stats.CacheLooks++
		ok, calls := lookResident(s.File.FD, off, n)
		t.Env.Stats.CacheLookCalls += uint64(calls)
		if ok && (look <= maxInline || !noCachestat) {
			if t.Env.Clock != nil {
				t.cached, t.cachedAt = filled{file: s.File, off: off, end: off + n}, now
				s.File.seen, s.File.seenAt = t.cached, now
			}
			return min(count, n), OK
		}
	}
	t.cached = filled{}
	return post(t, pool, s, off, int(min(rest, count, maxFill)), sock)
}

// slowRead marks t's disk, and s's File for the other responses sending
// it (slowRemembered), slow (see slowFill) after a read of [off, off+n)
// of s waited slowFill or more: a pool read, or a send on the loop's
// thread, where the looks that let it run there were wrong once, and
// behind that disk would be again. (The first pool read of a response
// whose looks all passed is not there to tell: pages still being read
// count as cached for cachestat.) The region counts as the pool's last
// read, so that ready asks about every page from then on.
func (t *Txn) slowRead(s *Segment, off, n int64) {
	t.slowFrom(s, off, n)
	if t.Env.Clock != nil {
		s.File.MarkSlowDisk(t.Env.Clock())
	}
}

// SlowDisk reports whether a response found f's disk slow (a read or send
// of it waited slowFill or more) less than slowRemembered before now, on
// the loop's clock. A response that starts sending f then looks at every
// region page by page (ready); an HTTP/2 stream reads its DATA into the
// batch with RWF_NOWAIT rather than sendfile on the loop.
func (f *File) SlowDisk(now int64) bool {
	return f.slowAt != 0 && now-f.slowAt < int64(slowRemembered)
}

// MarkSlowDisk notes that a read or send of f waited slowFill or more
// for its disk at now (the loop's clock): see SlowDisk.
func (f *File) MarkSlowDisk(now int64) { f.slowAt = now }

// slowFrom counts t's disk slow from [off, off+n) of s on: every region
// is looked at page by page (see ready).
func (t *Txn) slowFrom(s *Segment, off, n int64) {
	t.slowDisk = true
	if t.cold.file != s.File {
		t.cold = filled{file: s.File, off: off, end: off + n}
	}
}

// post gives the pool count bytes of s at off to read (and send, with
// sock; see ready) and returns Again with WaitThread, or Error when the
// pool refuses.
func post(t *Txn, pool *threadpool.Pool, s *Segment, off int64, count, sock int) (int64, Result) {
	task := t.diskTask()
	task.read, task.done = false, false
	task.fd, task.off, task.count, task.sock = s.File.FD, off, count, sock
	if !t.submit(pool, task) {
		return 0, Error
	}
	t.cold = filled{file: s.File, off: off, end: off + int64(count)}
	return 0, Again
}

// submit gives t's task to pool, noting when (see slowFill), and makes t
// wait for it; false when the pool refuses it (t.Err says why).
func (t *Txn) submit(pool *threadpool.Pool, task *diskTask) bool {
	if t.Env.Clock != nil {
		task.posted = t.Env.Clock()
	}
	if err := pool.Post(task); err != nil {
		t.Err = err
		return false
	}
	t.Env.Stats.OffloadedSends++
	t.Wait = WaitThread
	return true
}

// tookSlow reports whether the task, done, took slowFill or more on the
// loop's clock: its disk is slow.
func (task *diskTask) tookSlow() bool {
	clock := task.t.Env.Clock
	return clock != nil && clock()-task.posted >= int64(slowFill)
}

// diskTask returns the Txn's task, allocating it on first use.
func (t *Txn) diskTask() *diskTask {
	task, _ := t.task.(*diskTask)
	if task == nil {
		task = &diskTask{t: t}
		t.task = task
	}
	return task
}

// postRead reads len(p) bytes of f at off on a pool thread, for a filter
// that transforms file data; readFileAt takes the result when the
// filter asks again.
func postRead(t *Txn, pool *threadpool.Pool, f *File, off int64, p []byte) Result {
	task := t.diskTask()
	task.read, task.done = true, false
	task.fd, task.off, task.into, task.sock = f.FD, off, p, -1
	if !t.submit(pool, task) {
		return Error
	}
	return Again
}

// takeRead returns the result of a completed read of f at off into p,
// if that is what the task did. A read that took slowFill or more marks
// f's disk slow (SlowDisk), as a slow fill does (finishTask).
func takeRead(t *Txn, f *File, off int64, p []byte) (n int, ok bool, err error) {
	task, _ := t.task.(*diskTask)
	if task == nil || !task.done || !task.read || task.fd != f.FD || task.off != off ||
		len(task.into) != len(p) || len(p) == 0 || &task.into[0] != &p[0] {
		return 0, false, nil
	}
	task.done, task.read = false, false
	if task.tookSlow() {
		f.MarkSlowDisk(t.Env.Clock())
	}
	return task.n, true, task.err
}

// TaskInFlight reports whether a pool thread is still using the Txn's
// file: the connection must not close it until the thread is done.
func (t *Txn) TaskInFlight() bool {
	task, _ := t.task.(*diskTask)
	return task != nil && task.InFlight()
}

// finishTask takes the result of a completed fill: the region it filled
// is sent next; or of a region the pool sent, which it accounts. It returns OK to go on sending, or Error when the disk
// failed or the file ended early (it was truncated since it was opened).
func (w *WriteFilter) finishTask(t *Txn) Result {
	task, _ := t.task.(*diskTask)
	if task == nil || !task.done || task.read {
		return OK // nothing, or a read that readFileAt takes
	}
	task.done = false
	s := &t.Resp.Body.Segs[t.seg]
	if task.tookSlow() {
		t.slowRead(s, task.off, int64(task.count))
	}
	if task.sock >= 0 {
		// The pool sent the region (or what the socket took of it).
		if task.err != nil {
			return w.failed(t, task.err, "sendfile")
		}
		_, r := w.sent(t, s, int64(task.n))
		return r
	}
	switch {
	case task.n == 0 && task.err != nil:
		t.Err = os.NewSyscallError("sendfile", task.err)
		return Error
	case task.n == 0:
		_, r := w.sent(t, s, 0) // truncated
		return r
	}
	t.filled = filled{file: s.File, off: task.off, end: task.off + int64(task.n)}
	return OK
}

// noCachestat is set once the kernel says it has no cachestat, or that
// this process may not use it: since Linux 6.x it answers EPERM unless
// the caller owns the file or may write to it, which a worker running as
// user (docs/directives/user.md) seldom does; the probes then decide.
var noCachestat bool

// resident reports whether sending fd's [off, off+n) will not wait for
// the disk (see lookResident).
func resident(fd int, off, n int64) bool {
	ok, _ := lookResident(fd, off, n)
	return ok
}

// lookResident reports whether sending fd's [off, off+n) will not wait
// for the disk, and how many system calls it took to tell. cachestat
// counts the pages present in the page cache — but a page that readahead
// has inserted and not yet filled is present too, and reading it waits
// for that I/O (measured here: 1–2 s behind a 20 MiB/s throttle). A read
// with RWF_NOWAIT fails on such a page instead, so the first, middle and
// last byte are probed too: readahead fills a file front to back, and
// its unfinished window is the one furthest ahead. Without cachestat,
// the probes alone decide.
func lookResident(fd int, off, n int64) (ok bool, calls int) {
	if n <= 0 {
		return true, 0
	}
	if !noCachestat {
		calls++
		var cs unix.Cachestat_t
		rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
		switch err := unix.Cachestat(uint(fd), &rng, &cs, 0); err {
		case nil:
			if pages := (off+n+pageSize-1)/pageSize - off/pageSize; int64(cs.Cache) < pages {
				return false, calls
			}
		case unix.ENOSYS, unix.EPERM:
			noCachestat = true
		default:
			return false, calls
		}
	}
	for _, at := range [3]int64{off, off + n/2, off + n - 1} {
		calls++
		if !uptodate(fd, at) {
			return false, calls
		}
	}
	return true, calls
}

// readableNow reports whether every byte of fd's [off, off+n) can be
// read without waiting for the disk, and how many system calls it took
// to tell: for a region near one the pool read, where readahead may have
// pages anywhere still in flight (cachestat counts them present, and
// three probes pass over them). Each call is one preadv2 with RWF_NOWAIT
// over up to maxFill bytes of the file, copied page after page into the
// same page-sized buffer; it stops short at the first page that is
// missing or still being read. A probe per page was 64 calls per
// 256 KiB, ~170 µs here; the copy of 256 KiB from the page cache takes
// ~30 µs.
func readableNow(fd int, off, n int64) (ok bool, calls int) {
	var page [pageSize]byte
	var vec [maxFill / pageSize]unix.Iovec
	for n > 0 {
		k, want := 0, int64(0)
		for ; k < len(vec) && want < n; k++ {
			l := min(n-want, pageSize)
			vec[k].Base = &page[0]
			vec[k].SetLen(int(l))
			want += l
		}
		calls++
		r, _, e := unix.RawSyscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&vec[0])), uintptr(k),
			uintptr(off), 0, unix.RWF_NOWAIT)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || int64(r) != want {
			return false, calls
		}
		off += want
		n -= want
	}
	return true, calls
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

// maxReadv is the most buffers ReadCached fills with one call.
const maxReadv = 64

// ReadCached reads file data at off into the buffers of iov, in order,
// with one system call, for a connection that frames file data itself
// and reads it straight into its frames (HTTP/2 DATA over TLS): from the
// cache's copy when there is one; with aio threads, what the page cache
// holds (preadv2 with RWF_NOWAIT), Again when its first page is not
// there — nothing is posted: the caller reads with ReadFile, which goes
// to the pool; with aio off, inline, as the write filter sends. A short
// count means a later page was not cached or the file ends early; 0 with
// OK never happens (a file that ends at off is Error, truncated).
func (t *Txn) ReadCached(f *File, off int64, iov [][]byte) (int, Result) {
	iov = iov[:min(len(iov), maxReadv)]
	if f.Data != nil {
		n := 0
		for _, b := range iov {
			if off+int64(n) >= int64(len(f.Data)) {
				break
			}
			n += copy(b, f.Data[off+int64(n):])
		}
		if n == 0 {
			return 0, truncated(t, f, off)
		}
		return n, OK
	}
	var vec [maxReadv]unix.Iovec
	k := 0
	for _, b := range iov {
		if len(b) > 0 {
			vec[k].Base = &b[0]
			vec[k].SetLen(len(b))
			k++
		}
	}
	if k == 0 {
		return 0, OK
	}
	flags := uintptr(0)
	if offloadable(t) != nil {
		flags = unix.RWF_NOWAIT
	}
	for {
		var r uintptr
		var e unix.Errno
		if flags != 0 { // cannot block
			r, _, e = unix.RawSyscall6(unix.SYS_PREADV2, uintptr(f.FD), uintptr(unsafe.Pointer(&vec[0])), uintptr(k),
				uintptr(off), 0, flags)
		} else {
			r, _, e = unix.Syscall6(unix.SYS_PREADV2, uintptr(f.FD), uintptr(unsafe.Pointer(&vec[0])), uintptr(k),
				uintptr(off), 0, 0)
		}
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN && flags != 0:
			return 0, Again
		case e != 0:
			t.Err = os.NewSyscallError("preadv2", e)
			return 0, Error
		case r == 0:
			return 0, truncated(t, f, off)
		}
		return int(r), OK
	}
}
