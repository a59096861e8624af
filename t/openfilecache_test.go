package t

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// revalidate is how long tern may serve a changed file from its caches:
// a second, plus a margin for a loaded machine.
const revalidate = 1100 * time.Millisecond

// replaceFile writes content to a new inode and renames it over path, as
// deploys do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// openFDs counts the descriptors of pid open on path.
func openFDs(t *testing.T, pid int, path string) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no %s: %v", dir, err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.TrimSuffix(l, " (deleted)") == path {
			n++
		}
	}
	return n
}

// TestOpenFileCacheFresh: with open_file_cache on, a changed or deleted
// file is seen within a second, for large files (cached descriptors) and
// small ones (cached contents).
func TestOpenFileCacheFresh(t *testing.T) {
	s := newServer(t, handlersConfig(`open_file_cache = { max = 100, inactive = "20s" }`, ""))
	big := func(c byte) string { return strings.Repeat(string(c), 200<<10) }
	s.file("big.bin", big('a'))
	s.file("grow.bin", big('a'))
	s.file("small.txt", "old")
	s.file("gone.bin", big('g'))
	s.file("dir/index.html", "index")
	s.start()
	check := func(path, want string, status int) {
		t.Helper()
		r := s.get(get1(path))
		if r.status != status || status == 200 && string(r.body) != want {
			t.Fatalf("%s: %d, %d bytes %q..., want %d %q...", path, r.status, len(r.body), trunc(string(r.body)), status, trunc(want))
		}
	}
	for _, p := range []string{"/big.bin", "/grow.bin", "/small.txt", "/gone.bin"} {
		s.get(get1(p)) // cache them
	}
	check("/big.bin", big('a'), 200)
	replaceFile(t, filepath.Join(s.root, "big.bin"), big('b')) // same size, new inode
	if err := os.WriteFile(filepath.Join(s.root, "grow.bin"), []byte(big('c')+"more"), 0o644); err != nil {
		t.Fatal(err) // same inode, new size
	}
	replaceFile(t, filepath.Join(s.root, "small.txt"), "new")
	os.Remove(filepath.Join(s.root, "gone.bin"))
	time.Sleep(revalidate)
	check("/big.bin", big('b'), 200)
	check("/grow.bin", big('c')+"more", 200)
	check("/small.txt", "new", 200)
	check("/gone.bin", "", 404)
	// Directories are cached too.
	runHCases(t, s, []hcase{
		{raw: get1("/dir"), status: 301, headers: []string{"Location: http://localhost:{{PORT}}/dir/"}},
		{raw: get1("/dir/"), status: 200, body: "=index"},
		{raw: get1("/dir"), status: 301},
		{raw: get1("/dir/"), status: 200, body: "=index"},
		{raw: get1("/dir/missing"), status: 404},
	})
	// A file that appears is served at once: failures are not cached.
	s.file("new.txt", "fresh")
	check("/new.txt", "fresh", 200)
}

// TestOpenFileCacheInFlight: a cached descriptor dropped while a response
// still sends from it stays open until that response is done, which
// sends the old file whole.
func TestOpenFileCacheInFlight(t *testing.T) {
	s := newServer(t, handlersConfig(`open_file_cache = { max = 100 }`, ""))
	const size = 16 << 20
	path := filepath.Join(s.root, "big.bin")
	s.file("big.bin", strings.Repeat("o", size))
	s.start()
	slow := s.dial()
	slow.send(get1("/big.bin"))
	// The response has started (its first byte is here: the file is
	// open), and stalls on the client's full window.
	slow.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := slow.br.Peek(1); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, path, strings.Repeat("n", size))
	time.Sleep(revalidate)
	r := s.get(get1("/big.bin"))
	if r.status != 200 || len(r.body) != size || r.body[0] != 'n' || r.body[size-1] != 'n' {
		t.Fatalf("new file: %d, %d bytes", r.status, len(r.body))
	}
	// Both are open: the old one (deleted) under the stalled response,
	// the new one in the cache.
	if n := openFDs(t, s.waitWorkers(1, nil, 10*time.Second)[0], path); n != 2 {
		t.Errorf("%d descriptors on the file, want 2 (the stalled response did not hold the old one?)", n)
	}
	old := slow.read("GET")
	if len(old.body) != size || bytes.Count(old.body, []byte("o")) != size {
		t.Fatalf("old response: %d bytes, %d of them 'o'", len(old.body), bytes.Count(old.body, []byte("o")))
	}
}

// TestOpenFileCacheLimits: at most max descriptors are kept, and those
// unused for inactive are closed, even when nothing else happens.
func TestOpenFileCacheLimits(t *testing.T) {
	s := newServer(t, handlersConfig(`open_file_cache = { max = 2, inactive = "1s" }`, ""))
	for i := 0; i < 4; i++ {
		s.file("f"+strconv.Itoa(i), strings.Repeat("x", 100<<10))
	}
	s.start()
	pid := s.waitWorkers(1, nil, 10*time.Second)[0]
	count := func() int {
		n := 0
		for i := 0; i < 4; i++ {
			n += openFDs(t, pid, filepath.Join(s.root, "f"+strconv.Itoa(i)))
		}
		return n
	}
	for i := 0; i < 4; i++ {
		if r := s.get(get1("/f" + strconv.Itoa(i))); r.status != 200 {
			t.Fatalf("f%d: %v", i, r)
		}
	}
	// Evicted descriptors are closed on a pool thread (aio threads), a
	// moment after their eviction.
	for deadline := time.Now().Add(500 * time.Millisecond); count() > 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d descriptors open, max is 2", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors still open 5s after their last use (inactive 1s)", count())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
