package t

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of the master/worker process model (docs/operations.md#signals): real processes,
// real signals, each under a bounded load loop that counts every failed
// connect, reset or non-2xx response.

// procsConfig serves ROOT with two workers; main adds main-context lines,
// listen options follow the address.
func procsConfig(main, listenOpts, extra string) string {
	return `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
error_log_level = "info"
worker_processes = 2
` + main + `
http {
  access_log = "{{DIR}}/logs/access.log"
  server {
    listen = ["127.0.0.1:{{PORT}}` + listenOpts + `"]
    root = "{{ROOT}}"
    location "= /status" {
      stub_status = true
      access_log = "off"
    }
` + extra + `
  }
}
`
}

// noFailuresBut fails the test when the load had failures other than on
// connections from the client ports in lost (those killed workers held).
func noFailuresBut(t *testing.T, l *load, name string, lost map[int]bool) {
	t.Helper()
	var mine, others []failure
	for _, f := range l.report(name) {
		if lost[f.port] {
			mine = append(mine, f)
		} else {
			others = append(others, f)
		}
	}
	t.Logf("%s: %d failures on the killed workers' connections, %d elsewhere", name, len(mine), len(others))
	if len(others) > 0 {
		t.Fatalf("%s: %d requests failed on connections the killed workers did not hold: %v", name, len(others), others)
	}
}

// noFailures fails the test when the load had failures.
func noFailures(t *testing.T, l *load, name string) {
	t.Helper()
	if f := l.report(name); len(f) > 0 {
		t.Fatalf("%s: %d failed requests", name, len(f))
	}
}

func TestWorkerTitlesAndPinning(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	if got := cmdline(s.masterPID()); !strings.HasPrefix(got, "tern: master process "+ternBin+" -c ") {
		t.Errorf("master title %q", got)
	}
	ws := s.waitWorkers(2, nil, 10*time.Second)
	var cpus []string
	for _, pid := range ws {
		lists := cpusAllowed(t, pid)
		// Every thread on one CPU, the same for all of the worker's
		// threads: pinned from the first instruction, not after.
		if len(lists) != 1 || strings.ContainsAny(lists[0], ",-") {
			t.Errorf("worker %d threads on %v, want one CPU for all", pid, lists)
		}
		cpus = append(cpus, lists...)
		// The worker names itself as it starts: give it a moment.
		var comm []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if comm, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "tern" {
				break
			}
		}
		if strings.TrimSpace(string(comm)) != "tern" {
			t.Errorf("worker %d comm %q", pid, comm)
		}
	}
	if n := len(cpusAllowed(t, s.masterPID())); n != 1 {
		t.Errorf("master threads have %d different masks", n)
	}
	if runtimeCPUs() >= 2 && len(cpus) == 2 && cpus[0] == cpus[1] {
		t.Errorf("both workers on CPU %s, want worker i on the i-th CPU", cpus[0])
	}
	t.Logf("workers %v on CPUs %v", ws, cpus)
}

// runtimeCPUs counts the CPUs this test may run on.
func runtimeCPUs() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			n := 0
			for _, part := range strings.Split(strings.TrimSpace(v), ",") {
				lo, hi, found := strings.Cut(part, "-")
				a, _ := strconv.Atoi(lo)
				b := a
				if found {
					b, _ = strconv.Atoi(hi)
				}
				n += b - a + 1
			}
			return n
		}
	}
	return 1
}

// TestAcceptModesSpreadLoad runs a load against two workers in each
// accept mode and checks that both served a fair part of it.
func TestAcceptModesSpreadLoad(t *testing.T) {
	modes := []struct {
		name, main, listen string
	}{
		{"accept_mutex", `accept_mutex = true
accept_mutex_delay = "50ms"`, ""},
		{"epollexclusive", "accept_mutex = false", ""},
		{"reuseport", "", " reuseport"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, procsConfig(m.main, m.listen, ""))
			s.file("index.html", "hello\n")
			s.start()
			ws := s.waitWorkers(2, nil, 10*time.Second)
			l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
			time.Sleep(3 * time.Second)
			l.halt()
			noFailures(t, l, m.name)
			s.signal(syscall.SIGQUIT)
			s.wait(15 * time.Second)
			by := accessPIDs(t, filepath.Join(s.dir, "logs/access.log"))
			total := 0
			for _, n := range by {
				total += n
			}
			t.Logf("%s: requests by worker %v", m.name, by)
			if int64(total) != l.ok.Load() {
				t.Errorf("access log has %d requests, load counted %d", total, l.ok.Load())
			}
			for _, pid := range ws {
				// Fair enough: each worker at least a tenth.
				if by[pid]*10 < total {
					t.Errorf("worker %d served %d of %d requests", pid, by[pid], total)
				}
			}
		})
	}
}

var stubStatusRE = regexp.MustCompile(`^Active connections: (\d+) \nserver accepts handled requests\n (\d+) (\d+) (\d+) \nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n$`)

// TestStubStatus checks nginx's exact format and that the counters are
// summed over the workers.
func TestStubStatus(t *testing.T) {
	s := newServer(t, procsConfig("", " reuseport", ""))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	const n = 40
	for i := 0; i < n; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	idle := s.dial()
	idle.do(req("GET", "/")) // stays open, idle
	c := s.dial()
	// The gauges are the workers' own: a worker that wrote its last
	// response may not yet have counted that connection closed when
	// another worker answers /status. Ask again until they settle.
	var r *response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r = c.do(req("GET", "/status"))
		m := stubStatusRE.FindStringSubmatch(string(r.body))
		if r.status != 200 || r.header("Content-Type") != "text/plain" || m == nil {
			t.Fatalf("%v\n%q", r, r.body)
		}
		v := make([]int, len(m))
		for i := 1; i < len(m); i++ {
			v[i], _ = strconv.Atoi(m[i])
		}
		active, accepts, handled, requests, reading, writing, waiting := v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		if accepts >= n+2 && handled == accepts && requests >= n+2 && active >= 2 && writing == 1 && reading == 0 && waiting == active-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %q", r.body)
		}
	}
	// reuseport spreads connections by hash: with 40 of them both
	// workers almost surely served some, and the sum covers both.
	t.Logf("%q from one of %v", r.body, ws)
	if r := c.do(req("POST", "/status", "Content-Length: 0")); r.status != 405 {
		t.Fatalf("POST: %v", r)
	}
}

// TestReloads reloads 20 times, each with another root, under load: no
// request fails and the new content is served after each reload.
func TestReloads(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	const reloads = 20
	for i := 0; i <= reloads; i++ {
		s.write(fmt.Sprintf("root%d/index.html", i), fmt.Sprintf("generation %d\n", i))
	}
	cfg := func(i int) string {
		return strings.Replace(procsConfig("", "", ""), `root = "{{ROOT}}"`, fmt.Sprintf(`root = "{{DIR}}/root%d"`, i), 1)
	}
	rewrite := func(i int) {
		s.write("tern.hcl", strings.NewReplacer("{{PORT}}", strconv.Itoa(s.port), "{{DIR}}", s.dir).Replace(cfg(i)))
	}
	rewrite(0)
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	gen := regexp.MustCompile(`^generation \d+\n$`)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return gen.Match(b) })
	for i := 1; i <= reloads; i++ {
		rewrite(i)
		s.signal(syscall.SIGHUP)
		want := fmt.Sprintf("generation %d\n", i)
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := s.get(req("GET", "/", "Connection: close"))
			if string(r.body) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d: still %q", i, r.body)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(150 * time.Millisecond) // let the load run on the new workers
	}
	l.halt()
	noFailures(t, l, "20 reloads")
	// The old generations drain: two workers are left.
	deadline := time.Now().Add(10 * time.Second)
	for len(children(s.masterPID())) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("workers left: %v", children(s.masterPID()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadInvalid: an invalid configuration changes nothing, and the
// diagnostics are in the error log.
func TestReloadInvalid(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "old\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "old\n" })
	time.Sleep(300 * time.Millisecond)
	s.write("tern.hcl", "worker_processes = 2\nhttp {\n  server {\n    listen = [\"127.0.0.1:1\"]\n    bogus = 1\n  }\n}\n")
	s.signal(syscall.SIGHUP)
	errLog := filepath.Join(s.dir, "logs/error.log")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(errLog)
		if strings.Contains(string(b), "reload failed") {
			if !strings.Contains(string(b), "tern.hcl:5,5") || !strings.Contains(string(b), "bogus") {
				t.Fatalf("no diagnostics in the error log:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload failure logged:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "invalid reload")
	if r := s.get(req("GET", "/")); string(r.body) != "old\n" {
		t.Fatalf("%v", r)
	}
	if now := s.workers(); !slices.Equal(now, ws) {
		t.Fatalf("workers changed from %v to %v", ws, now)
	}
}

// TestKillWorker kills a worker with SIGKILL under load, once while it
// holds the accept lock and once while it does not: a new worker takes
// its place within a second, no connection of the other worker fails,
// and accepting goes on.
func TestKillWorker(t *testing.T) {
	s := newServer(t, procsConfig(`accept_mutex_delay = "100ms"`, "", ""))
	s.file("index.html", "hello\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
	lost := map[int]bool{} // client ports of connections the killed workers held
	for _, holder := range []bool{true, false} {
		time.Sleep(500 * time.Millisecond)
		before := s.workers()
		// Freeze a worker in the state wanted, so that what it holds is
		// known when it dies.
		var victim int
		for try := 0; victim == 0; try++ {
			if try == 200 {
				t.Fatalf("no worker found with holder=%v", holder)
			}
			pid := before[try%len(before)]
			stopSignal(t, pid, syscall.SIGSTOP)
			// kill returns before the process stops: until it has,
			// it may still accept or take the lock.
			waitStopped(t, pid)
			if (s.acceptLockHolder() == pid) == holder {
				victim = pid
				break
			}
			stopSignal(t, pid, syscall.SIGCONT)
			time.Sleep(7 * time.Millisecond)
		}
		for p := range s.clientPortsOf(victim) {
			lost[p] = true
		}
		killed := time.Now()
		stopSignal(t, victim, syscall.SIGKILL)
		others := slices.DeleteFunc(slices.Clone(before), func(p int) bool { return p == victim })
		s.waitWorkers(1, others, 5*time.Second)
		respawn := time.Since(killed)
		t.Logf("holder=%v: worker %d killed, replaced in %v", holder, victim, respawn)
		if respawn > time.Second {
			t.Errorf("respawn took %v", respawn)
		}
		// The lock is not stuck: new connections are answered at once.
		for i := 0; i < 10; i++ {
			c := s.dial()
			c.c.SetDeadline(time.Now().Add(2 * time.Second))
			if r := c.do(req("GET", "/", "Connection: close")); r.status != 200 {
				t.Fatal(r)
			}
		}
		if h := s.acceptLockHolder(); h == victim {
			t.Fatalf("the accept lock is still held by the dead worker %d", h)
		}
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailuresBut(t, l, "kill -9", lost)
}

// TestQuitDuringBigDownload: QUIT while a 1 GiB response is in flight
// lets it complete byte-exact, then the master exits and removes its
// pid file.
func TestQuitDuringBigDownload(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	const size = 1 << 30
	path := filepath.Join(s.root, "big.bin")
	want := sparseFile(t, path, size)
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 2, 2, func(b []byte) bool { return string(b) == "hello\n" })
	c := s.dial()
	c.send(req("GET", "/big.bin"))
	r := &response{}
	c.c.SetReadDeadline(time.Now().Add(120 * time.Second))
	if err := readHead(c.br, r); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(r.header("Content-Length"), 10, 64)
	h := newHasher()
	if err := h.copyN(c.br, 16<<20); err != nil { // under way
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	l.halt()
	noFailures(t, l, "before QUIT")
	s.signal(syscall.SIGQUIT)
	if err := h.copyN(c.br, n-16<<20); err != nil {
		t.Fatalf("download cut after QUIT: %v", err)
	}
	if n != size || h.sum() != want {
		t.Fatalf("download: %d bytes, hash %s, want %d %s", n, h.sum(), size, want)
	}
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("master exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "logs/tern.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
}

// TestReopenUnderLoad: USR1 after renaming the access log makes every
// worker open a new one, and no line is lost between the two.
func TestReopenUnderLoad(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
	time.Sleep(500 * time.Millisecond)
	log := filepath.Join(s.dir, "logs/access.log")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	waitFile(t, log, 5*time.Second, "USR1 did not create a new access log")
	time.Sleep(500 * time.Millisecond)
	l.halt()
	noFailures(t, l, "USR1")
	s.signal(syscall.SIGQUIT)
	s.wait(15 * time.Second)
	old, cur := readLines(t, log+".1"), readLines(t, log)
	t.Logf("USR1: %d lines in the renamed log, %d in the new one", len(old), len(cur))
	if len(cur) == 0 || int64(len(old)+len(cur)) != l.ok.Load() {
		t.Fatalf("%d + %d lines, %d requests", len(old), len(cur), l.ok.Load())
	}
}

// TestWinch: WINCH stops the workers and keeps the master; HUP starts
// them again.
func TestWinch(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	s.signal(syscall.SIGWINCH)
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("worker %d still alive after WINCH", pid)
		}
	}
	if len(children(s.masterPID())) != 0 {
		t.Fatalf("workers after WINCH: %v", children(s.masterPID()))
	}
	s.signal(syscall.SIGHUP)
	s.waitWorkers(2, ws, 10*time.Second)
	if r := s.get(req("GET", "/")); r.status != 200 {
		t.Fatal(r)
	}
}

// TestMasterGone: a worker whose master died stops by itself.
func TestMasterGone(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	s.cmd.Process.Kill()
	s.wait(5 * time.Second)
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("worker %d outlived its master", pid)
		}
	}
}

// TestSignalCommands: tern -s reaches the master through the pid file,
// and says clearly when no master runs.
func TestSignalCommands(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	cfg := filepath.Join(s.dir, "tern.hcl")
	code, _, errOut := runTern(t, s.dir, "-s", "reload", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "no running master") {
		t.Fatalf("-s reload without a master: %d %q", code, errOut)
	}
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	if code, _, errOut := runTern(t, s.dir, "-s", "reload", "-c", cfg); code != 0 {
		t.Fatalf("-s reload: %d %q", code, errOut)
	}
	s.waitWorkers(2, ws, 10*time.Second)
	if code, _, errOut := runTern(t, s.dir, "-s", "quit", "-c", cfg); code != 0 {
		t.Fatalf("-s quit: %d %q", code, errOut)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	code, _, errOut = runTern(t, s.dir, "-s", "stop", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "no running master") {
		t.Fatalf("-s stop after exit: %d %q", code, errOut)
	}
}
