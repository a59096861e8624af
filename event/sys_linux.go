//go:build linux

package event

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The calls here never block — sockets are non-blocking, an epoll_wait
// with a zero timeout returns at once — so they go through RawSyscall and
// skip the scheduler's enter/exit bookkeeping. A call that may block
// (epoll_wait with a timeout) must use Syscall, so that the runtime can hand
// this thread's P to the thread-pool goroutines while it sleeps.

func errnoErr(e syscall.Errno) error {
	switch e {
	case 0:
		return nil
	case unix.EAGAIN:
		return unix.EAGAIN
	case unix.EINTR:
		return unix.EINTR
	}
	return e
}

func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	p := unsafe.Pointer(&events[0])
	var r uintptr
	var e syscall.Errno
	// epoll_pwait with a nil mask is epoll_wait, and exists on every
	// architecture (arm64 has no epoll_wait).
	if msec == 0 {
		r, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(p), uintptr(len(events)), 0, 0, 0)
	} else {
		r, _, e = unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(p), uintptr(len(events)), uintptr(msec), 0, 0)
	}
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(r), nil
}

// Read reads from a non-blocking fd. It returns unix.EAGAIN when nothing
// is there, and 0, nil at end of stream.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(r), nil
}

// Writev writes iov to a non-blocking fd in one call.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(r), nil
}

// Write writes p to a non-blocking fd.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(r), nil
}

// accept4 accepts one connection from a non-blocking listener as a
// non-blocking, close-on-exec socket, writing the peer into rsa without
// allocating (unix.Accept4 allocates a Sockaddr per call).
func accept4(fd int, rsa *unix.RawSockaddrAny) (int, error) {
	l := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)),
		uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(r), nil
}

// WritevMore writes iov like Writev, with MSG_MORE: the kernel holds a
// partial segment back because more data (a sendfile) follows at once —
// tcp_nopush without the two setsockopt calls of TCP_CORK.
func WritevMore(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	r, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_MORE|unix.MSG_NOSIGNAL)
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(r), nil
}
