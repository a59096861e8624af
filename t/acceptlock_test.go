package t

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests of the shared accept lock's robustness: a worker that cannot
// accept does not take it, and a holder that stops renewing it loses it.

// TestAcceptLockFileLimit: with worker_rlimit_nofile = 256, one worker
// cannot hold 400 connections, two can. Every one of 400 concurrent
// clients is served, each keeping its connection open until all are: a
// worker out of descriptors must leave the lock — and the connections
// — to the other.
func TestAcceptLockFileLimit(t *testing.T) {
	s := newServer(t, procsConfig("worker_rlimit_nofile = 256", "", ""))
	s.file("a.txt", "hello, tern\n")
	s.start()
	s.waitServing(s.waitWorkers(2, nil, 10*time.Second))
	const clients = 400
	var served atomic.Int64
	var mu sync.Mutex
	var errs []string
	var wg, done sync.WaitGroup // done: every client has its answer or gave up
	done.Add(clients)
	release := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := servedClient(s.addr)
			done.Done()
			if err == nil {
				served.Add(1)
			} else {
				mu.Lock()
				if len(errs) < 10 {
					errs = append(errs, fmt.Sprintf("client %d: %v", i, err))
				}
				mu.Unlock()
			}
			if c != nil {
				<-release
				c.Close()
			}
		}(i)
	}
	done.Wait()
	close(release)
	wg.Wait()
	if n := served.Load(); n != clients {
		s.signal(syscall.SIGQUIT) // flush the logs
		s.wait(10 * time.Second)
		var warns []string
		for _, line := range readLines(t, filepath.Join(s.dir, "logs/error.log")) {
			if len(warns) < 40 {
				warns = append(warns, line)
			}
		}
		t.Fatalf("%d of %d clients served: %s\nerror log:\n%s", n, clients, strings.Join(errs, "; "), strings.Join(warns, "\n"))
	}
}

// servedClient connects, asks for /a.txt and reads the answer; it
// returns the connection, still open, when it has one.
func servedClient(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, req("GET", "/a.txt")); err != nil {
		return c, err
	}
	r, err := readResponse(bufio.NewReader(c), "GET")
	if err != nil {
		return c, err
	}
	if r.status != 200 || string(r.body) != "hello, tern\n" {
		return c, fmt.Errorf("%v", r)
	}
	return c, nil
}

// TestAcceptLockHolderStopped stops the worker holding the accept lock
// (SIGSTOP: as a long pause or a blocking call would): the other worker
// takes the lock over once the holder's lease runs out, and new
// connections are answered within 2 × accept_mutex_delay.
func TestAcceptLockHolderStopped(t *testing.T) {
	const delay = 500 * time.Millisecond
	s := newServer(t, procsConfig(`accept_mutex_delay = "500ms"`, "", ""))
	s.file("a.txt", "hello, tern\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	var holder int
	for try := 0; holder == 0; try++ {
		if try == 200 {
			t.Fatal("no worker found holding the accept lock")
		}
		time.Sleep(7 * time.Millisecond)
		h := s.acceptLockHolder()
		if h != ws[0] && h != ws[1] {
			continue
		}
		stopSignal(t, h, syscall.SIGSTOP)
		waitStopped(t, h)
		if s.acceptLockHolder() == h {
			holder = h
			break
		}
		stopSignal(t, h, syscall.SIGCONT)
	}
	stopped := time.Now()
	t.Cleanup(func() { syscall.Kill(holder, syscall.SIGCONT) })
	var first time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		c := s.dial()
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		c.send(req("GET", "/a.txt", "Connection: close"))
		r, err := readResponse(c.br, "GET")
		if err != nil || r.status != 200 {
			t.Fatalf("request %d, %v after the holder stopped: %v %v", i, time.Since(stopped), r, err)
		}
		if el := time.Since(start); el > 2*delay {
			t.Fatalf("request %d answered after %v with the holder stopped, want under %v", i, el, 2*delay)
		}
		if i == 0 {
			first = time.Since(stopped)
		}
	}
	if h := s.acceptLockHolder(); h == holder {
		t.Fatalf("the stopped worker %d still holds the lock after %v", h, time.Since(stopped))
	}
	t.Logf("first answer %v after the holder stopped", first)
	// Back from its stop, the old holder competes again and serves.
	stopSignal(t, holder, syscall.SIGCONT)
	for i := 0; i < 20; i++ {
		if r := s.get(req("GET", "/a.txt", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
}

// TestAcceptFloodSpreads queues a burst of 600 connections, each with
// its request, while both workers are stopped, then lets them run: the
// burst is waiting in the listen queue, ready at once, as under a flood.
// The lock holder used to accept until EAGAIN, taking all 600 past its
// worker_connections (400) and closing its own clients to make room.
// Accepts are capped per wake-up and a worker above 7/8 of its
// connections leaves the lock to one with fewer, so the burst spreads:
// every client is served and keeps its connection, and each worker holds
// at least a quarter of them. (With accept_mutex = false the kernel
// spreads connections as they arrive; a burst already queued stays with
// the worker it woke, as nginx.)
func TestAcceptFloodSpreads(t *testing.T) {
	modes := []struct{ name, main string }{
		{"accept_mutex", "worker_connections = 400"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, procsConfig(m.main, " backlog=1000", ""))
			s.file("a.txt", "hello, tern\n")
			s.start()
			ws := s.waitWorkers(2, nil, 10*time.Second)
			base := s.waitServing(ws)
			for _, pid := range ws {
				stopSignal(t, pid, syscall.SIGSTOP)
				waitStopped(t, pid)
			}
			resumed := false
			t.Cleanup(func() {
				for _, pid := range ws {
					if !resumed {
						syscall.Kill(pid, syscall.SIGCONT)
					}
				}
			})
			const clients = 600
			conns := make([]net.Conn, 0, clients)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := 0; i < clients; i++ {
				c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
				if err != nil {
					t.Fatalf("client %d: %v", i, err)
				}
				conns = append(conns, c)
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.WriteString(c, req("GET", "/a.txt")); err != nil {
					t.Fatalf("client %d: %v", i, err)
				}
			}
			for _, pid := range ws {
				stopSignal(t, pid, syscall.SIGCONT)
			}
			resumed = true
			var served atomic.Int64
			var mu sync.Mutex
			var errs []string
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Add(1)
				go func(i int, c net.Conn) {
					defer wg.Done()
					r, err := readResponse(bufio.NewReader(c), "GET")
					if err == nil && r.status == 200 && string(r.body) == "hello, tern\n" {
						served.Add(1)
						return
					}
					mu.Lock()
					if len(errs) < 10 {
						errs = append(errs, fmt.Sprintf("client %d: %v %v", i, r, err))
					}
					mu.Unlock()
				}(i, c)
			}
			wg.Wait()
			held := map[int]int{}
			for _, pid := range ws {
				held[pid] = socketFDs(pid) - base[pid]
			}
			t.Logf("%s: %d of %d served; connections held by worker %v", m.name, served.Load(), clients, held)
			if n := served.Load(); n != clients {
				t.Errorf("%d of %d clients served: %s", n, clients, strings.Join(errs, "; "))

			}
			for pid, n := range held {
				if n*4 < clients {
					t.Errorf("worker %d holds %d of %d connections", pid, n, clients)
				}
			}
		})
	}
}

// waitServing waits until every worker of ws serves: it opens
// connections, each with a request answered, until each worker holds one
// more socket than at the start (a worker that has started may still be
// setting up its loop), then closes them. Each connection then begins
// another request head and stays in it: a worker at worker_connections
// has no idle connection to close for a new one and leaves the accept
// lock to the others, where with idle ones it kept taking the lock and
// closing them, and with worker_connections = 2 (TestAcceptLockAllFull)
// the other worker seldom got a connection in 10 s. It returns the
// sockets each worker had at the start: its listening sockets and its
// own.
func (s *server) waitServing(ws []int) map[int]int {
	s.t.Helper()
	base := map[int]int{}
	for _, pid := range ws {
		base[pid] = socketFDs(pid)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		all := true
		for _, pid := range ws {
			if socketFDs(pid) <= base[pid] {
				all = false
			}
		}
		if all {
			return base
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not every worker of %v serves after 10s (%d connections)", ws, len(conns))
		}
		c, err := servedClient(s.addr)
		if c != nil {
			conns = append(conns, c)
		}
		if err == nil {
			_, err = io.WriteString(c, "GET /a.txt HTTP/1.1\r\n")
		}
		if err != nil {
			s.t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// socketFDs counts the sockets process pid has open.
func socketFDs(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// TestAcceptLockAllFull: with every worker at worker_connections and no
// idle connection to close, a new client waits in the listen queue —
// no worker takes the lock only to close it — and is served as soon as a
// connection closes; the error log says why it waited.
func TestAcceptLockAllFull(t *testing.T) {
	s := newServer(t, procsConfig(`worker_connections = 2
accept_mutex_delay = "100ms"`, "", ""))
	s.file("a.txt", "hello, tern\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	base := s.waitServing(ws)
	// Four connections inside a request head, one at a time so that
	// each is reading its head before the next comes: no worker has
	// room, and none has an idle connection to close.
	var heads []*client
	for i := 0; i < 4; i++ {
		c := s.dial()
		c.send("GET /a.txt HTTP/1.1\r\n")
		heads = append(heads, c)
		time.Sleep(150 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); socketFDs(ws[0])-base[ws[0]] != 2 || socketFDs(ws[1])-base[ws[1]] != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("connections held: %d and %d, want 2 each", socketFDs(ws[0])-base[ws[0]], socketFDs(ws[1])-base[ws[1]])
		}
		time.Sleep(10 * time.Millisecond)
	}
	waiting := s.dial()
	waiting.send(req("GET", "/a.txt"))
	waiting.c.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := waiting.br.ReadByte(); err == nil || !isTimeout(err) {
		t.Fatalf("with every worker full, the new client got %q %v, want to wait", b, err)
	}
	heads[0].c.Close()
	if r := waiting.read("GET"); r.status != 200 || string(r.body) != "hello, tern\n" {
		t.Fatalf("after a connection closed: %v", r)
	}
	s.signal(syscall.SIGQUIT) // flush the error log
	for _, c := range heads[1:] {
		c.c.Close()
	}
	waiting.c.Close()
	s.wait(10 * time.Second)
	found := false
	for _, line := range readLines(t, filepath.Join(s.dir, "logs/error.log")) {
		found = found || strings.Contains(line, "worker_connections are not enough")
	}
	if !found {
		t.Fatal("no 'worker_connections are not enough' in the error log")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
