//go:build linux

package worker

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// Listening on a wildcard address and on specific addresses of the same
// port: Linux refuses to bind 127.0.0.1:80 next to a listening 0.0.0.0:80,
// so nginx binds only the wildcard (ngx_http_init_listening) and picks a
// connection's address — and so its virtual servers — from the local
// address of the connection (getsockname), when it has specific
// addresses to tell apart. tern does the same.

// Bound returns the addresses that need a listening socket of their own,
// in order: all of addrs but the specific ones whose port and family also
// have a wildcard address, unless they set reuseport or a backlog (nginx
// binds an address with socket options on its own). The master opens
// sockets for these; a worker given them dispatches the others by the
// local address of each connection.
func Bound(addrs []*conf.Addr) []*conf.Addr {
	var out []*conf.Addr
	for _, a := range addrs {
		if coveredBy(a, addrs) == nil {
			out = append(out, a)
		}
	}
	return out
}

// coveredBy returns the wildcard address in addrs whose socket serves a,
// or nil when a needs a socket of its own.
func coveredBy(a *conf.Addr, addrs []*conf.Addr) *conf.Addr {
	ap, err := netip.ParseAddrPort(a.Addr)
	if err != nil || ap.Addr().IsUnspecified() || a.ReusePort || a.Backlog != defaultBacklog {
		return nil
	}
	for _, b := range addrs {
		bp, err := netip.ParseAddrPort(b.Addr)
		if err == nil && bp.Addr().IsUnspecified() && bp.Port() == ap.Port() && b.Network == a.Network {
			return b
		}
	}
	return nil
}

// defaultBacklog is conf's (and nginx's) listen backlog: an address with
// another one was given a backlog, which needs a socket of its own.
const defaultBacklog = 511

// coverSpecific appends to w.addrs the configured addresses that have no
// socket among the listeners because a wildcard one serves them, and
// notes which listener serves which.
func (w *Worker) coverSpecific() {
	nl := len(w.addrs)
	w.hs.covered = make([][]int, nl)
	all := w.cfg.HTTP.Addrs
	for _, a := range all {
		wild := coveredBy(a, all)
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
