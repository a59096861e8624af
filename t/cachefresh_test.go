package t

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the user a test runs tern as when it runs as root: root
// reads any file whatever its mode.
const nobody = 65534

// asUnprivileged makes s run as nobody when the test runs as root, so
// that file permissions apply to it: the binary, the server's directory
// and its logs become reachable by that user.
func (s *server) asUnprivileged() {
	s.t.Helper()
	if os.Getuid() != 0 {
		return
	}
	for _, d := range []string{filepath.Dir(ternBin), filepath.Dir(s.dir), s.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(s.dir, "logs"), nobody, nobody); err != nil {
		s.t.Fatal(err)
	}
	s.cred = &syscall.Credential{Uid: nobody, Gid: nobody}
}

// rewriteKeepTimes rewrites path in place with content and puts its
// modification time back, as "cp -p" does over an existing file (and
// reproducible builds do): the inode, the size and the mtime stay.
func rewriteKeepTimes(t *testing.T, path, content string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// renameOverKeepTimes renames a new file with content over path, with the
// old file's mtime: only the inode tells them apart.
func renameOverKeepTimes(t *testing.T, path, content string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestCachesSeeMetadataChanges: a cached file that is made unreadable
// (chmod 000) gets its 403, one rewritten in place with its size and
// mtime kept (cp -p) or replaced by a rename gets its new contents,
// within a second — from the small-file cache (always on) and from
// open_file_cache, for small files (in both) and large ones.
func TestCachesSeeMetadataChanges(t *testing.T) {
	for _, tc := range []struct {
		name, http string
		sizes      []int
	}{
		{"small-file cache", "", []int{1 << 10}},
		{"open_file_cache", `open_file_cache = { max = 100, inactive = "60s" }`, []int{1 << 10, 200 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, basicConfig(tc.http))
			s.asUnprivileged()
			type file struct {
				name, old, new string
				change         func(t *testing.T, path, content string)
				status         int
			}
			var files []file
			for _, size := range tc.sizes {
				old, new := strings.Repeat("o", size), strings.Repeat("n", size)
				chmod := func(t *testing.T, path, _ string) {
					if err := os.Chmod(path, 0); err != nil {
						t.Fatal(err)
					}
				}
				files = append(files,
					file{"chmod-" + strconv.Itoa(size), old, new, chmod, 403},
					file{"cp-p-" + strconv.Itoa(size), old, new, rewriteKeepTimes, 200},
					file{"rename-" + strconv.Itoa(size), old, new, renameOverKeepTimes, 200})
			}
			for _, f := range files {
				s.file(f.name, f.old)
			}
			// Let the files' change times age, so that what is cached
			// is taken as settled.
			time.Sleep(revalidate)
			s.start()
			for _, f := range files {
				if r := s.get(get1("/" + f.name)); r.status != 200 || string(r.body) != f.old {
					t.Fatalf("%s: %d %q before the change", f.name, r.status, trunc(string(r.body)))
				}
			}
			for _, f := range files {
				f.change(t, filepath.Join(s.root, f.name), f.new)
			}
			time.Sleep(revalidate)
			for _, f := range files {
				r := s.get(get1("/" + f.name))
				switch {
				case r.status != f.status:
					t.Errorf("%s: status %d a second after the change, want %d (%q)", f.name, r.status, f.status, trunc(string(r.body)))
				case f.status == 200 && string(r.body) != f.new:
					t.Errorf("%s: %q a second after the change, want the new contents", f.name, trunc(string(r.body)))
				}
			}
		})
	}
}
