package conf

import "net/netip"

// Listening on a wildcard address and on specific addresses of the same
// port: Linux refuses to bind 127.0.0.1:80 next to a listening 0.0.0.0:80,
// so nginx binds only the wildcard (ngx_http_init_listening) and picks a
// connection's address — and so its virtual servers — from the local
// address of the connection. tern does the same: the master opens sockets
// for Bound, and a worker dispatches the others by each connection's
// local address (CoveredBy).

// Bound returns the addresses that need a listening socket of their own,
// in order: all of h.Addrs but the specific ones whose port and family
// also have a wildcard address, unless they set reuseport, a backlog or a
// buffer size (nginx binds an address with socket options on its own).
func (h *HTTP) Bound() []*Addr {
	var out []*Addr
	for _, a := range h.Addrs {
		if h.CoveredBy(a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// CoveredBy returns the wildcard address whose socket serves a, or nil
// when a needs a socket of its own.
func (h *HTTP) CoveredBy(a *Addr) *Addr {
	ap, err := netip.ParseAddrPort(a.Addr)
	// An address given another backlog or a buffer size needs a socket
	// of its own.
	if err != nil || ap.Addr().IsUnspecified() || a.ReusePort || a.Backlog != defaultBacklog || a.SndBuf != 0 || a.RcvBuf != 0 {
		return nil
	}
	for _, b := range h.Addrs {
		bp, err := netip.ParseAddrPort(b.Addr)
		if err == nil && bp.Addr().IsUnspecified() && bp.Port() == ap.Port() && b.Network == a.Network {
			return b
		}
	}
	return nil
}
