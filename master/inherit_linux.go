//go:build linux

package master

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
)

// Listening sockets a master inherits instead of binding them itself:
//
//   - From an older master, on a binary upgrade (USR2): the old master
//     starts the new binary with its listening sockets as fds 3, 4, ...
//     (not close-on-exec) and names them in ListenFDsEnv, e.g.
//     TERN_LISTEN_FDS="3;4;5" — nginx's NGINX="3;4;5;" under tern's name.
//     ";" separates, ":" is accepted too (nginx's legacy separator) and a
//     trailing separator is allowed.
//   - From systemd socket activation: LISTEN_PID (our pid), LISTEN_FDS
//     (how many, from fd 3, SD_LISTEN_FDS_START) and LISTEN_FDNAMES
//     (colon-separated names, for the log only), honoured only when
//     LISTEN_PID is this process, as sd_listen_fds(3).
//
// Either way the variables are removed from the environment at once, so
// that no worker or later binary inherits them, and each socket is
// matched to the configuration by its bound address (getsockname) and
// SO_REUSEPORT, as a reload matches the sockets it keeps: a configured
// address with an inherited socket is not bound again, one without gets a
// new socket, and an inherited socket that no address wants is closed.
const (
	// ListenFDsEnv names the listening sockets an old master hands to
	// the new binary.
	ListenFDsEnv = "TERN_LISTEN_FDS"
	// listenFDsStart is the first fd of systemd's sockets (and of ours).
	listenFDsStart = 3
)

// ParseFDList parses ListenFDsEnv's value: fd numbers of 3 or more,
// separated by ";" or ":", each once.
func ParseFDList(s string) ([]int, error) {
	var fds []int
	seen := map[int]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ':' }) {
		fd, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || fd < listenFDsStart {
			return nil, fmt.Errorf("%s=%q: %q is not a descriptor number of %d or more", ListenFDsEnv, s, f, listenFDsStart)
		}
		if seen[fd] {
			return nil, fmt.Errorf("%s=%q: descriptor %d named twice", ListenFDsEnv, s, fd)
		}
		seen[fd] = true
		fds = append(fds, fd)
	}
	return fds, nil
}

// formatFDList is ParseFDList's inverse.
func formatFDList(fds []int) string {
	parts := make([]string, len(fds))
	for i, fd := range fds {
		parts[i] = strconv.Itoa(fd)
	}
	return strings.Join(parts, ";")
}

// systemdFDs reads systemd's LISTEN_* variables for process pid: the fds
// passed and their names ("" where none is given). It returns nothing
// when LISTEN_PID names another process (the variables leaked from a
// parent) or is absent.
func systemdFDs(listenPID, listenFDs, names string, pid int) ([]int, []string, error) {
	if listenPID == "" || listenFDs == "" {
		return nil, nil, nil
	}
	if p, err := strconv.Atoi(listenPID); err != nil || p != pid {
		return nil, nil, nil
	}
	n, err := strconv.Atoi(listenFDs)
	if err != nil || n < 0 {
		return nil, nil, fmt.Errorf("LISTEN_FDS=%q is not a count", listenFDs)
	}
	fds := make([]int, n)
	labels := make([]string, n)
	nameList := strings.Split(names, ":")
	for i := range fds {
		fds[i] = listenFDsStart + i
		if names != "" && i < len(nameList) {
			labels[i] = nameList[i]
		}
	}
	return fds, labels, nil
}

// inherited is what a master found in its environment at start.
type inherited struct {
	set *listenSet // sockets by address, to match like a reload does
	// fromMaster is true when an old master started this one (USR2):
	// then USR2 is refused while that parent lives.
	fromMaster bool
}

// takeInherited reads, removes from the environment and adopts the
// listening sockets handed to this process. A descriptor that is not a
// listening TCP socket is left alone with a warning (nginx ignores such
// an entry too); malformed variables are an error.
func takeInherited(log zerolog.Logger) (inherited, error) {
	own, ownOK := os.LookupEnv(ListenFDsEnv)
	sdPID, sdFDs, sdNames := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{ListenFDsEnv, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	var in inherited
	var fds []int
	var names []string
	if ownOK {
		list, err := ParseFDList(own)
		if err != nil {
			return in, err
		}
		fds = list
		names = make([]string, len(list))
		in.fromMaster = true
	}
	sd, sdLabels, err := systemdFDs(sdPID, sdFDs, sdNames, os.Getpid())
	if err != nil {
		return in, err
	}
	fds, names = append(fds, sd...), append(names, sdLabels...)
	in.set = &listenSet{}
	byKey := map[string]*listener{}
	for i, fd := range fds {
		a, err := adopt(fd)
		if err != nil {
			log.Warn().Int("fd", fd).Err(err).Msg("inherited descriptor ignored")
			continue
		}
		log.Info().Int("fd", fd).Str("addr", a.Addr).Bool("reuseport", a.ReusePort).Str("name", names[i]).
			Bool("systemd", i >= len(fds)-len(sd)).Msg("using inherited listening socket")
		k := key(a)
		if l := byKey[k]; l != nil {
			l.fds = append(l.fds, fd)
			continue
		}
		l := &listener{addr: a, fds: []int{fd}}
		byKey[k] = l
		in.set.list = append(in.set.list, l)
	}
	return in, nil
}

// inheritedBacklog marks an adopted socket's backlog as unknown, so that
// openListeners applies the configured one with another listen(2).
const inheritedBacklog = -1

// adopt checks that fd is a listening TCP socket, makes it close-on-exec
// and non-blocking (systemd passes blocking sockets; the flag is the
// open file description's, shared with the process that passed it,
// which has no use for blocking accepts either), sets TCP_NODELAY as
// Listen does, and returns its address.
func adopt(fd int) (*conf.Addr, error) {
	if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_STREAM {
		return nil, fmt.Errorf("not a stream socket (%v)", err)
	}
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on == 0 {
		return nil, fmt.Errorf("not a listening socket (%v)", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	ap, ok := sockaddrAddrPort(sa)
	if !ok {
		return nil, fmt.Errorf("not a TCP/IP socket (%T)", sa)
	}
	reuse, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return nil, os.NewSyscallError("setsockopt", err)
	}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	return &conf.Addr{Network: network, Addr: ap.String(), ReusePort: reuse != 0, Backlog: inheritedBacklog}, nil
}

// sockaddrAddrPort converts an IPv4 or IPv6 socket address.
func sockaddrAddrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}
