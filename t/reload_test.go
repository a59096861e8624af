package t

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of reloads that must not take the server down: whatever a new
// configuration gets wrong, -t says so, tern -s reload exits non-zero
// with the reason, and the running master keeps its workers.

// reloadConfig is procsConfig with metrics, rendered for s with main
// lines added and the access log at accessLog.
func (s *server) reloadConfig(main, accessLog string) string {
	cfg := procsConfig(main, "", metricsLocation)
	cfg = strings.Replace(cfg, `access_log = "{{DIR}}/logs/access.log"`, `access_log = "`+accessLog+`"`, 1)
	return strings.NewReplacer("{{PORT}}", strconv.Itoa(s.port), "{{ROOT}}", s.root, "{{DIR}}", s.dir).Replace(cfg)
}

// waitLogLine waits until the error log has n lines with message msg.
func (s *server) waitLogLine(msg string, n int) []map[string]any {
	s.t.Helper()
	path := filepath.Join(s.dir, "logs/error.log")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines := errorLogLines(s.t.(*testing.T), path, msg)
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			s.t.Fatalf("%d error log lines %q after 15 s, want %d:\n%s", len(lines), msg, n, b)
		}
	}
}

// TestReloadUnopenableLog: an access_log that cannot be opened (here a
// directory: its parent exists and may be written, so only opening it
// tells) fails -t and tern -s reload, with the path and the reason, and
// a HUP sent anyway changes nothing: the old workers serve on, no
// request fails.
func TestReloadUnopenableLog(t *testing.T) {
	s := newServer(t, procsConfig("", "", metricsLocation))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
	bad := filepath.Join(s.dir, "logs")
	cfg := s.write("tern.hcl", s.reloadConfig("", bad))

	code, _, errOut := runTern(t, s.dir, "-t", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "is a directory") || !strings.Contains(errOut, "test failed") {
		t.Fatalf("-t: exit %d %q", code, errOut)
	}
	code, _, errOut = runTern(t, s.dir, "-s", "reload", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "reload refused") {
		t.Fatalf("-s reload: exit %d %q", code, errOut)
	}
	// The master refuses it too (what a plain HUP, or systemd's
	// ExecReload=kill -HUP, gets).
	s.signal(syscall.SIGHUP)
	failed := s.waitLogLine("reload failed, still running the old configuration", 1)
	if !strings.Contains(failed[0]["reason"].(string), bad) {
		t.Fatalf("reload failure logged as %v", failed[0])
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "reload with an unopenable access_log")
	if now := s.workers(); !slices.Equal(now, ws) {
		t.Fatalf("workers changed from %v to %v", ws, now)
	}
	m := s.metrics(t)
	if m[`tern_reloads_total{result="failed"}`] != 1 || m[`tern_reloads_total{result="ok"}`] != 0 {
		t.Fatalf("reload counters %v %v", m[`tern_reloads_total{result="failed"}`], m[`tern_reloads_total{result="ok"}`])
	}
}

// TestReloadWorkersCannotStart: a configuration that passes -t but
// whose workers cannot start (worker_rlimit_nofile too low for a worker
// to make its event loop) is refused by the running master once the new
// workers fail, before the old ones are touched: tern -s reload exits 1
// with the workers' reason, and the old workers serve on. The next good
// reload goes through.
func TestReloadWorkersCannotStart(t *testing.T) {
	s := newServer(t, procsConfig("", "", metricsLocation))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
	access := filepath.Join(s.dir, "logs/access.log")
	cfg := s.write("tern.hcl", s.reloadConfig("worker_rlimit_nofile = 4", access))
	if code, _, errOut := runTern(t, s.dir, "-t", "-c", cfg); code != 0 {
		t.Fatalf("-t: exit %d %q", code, errOut)
	}
	code, _, errOut := runTern(t, s.dir, "-s", "reload", "-c", cfg)
	t.Logf("-s reload: %q", errOut)
	if code != 1 || !strings.Contains(errOut, "reload failed") || !strings.Contains(errOut, "cannot start") || !strings.Contains(errOut, "too many open files") {
		t.Fatalf("-s reload: exit %d %q", code, errOut)
	}
	time.Sleep(300 * time.Millisecond)
	if now := s.workers(); !slices.Equal(now, ws) {
		t.Fatalf("workers changed from %v to %v", ws, now)
	}
	cfg = s.write("tern.hcl", s.reloadConfig("", access))
	if code, _, errOut := runTern(t, s.dir, "-s", "reload", "-c", cfg); code != 0 || errOut != "" {
		t.Fatalf("good -s reload: exit %d %q", code, errOut)
	}
	s.waitWorkers(2, ws, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "a reload whose workers cannot start, then a good one")
	m := s.metrics(t)
	if m[`tern_reloads_total{result="failed"}`] != 1 || m[`tern_reloads_total{result="ok"}`] != 1 || m["tern_worker_respawns_total"] != 0 {
		t.Fatalf("reloads failed %v ok %v, respawns %v", m[`tern_reloads_total{result="failed"}`], m[`tern_reloads_total{result="ok"}`], m["tern_worker_respawns_total"])
	}
}

// TestReopenRightAfterReload: USR1 while a reload's workers are still
// starting reaches them through the master (a USR1 signal before a
// worker set up its handler would end it, and it would be respawned),
// and a USR1 sent to one worker makes the master reopen the logs for
// all: workers never open a log themselves.
func TestReopenRightAfterReload(t *testing.T) {
	s := newServer(t, procsConfig("", "", metricsLocation))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	const reloads = 3
	for i := 0; i < reloads; i++ {
		s.signal(syscall.SIGHUP)
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			s.signal(syscall.SIGUSR1)
		}
		s.waitLogLine("reconfigured", i+1)
		ws = s.waitWorkers(2, ws, 10*time.Second)
	}
	// Two workers at start and two per reload, none respawned.
	if n := len(errorLogLines(t, filepath.Join(s.dir, "logs/error.log"), "worker process started")); n != 2+2*reloads {
		t.Fatalf("%d workers started, want %d", n, 2+2*reloads)
	}
	if m := s.metrics(t); m["tern_worker_crashes_total"] != 0 {
		t.Fatalf("%v workers died", m["tern_worker_crashes_total"])
	}
	log := filepath.Join(s.dir, "logs/access.log")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	stopSignal(t, ws[0], syscall.SIGUSR1)
	waitFile(t, log, 5*time.Second, "USR1 to a worker did not make the master reopen the access log")
	time.Sleep(200 * time.Millisecond) // the workers switch as the master hands the files over
	const n = 20
	for i := 0; i < n; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	s.signal(syscall.SIGQUIT)
	s.wait(15 * time.Second)
	if got := len(readLines(t, log)); got != n {
		t.Fatalf("%d lines in the new access log, want %d", got, n)
	}
}

// TestReloadKeepAliveInFlight: a response whose head promised keep-alive
// and that is still being sent when a reload retires its worker ends,
// and the client's next request on that connection is answered (with
// Connection: close), not met by a close.
func TestReloadKeepAliveInFlight(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	const size = 64 << 20
	sparseFile(t, filepath.Join(s.root, "big.bin"), size)
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	c := s.dial()
	c.send(req("GET", "/big.bin"))
	r := &response{}
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := readHead(c.br, r); err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || r.header("Connection") == "close" {
		t.Fatalf("%v", r)
	}
	h := newHasher()
	if err := h.copyN(c.br, 1<<20); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitWorkers(2, ws, 10*time.Second)
	// Until the old workers have taken their QUIT: at load average 8 a
	// fixed 200 ms was once not enough, and the next request was served
	// with keep-alive by a worker that had not yet been told.
	waitQuitting(t, ws, 10*time.Second)
	if err := h.copyN(c.br, size-1<<20); err != nil {
		t.Fatalf("the response was cut: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // a client that takes its time
	r = c.do(req("GET", "/"))
	if r.status != 200 || string(r.body) != "hello\n" || r.header("Connection") != "close" {
		t.Fatalf("next request on the connection: %v %q", r, r.body)
	}
	c.expectClosed(5 * time.Second)
}
