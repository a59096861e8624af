package t

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rssKiB is VmRSS of pid, in KiB, from /proc/PID/status.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

var writingRE = regexp.MustCompile(`Writing: (\d+)`)

// waitWriting polls stub_status at addr until the responses being
// written — its own among them — are what ok accepts.
func (s *server) waitWriting(t *testing.T, addr string, ok func(writing int) bool, d time.Duration) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, get1("/status"))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := readResponse(bufio.NewReader(conn), "GET")
		conn.Close()
		if err != nil {
			t.Fatalf("stub_status: %v\n%s\n%s", err, s.errorLog(), s.output)
		}
		m := writingRE.FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("stub_status: %q", r.body)
		}
		if got, _ = strconv.Atoi(string(m[1])); ok(got) {
			return
		}
	}
	t.Fatalf("%d responses still being written after %v\n%s", got, d, s.errorLog())
}

// TestGzipStalledMemory: on-the-fly gzip holds little for a response
// whose client does not read — under 100 KiB of the worker's RSS each
// for 500 such clients (the compressor's state is not theirs to keep) —
// and the worker's RSS comes back to where it was once they leave.
func TestGzipStalledMemory(t *testing.T) {
	const clients = 500
	// stub_status has a listener of its own: the clients' connections
	// queued on the first are accepted a batch per turn of the loop.
	status := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := newServer(t, strings.ReplaceAll(`
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
worker_connections = 2048
http {
  access_log = "off"
  gzip = true
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
  }
  server {
    listen = ["STATUS"]
    location "= /status" { stub_status = true }
  }
}
`, "STATUS", status))
	// Text that compresses about 3:1, so that a response has far more to
	// send than the sockets take.
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards box " +
		"daft zebras near quiet jungle pools and hum vexing lyrics about gold")
	rng := rand.New(rand.NewSource(1))
	var body strings.Builder
	for body.Len() < 4<<20 {
		body.WriteString(words[rng.Intn(len(words))])
		body.WriteString(" ")
		if rng.Intn(12) == 0 {
			fmt.Fprintf(&body, "%d\n", rng.Intn(1e6))
		}
	}
	s.file("big.txt", body.String())
	s.start()
	pid := s.waitWorkers(1, nil, 10*time.Second)[0]
	req := get1("/big.txt", "Accept-Encoding: gzip")
	// Warm up: one whole compressed response, so that what a worker
	// keeps for all of them is in the baseline.
	if r := s.get(req); r.status != 200 || r.header("Content-Encoding") != "gzip" {
		t.Fatalf("warm-up: %d %q", r.status, r.header("Content-Encoding"))
	}
	time.Sleep(200 * time.Millisecond)
	base := rssKiB(t, pid)

	// Clients that ask and never read, with a small receive buffer and a
	// small segment size — loopback's 64 KiB segments would let the
	// server's send buffer take 10 of them before it stalls — so that
	// each response stalls early, with most of its body still to go.
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1024)
		})
	}}
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < clients; i++ {
		c, err := dialer.Dial("tcp", s.addr)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	s.waitWriting(t, status, func(n int) bool { return n > clients }, 60*time.Second)
	time.Sleep(500 * time.Millisecond) // the last ones fill their sockets
	stalled := rssKiB(t, pid)
	per := (stalled - base) / clients
	t.Logf("worker RSS: %d KiB before, %d KiB with %d stalled responses: %d KiB each", base, stalled, clients, per)
	if per >= 100 {
		t.Errorf("%d KiB of worker RSS per stalled gzip response, want under 100", per)
	}

	for _, c := range conns {
		c.Close()
	}
	conns = conns[:0]
	s.waitWriting(t, status, func(n int) bool { return n == 1 }, 30*time.Second)
	after := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if after = rssKiB(t, pid); after-base < rssSlackKiB || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("worker RSS after the clients left: %d KiB", after)
	if after-base >= rssSlackKiB {
		t.Errorf("worker RSS %d KiB 10s after the clients left, %d KiB above where it was", after, after-base)
	}
}

// rssSlackKiB is what a worker may keep after 500 clients left: its free
// lists of per-request state and heap not yet returned, which clients
// of plain (sendfile) responses leave as well — 5.5 to 7 MiB measured
// for 500 of them, with gzip or without (218 MiB before gzip gave its
// state back).
const rssSlackKiB = 16 << 10
