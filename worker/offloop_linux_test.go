//go:build linux

package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// coldPaths makes the paths it is given cold for the worker's lookups
// (coldForTest) until the test ends: a lookup that must not wait fails
// with EAGAIN, one that may wait — on a pool thread — warms the path.
func coldPaths(t *testing.T) (mark func(paths ...string)) {
	var mu sync.Mutex
	cold := map[string]bool{}
	coldForTest = func(path []byte, cached bool) bool {
		mu.Lock()
		defer mu.Unlock()
		p := string(bytes.TrimSuffix(path, []byte{0}))
		if !cached {
			delete(cold, p)
			return false
		}
		return cold[p]
	}
	t.Cleanup(func() { coldForTest = nil })
	return func(paths ...string) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range paths {
			cold[p] = true
		}
	}
}

// okBody checks that resp is a 200 with body want.
func okBody(t *testing.T, what string, resp []byte, want []byte) {
	t.Helper()
	head, body := splitResponse(t, resp)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK") || !bytes.Equal(body, want) {
		t.Fatalf("%s: %q, %d body bytes, want 200 and %d", what, head, len(body), len(want))
	}
}

// TestRevalidationOffLoop: with aio = "threads", the stat that
// revalidates a cached file — in the small-file cache and in
// open_file_cache — never waits for the disk on the loop: where it would,
// the path is resolved on a pool thread and the request served after.
func TestRevalidationOffLoop(t *testing.T) {
	type site struct {
		ofc   bool
		r     *rig
		names []string
	}
	want := map[string][]byte{}
	var sites []site
	for _, ofc := range []bool{false, true} {
		cfg := aioConfig
		names := []string{"small.bin"}
		if ofc {
			cfg = strings.Replace(cfg, `access_log = "off"`, `access_log = "off"
  open_file_cache = { max = 10 }`, 1)
			names = append(names, "big.bin")
		}
		r := newRig(t, cfg)
		want["small.bin"] = writeRandom(t, filepath.Join(r.dir, "small.bin"), 1<<10)
		want["big.bin"] = writeRandom(t, filepath.Join(r.dir, "big.bin"), 200<<10)
		sites = append(sites, site{ofc, r, names})
	}
	// Files changed less than a second before they are cached are read
	// again at their first revalidation (fileVersion): let them settle,
	// so that only the stat is left to go to the pool.
	time.Sleep(1100 * time.Millisecond)
	for _, s := range sites {
		for _, n := range s.names {
			okBody(t, n, s.r.fetch(t, "GET /"+n+" HTTP/1.1\r\nHost: a\r\n\r\n", false), want[n])
		}
	}
	time.Sleep(1100 * time.Millisecond) // the entries are due for a stat
	mark := coldPaths(t)
	for _, s := range sites {
		r := s.r
		for _, n := range s.names {
			mark(filepath.Join(r.dir, n))
			before := r.w.env.Stats.OffloadedOpens
			okBody(t, n, r.fetch(t, "GET /"+n+" HTTP/1.1\r\nHost: a\r\n\r\n", false), want[n])
			if r.w.env.Stats.OffloadedOpens != before+1 {
				t.Errorf("open_file_cache %v: %s: the revalidation of a cold path made %d trips to the pool, want 1",
					s.ofc, n, r.w.env.Stats.OffloadedOpens-before)
			}
		}
	}
}

// TestOpenQueueFull: a path that must be resolved on the pool while its
// queue is full gets 500 and a closed connection, as a send does; it is
// not opened on the loop.
func TestOpenQueueFull(t *testing.T) {
	r := newRig(t, strings.Replace(aioConfig, "threads   = 2", "threads   = 1", 1))
	path := filepath.Join(r.dir, "f.bin")
	writeRandom(t, path, 1<<10)
	coldPaths(t)(path)
	b := &blocker{release: make(chan struct{})}
	if err := r.w.env.Pools["default"].Post(b); err != nil {
		t.Fatal(err)
	}
	resp := r.fetch(t, "GET /f.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
	close(b.release)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 500 Internal Server Error\r\n")) || !bytes.Contains(resp, []byte("Connection: close")) {
		t.Fatalf("response %q", resp)
	}
}

// TestAutoindexOffLoop: with aio = "threads" a directory is read and its
// entries stat'ed on a pool thread, and the listing is the same as one
// read on the loop; with the pool's queue full the answer is 500.
func TestAutoindexOffLoop(t *testing.T) {
	cfg := strings.Replace(aioConfig, `root = "{{ROOT}}"`, `root = "{{ROOT}}"
    autoindex = true`, 1)
	r := newRig(t, cfg)
	os.Mkdir(filepath.Join(r.dir, "d"), 0o755)
	os.Mkdir(filepath.Join(r.dir, "d", "sub"), 0o755)
	writeRandom(t, filepath.Join(r.dir, "d", "a.txt"), 10)
	os.Symlink("missing", filepath.Join(r.dir, "d", "broken"))
	resp := r.fetch(t, "GET /d/ HTTP/1.1\r\nHost: a\r\n\r\n", false)
	head, body := splitResponse(t, resp)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK") {
		t.Fatalf("%q", resp)
	}
	for _, s := range []string{`<a href="sub/">sub/</a>`, `<a href="a.txt">a.txt</a>`, `<a href="broken">broken</a>`} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("listing lacks %s:\n%s", s, body)
		}
	}
	if n := r.w.env.Stats.OffloadedListings; n != 1 {
		t.Errorf("%d listings on the pool, want 1", n)
	}
	resp = r.fetch(t, "GET /nodir/ HTTP/1.1\r\nHost: a\r\n\r\n", false)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 404 ")) {
		t.Errorf("a missing directory: %q", resp)
	}

	full := newRig(t, strings.Replace(cfg, "threads   = 2", "threads   = 1", 1))
	os.Mkdir(filepath.Join(full.dir, "d"), 0o755)
	b := &blocker{release: make(chan struct{})}
	if err := full.w.env.Pools["default"].Post(b); err != nil {
		t.Fatal(err)
	}
	resp = full.fetch(t, "GET /d/ HTTP/1.1\r\nHost: a\r\n\r\n", false)
	close(b.release)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 500 ")) {
		t.Errorf("a listing with the queue full: %q", resp)
	}
}

// openOn counts the descriptors of this process open on path.
func openOn(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.TrimSuffix(l, " (deleted)") == path {
			n++
		}
	}
	return n
}

// TestCloseOffLoop: with aio = "threads", the descriptor of a file a
// response was sent from is closed on a pool thread — closing the last
// one of a deleted file frees its blocks — and is closed once the pool
// got to it.
func TestCloseOffLoop(t *testing.T) {
	r := newRig(t, aioConfig)
	path := filepath.Join(r.dir, "big.bin")
	data := writeRandom(t, path, 1<<20)
	okBody(t, "big.bin", r.fetch(t, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", false), data)
	os.Remove(path)
	for deadline := time.Now().Add(5 * time.Second); openOn(t, path) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors still open on the file 5s after its response", openOn(t, path))
		}
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
	}
	if n := r.w.env.Stats.OffloadedCloses; n != 1 {
		t.Errorf("%d descriptors closed on the pool, want 1", n)
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil {
		t.Fatal("the file is still there")
	}
}

// TestCloseBatchWaits: the closer does not post a batch for every
// descriptor handed over while its pool is idle — one pool task per
// response cost a thread wake-up and a completion per 64 KiB request —
// but lets a batch fill for closeDelay, or until it holds closeBatch.
func TestCloseBatchWaits(t *testing.T) {
	r := newRig(t, aioConfig)
	saved := closeDelay
	closeDelay = time.Hour // only a full batch goes
	t.Cleanup(func() { closeDelay = saved })
	c := r.w.closer(r.w.env.Pools["default"])
	var fds []int
	open := func(n int) {
		for range n {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
			c.close(fd)
		}
	}
	runFor := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			r.w.loop.CapWait(time.Millisecond)
			r.w.loop.RunOnce()
		}
	}
	open(3)
	runFor(20 * time.Millisecond)
	if n := r.w.env.Stats.OffloadedCloses; n != 0 {
		t.Fatalf("3 descriptors handed over, %d closed on the pool at once: want them held for a batch", n)
	}
	open(closeBatch - 3)
	for deadline := time.Now().Add(5 * time.Second); r.w.env.Stats.OffloadedCloses < closeBatch || c.task.InFlight(); {
		if time.Now().After(deadline) {
			t.Fatalf("a full batch of %d: %d closed on the pool after 5 s", closeBatch, r.w.env.Stats.OffloadedCloses)
		}
		runFor(time.Millisecond)
	}
	if n := r.w.env.Stats.OffloadedCloseBatches; n != 1 {
		t.Errorf("%d descriptors went in %d batches, want 1", closeBatch, n)
	}
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("fd %d still open after its batch", fd)
		}
	}
}
