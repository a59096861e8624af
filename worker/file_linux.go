//go:build linux

package worker

import (
	"bytes"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The calls here take a NUL-terminated path in a reused buffer: x/sys's
// string APIs copy the path into a new allocation on every call.
// open(2) and stat(2) may sleep on a cold directory, so they go through
// Syscall, letting the runtime hand the loop's P to the pool meanwhile.

// openFlags: no controlling tty, no blocking on a FIFO that has no writer
// (a FIFO in the docroot would otherwise hang the loop in open), and never
// inherited by a child.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

// atFDCWD is a variable because the constant (-100) cannot convert to
// uintptr.
var atFDCWD = unix.AT_FDCWD

// resolveCached is openat2's RESOLVE_CACHED (Linux 5.12, uapi
// linux/openat2.h; x/sys defines it for z/OS only): fail with EAGAIN
// rather than read the disk to resolve the path.
const resolveCached = 0x20

// noResolveCached is set once the kernel refused RESOLVE_CACHED (EINVAL
// before 5.12, ENOSYS before 5.6, which has no openat2 at all): opens
// then may wait for the disk, as nginx's always do.
var noResolveCached bool

// coldForTest, set by tests only, stands in for a path whose dentries or
// inode the kernel does not have cached, which there is no way to make of
// one path (drop_caches empties every cache of the machine): it reports
// whether a lookup of path, cached (RESOLVE_CACHED) or not, finds it
// cold. A lookup that may wait warms what it resolves, as the kernel's.
var coldForTest func(path []byte, cached bool) bool

// openAt opens path (NUL-terminated) with flags. With noSymlinks, a
// symlink in any component fails with ELOOP (RESOLVE_NO_SYMLINKS, Linux
// 5.6); with cached, a path whose lookup would read the disk fails with
// EAGAIN (RESOLVE_CACHED) — the caller then resolves it on a pool thread.
func openAt(path []byte, flags uint64, noSymlinks, cached bool) (int, syscall.Errno) {
	cached = cached && !noResolveCached
	if coldForTest != nil && coldForTest(path, cached) {
		return -1, unix.EAGAIN
	}
	if !noSymlinks && !cached {
		r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])), uintptr(flags), 0, 0, 0)
		if e != 0 {
			return -1, e
		}
		return int(r), 0
	}
	how := unix.OpenHow{Flags: flags}
	if noSymlinks {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	if cached {
		how.Resolve |= resolveCached
	}
	r, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	if (e == unix.EINVAL || e == unix.ENOSYS) && cached {
		noResolveCached = true
		return openAt(path, flags, noSymlinks, false)
	}
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// openPath opens the file path (NUL-terminated) for reading; see openAt.
func openPath(path []byte, noSymlinks, cached bool) (int, syscall.Errno) {
	return openAt(path, openFlags, noSymlinks, cached)
}

// statFile stats path (NUL-terminated), following symlinks; noSymlinks
// and cached as openAt (through an O_PATH descriptor: no permission on
// the file is needed).
func statFile(path []byte, noSymlinks, cached bool, st *unix.Stat_t) syscall.Errno {
	if !noSymlinks && (!cached || noResolveCached) {
		return statPath(path, st)
	}
	fd, e := openAt(path, unix.O_PATH|unix.O_CLOEXEC, noSymlinks, cached)
	if e != 0 {
		return e
	}
	e = fstat(fd, st)
	closeFD(fd)
	return e
}

// openDir opens the directory path (NUL-terminated) for reading; see
// openAt.
func openDir(path []byte, noSymlinks, cached bool) (int, syscall.Errno) {
	return openAt(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, noSymlinks, cached)
}

// statPath stats path (NUL-terminated), following symlinks.
func statPath(path []byte, st *unix.Stat_t) syscall.Errno {
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(atFDCWD),
		uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(st)), 0, 0, 0)
	return e
}

func fstat(fd int, st *unix.Stat_t) syscall.Errno {
	_, _, e := unix.Syscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0)
	return e
}

func closeFD(fd int) {
	unix.Close(fd)
}

// readAll reads the whole of a small file at offset 0. With noWait, it
// reads only what is in the page cache (preadv2 RWF_NOWAIT) and reports
// false rather than wait for the disk.
func readAll(fd int, dst []byte, noWait bool) bool {
	for off := 0; off < len(dst); {
		var n int
		var err error
		if noWait {
			n, err = unix.Preadv2(fd, [][]byte{dst[off:]}, int64(off), unix.RWF_NOWAIT)
		} else {
			n, err = unix.Pread(fd, dst[off:], int64(off))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false // EAGAIN (not cached), an error, or the file shrank
		}
		off += n
	}
	return true
}

// statusOfErrno maps a failed open or stat to the response status, as
// nginx: missing → 404, not permitted or a refused symlink → 403, anything
// else → 500.
func statusOfErrno(e syscall.Errno) int {
	switch e {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		return 404
	case unix.EACCES, unix.EPERM, unix.ELOOP, unix.EXDEV:
		return 403
	}
	return 500
}

// symPolicy is disable_symlinks for one lookup when it is more than on
// or off: if_not_owner allows a symlink whose target has the link's owner,
// and the first from bytes of the path (from=) are not checked. nginx
// walks the path one component at a time for these; so does tern, with
// O_PATH descriptors. The walk may wait for the disk on the loop (no
// RESOLVE_CACHED on each step): only these configurations pay it.
type symPolicy struct {
	owner bool
	from  int
}

// openWalk opens path (NUL-terminated) with flags under p.
func openWalk(path []byte, flags uint64, p symPolicy) (int, syscall.Errno) {
	n := len(path) - 1
	if p.from >= n {
		return openAt(path, flags, false, false) // the path is the from part
	}
	dir := atFDCWD
	start := 0
	if p.from > 0 {
		// The part not checked: opened as it is, symlinks followed.
		c := path[p.from]
		path[p.from] = 0
		fd, e := openAt(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, false, false)
		path[p.from] = c
		if e != 0 {
			return -1, e
		}
		dir, start = fd, p.from
		if !p.owner {
			// No symlink in the rest, in one openat2.
			rest := path[start:]
			for len(rest) > 1 && rest[0] == '/' {
				rest = rest[1:]
			}
			if rest[0] == 0 {
				rest = []byte(".\x00") // the from part itself
			}
			how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_NO_SYMLINKS}
			r, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dir), uintptr(unsafe.Pointer(&rest[0])),
				uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
			closeFD(dir)
			if e != 0 {
				return -1, e
			}
			return int(r), 0
		}
	} else {
		fd, e := openAt([]byte("/\x00"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, false, false)
		if e != 0 {
			return -1, e
		}
		dir = fd
	}
	defer func() { closeFD(dir) }()
	rest := path[start:n]
	for len(rest) > 0 {
		for len(rest) > 0 && rest[0] == '/' {
			rest = rest[1:]
		}
		end := 0
		for end < len(rest) && rest[end] != '/' {
			end++
		}
		name := rest[:end]
		rest = rest[end:]
		last := len(bytes.Trim(rest, "/")) == 0
		if len(name) == 0 {
			break
		}
		if e := checkOwner(dir, name); e != 0 {
			return -1, e
		}
		f := uint64(unix.O_PATH | unix.O_CLOEXEC)
		if last {
			f = flags
			if len(rest) > 0 {
				// A trailing "/": the name must be a directory
				// (ENOTDIR, a 404, for a file), as open(2) says.
				f |= unix.O_DIRECTORY
			}
		}
		fd, e := openName(dir, name, f)
		if e != 0 {
			return -1, e
		}
		if last {
			return fd, 0
		}
		closeFD(dir)
		dir = fd
	}
	// The path names the directory dir itself ("/" or the from part).
	return openName(dir, []byte("."), flags)
}

// checkOwner refuses (ELOOP) name in dir when it is a symlink whose
// target has another owner than the link (if_not_owner).
func checkOwner(dir int, name []byte) syscall.Errno {
	var link, target unix.Stat_t
	if e := fstatName(dir, name, &link, unix.AT_SYMLINK_NOFOLLOW); e != 0 {
		return e
	}
	if link.Mode&unix.S_IFMT != unix.S_IFLNK {
		return 0
	}
	if e := fstatName(dir, name, &target, 0); e != 0 {
		return e
	}
	if target.Uid != link.Uid {
		return unix.ELOOP
	}
	return 0
}

// maxName is NAME_MAX: the longest component a path may have.
const maxName = 255

// openName opens name (not NUL-terminated) in dir.
func openName(dir int, name []byte, flags uint64) (int, syscall.Errno) {
	var buf [maxName + 1]byte
	if len(name) > maxName {
		return -1, unix.ENAMETOOLONG
	}
	copy(buf[:], name)
	r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(&buf[0])), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// fstatName stats name (not NUL-terminated) in dir.
func fstatName(dir int, name []byte, st *unix.Stat_t, flags int) syscall.Errno {
	var buf [maxName + 1]byte
	if len(name) > maxName {
		return unix.ENAMETOOLONG
	}
	copy(buf[:], name)
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dir), uintptr(unsafe.Pointer(&buf[0])),
		uintptr(unsafe.Pointer(st)), uintptr(flags), 0, 0)
	return e
}
