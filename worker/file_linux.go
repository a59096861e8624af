//go:build linux

package worker

import (
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

// openPath opens path (NUL-terminated). With noSymlinks, a symlink in any
// component fails with ELOOP (openat2 RESOLVE_NO_SYMLINKS, Linux ≥ 5.6).
func openPath(path []byte, noSymlinks bool) (int, syscall.Errno) {
	if noSymlinks {
		return openHow(path, openFlags)
	}
	r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])), openFlags, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// openHow opens path (NUL-terminated) with flags, refusing symlinks in
// any component with ELOOP (openat2 RESOLVE_NO_SYMLINKS, Linux ≥ 5.6).
func openHow(path []byte, flags uint64) (int, syscall.Errno) {
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_NO_SYMLINKS}
	r, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// statFile stats path (NUL-terminated), following symlinks; with
// noSymlinks, a symlink in any component fails with ELOOP, as in
// openPath (an O_PATH descriptor: no permission on the file needed).
func statFile(path []byte, noSymlinks bool, st *unix.Stat_t) syscall.Errno {
	if !noSymlinks {
		return statPath(path, st)
	}
	fd, e := openHow(path, unix.O_PATH|unix.O_CLOEXEC)
	if e != 0 {
		return e
	}
	e = fstat(fd, st)
	closeFD(fd)
	return e
}

// openDir opens the directory path (NUL-terminated) for reading.
func openDir(path []byte, noSymlinks bool) (int, syscall.Errno) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if noSymlinks {
		return openHow(path, flags)
	}
	r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])), flags, 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
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
