//go:build linux

package master

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
)

func TestParseFDList(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		err  bool
	}{
		{"", nil, false},
		{"3", []int{3}, false},
		{"3;4;5", []int{3, 4, 5}, false},
		{"3;4;5;", []int{3, 4, 5}, false}, // nginx's trailing ";"
		{"3:4", []int{3, 4}, false},       // nginx's legacy ":"
		{" 7 ; 12 ", []int{7, 12}, false},
		{"2", nil, true},
		{"3;x", nil, true},
		{"-4", nil, true},
		{"3;3", nil, true},
	}
	for i, c := range cases {
		got, err := ParseFDList(c.in)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("%d: ParseFDList(%q) = %v, %v; want %v, error %v", i, c.in, got, err, c.want, c.err)
		}
	}
	if s := formatFDList([]int{3, 4, 10}); s != "3;4;10" {
		t.Errorf("formatFDList: %q", s)
	}
}

func TestSystemdFDs(t *testing.T) {
	cases := []struct {
		pid, n, names string
		want          []int
		labels        []string
		err           bool
	}{
		{"", "", "", nil, nil, false},
		{"100", "2", "", []int{3, 4}, []string{"", ""}, false},
		{"100", "2", "http:admin", []int{3, 4}, []string{"http", "admin"}, false},
		{"100", "3", "http", []int{3, 4, 5}, []string{"http", "", ""}, false},
		{"99", "2", "", nil, nil, false}, // another process's variables
		{"x", "2", "", nil, nil, false},
		{"100", "0", "", []int{}, []string{}, false},
		{"100", "two", "", nil, nil, true},
	}
	for i, c := range cases {
		fds, labels, err := systemdFDs(c.pid, c.n, c.names, 100)
		if (err != nil) != c.err || !slices.Equal(fds, c.want) || !slices.Equal(labels, c.labels) {
			t.Errorf("%d: %v %q %v; want %v %q error %v", i, fds, labels, err, c.want, c.labels, c.err)
		}
	}
}

// TestKeyCanonical: the configured form of an address and the one read
// back from its socket give the same key.
func TestKeyCanonical(t *testing.T) {
	pairs := [][2]*conf.Addr{
		{{Network: "tcp6", Addr: "[::ffff:127.0.0.1]:80"}, {Network: "tcp4", Addr: "127.0.0.1:80"}},
		{{Network: "tcp6", Addr: "[::]:80"}, {Network: "tcp6", Addr: "[::]:80"}},
		{{Network: "tcp4", Addr: "0.0.0.0:80", ReusePort: true}, {Network: "tcp4", Addr: "0.0.0.0:80", ReusePort: true}},
	}
	for i, p := range pairs {
		if key(p[0]) != key(p[1]) {
			t.Errorf("%d: %q != %q", i, key(p[0]), key(p[1]))
		}
	}
	if key(&conf.Addr{Addr: "0.0.0.0:80"}) == key(&conf.Addr{Addr: "0.0.0.0:80", ReusePort: true}) {
		t.Error("reuseport does not change the key")
	}
}

// rawListener opens a blocking listening socket without close-on-exec,
// as systemd passes them.
func rawListener(t *testing.T, reuse bool) (int, int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if reuse {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	return fd, sa.(*unix.SockaddrInet4).Port
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestInheritedSockets: inherited sockets are matched to the configured
// addresses (not bound again), made non-blocking and close-on-exec; an
// address without one gets a new socket; an inherited socket no address
// wants is closed; a descriptor that is not a listening socket is left
// alone; the variable is gone from the environment.
func TestInheritedSockets(t *testing.T) {
	plain, p1 := rawListener(t, false)
	reuse, p2 := rawListener(t, true)
	unused, _ := rawListener(t, false)
	var pipe [2]int
	if err := unix.Pipe(pipe[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	p3 := freePort(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "tern.hcl")
	src := fmt.Sprintf("http {\n  server {\n    listen = [\"127.0.0.1:%d\", \"127.0.0.1:%d reuseport\", \"127.0.0.1:%d\"]\n  }\n}\n", p1, p2, p3)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ListenFDsEnv, formatFDList([]int{plain, reuse, unused, pipe[0]}))
	m := &Master{log: zerolog.Nop()}
	lns, err := m.openSockets(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer lns.closeExcept(nil)
	if _, ok := os.LookupEnv(ListenFDsEnv); ok {
		t.Error(ListenFDsEnv + " left in the environment")
	}
	if m.upgradeParent != os.Getppid() {
		t.Errorf("upgradeParent %d, want %d", m.upgradeParent, os.Getppid())
	}
	if len(lns.list) != 3 || !slices.Equal(lns.list[0].fds, []int{plain}) ||
		len(lns.list[1].fds) != 2 || lns.list[1].fds[0] != reuse || len(lns.list[2].fds) != 1 {
		t.Fatalf("sockets %v %v %v (inherited %d %d)", lns.list[0].fds, lns.list[1].fds, lns.list[2].fds, plain, reuse)
	}
	for _, fd := range []int{plain, reuse} {
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		fdf, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if fl&unix.O_NONBLOCK == 0 || fdf&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d: flags %#x, fd flags %#x", fd, fl, fdf)
		}
	}
	if isOpen(unused) {
		t.Error("the socket no address wants is still open")
	}
	if !isOpen(pipe[0]) {
		t.Error("a descriptor that is not a socket was closed")
	}
}

// TestSystemdSockets: LISTEN_FDS sockets are used when LISTEN_PID is
// ours, and the variables are removed either way.
func TestSystemdSockets(t *testing.T) {
	for _, mine := range []bool{true, false} {
		pid := os.Getpid()
		if !mine {
			pid++
		}
		t.Setenv("LISTEN_PID", strconv.Itoa(pid))
		t.Setenv("LISTEN_FDS", "0")
		t.Setenv("LISTEN_FDNAMES", "")
		in, err := takeInherited(zerolog.Nop())
		if err != nil || len(in.set.list) != 0 || in.fromMaster {
			t.Fatalf("%v %v %v", in.set, in.fromMaster, err)
		}
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			if _, ok := os.LookupEnv(v); ok {
				t.Errorf("%s left in the environment", v)
			}
		}
	}
}
