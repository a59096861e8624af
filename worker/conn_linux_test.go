//go:build linux

package worker

import (
	"net/netip"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/event"
)

// TestIdleConnSize pins what an idle plain keep-alive connection costs
// the worker's heap: its conn, 144 bytes — 1.4 MB per 10,000 idle
// connections — beside its epoll slot (24) and its place in the timer
// heap (8). t/bench's idle phase measured 340 bytes per connection with
// a conn of 224 bytes; state only TLS, HTTP/2, the PROXY protocol or a
// lingering close need belongs in connExt, which a plain connection never
// takes.
func TestIdleConnSize(t *testing.T) {
	const maxConn = 144
	if n := unsafe.Sizeof(conn{}); n > maxConn {
		t.Errorf("conn is %d bytes, more than %d: %d KB more per 10,000 idle connections", n, maxConn, (n-maxConn)*10)
	}
	// A TLS, HTTP/2 or PROXY protocol connection, or a lingering one,
	// has a connExt too: 48 bytes is its allocation's size class.
	const maxExt = 48
	if n := unsafe.Sizeof(connExt{}); n > maxExt {
		t.Errorf("connExt is %d bytes, more than %d", n, maxExt)
	}
	// A chunk of the connection table is one large allocation, which
	// takes whole 8 KiB pages: choose connChunk so that it fills them.
	chunk := connChunk * unsafe.Sizeof(conn{})
	if waste := (8192 - chunk%8192) % 8192; waste*100 > chunk {
		t.Errorf("a chunk of %d conns is %d bytes and leaves %d bytes of its last page unused", connChunk, chunk, waste)
	}
}

// accept hands the worker one end of a new socketpair, as an accepted
// connection, and returns the worker's fd and the client's.
func (r *rig) accept(t *testing.T) (server, client int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	var rsa unix.RawSockaddrAny
	r.w.Accepted(&event.Listener{FD: -1, Index: 0}, fds[0], &rsa)
	return fds[0], fds[1]
}

// idleOrder lists the fds of the worker's idle list, front first, and
// checks that its back links agree.
func idleOrder(t *testing.T, w *Worker) []int32 {
	t.Helper()
	var fds []int32
	var prev *conn
	w.idle.each(func(c *conn) {
		if w.idle.conn(c.idlePrev) != prev || !c.inIdle {
			t.Fatalf("fd %d: back link %d, want %v", c.fd, c.idlePrev, prev)
		}
		fds = append(fds, c.fd)
		prev = c
	})
	if w.idle.tail != prev {
		t.Fatalf("tail is %v, the last in the list %v", w.idle.tail, prev)
	}
	return fds
}

// TestIdleConnHoldsNothing: after a keep-alive request a plain
// connection holds no request, no buffer and no connExt, and waits in
// the idle list, most recently used last.
func TestIdleConnHoldsNothing(t *testing.T) {
	r := newPathRig(t, "off")
	n := r.roundTrip(t, benchReq, 0)
	fds := []int32{r.w.idle.front().fd}
	clients := []int{r.client}
	for range 3 {
		fd, client := r.accept(t)
		r.client = client
		r.roundTrip(t, benchReq, n)
		fds = append(fds, int32(fd))
		clients = append(clients, client)
	}
	if got := idleOrder(t, r.w); !slices.Equal(got, fds) {
		t.Fatalf("idle list %v, want %v", got, fds)
	}
	for _, fd := range fds {
		c := r.w.conns.at(fd)
		if c.state != stIdle || c.rq != nil || c.buf != nil || c.x != nil {
			t.Errorf("idle fd %d: state %d, request %v, buffer %v, connExt %v", fd, c.state, c.rq, c.buf, c.x)
		}
	}
	// Closing the third connection takes it out; a second request on
	// the second moves it to the back; running out of connections closes
	// the front one.
	r.w.conns.at(fds[2]).close()
	if got, want := idleOrder(t, r.w), []int32{fds[0], fds[1], fds[3]}; !slices.Equal(got, want) {
		t.Fatalf("idle list after a close %v, want %v", got, want)
	}
	r.client = clients[1]
	r.roundTrip(t, benchReq, n)
	if got, want := idleOrder(t, r.w), []int32{fds[0], fds[3], fds[1]}; !slices.Equal(got, want) {
		t.Fatalf("idle list after a request %v, want %v", got, want)
	}
	if !r.w.reuseIdle() {
		t.Fatal("reuseIdle found no idle connection")
	}
	if got, want := idleOrder(t, r.w), []int32{fds[3], fds[1]}; !slices.Equal(got, want) {
		t.Fatalf("idle list after reuseIdle %v, want %v", got, want)
	}
}

// TestPeerAddr: the connection's 18-byte address gives back what
// accept4 said, an IPv4 one (also mapped into IPv6) as IPv4.
func TestPeerAddr(t *testing.T) {
	v4 := func(rsa *unix.RawSockaddrAny, a string, port uint16) {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		sa.Family, sa.Port, sa.Addr = unix.AF_INET, port>>8|port<<8, netip.MustParseAddr(a).As4()
	}
	v6 := func(rsa *unix.RawSockaddrAny, a string, port uint16) {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		sa.Family, sa.Port, sa.Addr = unix.AF_INET6, port>>8|port<<8, netip.MustParseAddr(a).As16()
	}
	unixAddr := func(rsa *unix.RawSockaddrAny, _ string, _ uint16) { rsa.Addr.Family = unix.AF_UNIX }
	cases := []struct {
		fill func(*unix.RawSockaddrAny, string, uint16)
		addr string
		port uint16
		want netip.AddrPort
	}{
		{v4, "192.0.2.7", 80, netip.MustParseAddrPort("192.0.2.7:80")},
		{v6, "2001:db8::1", 443, netip.MustParseAddrPort("[2001:db8::1]:443")},
		{v6, "::ffff:198.51.100.2", 12345, netip.MustParseAddrPort("198.51.100.2:12345")},
		{unixAddr, "", 0, netip.AddrPort{}},
	}
	for _, tc := range cases {
		var rsa unix.RawSockaddrAny
		tc.fill(&rsa, tc.addr, tc.port)
		p := sockPeer(&rsa)
		if got := p.addrPort(); got != tc.want {
			t.Errorf("%q port %d: got %v, want %v", tc.addr, tc.port, got, tc.want)
		}
	}
}

// TestConnExtReuse: a given-back connExt says nothing of its last
// connection, and keeps the PROXY header's memory for its next one.
func TestConnExtReuse(t *testing.T) {
	r := newPathRig(t, "off")
	c := r.w.idle.front()
	x := c.ext()
	x.awaitProxy = true
	c.buf = &rbuf{b: []byte("PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n")}
	c.buf.end = len(c.buf.b)
	if !c.readProxy() || c.proxyHeader() == nil || c.proxyHeader().Src != netip.MustParseAddrPort("192.0.2.1:5555") {
		t.Fatalf("PROXY header read as %+v", c.proxyHeader())
	}
	header := x.proxy
	c.buf = nil
	c.close()
	if c.x != nil {
		t.Fatal("a closed connection keeps its connExt")
	}
	x2 := c.ext()
	defer func() { r.w.putExt(x2); c.x = nil }()
	if x2 != x || x2.proxy != header || c.proxyHeader() != nil || x2.awaitProxy || x2.tls != nil {
		t.Fatalf("reused connExt %+v (the given-back one %p, header %p)", x2, x, header)
	}
}
