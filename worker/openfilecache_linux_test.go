//go:build linux

package worker

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// ofcRig opens files into an open_file_cache driven by a fake clock.
type ofcRig struct {
	t   *testing.T
	dir string
	oc  *openFileCache
	// wall is the wall clock at which files are opened: by default an
	// hour from now, so that every file's last change looks settled.
	wall int64
}

func newOFCRig(t *testing.T, max int, inactive time.Duration) *ofcRig {
	return &ofcRig{t: t, dir: t.TempDir(), oc: newOpenFileCache(&conf.OpenFileCache{Max: max, Inactive: inactive}, nil),
		wall: time.Now().Add(time.Hour).UnixNano()}
}

func (r *ofcRig) write(name, content string) []byte {
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return []byte(p)
}

// get looks path up at now, opening and adding it on a miss.
func (r *ofcRig) get(path []byte, now int64) (e *ofcEntry, hit bool) {
	cpath := append(append([]byte(nil), path...), 0)
	if e, _ := r.oc.get(path, cpath, false, now, false); e != nil {
		return e, true
	}
	fd, errno := openPath(cpath, false, false)
	if errno != 0 {
		return nil, false
	}
	var st unix.Stat_t
	if fstat(fd, &st) != 0 {
		r.t.Fatal("fstat")
	}
	return r.oc.add(path, fd, &st, false, now, r.wall, nil), false
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

const sec = int64(time.Second)

func TestOpenFileCacheHitAndLRU(t *testing.T) {
	r := newOFCRig(t, 2, time.Minute)
	a, b, c := r.write("a", "aaa"), r.write("b", "bb"), r.write("c", "c")
	ea, _ := r.get(a, 0)
	if _, hit := r.get(a, 1); !hit {
		t.Fatal("second get missed")
	}
	eb, _ := r.get(b, 2)
	r.get(a, 3) // a is now the most recent: b goes first
	r.get(c, 4)
	if r.oc.len() != 2 {
		t.Fatalf("%d entries, max 2", r.oc.len())
	}
	if _, hit := r.get(a, 5); !hit {
		t.Fatal("a was evicted; b was the least recently used")
	}
	if !eb.dead || fdOpen(eb.file.FD) && eb.file.FD != -1 {
		t.Fatal("evicted b kept its descriptor")
	}
	if ea.dead || !fdOpen(ea.file.FD) {
		t.Fatal("a closed")
	}
}

func TestOpenFileCacheRevalidation(t *testing.T) {
	r := newOFCRig(t, 10, time.Minute)
	p := r.write("f", "one")
	e1, _ := r.get(p, 0)
	r.write("f.new", "two!")
	if err := os.Rename(filepath.Join(r.dir, "f.new"), string(p)); err != nil {
		t.Fatal(err)
	}
	// Within a second the old entry is trusted...
	if e, hit := r.get(p, sec-1); !hit || e != e1 {
		t.Fatal("revalidated before a second passed")
	}
	// ...after it, the stat sees a new inode and size.
	e2, hit := r.get(p, sec)
	if hit || e2 == e1 || e2.file.Size != 4 {
		t.Fatalf("stale entry after 1s: hit=%v size=%d", hit, e2.file.Size)
	}
	// An unchanged file is kept, and checked again a second later.
	if e, hit := r.get(p, 2*sec); !hit || e != e2 || e.checked != 2*sec {
		t.Fatal("unchanged file dropped")
	}
	// A deleted file goes.
	os.Remove(string(p))
	if e, _ := r.get(p, 3*sec+1); e != nil {
		t.Fatal("deleted file still served")
	}
	// A changed mtime alone is a change.
	q := r.write("g", "same")
	r.get(q, 0)
	later := time.Now().Add(time.Hour)
	os.Chtimes(string(q), later, later)
	if _, hit := r.get(q, sec); hit {
		t.Fatal("mtime change missed")
	}
}

// TestOpenFileCacheStatusChange: what changes the inode but not its size
// or mtime — chmod, chown, a rewrite whose mtime was put back — is seen
// at the next revalidation, through the ctime.
func TestOpenFileCacheStatusChange(t *testing.T) {
	r := newOFCRig(t, 10, time.Minute)
	changes := []struct {
		name   string
		change func(path string) error
	}{
		{"chmod", func(path string) error { return os.Chmod(path, 0) }},
		{"chown", func(path string) error { return os.Chown(path, os.Getuid(), os.Getgid()) }},
		{"cp -p", func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte("NEW"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(path, st.ModTime(), st.ModTime())
		}},
		{"link", func(path string) error { return os.Link(path, path+".2") }},
	}
	for i, c := range changes {
		p := r.write(c.name, "old")
		if _, hit := r.get(p, 0); hit {
			t.Fatalf("%d: %s: hit on first use", i, c.name)
		}
		// Timestamps tick in jiffies: let the change fall in a later one.
		time.Sleep(20 * time.Millisecond)
		if err := c.change(string(p)); err != nil {
			t.Fatal(err)
		}
		if _, hit := r.get(p, sec); hit {
			t.Errorf("%d: %s: still cached after its revalidation", i, c.name)
		}
	}
}

// TestFileVersionUnsettled: a version read less than ctimeSettle after
// the file's last change is taken as changed once, the stat being
// unable to tell a change made in the same clock tick.
func TestFileVersionUnsettled(t *testing.T) {
	var st unix.Stat_t
	st.Ctim = unix.NsecToTimespec(100 * sec)
	cases := []struct {
		wall int64
		same bool
	}{
		{100 * sec, false},
		{101*sec - 1, false},
		{101 * sec, true},
		{200 * sec, true},
		{99 * sec, false}, // a change time in the future
	}
	for i, c := range cases {
		var v fileVersion
		v.set(&st, c.wall)
		if got := v.same(&st); got != c.same {
			t.Errorf("%d: read at %d, ctime %d: same %v, want %v", i, c.wall, st.Ctim.Nano(), got, c.same)
		}
	}
}

func TestOpenFileCacheInactive(t *testing.T) {
	r := newOFCRig(t, 10, 20*time.Second)
	a, b := r.write("a", "a"), r.write("b", "b")
	ea, _ := r.get(a, 0)
	r.get(b, 15*sec)
	r.oc.expire(20*sec, -1)
	if !ea.dead || r.oc.len() != 1 {
		t.Fatalf("a not expired after 20s unused (%d left)", r.oc.len())
	}
	r.oc.expire(40*sec, -1)
	if r.oc.len() != 0 {
		t.Fatal("b not expired")
	}
	// Adding expires at most two old entries, as nginx.
	for i, n := range []string{"c", "d", "e"} {
		r.get(r.write(n, n), int64(i))
	}
	r.get(a, 100*sec)
	if r.oc.len() != 2 {
		t.Fatalf("%d entries after an add expiring two of three", r.oc.len())
	}
}

// TestOpenFileCacheRefs: a dropped entry's descriptor stays open while a
// response still sends from it.
func TestOpenFileCacheRefs(t *testing.T) {
	r := newOFCRig(t, 1, time.Minute)
	a, b := r.write("a", "a"), r.write("b", "b")
	ea, _ := r.get(a, 0)
	ea.refs++ // a response takes it
	fd := ea.file.FD
	r.get(b, 1) // max 1: a is evicted
	if !ea.dead || !fdOpen(fd) {
		t.Fatal("descriptor closed under a response")
	}
	ea.release()
	if fdOpen(fd) || ea.file.FD != -1 {
		t.Fatal("descriptor not closed on the last release")
	}
}

func TestOpenFileCacheDirsAndSymlinks(t *testing.T) {
	r := newOFCRig(t, 10, time.Minute)
	d := filepath.Join(r.dir, "sub")
	os.Mkdir(d, 0o755)
	e, _ := r.get([]byte(d), 0)
	if e.ver.typ() != unix.S_IFDIR || e.file.FD != -1 {
		t.Fatalf("directory entry: mode %o fd %d", e.ver.mode, e.file.FD)
	}
	// An entry made without disable_symlinks is not used with it.
	p := r.write("f", "x")
	r.get(p, 0)
	cpath := append(append([]byte(nil), p...), 0)
	if e, _ := r.oc.get(p, cpath, true, 1, false); e != nil {
		t.Fatal("entry crossed disable_symlinks")
	}
}

// TestOpenWalk: disable_symlinks if_not_owner allows a symlink whose
// target has the link's owner and refuses one to another owner's file;
// from= leaves the part of the path it names unchecked.
func TestOpenWalk(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "mine"), []byte("x"), 0o644))
	must(os.Symlink("mine", filepath.Join(dir, "link-mine")))
	// A file of another owner: chowned when root, else a system file.
	other := "/etc/passwd"
	if os.Getuid() == 0 {
		other = filepath.Join(dir, "other")
		must(os.WriteFile(other, []byte("y"), 0o644))
		must(os.Chown(other, 65534, 65534))
	}
	if st, err := os.Stat(other); err != nil || st.Sys().(*syscall.Stat_t).Uid == uint32(os.Getuid()) {
		t.Skipf("SKIP: no file of another owner to link to (%v)", err)
	}
	must(os.Symlink(other, filepath.Join(dir, "link-other")))
	must(os.MkdirAll(filepath.Join(dir, "real/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "real/sub/f"), []byte("z"), 0o644))
	must(os.Symlink("real", filepath.Join(dir, "dirlink")))
	cpath := func(p string) []byte { return append([]byte(dir+"/"+p), 0) }
	for i, c := range []struct {
		path string
		p    symPolicy
		want syscall.Errno
	}{
		{"link-mine", symPolicy{owner: true}, 0},
		{"link-other", symPolicy{owner: true}, unix.ELOOP},
		{"mine", symPolicy{owner: true}, 0},
		{"dirlink/sub/f", symPolicy{owner: true}, 0},
		{"dirlink/sub/f", symPolicy{from: len(dir) + len("/dirlink")}, 0},
		{"dirlink/sub/f", symPolicy{from: len(dir)}, unix.ELOOP},
		{"dirlink", symPolicy{from: len(dir) + len("/dirlink")}, 0},
		{"nothing", symPolicy{owner: true}, unix.ENOENT},
		// A trailing "/" asks for a directory (nginx's http_disable_symlinks.t
		// "file with trailing /, owner").
		{"link-mine/", symPolicy{owner: true}, unix.ENOTDIR},
		{"mine/", symPolicy{owner: true}, unix.ENOTDIR},
		{"mine//", symPolicy{owner: true}, unix.ENOTDIR},
		{"dirlink/sub/", symPolicy{owner: true}, 0},
		{"dirlink/sub/f/", symPolicy{from: len(dir) + len("/dirlink")}, unix.ENOTDIR},
	} {
		fd, e := openWalk(cpath(c.path), unix.O_PATH|unix.O_CLOEXEC, c.p)
		if e != c.want {
			t.Errorf("%d: %s %+v: %v, want %v", i, c.path, c.p, e, c.want)
		}
		if e == 0 {
			closeFD(fd)
		}
	}
}
