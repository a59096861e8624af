package t

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdPageCache takes, until the test ends, the lock that tests which
// need files to stay cached shared with those that wrote drop_caches,
// which empties the caches of the whole machine. tern's tests no longer
// do (they mount a file system of their own to make paths cold), but an
// older checkout's tests running at the same time on a shared machine
// may still take the lock to drop them.
func holdPageCache(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "tern-tests-page-cache.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// dropCache evicts path from the page cache and reports whether it went.
func dropCache(t testing.TB, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unix.Fsync(int(f.Fd()))
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	st, _ := f.Stat()
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Len: uint64(st.Size())}
	if err := unix.Cachestat(uint(f.Fd()), &rng, &cs, 0); err != nil {
		return true
	}
	return cs.Cache < uint64(st.Size())/4096/2
}

// warmCache reads path whole and reports whether every page of it is in
// the page cache.
func warmCache(t testing.TB, path string) bool {
	t.Helper()
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Len: uint64(st.Size())}
	if err := unix.Cachestat(uint(f.Fd()), &rng, &cs, 0); err != nil {
		return true
	}
	return cs.Cache == uint64((st.Size()+4095)/4096)
}

// pinCache locks path's pages in memory until the test ends (mmap and
// mlock), so that a busy machine cannot reclaim a few of them between
// warmCache and the fetch that must find them all cached.
func pinCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Mlock(m); err != nil {
		t.Skipf("cannot lock the file's pages in memory (%v): a busy machine may reclaim some", err)
	}
}

// sendCounters reads the send counters a worker logs when it exits.
func sendCounters(t testing.TB, s *server) (inline, offloaded float64) {
	t.Helper()
	for _, line := range readLines(t.(*testing.T), filepath.Join(s.dir, "logs/error.log")) {
		if !strings.Contains(line, "worker exiting") {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		inline += e["inline_sends"].(float64)
		offloaded += e["offloaded_sends"].(float64)
	}
	return
}

// TestAIOColdAndCached: with aio = "threads", a file evicted from the page
// cache is read through the pool, byte-exact; a cached one makes
// (almost) no thread hop.
func TestAIOColdAndCached(t *testing.T) {
	holdPageCache(t)
	for _, mode := range []string{"sendfile = true", "sendfile = false"} {
		t.Run(mode, func(t *testing.T) {
			s := newServer(t, basicConfig(`aio = "threads"`+"\n  "+mode))
			big := filepath.Join(s.root, "big.bin")
			want := bigFile(t, big, 32<<20)
			if !dropCache(t, big) {
				t.Skip("the page cache kept the file despite FADV_DONTNEED")
			}
			s.start()
			if status, _, got := fetchHash(t, s, "/big.bin"); status != 200 || got != want {
				t.Fatalf("cold: %d %s, want %s", status, got, want)
			}
			s.signal(syscall.SIGQUIT)
			s.wait(10 * time.Second)
			in, off := sendCounters(t, s)
			if off == 0 {
				t.Fatalf("a cold file went out with no thread hop")
			}
			t.Logf("cold 32 MiB file: %v inline, %v offloaded sends", in, off)

			// Now cached: a second server process sends it inline only.
			s2 := newServer(t, basicConfig(`aio = "threads"`+"\n  "+mode))
			if err := os.Link(big, filepath.Join(s2.root, "big.bin")); err != nil {
				t.Fatal(err)
			}
			s2.start()
			if !warmCache(t, big) {
				t.Skip("could not get the whole file into the page cache")
			}
			pinCache(t, big)
			if status, _, got := fetchHash(t, s2, "/big.bin"); status != 200 || got != want {
				t.Fatalf("cached: %d %s", status, got)
			}
			s2.signal(syscall.SIGQUIT)
			s2.wait(10 * time.Second)
			// The pages are locked in memory, but a probe's
			// preadv2(RWF_NOWAIT) also says no for a folio the kernel
			// holds locked for a moment (reclaim or compaction
			// examining it): such a chunk hops, and only that one.
			// Before each chunk was asked on its own, the rest of the
			// response would have followed it (some 500 hops).
			if in, off = sendCounters(t, s2); off > 2 || in == 0 {
				t.Fatalf("cached file: %v inline, %v offloaded sends; want at most 2 offloaded", in, off)
			}
			t.Logf("cached 32 MiB file: %v inline, %v offloaded sends", in, off)
		})
	}
}
