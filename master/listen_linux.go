//go:build linux

// Package master is tern's master process: it reads the configuration,
// opens the listening sockets, starts and restarts the workers, and
// handles reload, reopen, stop and binary-upgrade signals.
package master

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
)

const (
	// bindTries and bindPause: a port still held by a process that is
	// exiting is retried, as nginx (5 tries, 500 ms apart).
	bindTries = 5
	bindPause = 500 * time.Millisecond
)

// Listen opens a non-blocking, close-on-exec listening socket for a, with
// SO_REUSEADDR (and SO_REUSEPORT when configured), IPv6 sockets
// IPv6-only as nginx, and TCP_NODELAY, which accepted sockets inherit.
func Listen(a *conf.Addr) (int, error) {
	ap, err := netip.ParseAddrPort(a.Addr)
	if err != nil {
		return -1, fmt.Errorf("listen %s: %w", a.Addr, err)
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if ip := ap.Addr().Unmap(); ip.Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := setListenOptions(fd, family, a); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", a.Addr, err)
	}
	for try := 1; ; try++ {
		err = unix.Bind(fd, sa)
		if err != unix.EADDRINUSE || try == bindTries {
			break
		}
		time.Sleep(bindPause)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", a.Addr, err)
	}
	if err := unix.Listen(fd, a.Backlog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", a.Addr, err)
	}
	return fd, nil
}

func setListenOptions(fd, family int, a *conf.Addr) error {
	opts := []struct {
		level, name int
		on          bool
	}{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, true},
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, a.ReusePort},
		{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, family == unix.AF_INET6},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, true},
	}
	for _, o := range opts {
		if !o.on {
			continue
		}
		if err := unix.SetsockoptInt(fd, o.level, o.name, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return setBuffers(fd, a, nil)
}

// setBuffers sets listen's sndbuf= and rcvbuf= on a listening socket,
// which the connections it accepts inherit: those of a that differ from
// old, the values the socket already has (nil for a new socket). A size
// that a configuration no longer gives stays on the socket until it is
// closed, as in nginx: the kernel has no way back to its autotuning once
// SO_SNDBUF or SO_RCVBUF is set (socket(7)).
func setBuffers(fd int, a, old *conf.Addr) error {
	var had conf.Addr
	if old != nil {
		had = *old
	}
	for _, b := range []struct{ name, size, had int }{
		{unix.SO_SNDBUF, a.SndBuf, had.SndBuf},
		{unix.SO_RCVBUF, a.RcvBuf, had.RcvBuf},
	} {
		if b.size == 0 || b.size == b.had {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, b.name, b.size); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}
