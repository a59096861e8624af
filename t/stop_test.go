package t

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of how long the stops take: the fast stop's escalation to
// SIGKILL (README: "SIGKILL after about 1.5 s") and the forced end of a
// graceful stop after worker_shutdown_timeout. The bounds are loose (the
// machine is shared), but tight enough to tell 1.5 s from 3 s.

// TestTermEscalatesToKill stops a worker with SIGSTOP (a stopped process
// never acts on TERM) and sends TERM to the master: the worker must be
// killed about 1.55 s later (TERM again at 50, 150, 350 and 750 ms, then
// SIGKILL at 1550 ms, as nginx).
func TestTermEscalatesToKill(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	stopSignal(t, ws[0], syscall.SIGSTOP)
	waitStopped(t, ws[0])
	sent := time.Now()
	s.signal(syscall.SIGTERM)
	if !waitGone(ws[0], 10*time.Second) {
		t.Fatalf("worker %d not killed 10 s after TERM", ws[0])
	}
	took := time.Since(sent)
	t.Logf("stopped worker killed %v after TERM", took)
	if took < 1300*time.Millisecond || took > 2500*time.Millisecond {
		t.Errorf("stopped worker killed %v after TERM, want about 1.55 s", took)
	}
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("master exit %d", code)
	}
}

// TestShutdownTimeout: QUIT with a response stalled (the client never
// reads) ends it after worker_shutdown_timeout, and the master exits.
func TestShutdownTimeout(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	s := newServer(t, procsConfig(`worker_shutdown_timeout = "`+strconv.Itoa(int(timeout/time.Millisecond))+`ms"`, "", ""))
	s.file("index.html", "hello\n")
	sparseFile(t, s.root+"/big.bin", 256<<20)
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	c := s.dial()
	c.send(req("GET", "/big.bin"))
	// Let the socket buffers fill: the worker then waits for EPOLLOUT.
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	s.signal(syscall.SIGQUIT)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("master exit %d", code)
	}
	took := time.Since(sent)
	t.Logf("master exited %v after QUIT with worker_shutdown_timeout = %v", took, timeout)
	if took < timeout || took > timeout+time.Second {
		t.Errorf("master exited %v after QUIT, want %v to %v", took, timeout, timeout+time.Second)
	}
}

// TestStderrPipeClosed: with error_log = "stderr" (tern serve's default)
// and the reading end of that pipe gone (a supervisor or a log shipper
// that died), the master and the workers log into a broken pipe: EPIPE,
// not SIGPIPE. Everything keeps serving, through a reload and a USR1.
func TestStderrPipeClosed(t *testing.T) {
	s := newServer(t, strings.Replace(procsConfig("", "", ""), `error_log = "{{DIR}}/logs/error.log"`, `error_log = "stderr"`, 1))
	s.file("index.html", "hello\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.output = &lockedBuffer{}
	s.cmd = exec.Command(ternBin, "-c", filepath.Join(s.dir, "tern.hcl"))
	s.cmd.Stdout, s.cmd.Stderr = s.output, w
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s.waited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.kill)
	s.waitReady()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	r.Close()
	// Every process logs: the master on each signal, the workers as they
	// start and stop.
	s.signal(syscall.SIGHUP)
	ws = s.waitWorkers(2, ws, 10*time.Second)
	// A worker sets up its signal handlers as it starts (until then,
	// USR1 would end it): give the new ones a moment.
	time.Sleep(500 * time.Millisecond)
	s.signal(syscall.SIGUSR1)
	for _, pid := range ws {
		stopSignal(t, pid, syscall.SIGUSR1)
	}
	time.Sleep(time.Second) // the log writers flush every second
	select {
	case <-s.waited:
		t.Fatalf("the master died: %v", s.cmd.ProcessState)
	default:
	}
	for _, pid := range ws {
		if _, ok := parentOf(pid); !ok {
			t.Fatalf("worker %d died; workers now %v", pid, s.workers())
		}
	}
	for i := 0; i < 10; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 || string(r.body) != "hello\n" {
			t.Fatal(r)
		}
	}
	s.signal(syscall.SIGQUIT)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("master exit %d", code)
	}
}
