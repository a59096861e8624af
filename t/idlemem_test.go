package t

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pssKiB is the Pss of pid, in KiB, from /proc/PID/smaps_rollup: its
// private pages and its share of the ones it shares with the master.
func pssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no Pss in /proc/%d/smaps_rollup", pid)
	return 0
}

// TestIdleConnMemory: an idle keep-alive connection costs the worker
// under 240 bytes (about 175: its conn, epoll slot and timer — see
// docs/design.md#the-event-loop), measured as t/bench's idle phase
// does, over 5,000 connections that each made one request. It was about
// 290 with a 224-byte conn and a timer heap that grew by copying, and
// more when the runtime's first collection, about 0.9 MiB once, fell
// among the connections.
func TestIdleConnMemory(t *testing.T) {
	const conns = 5000
	var lim syscall.Rlimit
	// The clients' descriptors here, the worker's there (as root it
	// raises its own limit: worker_rlimit_nofile).
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil ||
		lim.Max < conns+200 || lim.Max < 2*conns+200 && os.Geteuid() != 0 {
		t.Skipf("needs %d descriptors here and %d in the worker; the hard limit is %d", conns+200, 2*conns+200, lim.Max)
	}
	s := newServer(t, fmt.Sprintf(`
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes     = 1
worker_connections   = %d
worker_rlimit_nofile = %d
http {
  access_log = "off"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
  }
}
`, conns+100, 2*conns+200))
	s.file("1k.txt", strings.Repeat("t", 1024))
	s.start()
	pid := s.waitWorkers(1, nil, 10*time.Second)[0]
	req := get1("/1k.txt")
	// Warm up: the request path's code is paged in before the baseline.
	for range 3 {
		if r := s.get(req); r.status != 200 {
			t.Fatalf("warm-up: %d", r.status)
		}
	}
	time.Sleep(200 * time.Millisecond)
	base := pssKiB(t, pid)
	open := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	buf := make([]byte, 4096)
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp4", s.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, req)
		if n, err := io.ReadAtLeast(c, buf, 1024); err != nil {
			t.Fatalf("connection %d: %v after %d bytes", i, err, n)
		}
	}
	time.Sleep(300 * time.Millisecond)
	grew := pssKiB(t, pid) - base
	perConn := float64(grew) * 1024 / conns
	t.Logf("worker Pss %d KiB -> %d KiB: %.0f bytes per idle connection", base, base+grew, perConn)
	if perConn > 240 {
		t.Errorf("an idle keep-alive connection costs the worker %.0f bytes (Pss grew %d KiB for %d connections), more than 240", perConn, grew, conns)
	}
}
