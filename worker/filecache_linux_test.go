//go:build linux

package worker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cacheFile opens path and adds it to fc at loop time 0, its change
// taken as settled.
func cacheFile(t *testing.T, fc *fileCache, path string) *cacheEntry {
	t.Helper()
	cpath := append([]byte(path), 0)
	fd, errno := openPath(cpath, false, false)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if fstat(fd, &st) != 0 {
		t.Fatal("fstat")
	}
	var v fileVersion
	v.set(&st, time.Now().Add(time.Hour).UnixNano())
	e := fc.add([]byte(path), fd, &v, false, 0)
	if e == nil {
		t.Fatal("not cached")
	}
	return e
}

// TestFileCacheRevalidation: the small-file cache trusts an entry for a
// second, then drops it if the file changed in any way a stat shows —
// among them those that keep its size and mtime (chmod, a rewrite whose
// mtime was put back, a rename over it).
func TestFileCacheRevalidation(t *testing.T) {
	dir := t.TempDir()
	changes := []struct {
		name   string
		change func(path string) error
		keep   bool
	}{
		{"unchanged", func(string) error { return nil }, true},
		{"chmod", func(path string) error { return os.Chmod(path, 0) }, false},
		{"cp -p", func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte("NEW"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(path, st.ModTime(), st.ModTime())
		}, false},
		{"rename over", func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path+".new", []byte("NEW"), 0o644); err != nil {
				return err
			}
			os.Chtimes(path+".new", st.ModTime(), st.ModTime())
			return os.Rename(path+".new", path)
		}, false},
		{"removed", os.Remove, false},
	}
	for i, c := range changes {
		fc := newFileCache()
		path := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		cached := cacheFile(t, fc, path)
		time.Sleep(20 * time.Millisecond) // past the timestamps' tick
		if err := c.change(path); err != nil {
			t.Fatal(err)
		}
		cpath := append([]byte(path), 0)
		if e, _ := fc.lookup([]byte(path), cpath, sec-1, false); e != cached {
			t.Fatalf("%d: %s: not trusted within a second", i, c.name)
		}
		e, _ := fc.lookup([]byte(path), cpath, sec, false)
		if kept := e == cached; kept != c.keep {
			t.Errorf("%d: %s: kept %v after the revalidation, want %v", i, c.name, kept, c.keep)
		}
	}
}

// TestSmallFileBound: files up to 32 KiB go into the small-file cache;
// larger ones are sent with sendfile (see smallFileMax).
func TestSmallFileBound(t *testing.T) {
	for _, c := range []struct {
		size int64
		mode uint32
		want bool
	}{
		{0, unix.S_IFREG, true},
		{32 << 10, unix.S_IFREG, true},
		{32<<10 + 1, unix.S_IFREG, false},
		{64 << 10, unix.S_IFREG, false},
		{1 << 10, unix.S_IFDIR, false},
	} {
		if got := cacheable(&unix.Stat_t{Mode: c.mode, Size: c.size}); got != c.want {
			t.Errorf("cacheable(size %d, mode %o) = %v, want %v", c.size, c.mode, got, c.want)
		}
	}
}
