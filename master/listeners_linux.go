//go:build linux

package master

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// listener is one configured address's sockets in the master: one socket
// that every worker shares, or for "reuseport" one socket per worker
// index (nginx's ngx_clone_listening), each worker polling only its own.
type listener struct {
	addr *conf.Addr
	fds  []int
}

// listenSet is the listening sockets of one configuration generation, in
// the order of its Config.HTTP.Bound().
type listenSet struct {
	list []*listener
}

// key identifies a socket that a reload, or a master inheriting sockets,
// may keep: same address, same reuseport setting (a socket cannot change
// that once bound). The address is canonical, so that one read back from
// a socket (getsockname) matches the configured one: an IPv4-mapped IPv6
// address is the IPv4 socket Listen opens for it.
func key(a *conf.Addr) string {
	k := a.Addr
	if ap, err := netip.ParseAddrPort(a.Addr); err == nil {
		k = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
	}
	if a.ReusePort {
		return k + " reuseport"
	}
	return k
}

// openListeners opens the sockets of cfg for n workers. Addresses that
// old (the running generation, or nil) already listens on keep their
// sockets — nothing is re-bound, no queued connection is lost — and a
// changed backlog is applied with another listen(2), changed buffer sizes
// with setsockopt, as nginx. On error
// every socket opened here is closed again and old is untouched.
func openListeners(cfg *conf.Config, n int, old *listenSet) (*listenSet, error) {
	kept := map[string]*listener{}
	if old != nil {
		for _, l := range old.list {
			kept[key(l.addr)] = l
		}
	}
	set := &listenSet{}
	var opened []int
	fail := func(err error) (*listenSet, error) {
		for _, fd := range opened {
			unix.Close(fd)
		}
		return nil, err
	}
	for _, a := range cfg.HTTP.Bound() {
		want := 1
		if a.ReusePort {
			want = n
		}
		l := &listener{addr: a}
		if o := kept[key(a)]; o != nil {
			l.fds = append(l.fds, o.fds[:min(want, len(o.fds))]...)
			for _, fd := range l.fds {
				if o.addr.Backlog != a.Backlog {
					unix.Listen(fd, a.Backlog)
				}
				if err := setBuffers(fd, a, o.addr); err != nil {
					return fail(err)
				}
			}
		}
		for len(l.fds) < want {
			fd, err := Listen(a)
			if err != nil {
				return fail(err)
			}
			opened = append(opened, fd)
			l.fds = append(l.fds, fd)
		}
		set.list = append(set.list, l)
	}
	return set, nil
}

// forWorker returns the sockets worker index polls, in address order.
func (s *listenSet) forWorker(index int) []int {
	fds := make([]int, len(s.list))
	for i, l := range s.list {
		fds[i] = l.fds[0]
		if l.addr.ReusePort {
			fds[i] = l.fds[index%len(l.fds)]
		}
	}
	return fds
}

// FDs returns every socket, for a hand-over to another master.
func (s *listenSet) FDs() []int {
	var fds []int
	for _, l := range s.list {
		fds = append(fds, l.fds...)
	}
	return fds
}

// closeExcept closes the master's copy of every socket of s that keep
// does not hold (keep may be nil: close them all). Workers that still
// hold a copy keep serving its queue until they close theirs.
func (s *listenSet) closeExcept(keep *listenSet) {
	if s == nil {
		return
	}
	held := map[int]bool{}
	if keep != nil {
		for _, fd := range keep.FDs() {
			held[fd] = true
		}
	}
	for _, fd := range s.FDs() {
		if !held[fd] {
			unix.Close(fd)
		}
	}
}
