//go:build linux

package master

import (
	"errors"
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
			os.Exit(ExitCannotStart)
		}
		os.Exit(fakeWorker(p))
	}
	if _, ok := os.LookupEnv(ListenFDsEnv); ok {
		os.Exit(fakeNewMaster())
	}
	os.Exit(m.Run())
}

func fakeWorker(p WorkerParams) int {
	ch := WorkerChannel()
	fail := func(what string, err error) int {
		ch.Fail(fmt.Sprintf("%s: %v", what, err))
		return ExitCannotStart
	}
	if _, err := event.MapShared(FDShared); err != nil {
		return fail("shared memory", err)
	}
	cfg, err := ReadSnapshot(FDConfig)
	if err == nil && len(cfg.HTTP.Addrs) != p.Listeners {
		err = fmt.Errorf("%d listeners for %d addresses", p.Listeners, len(cfg.HTTP.Addrs))
	}
	if err != nil {
		return fail("snapshot", err)
	}
	for _, fd := range InheritedListeners(p.Listeners) {
		if _, err := unix.Getsockname(fd); err != nil {
			return fail("listener", err)
		}
	}
	logs, err := InheritedLogs(cfg, p)
	if err != nil {
		return fail("logs", err)
	}
	for path, f := range logs {
		if _, err := fmt.Fprintf(f, "worker %d writes %s\n", os.Getpid(), path); err != nil {
			return fail("logs", err)
		}
	}
	SetTitle(WorkerTitle)
	if os.Getenv("TERN_FAKE_WORKER_FAILS") != "" {
		return fail("told to", errors.New("TERN_FAKE_WORKER_FAILS"))
	}
	if os.Getenv("TERN_FAKE_WORKER_SLOW") != "" {
		// A worker whose start is slow (a loaded machine, a large
		// configuration) does not catch signals yet: Go's runtime
		// turns QUIT into a goroutine dump until Notify.
		time.Sleep(500 * time.Millisecond)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGQUIT, syscall.SIGTERM)
	go func() {
		var b [1]byte
		unix.Read(FDParent, b[:]) // EOF: the master is gone
		sigs <- syscall.SIGQUIT
	}()
	ch.Ready()
	<-sigs
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

// wait waits until the log has n lines containing s.
func (l *bufLog) wait(t *testing.T, s string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d lines with %q in the log", n, s), func() bool { return strings.Count(l.String(), s) >= n })
}

// runMaster runs a master in this process on a configuration with two
// workers and an access log, and returns its directory, its log and its
// exit code's channel.
func runMaster(t *testing.T) (string, *bufLog, chan int) {
	dir := t.TempDir()
	port := freePort(t)
	file := filepath.Join(dir, "tern.hcl")
	src := fmt.Sprintf("pid = %q\nerror_log = \"stderr\"\nworker_processes = 2\nhttp {\n  access_log = %q\n  server {\n    listen = [\"127.0.0.1:%d\"]\n  }\n}\n",
		filepath.Join(dir, "tern.pid"), filepath.Join(dir, "access.log"), port)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file, "")
	if err != nil {
		t.Fatal(err)
	}
	log := &bufLog{}
	done := make(chan int, 1)
	go func() {
		done <- Run(Options{
			Config:  cfg,
			Load:    func() (*conf.Config, error) { return conf.Load(file, "") },
			OpenLog: func(string) (LogFile, error) { return log, nil },
			Stderr:  log,
		})
	}()
	return dir, log, done
}

// quitMaster stops the master with QUIT and checks that it leaves
// nothing behind.
func quitMaster(t *testing.T, dir string, done chan int) {
	t.Helper()
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

// TestMasterLoop runs the master in this process (with the race
// detector in CI: signals arrive on a channel, spawns run on locked
// threads): start, respawn after SIGKILL, reload, quit.
func TestMasterLoop(t *testing.T) {
	dir, log, done := runMaster(t)
	ws := waitChildren(t, 2, nil)
	log.wait(t, "tern started", 1)
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
	log.wait(t, "crashed, respawning", 1)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitChildren(t, 2, ws)
	log.wait(t, "reconfigured", 1)
	st, err := ReadReloadStatus(filepath.Join(dir, "tern.pid"))
	if err != nil || st.Master != os.Getpid() || st.Seq != 1 || st.State != "ok" || st.Workers != 2 {
		t.Fatalf("reload status %+v %v", st, err)
	}
	// The workers wrote into the access log the master handed them.
	b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	if n := strings.Count(string(b), "writes "+filepath.Join(dir, "access.log")); n != 5 {
		t.Fatalf("%d workers wrote in the access log, want 5:\n%s", n, b)
	}
	quitMaster(t, dir, done)
}

// TestStopBeforeReady: a worker told to stop before it reported ready
// gets the signal once it has: it exits as told, not killed by a QUIT
// it could not catch yet.
func TestStopBeforeReady(t *testing.T) {
	t.Setenv("TERN_FAKE_WORKER_SLOW", "1")
	dir, log, done := runMaster(t)
	waitChildren(t, 2, nil)
	quitMaster(t, dir, done)
	if n := strings.Count(log.String(), "exited with status 0"); n != 2 {
		t.Fatalf("%d workers exited with status 0, want 2:\n%s", n, log.String())
	}
}

// TestReloadWorkersFail: a reload whose new workers cannot start is
// given up, the old workers serve on, and the status file says why.
func TestReloadWorkersFail(t *testing.T) {
	dir, log, done := runMaster(t)
	ws := waitChildren(t, 2, nil)
	log.wait(t, "tern started", 1)
	t.Setenv("TERN_FAKE_WORKER_FAILS", "1")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	log.wait(t, "reload failed", 1)
	st, err := ReadReloadStatus(filepath.Join(dir, "tern.pid"))
	if err != nil || st.State != "failed" || !strings.Contains(st.Reason, "TERN_FAKE_WORKER_FAILS") {
		t.Fatalf("reload status %+v %v", st, err)
	}
	// The new workers are gone, the old ones alive.
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(childrenOf(os.Getpid()), ws); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("workers %v, want the old ones %v", childrenOf(os.Getpid()), ws)
		}
	}
	quitMaster(t, dir, done)
}

// TestStartWorkersFail: a start whose workers cannot start ends with
// exit status 1 and the reason.
func TestStartWorkersFail(t *testing.T) {
	t.Setenv("TERN_FAKE_WORKER_FAILS", "1")
	_, log, done := runMaster(t)
	select {
	case code := <-done:
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the master did not give up")
	}
	log.wait(t, "tern: start failed: a new worker exited with status 3 (cannot start): told to: TERN_FAKE_WORKER_FAILS", 1)
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

// TestBackoff: the first death of a worker index is replaced at once;
// each next one that comes within stableAfter of the worker's ready
// report (or before it) waits 100 ms, doubling up to 10 s; a worker that
// served for stableAfter starts the count again.
func TestBackoff(t *testing.T) {
	m := &Master{}
	g := &generation{fails: make([]int, 2)}
	quick := &proc{index: 1, gen: g, readyAt: time.Now()}
	never := &proc{index: 1, gen: g}
	stable := &proc{index: 1, gen: g, readyAt: time.Now().Add(-2 * stableAfter)}
	ms := time.Millisecond
	for i, c := range []struct {
		p    *proc
		want time.Duration
	}{
		{quick, 0}, {quick, 100 * ms}, {never, 200 * ms}, {quick, 400 * ms}, {quick, 800 * ms},
		{quick, 1600 * ms}, {quick, 3200 * ms}, {quick, 6400 * ms}, {quick, backoffMax}, {quick, backoffMax},
		{stable, 0}, {quick, 100 * ms},
	} {
		if got := m.backoff(c.p); got != c.want {
			t.Errorf("%d: %v, want %v", i, got, c.want)
		}
	}
	if g.fails[0] != 0 {
		t.Errorf("index 0 counted %d deaths of index 1", g.fails[0])
	}
}

// TestListenerBuffers: sndbuf= and rcvbuf= are set on a new listening
// socket, and a reload that changes them sets them on the socket it keeps,
// as nginx sets them again on every configuration cycle. The kernel
// doubles the value (socket(7)), after capping it at wmem_max or
// rmem_max.
func TestListenerBuffers(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	load := func(opts string) *conf.Config {
		file := filepath.Join(dir, "tern.hcl")
		os.WriteFile(file, []byte(fmt.Sprintf("http {\n  server {\n    listen = [\"127.0.0.1:%d %s\"]\n  }\n}\n", port, opts)), 0o644)
		cfg, err := conf.Load(file, "")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	capped := func(sysctl string, v int) int {
		b, err := os.ReadFile("/proc/sys/net/core/" + sysctl)
		if err != nil {
			t.Skip(err)
		}
		max, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return 2 * min(v, max)
	}
	check := func(s *listenSet, snd, rcv int) {
		t.Helper()
		fd := s.list[0].fds[0]
		if got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF); got != capped("wmem_max", snd) {
			t.Errorf("SO_SNDBUF %d, want %d", got, capped("wmem_max", snd))
		}
		if got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); got != capped("rmem_max", rcv) {
			t.Errorf("SO_RCVBUF %d, want %d", got, capped("rmem_max", rcv))
		}
	}
	s1, err := openListeners(load("sndbuf=64k rcvbuf=32k"), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(s1, 64<<10, 32<<10)
	s2, err := openListeners(load("sndbuf=96k rcvbuf=48k"), 1, s1)
	if err != nil {
		t.Fatal(err)
	}
	if s2.list[0].fds[0] != s1.list[0].fds[0] {
		t.Fatal("the reload opened another socket")
	}
	check(s2, 96<<10, 48<<10)

	// A connection accepted from it inherits them.
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nfd, _, err := unix.Accept(s2.list[0].fds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	if got, _ := unix.GetsockoptInt(nfd, unix.SOL_SOCKET, unix.SO_SNDBUF); got != capped("wmem_max", 96<<10) {
		t.Errorf("accepted SO_SNDBUF %d, want %d", got, capped("wmem_max", 96<<10))
	}
	s2.closeExcept(nil)
}
