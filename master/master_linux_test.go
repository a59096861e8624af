//go:build linux

package master

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// TestMain doubles as the worker: the master under test starts this test
// binary (/proc/self/exe) in the worker role, where it checks the
// hand-off and waits to be told to stop; and as the new master of an
// upgrade (os.Executable() is this binary too), see fakeNewMaster.
func TestMain(m *testing.M) {
	if p, ok, err := WorkerRole(); ok {
		if err != nil {
			os.Exit(fatalExit)
		}
		os.Exit(fakeWorker(p))
	}
	if _, ok := os.LookupEnv(ListenFDsEnv); ok {
		os.Exit(fakeNewMaster())
	}
	os.Exit(m.Run())
}

func fakeWorker(p WorkerParams) int {
	if _, err := event.MapShared(FDShared); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return fatalExit
	}
	cfg, err := ReadSnapshot(FDConfig)
	if err != nil || len(cfg.HTTP.Addrs) != p.Listeners {
		fmt.Fprintln(os.Stderr, "snapshot:", err)
		return fatalExit
	}
	for _, fd := range InheritedListeners(p.Listeners) {
		if _, err := unix.Getsockname(fd); err != nil {
			return fatalExit
		}
	}
	SetTitle(WorkerTitle)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGQUIT, syscall.SIGTERM)
	go func() {
		var b [1]byte
		unix.Read(FDParent, b[:]) // EOF: the master is gone
		ch <- syscall.SIGQUIT
	}()
	<-ch
	return 0
}

type nopLog struct{ *os.File }

func (nopLog) Reopen() error { return nil }
func (nopLog) Close() error  { return nil }

func childrenOf(ppid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(ppid) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

func waitChildren(t *testing.T, n int, not []int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []int
		for _, p := range childrenOf(os.Getpid()) {
			if !slices.Contains(not, p) {
				got = append(got, p)
			}
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("children %v, want %d new", childrenOf(os.Getpid()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMasterLoop runs the master in this process (with the race
// detector in CI: signals arrive on a channel, spawns run on locked
// threads): start, respawn after SIGKILL, reload, quit.
func TestMasterLoop(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	file := filepath.Join(dir, "tern.hcl")
	src := fmt.Sprintf("pid = %q\nerror_log = \"stderr\"\nworker_processes = 2\nhttp {\n  server {\n    listen = [\"127.0.0.1:%d\"]\n  }\n}\n", filepath.Join(dir, "tern.pid"), port)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file, "")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		done <- Run(Options{
			Config:  cfg,
			Load:    func() (*conf.Config, error) { return conf.Load(file, "") },
			OpenLog: func(string) (LogFile, error) { return nopLog{os.Stderr}, nil },
			Stderr:  os.Stderr,
		})
	}()
	ws := waitChildren(t, 2, nil)
	if pid, err := ReadPID(filepath.Join(dir, "tern.pid")); err != nil || pid != os.Getpid() {
		t.Fatalf("pid file: %d %v", pid, err)
	}
	for i, pid := range ws {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, pid))
		if !strings.Contains(string(b), "Cpus_allowed_list:\t"+strconv.Itoa(CPUs()[i%len(CPUs())])+"\n") {
			t.Errorf("worker %d not pinned to CPU %d", pid, CPUs()[i%len(CPUs())])
		}
	}
	syscall.Kill(ws[0], syscall.SIGKILL)
	ws = append(waitChildren(t, 1, ws), ws[1])
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitChildren(t, 2, ws)
	syscall.Kill(os.Getpid(), syscall.SIGQUIT)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the master did not exit on QUIT")
	}
	if _, err := os.Stat(filepath.Join(dir, "tern.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
	if c := childrenOf(os.Getpid()); len(c) != 0 {
		t.Fatalf("children left: %v", c)
	}
}

func TestWorkerCPUs(t *testing.T) {
	cpus := []int{2, 5}
	list := conf.Affinity{Mode: conf.AffinityList, CPUs: [][]int{{0, 1}, {3}}}
	cases := []struct {
		a     conf.Affinity
		index int
		want  []int
	}{
		{conf.Affinity{Mode: conf.AffinityAuto}, 0, []int{2}},
		{conf.Affinity{Mode: conf.AffinityAuto}, 1, []int{5}},
		{conf.Affinity{Mode: conf.AffinityAuto}, 2, []int{2}},
		{conf.Affinity{Mode: conf.AffinityOff}, 1, nil},
		{list, 0, []int{0, 1}},
		{list, 1, []int{3}},
		{list, 7, []int{3}},
	}
	for i, c := range cases {
		if got := workerCPUs(c.a, c.index, cpus); !slices.Equal(got, c.want) {
			t.Errorf("%d: %v, want %v", i, got, c.want)
		}
	}
}

func TestWorkerParamsRoundTrip(t *testing.T) {
	p := WorkerParams{Slot: 3, Index: 1, Gen: 7, Listeners: 2, Workers: 4}
	t.Setenv(WorkerEnv, p.String())
	got, ok, err := WorkerRole()
	if !ok || err != nil || got != p {
		t.Fatalf("%v %v %v", got, ok, err)
	}
	t.Setenv(WorkerEnv, "slot=x")
	if _, ok, err := WorkerRole(); !ok || err == nil {
		t.Fatal("bad value accepted")
	}
}

// TestListenersReused: a reload keeps the sockets of addresses that stay
// (same fd, nothing re-bound), opens new ones, and one reuseport socket
// per worker.
func TestListenersReused(t *testing.T) {
	dir := t.TempDir()
	load := func(listen string) *conf.Config {
		file := filepath.Join(dir, "tern.hcl")
		os.WriteFile(file, []byte("http {\n  server {\n    listen = ["+listen+"]\n  }\n}\n"), 0o644)
		cfg, err := conf.Load(file, "")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := load(fmt.Sprintf(`"127.0.0.1:%d", "127.0.0.2:%d reuseport"`, freePort(t), freePort(t)))
	s1, err := openListeners(a, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.list) != 2 || len(s1.list[0].fds) != 1 || len(s1.list[1].fds) != 3 {
		t.Fatalf("fds %v %v", s1.list[0].fds, s1.list[1].fds)
	}
	if w := s1.forWorker(2); w[0] != s1.list[0].fds[0] || w[1] != s1.list[1].fds[2] {
		t.Fatalf("worker 2 gets %v", w)
	}
	s2, err := openListeners(a, 2, s1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s2.FDs(), s1.FDs()[:3]) {
		t.Fatalf("reload opened %v, had %v", s2.FDs(), s1.FDs())
	}
	s1.closeExcept(s2)
	if _, err := unix.Getsockname(s1.list[1].fds[2]); err == nil {
		t.Fatal("the third reuseport socket was not closed")
	}
	for _, fd := range s2.FDs() {
		if _, err := unix.Getsockname(fd); err != nil {
			t.Fatalf("fd %d closed: %v", fd, err)
		}
	}
	s2.closeExcept(nil)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
