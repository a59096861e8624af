//go:build linux

package filters

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// throttled moves this process into a cgroup v1 blkio group that reads
// path's disk at bps, and returns the undo; it skips the test where that
// is not possible (no blkio hierarchy, not root).
func throttled(t *testing.T, path string, bps int) func() {
	t.Helper()
	const root = "/sys/fs/cgroup/blkio"
	if _, err := os.Stat(filepath.Join(root, "blkio.throttle.read_bps_device")); err != nil {
		t.Skip("no cgroup v1 blkio hierarchy: cannot make a slow disk")
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("tern-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a blkio group: %v", err)
	}
	undo := func() {
		os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		os.Remove(cg)
	}
	limit := fmt.Sprintf("%d:%d %d", unix.Major(st.Dev), unix.Minor(st.Dev), bps)
	if err := os.WriteFile(filepath.Join(cg, "blkio.throttle.read_bps_device"), []byte(limit), 0o644); err != nil {
		undo()
		t.Skipf("cannot throttle %s: %v", limit, err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		undo()
		t.Skipf("cannot join the blkio group: %v", err)
	}
	return undo
}

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
	defer throttled(t, path, 4<<20)()
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
