//go:build linux

package filters

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"tern/internal/testcgroup"
)

// TestResidentRefusesReadaheadInFlight: pages that readahead has put in
// the page cache but not yet filled count as present for cachestat, and
// sending them would wait for the disk; resident must say no. Reading a
// file forward behind a slow disk leaves such a window ahead of the
// reader.
func TestResidentRefusesReadaheadInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fsync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
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
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fsync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
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
