package t

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of the worker exit protocol: a worker that crashes is replaced,
// whatever its exit status; the deaths are logged at alert and counted
// in metrics.

// metricsLocation is a procsConfig extra: metrics at /metrics.
const metricsLocation = `
    location "= /metrics" {
      metrics = true
      access_log = "off"
    }`

// metrics fetches /metrics and parses it.
func (s *server) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	r := s.get(req("GET", "/metrics", "Connection: close"))
	if r.status != 200 {
		t.Fatalf("/metrics: %v", r)
	}
	return parseMetrics(t, string(r.body))
}

// errorLogLines returns the error log's lines whose message is msg.
func errorLogLines(t *testing.T, path, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range readLines(t, path) {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// waitWorkerReady waits for the master's line saying that worker pid
// reported ready, and returns when it saw it: a worker's age, for the
// master's back-off, counts from then (a loaded machine can take most
// of a second from the process's start to its loop).
func (s *server) waitWorkerReady(t *testing.T, pid int) time.Time {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		for _, e := range errorLogLines(t, filepath.Join(s.dir, "logs/error.log"), "worker process ready") {
			if e["worker"] == float64(pid) {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d did not report ready within 10 s", pid)
		}
	}
}

// abortWorker kills pid with SIGABRT (the Go runtime prints a traceback
// and exits with status 2, as for a panic) and returns the client ports
// of the connections it held. So that what it holds is known, the worker
// is stopped first, and the signal goes to the thread of its event loop
// (the one blocked in epoll_wait, which alone accepts): the thread runs
// the runtime's crash handler as soon as it is continued, and never
// accepts again.
func (s *server) abortWorker(t *testing.T, pid int) map[int]bool {
	t.Helper()
	for try := 0; ; try++ {
		stopSignal(t, pid, syscall.SIGSTOP)
		waitStopped(t, pid)
		if tid := loopThread(pid); tid != 0 {
			ports := s.clientPortsOf(pid)
			if err := syscall.Tgkill(pid, tid, syscall.SIGABRT); err != nil {
				t.Fatal(err)
			}
			stopSignal(t, pid, syscall.SIGCONT)
			if !waitGone(pid, 10*time.Second) {
				t.Fatalf("worker %d alive 10 s after SIGABRT", pid)
			}
			return ports
		}
		if try == 100 {
			t.Fatalf("worker %d: no thread in epoll_wait", pid)
		}
		stopSignal(t, pid, syscall.SIGCONT)
		time.Sleep(5 * time.Millisecond)
	}
}

// loopThread is the thread of pid that waits in its event loop's
// epoll_pwait, or 0. Both the loop and the Go runtime's poller wait in
// epoll_pwait; the loop's epoll set holds fd 5, the pipe through which a
// worker watches its master (master.FDParent).
func loopThread(pid int) int {
	const sysEpollPwait = "281" // amd64; the test suite runs there
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(task + "/syscall")
		f := strings.Fields(string(b))
		if err != nil || len(f) < 2 || f[0] != sysEpollPwait {
			continue
		}
		epfd, err := strconv.ParseInt(f[1], 0, 32)
		if err != nil {
			continue
		}
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, epfd))
		for _, line := range strings.Split(string(info), "\n") {
			if fl := strings.Fields(line); len(fl) > 1 && fl[0] == "tfd:" && fl[1] == "5" {
				tid, _ := strconv.Atoi(filepath.Base(task))
				return tid
			}
		}
	}
	return 0
}

// TestWorkerSIGABRT kills a worker with SIGABRT 20 times in a row under
// load, each time the one that has served longest: each is replaced at
// once, no request fails on a connection the killed workers did not
// hold, and the deaths are in the error log at alert and in metrics.
func TestWorkerSIGABRT(t *testing.T) {
	const kills = 20
	// Old enough to count as stable: the respawn is immediate (the
	// master's stableAfter is 1 s from the worker's ready report).
	const age = 1500 * time.Millisecond
	s := newServer(t, procsConfig(`accept_mutex_delay = "100ms"`, "", metricsLocation))
	s.file("index.html", "hello\n")
	s.start()
	seen := map[int]time.Time{}
	for _, pid := range s.waitWorkers(2, nil, 10*time.Second) {
		seen[pid] = s.waitWorkerReady(t, pid)
	}
	l := startLoad(t, s.addr, "/", 4, 4, func(b []byte) bool { return string(b) == "hello\n" })
	lost := map[int]bool{}
	for i := 0; i < kills; i++ {
		ws := s.workers()
		slices.SortFunc(ws, func(a, b int) int { return seen[a].Compare(seen[b]) })
		victim := ws[0]
		time.Sleep(time.Until(seen[victim].Add(age)))
		for p := range s.abortWorker(t, victim) {
			lost[p] = true
		}
		killed := time.Now()
		repl := s.waitWorkers(1, ws, 5*time.Second)[0]
		t.Logf("kill %d: worker %d replaced by %d in %v", i+1, victim, repl, time.Since(killed))
		seen[repl] = s.waitWorkerReady(t, repl)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailuresBut(t, l, "SIGABRT", lost)
	m := s.metrics(t)
	if m["tern_worker_crashes_total"] != kills || m["tern_worker_respawns_total"] != kills || m["tern_worker_respawns_delayed"] != 0 {
		t.Fatalf("metrics: crashes %v, respawns %v, delayed %v; want %d, %d, 0", m["tern_worker_crashes_total"],
			m["tern_worker_respawns_total"], m["tern_worker_respawns_delayed"], kills, kills)
	}
	s.signal(syscall.SIGQUIT)
	s.wait(15 * time.Second)
	crashes := errorLogLines(t, filepath.Join(s.dir, "logs/error.log"), "worker process crashed, respawning")
	if len(crashes) != kills {
		t.Fatalf("%d crashes in the error log, want %d", len(crashes), kills)
	}
	for _, e := range crashes {
		if e["level"] != "alert" || !strings.HasPrefix(e["status"].(string), "exited with status 2") || e["respawn_in"] != 0.0 {
			t.Fatalf("crash logged as %v", e)
		}
	}
}
