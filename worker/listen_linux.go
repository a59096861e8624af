//go:build linux

package worker

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A wildcard socket may also serve specific addresses of its port
// (conf.HTTP.Bound): the connection's local address picks which.

// coverSpecific appends to w.addrs the configured addresses that have no
// socket among the listeners because a wildcard one serves them, and
// notes which listener serves which.
func (w *Worker) coverSpecific() {
	nl := len(w.addrs)
	w.hs.covered = make([][]int, nl)
	for _, a := range w.cfg.HTTP.Addrs {
		wild := w.cfg.HTTP.CoveredBy(a)
		if wild == nil {
			continue
		}
		for i := 0; i < nl; i++ {
			if w.addrs[i] == wild {
				w.hs.covered[i] = append(w.hs.covered[i], len(w.addrs))
				w.addrs = append(w.addrs, a)
				break
			}
		}
	}
}

// connAddr returns the index in w.addrs of the address a connection
// accepted on listener li came to: li itself, or the specific address of
// its local IP when a wildcard socket serves specific addresses too.
func (w *Worker) connAddr(li, fd int) int {
	if li >= len(w.hs.covered) || len(w.hs.covered[li]) == 0 {
		return li
	}
	local, ok := w.localAddr(fd)
	if !ok {
		return li
	}
	for _, i := range w.hs.covered[li] {
		if ap, err := netip.ParseAddrPort(w.addrs[i].Addr); err == nil && ap.Addr() == local {
			return i
		}
	}
	return li
}

// localAddr is the local IP address of the socket fd, without allocating.
func (w *Worker) localAddr(fd int) (netip.Addr, bool) {
	return sockName(fd, &w.hs.sa)
}

func sockName(fd int, sa *unix.RawSockaddrAny) (netip.Addr, bool) {
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.Addr{}, false
	}
	switch sa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr), true
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr).Unmap(), true
	}
	return netip.Addr{}, false
}

// appendLocalAddr appends the local address of the connection fd as a
// URL host ("127.0.0.1", "[::1]"): a redirect's host when the request
// named none.
func appendLocalAddr(dst []byte, fd int) []byte {
	var sa unix.RawSockaddrAny
	ip, ok := sockName(fd, &sa)
	switch {
	case !ok:
		return append(dst, "localhost"...)
	case ip.Is6():
		dst = append(dst, '[')
		return append(ip.AppendTo(dst), ']')
	}
	return ip.AppendTo(dst)
}

// appendLocalIP appends the local address of the connection fd
// ($server_addr): "127.0.0.1", "::1".
func appendLocalIP(dst []byte, fd int) []byte {
	var sa unix.RawSockaddrAny
	if ip, ok := sockName(fd, &sa); ok {
		dst = ip.AppendTo(dst)
	}
	return dst
}
