//go:build linux

package filters

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/internal/testcgroup"
	"tern/threadpool"
)

// TestResidentRefusesReadaheadInFlight: pages that readahead has put in
// the page cache but not yet filled count as present for cachestat, and
// sending them would wait for the disk; resident must say no. Reading a
// file forward behind a slow disk leaves such a window ahead of the
// reader.
func TestResidentRefusesReadaheadInFlight(t *testing.T) {
	path, fd := coldFile(t, 16<<20)
	defer testcgroup.ThrottleReads(t, os.Getpid(), path, 4<<20)()
	buf := make([]byte, 256<<10)
	seen := false
	for pos := int64(0); pos < 8<<20 && !seen; pos += int64(len(buf)) {
		unix.Pread(fd, buf, pos)
		// Look ahead of the reader for a window in flight: present for
		// cachestat, not readable without waiting.
		for ahead := pos + int64(len(buf)); ahead < pos+(2<<20); ahead += 64 << 10 {
			var cs unix.Cachestat_t
			rng := unix.CachestatRange{Off: uint64(ahead), Len: 64 << 10}
			if unix.Cachestat(uint(fd), &rng, &cs, 0) != nil {
				t.Skip("no cachestat")
			}
			if cs.Cache == 16 && !uptodate(fd, ahead+(64<<10)-1) {
				seen = true
				if resident(fd, ahead, 64<<10) {
					t.Fatalf("resident says yes for [%d, +64k): present but still being read", ahead)
				}
				break
			}
		}
	}
	if !seen {
		t.Skip("no readahead window caught in flight")
	}
}

// TestFillBringsPagesIn: fill reads a region of a file evicted from the
// page cache into it, without copying it anywhere, so that resident then
// says the loop may send it; it counts only the bytes the file has.
func TestFillBringsPagesIn(t *testing.T) {
	_, fd := coldFile(t, 4<<20)
	if resident(fd, 1<<20, 512<<10) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	if n, err := fill(fd, 1<<20, 512<<10); n != 512<<10 || err != nil {
		t.Fatalf("fill: %d, %v", n, err)
	}
	if !resident(fd, 1<<20, 512<<10) {
		t.Fatal("the region is not in the page cache after fill")
	}
	if n, err := fill(fd, 4<<20-100, 512<<10); n != 100 || err != nil {
		t.Fatalf("fill at the end: %d, %v; want 100", n, err)
	}
	if n, err := fill(fd, 8<<20, 4096); n != 0 || err != nil {
		t.Fatalf("fill past the end: %d, %v; want 0", n, err)
	}
}

// TestReadyNearColdProbesEveryPage: just past a region the pool read,
// where readahead may still be filling pages anywhere, the loop sends
// inline only a region whose every page is readable without waiting.
// Here the region after the pool's has only its first, middle and last
// pages cached (no readahead on the test's descriptor), which three
// probes took for the whole region: before, ready sent it inline (and
// the loop's sendfile would have read the rest from the disk); now it
// goes to the pool. Run with the probes alone, as a worker that may not
// cachestat the file.
func TestReadyNearColdProbesEveryPage(t *testing.T) {
	path, fd := coldFile(t, 4<<20)
	unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM)
	const chunk = 256 << 10
	var b [1]byte
	for _, at := range []int64{chunk, chunk + chunk/2, 2*chunk - 1} {
		unix.Pread(fd, b[:], at)
	}
	if !uptodate(fd, chunk) || uptodate(fd, chunk+pageSize) {
		t.Skip("the page cache did not keep just the pages read")
	}
	saved := noCachestat
	noCachestat = true
	defer func() { noCachestat = saved }()
	if !resident(fd, chunk, chunk) {
		t.Fatal("three probes should pass this region (the case this test is about)")
	}

	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	file := &File{FD: fd, Size: 4 << 20, Name: []byte(path)}
	txn := newTxn(testLoc(nil))
	txn.Resp.Body.AddFile(file, 0, file.Size)
	s := &txn.Resp.Body.Segs[0]
	txn.segOff = chunk
	txn.cold = filled{file: file, off: 0, end: chunk} // the pool read the first chunk
	if n, r := ready(txn, pool, s, chunk, -1); r != Again || txn.Wait != WaitThread {
		t.Fatalf("ready: %d bytes, result %v: sent inline a region with uncached pages", n, r)
	}
}

// TestReadyNearColdLooksInOneCall: just past a region the pool read, the
// look that asks about every page of the next region is one system call,
// whether or not the worker may cachestat the file. Before, it probed
// each page: 66 calls for 256 KiB with the probes alone, 67 with
// cachestat.
func TestReadyNearColdLooksInOneCall(t *testing.T) {
	const chunk = 256 << 10
	path, fd := coldFile(t, 1<<20)
	unix.Pread(fd, make([]byte, 1<<20), 0)
	if ok, _ := readableNow(fd, 0, 1<<20); !ok {
		t.Skip("the page cache did not keep the file just read")
	}
	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	saved := noCachestat
	defer func() { noCachestat = saved }()
	for _, probesOnly := range []bool{true, false} {
		noCachestat = probesOnly
		file := &File{FD: fd, Size: 1 << 20, Name: []byte(path)}
		txn := newTxn(testLoc(nil))
		txn.Resp.Body.AddFile(file, 0, file.Size)
		txn.segOff = chunk
		txn.cold = filled{file: file, off: 0, end: chunk} // the pool read the first chunk
		n, r := ready(txn, pool, &txn.Resp.Body.Segs[0], chunk, -1)
		if r != OK || n != chunk {
			t.Fatalf("probes only %v: ready: %d bytes, result %v; want %d inline", probesOnly, n, r, chunk)
		}
		if st := txn.Env.Stats; st.CacheLooks != 1 || st.CacheLookCalls != 1 {
			t.Errorf("probes only %v: %d looks in %d system calls; want 1 in 1", probesOnly, st.CacheLooks, st.CacheLookCalls)
		}
	}
}

// TestReadableNow: a region is readable when every page of it is in the
// page cache and filled, whatever its alignment, in one call per maxFill
// bytes; a page missing anywhere makes it unreadable. A read with
// RWF_NOWAIT that meets a missing page starts reading it, as a probe
// does, and a fast disk can fill it before the read looks again: the
// disk is throttled, so that the page stays in flight, being read, for
// the rest of the test.
func TestReadableNow(t *testing.T) {
	const size = 2 << 20
	path, fd := coldFile(t, size)
	unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM) // pages of their own, no readahead
	unix.Pread(fd, make([]byte, size), 0)
	defer testcgroup.ThrottleReads(t, os.Getpid(), path, 16<<10)()
	hole := int64(1<<20 + 40<<10)
	unix.Fadvise(fd, hole, pageSize, unix.FADV_DONTNEED)
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Len: size}
	if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err != nil || cs.Cache != size/pageSize-1 {
		t.Skipf("cachestat: %v, %d pages cached: the page cache did not keep just the pages read", err, cs.Cache)
	}
	for _, tc := range []struct {
		off, n int64
		ok     bool
		calls  int
	}{
		{0, 0, true, 0},
		{0, 1, true, 1},
		{100, 5000, true, 1},
		{0, maxFill, true, 1},
		{10, maxFill, true, 1},
		{10, maxFill + 1, true, 2},
		{0, 1 << 20, true, 4},
		{hole, 1, false, 1},
		{hole - 1, 2, false, 1},
		{hole + pageSize - 1, 2, false, 1},
		{hole + pageSize, 64 << 10, true, 1},
		{1 << 20, maxFill, false, 1},
		{0, size, false, 5},
	} {
		ok, calls := readableNow(fd, tc.off, tc.n)
		if ok != tc.ok || calls != tc.calls {
			t.Errorf("readableNow(%d, %d) = %v in %d calls; want %v in %d", tc.off, tc.n, ok, calls, tc.ok, tc.calls)
		}
	}
	if n := testing.AllocsPerRun(10, func() { readableNow(fd, 0, 1<<20) }); n != 0 {
		t.Errorf("readableNow: %v allocations", n)
	}
}

type wakeNothing struct{}

func (wakeNothing) Wake() {}

// coldFile writes a file of size zero bytes, evicts it from the page
// cache, and returns its path and a descriptor the test owns.
func coldFile(t *testing.T, size int) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fd := int(f.Fd())
	unix.Fsync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	return path, fd
}

// TestOffloadableFollowsLocation: the pool a Txn keeps from its last
// look follows the location and the worker's pools, through Reset.
func TestOffloadableFollowsLocation(t *testing.T) {
	p1 := threadpool.New("one", 1, 4, wakeNothing{})
	defer p1.Close()
	p2 := threadpool.New("two", 1, 4, wakeNothing{})
	defer p2.Close()
	threads := func(pool string) *conf.Location {
		return testLoc(func(s *conf.Settings) { s.AIO = conf.AIO{Mode: conf.AIOThreads, Pool: pool} })
	}
	one, two, off := threads("one"), threads("two"), testLoc(nil)
	env := &Env{Pools: map[string]*threadpool.Pool{"one": p1, "two": p2}}
	txn := newTxn(one)
	txn.Env = env
	for i, tc := range []struct {
		loc  *conf.Location
		env  *Env
		want *threadpool.Pool
	}{
		{one, env, p1},
		{one, env, p1},
		{two, env, p2},
		{off, env, nil},
		{one, env, p1},
		{one, &Env{}, nil}, // a worker without pools
		{one, env, p1},
	} {
		if i == 4 {
			txn.Reset()
		}
		txn.Loc, txn.Env = tc.loc, tc.env
		if got := offloadable(txn); got != tc.want {
			t.Errorf("step %d: offloadable = %p, want %p", i, got, tc.want)
		}
	}
}

// BenchmarkOffloadable is the look a file send makes for its pool.
func BenchmarkOffloadable(b *testing.B) {
	p := threadpool.New("default", 1, 4, wakeNothing{})
	defer p.Close()
	txn := newTxn(testLoc(func(s *conf.Settings) { s.AIO = conf.AIO{Mode: conf.AIOThreads, Pool: "default"} }))
	txn.Env = &Env{Pools: map[string]*threadpool.Pool{"default": p, "disk2": p}}
	for b.Loop() {
		if offloadable(txn) != p {
			b.Fatal("no pool")
		}
	}
}

// TestReadyAfterSlowFillProbesEveryPage: once the pool took slowFill or
// more to read a region of a response, the disk behind that response is
// slow, and every later region is sent inline only when each of its
// pages is readable without waiting, however far from the pool's last
// read. Here a page in the middle of a cached region is being read
// again behind a throttled disk (as after reclaim took it and
// readahead went back for it): cachestat counts it present and the
// three probes pass over it. Before, the loop sent such a region inline
// once it was coldReach past the pool's read, and its sendfile waited
// for the disk: 4.6 s in one of t/bench's open-phase rounds.
func TestReadyAfterSlowFillProbesEveryPage(t *testing.T) {
	const size, chunk = 16 << 20, 256 << 10
	path, fd := coldFile(t, size)
	unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM) // pages of their own, no readahead
	unix.Pread(fd, make([]byte, size), 0)
	defer testcgroup.ThrottleReads(t, os.Getpid(), path, 16<<10)()
	at := int64(12 << 20)
	hole := at + 40<<10
	unix.Fadvise(fd, hole, pageSize, unix.FADV_DONTNEED)
	uptodate(fd, hole) // starts reading it, behind the throttle
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Off: uint64(at), Len: size - uint64(at)}
	if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err != nil || cs.Cache != (size-uint64(at))/pageSize || uptodate(fd, hole) {
		t.Skipf("cachestat: %v, %d pages: no page caught in flight", err, cs.Cache)
	}
	if !resident(fd, at, size-at) {
		t.Fatal("cachestat and three probes should pass this region (the case this test is about)")
	}

	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	for _, slow := range []bool{false, true} {
		file := &File{FD: fd, Size: size, Name: []byte(path)}
		txn := newTxn(testLoc(nil))
		txn.Resp.Body.AddFile(file, 0, file.Size)
		txn.segOff = at
		txn.cold = filled{file: file, off: 0, end: chunk} // the pool read the first chunk
		txn.slowDisk = slow
		n, r := ready(txn, pool, &txn.Resp.Body.Segs[0], chunk, -1)
		switch {
		case !slow && r != OK:
			t.Errorf("fast disk: ready: %d bytes, result %v; want the region inline on one look", n, r)
		case slow && (r != Again || txn.Wait != WaitThread):
			t.Errorf("slow disk: ready: %d bytes, result %v: sent inline a region with a page being read", n, r)
		}
		if r == Again {
			waitTask(t, pool, txn)
		}
	}
}

// TestSlowPoolWorkMarksTheDisk: a fill (ready, then finishTask) or a
// read (ReadFile: a filter's input, HTTP/2 DATA over TLS or behind a cold
// disk) on the pool that took slowFill or more on the loop's clock marks
// the File's disk slow for slowRemembered (File.SlowDisk), so that the
// other responses sending it start with page-by-page looks, and a fill
// marks the response's disk too; a quicker one marks neither, and Reset
// forgets the response's mark.
func TestSlowPoolWorkMarksTheDisk(t *testing.T) {
	const size = 1 << 20
	path, fd := coldFile(t, size)
	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	for _, read := range []bool{false, true} {
		for _, took := range []time.Duration{slowFill / 2, slowFill} {
			unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
			file := &File{FD: fd, Size: size, Name: []byte(path)}
			txn := newTxn(testLoc(func(s *conf.Settings) { s.AIO = conf.AIO{Mode: conf.AIOThreads, Pool: "default"} }))
			txn.Env.Pools = map[string]*threadpool.Pool{"default": pool}
			now := int64(time.Hour)
			txn.Env.Clock = func() int64 { return now }
			txn.Resp.Body.AddFile(file, 0, file.Size)
			buf := make([]byte, 64<<10)
			var r Result
			if read {
				_, r = txn.ReadFile(file, 0, buf)
			} else {
				_, r = ready(txn, pool, &txn.Resp.Body.Segs[0], int64(len(buf)), -1)
			}
			if r != Again || txn.Wait != WaitThread {
				t.Skipf("%v: the page cache kept the file", r)
			}
			waitTask(t, pool, txn)
			now += int64(took)
			if read {
				if n, r := txn.ReadFile(file, 0, buf); r != OK || n != len(buf) {
					t.Fatalf("ReadFile after the pool's read: %d, %v: %v", n, r, txn.Err)
				}
			} else {
				var w WriteFilter
				if r := w.finishTask(txn); r != OK {
					t.Fatalf("finishTask: %v: %v", r, txn.Err)
				}
			}
			want := took >= slowFill
			if file.SlowDisk(now) != want || !read && txn.slowDisk != want {
				t.Errorf("a pool %s of %v: the file's disk slow %v, the response's %v; want %v",
					map[bool]string{false: "fill", true: "read"}[read], took, file.SlowDisk(now), txn.slowDisk, want)
			}
			if want && file.SlowDisk(now+int64(slowRemembered)) {
				t.Errorf("the file's mark outlived slowRemembered (%v)", slowRemembered)
			}
			txn.Reset()
			if txn.slowDisk {
				t.Error("Reset kept slowDisk")
			}
		}
	}
}

// resumeNothing is the Owner of a Txn that a test drives by hand.
type resumeNothing struct{}

func (resumeNothing) Resume() {}

// waitTask waits up to 30 s for txn's pool task, and hands its result
// back as the loop does (Drain).
func waitTask(t *testing.T, pool *threadpool.Pool, txn *Txn) {
	t.Helper()
	txn.Owner = resumeNothing{}
	for deadline := time.Now().Add(30 * time.Second); txn.TaskInFlight(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pool task did not finish in 30 s")
		}
		pool.Drain()
	}
}

// TestStalledSendMarksTheDisk: a file send on the loop's thread that
// waited slowFill or more marks the response's disk slow, so that the
// rest of the response is looked at page by page (see slowFill): the
// looks that vouched for it were wrong once, and behind that disk they
// would be again. A send from the page cache does not.
func TestStalledSendMarksTheDisk(t *testing.T) {
	const size = 64 << 10
	path, fd := coldFile(t, size)
	unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM) // no readahead: only what is sent is read
	defer testcgroup.ThrottleReads(t, os.Getpid(), path, 64<<10)()
	for _, cold := range []bool{true, false} {
		file := &File{FD: fd, Size: size, Name: []byte(path)}
		tx := fileTxn(file, nil)
		done := pipeTxn(t, tx)
		var w WriteFilter
		start := time.Now()
		n, r := w.sendFile(tx, &tx.Resp.Body.Segs[0], 16<<10)
		took := time.Since(start)
		done()
		if r != OK || n != 16<<10 {
			t.Fatalf("sendFile: %d, %v: %v", n, r, tx.Err)
		}
		if cold && took < slowFill {
			t.Skipf("the throttled read took %v: no stall to see", took)
		}
		if tx.slowDisk != cold || cold && tx.cold.file != file {
			t.Errorf("a send that took %v: slowDisk %v (cold region of file %v), want %v", took, tx.slowDisk, tx.cold.file == file, cold)
		}
	}
}

// TestReadyLooksAgainRatherThanCut: a chunk that runs past the end of
// the region the page cache last vouched for is looked at again from
// where it starts, not cut at that end: each cut cost a short sendfile
// per look (4,600 sendfile calls per GiB against aio = "off"'s 4,100,
// with 4 fast downloads of a cached file).
func TestReadyLooksAgainRatherThanCut(t *testing.T) {
	const size, chunk = 4 << 20, 256 << 10
	path, fd := coldFile(t, size)
	unix.Pread(fd, make([]byte, size), 0)
	if !resident(fd, 0, size) {
		t.Skip("the page cache did not keep the file just read")
	}
	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	file := &File{FD: fd, Size: size, Name: []byte(path)}
	txn := newTxn(testLoc(nil))
	now := int64(1)
	txn.Env.Clock = func() int64 { return now }
	txn.Resp.Body.AddFile(file, 0, file.Size)
	txn.segOff = 2<<20 - 100<<10
	txn.cached, txn.cachedAt = filled{file: file, off: 0, end: 2 << 20}, now
	n, r := ready(txn, pool, &txn.Resp.Body.Segs[0], chunk, -1)
	if r != OK || n != chunk {
		t.Fatalf("ready: %d bytes, result %v; want the whole %d-byte chunk inline", n, r, chunk)
	}
	if txn.Env.Stats.CacheLooks != 1 {
		t.Errorf("%d looks; want 1, from the chunk's start", txn.Env.Stats.CacheLooks)
	}
	// Within the region, the chunk is trusted without a look.
	txn.segOff = 2 << 20
	if n, r := ready(txn, pool, &txn.Resp.Body.Segs[0], chunk, -1); r != OK || n != chunk || txn.Env.Stats.CacheLooks != 1 {
		t.Errorf("ready inside the new region: %d bytes, %v, %d looks; want %d, ok, 1", n, r, txn.Env.Stats.CacheLooks, chunk)
	}
}

// TestSlowDiskRememberedPerFile: once a response found its file's disk
// slow, the other responses sending the same File (open_file_cache
// shares it) look at each region page by page from their first send
// for slowRemembered, rather than each finding the disk slow again by
// stalling the loop once; after that they look as usual again.
func TestSlowDiskRememberedPerFile(t *testing.T) {
	const size, chunk = 4 << 20, 256 << 10
	path, fd := coldFile(t, size)
	unix.Pread(fd, make([]byte, size), 0)
	if ok, _ := readableNow(fd, 0, size); !ok {
		t.Skip("the page cache did not keep the file just read")
	}
	pool := threadpool.New("test", 1, 4, wakeNothing{})
	defer pool.Close()
	file := &File{FD: fd, Size: size, Name: []byte(path)}
	now := int64(time.Hour)
	response := func() *Txn {
		txn := newTxn(testLoc(nil))
		txn.Env.Clock = func() int64 { return now }
		txn.Resp.Body.AddFile(file, 0, file.Size)
		return txn
	}
	a := response()
	a.slowRead(&a.Resp.Body.Segs[0], 0, chunk)
	for _, tc := range []struct {
		after time.Duration
		slow  bool
	}{{0, true}, {slowRemembered - time.Millisecond, true}, {slowRemembered, false}} {
		now = int64(time.Hour + tc.after)
		b := response()
		b.segOff = 1 << 20
		n, r := ready(b, pool, &b.Resp.Body.Segs[0], chunk, -1)
		if r != OK || n != chunk {
			t.Fatalf("%v after: ready: %d bytes, %v", tc.after, n, r)
		}
		if b.slowDisk != tc.slow || (b.cached.file == nil) != tc.slow {
			t.Errorf("%v after another response found the disk slow: slowDisk %v, region trusted %v; want slow %v",
				tc.after, b.slowDisk, b.cached.file != nil, tc.slow)
		}
	}
}
