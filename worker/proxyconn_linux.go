//go:build linux

package worker

import (
	"tern/worker/proxyproto"
)

// On a listener with proxy_protocol, a connection starts with the load
// balancer's PROXY protocol header, read before the first request. nginx
// parses whatever its first read brought and closes a connection whose
// header did not arrive whole; tern waits for the rest, within the
// client_header_timeout that runs from the accept. A malformed header
// closes the connection without a response, as nginx ("broken header"),
// before any request is read.

// readProxy parses the PROXY protocol header in the buffer. It reports
// whether it made progress: false when the header is incomplete and more
// input is needed.
func (c *conn) readProxy() bool {
	b := c.buf
	h, n, err := proxyproto.Parse(b.b[b.start:b.end])
	switch {
	case err == proxyproto.ErrMore && !(b.start == 0 && b.end == len(b.b)):
		return false
	case err == proxyproto.ErrMore:
		err = &proxyproto.Error{Reason: "larger than the buffer"}
		fallthrough
	case err != nil:
		c.w.log.Error().Uint64("conn", c.id).Stringer("client", c.peer.addrPort().Addr()).Err(err).Msg("broken header")
		c.close()
		return true
	}
	b.start += n
	x := c.x // the accept took it (awaitProxy)
	x.awaitProxy = false
	if !h.Local {
		if x.proxy == nil {
			x.proxy = new(proxyproto.Header)
		}
		*x.proxy, x.hasProxy = h, true
	}
	return true
}
