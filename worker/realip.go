package worker

import (
	"net/netip"
	"unsafe"

	"tern/conf"
)

// nginx's realip module: a request from a trusted proxy (set_real_ip_from)
// gets its client address from real_ip_header — X-Real-IP,
// X-Forwarded-For (the last address, or with real_ip_recursive the last
// one that is not a trusted proxy's), another header, or the PROXY
// protocol header — and that address is $remote_addr for everything that
// follows: allow and deny, the limit zones' keys, the logs. It runs once
// per request: with the server's settings as the request is routed
// (nginx's post-read phase) and, if that changed nothing, with the
// location's before limit_req (the preaccess phase). $realip_remote_addr
// keeps the connection's own address.

// maxForwardedLines bounds the X-Forwarded-For lines read, last first.
const maxForwardedLines = 16

// realIP applies the realip settings s to rq, unless an earlier run did.
func (rq *request) realIP(s *conf.Settings) {
	if len(s.RealIPFrom) == 0 || rq.realIPDone {
		return
	}
	var lines [maxForwardedLines][]byte
	n := 0
	h := s.RealIPHeader
	switch h.Kind {
	case conf.RealIPProxyProtocol:
		c := rq.conn
		if c == nil || c.proxyHeader() == nil || !trusted(s.RealIPFrom, rq.peer.Addr()) {
			return
		}
		rq.setRealIP(c.proxyHeader().Src)
		return
	case conf.RealIPXForwardedFor:
		// Every line, so that the last proxy's comes first.
		for head := rq.Req.Head; n < len(lines); n++ {
			v, rest, ok := nextHeader(head, h.Name)
			if !ok {
				break
			}
			lines[n], head = v, rest
		}
	default:
		v, _, ok := nextHeader(rq.Req.Head, h.Name)
		if !ok {
			return
		}
		lines[0], n = v, 1
	}
	if n == 0 {
		return
	}
	if addr, ok := forwardedAddr(rq.peer, lines[:n], s.RealIPFrom, s.RealIPRecursive); ok {
		rq.setRealIP(addr)
	}
}

// setRealIP makes addr the request's client address.
func (rq *request) setRealIP(addr netip.AddrPort) {
	rq.realIPDone = true
	rq.realPeer = rq.peer
	rq.peer = addr
}

// trusted reports whether addr is one of set_real_ip_from's.
func trusted(from []conf.AccessRule, addr netip.Addr) bool {
	unix := !addr.IsValid()
	for i := range from {
		if from[i].Matches(addr, unix) {
			return true
		}
	}
	return false
}

// forwardedAddr is nginx's ngx_http_get_forwarded_addr: while the address
// in hand is a trusted proxy's, take the address before it, from the end
// of the last header line backwards; without recursive, only one step.
// It reports false when no step was taken (the connection's address
// stands).
func forwardedAddr(peer netip.AddrPort, lines [][]byte, from []conf.AccessRule, recursive bool) (netip.AddrPort, bool) {
	addr := peer
	found := false
	for li := len(lines) - 1; li >= 0; li-- {
		xff := lines[li]
		for {
			if !trusted(from, addr.Addr()) {
				return addr, found
			}
			elem, rest := lastElement(xff)
			a, ok := parseAddrPort(elem)
			if !ok {
				return addr, found
			}
			addr, found, xff = a, true, rest
			if !recursive || len(xff) == 0 {
				break
			}
		}
		if !recursive {
			break
		}
	}
	return addr, found
}

// lastElement splits an X-Forwarded-For value into its last element and
// what is before it, ignoring trailing spaces and commas.
func lastElement(v []byte) (elem, rest []byte) {
	end := len(v)
	for end > 0 && (v[end-1] == ' ' || v[end-1] == ',') {
		end--
	}
	start := end
	for start > 0 && v[start-1] != ' ' && v[start-1] != ',' {
		start--
	}
	return v[start:end], v[:start]
}

// parseAddrPort reads "ADDR", "IPV4:PORT" or "[IPV6]:PORT", as nginx's
// ngx_parse_addr_port; a missing port is 0.
func parseAddrPort(b []byte) (netip.AddrPort, bool) {
	if len(b) == 0 || len(b) > 64 {
		return netip.AddrPort{}, false
	}
	// The bytes stay put for the call, and netip keeps no reference to
	// them: a string view saves a copy per request.
	s := unsafe.String(&b[0], len(b))
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
