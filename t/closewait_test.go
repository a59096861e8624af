package t

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests that a client's FIN or reset is noticed in whatever state its
// connection is, so that no socket lingers in CLOSE-WAIT: a FIN that
// arrives in the same segment as request bytes, a reset, a half-close
// during a response.

// finSegment sends raw and the FIN in one TCP segment: with TCP_CORK
// set, the data waits in the socket, and shutdown tacks the FIN onto it
// (tcp_send_fin). The server then sees the bytes and the end of input in
// the same wake-up, and a read of the bytes alone leaves no edge to come.
func finSegment(t testing.TB, c net.Conn, raw string) {
	t.Helper()
	tc := c.(*net.TCPConn)
	sc, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1)
	}); err != nil || serr != nil {
		t.Fatalf("TCP_CORK: %v %v", err, serr)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// TestFinWithRequestBytes sends request bytes and the FIN in one segment,
// in each state a connection can be in when its input ends, and checks
// that the server answers what was complete and closes at once — not at
// client_header_timeout or keepalive_timeout.
func TestFinWithRequestBytes(t *testing.T) {
	s := newServer(t, basicConfig(`client_header_timeout = "30s"
keepalive_timeout = "30s"
client_body_timeout = "30s"`))
	s.file("a.txt", "hello, tern\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: many EAGAINs
	s.file("big.bin", string(big))
	s.start()
	cases := []struct {
		name string
		raw  string
		// bodies are the responses expected before the close.
		bodies []string
		// slow reads the response slowly, so that the server waits for
		// EPOLLOUT after it saw the FIN.
		slow bool
	}{
		{name: "partial head", raw: "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n"},
		{name: "request line only", raw: "GET /a.txt HT"},
		{name: "complete request", raw: req("GET", "/a.txt"), bodies: []string{"hello, tern\n"}},
		{name: "two requests", raw: req("GET", "/a.txt") + req("GET", "/a.txt"), bodies: []string{"hello, tern\n", "hello, tern\n"}},
		{name: "complete and partial", raw: req("GET", "/a.txt") + "GET /a.txt HTTP/1.1\r\n", bodies: []string{"hello, tern\n"}},
		{name: "partial body", raw: req("GET", "/a.txt", "Content-Length: 100") + "0123456789", bodies: []string{"hello, tern\n"}},
		{name: "partial chunked body", raw: req("GET", "/a.txt", "Transfer-Encoding: chunked") + "5\r\nhel", bodies: []string{"hello, tern\n"}},
		{name: "half-closed during big response", raw: req("GET", "/big.bin"), bodies: []string{string(big)}, slow: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial()
			c.t = t
			finSegment(t, c.c, tc.raw)
			for i, want := range tc.bodies {
				if tc.slow {
					time.Sleep(300 * time.Millisecond) // let the socket fill
				}
				r := c.read("GET")
				if r.status != 200 || string(r.body) != want {
					t.Fatalf("response %d: %v, body %d bytes", i, r, len(r.body))
				}
			}
			start := time.Now()
			c.expectClosed(3 * time.Second)
			if el := time.Since(start); el > time.Second {
				t.Fatalf("closed %v after the last response, want at once", el)
			}
		})
	}
}

// closeWaits counts the sockets in CLOSE-WAIT on local port port, from
// /proc/net/tcp and tcp6: connections whose peer closed and that the
// server has not closed yet (accepted or still queued on the listener).
func closeWaits(t testing.TB, port int) int {
	t.Helper()
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp6" {
				continue // no IPv6
			}
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ...
			fl := strings.Fields(line)
			if len(fl) < 4 || fl[3] != "08" { // TCP_CLOSE_WAIT
				continue
			}
			_, lport, _ := strings.Cut(fl[1], ":")
			if p, _ := strconv.ParseInt(lport, 16, 32); int(p) == port {
				n++
			}
		}
	}
	return n
}

// closeWaitConns is how many connections TestCloseWaitAfterMixedLoad
// makes: 100,000, about 25 s on two cores; TERN_CLOSEWAIT_CONNS changes it.
func closeWaitConns(t *testing.T) int {
	if v := os.Getenv("TERN_CLOSEWAIT_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TERN_CLOSEWAIT_CONNS=%q", v)
		}
		return n
	}
	return 100000
}

// mixedKinds are the client behaviours of TestCloseWaitAfterMixedLoad.
var mixedKinds = []string{
	"close after response", "keep-alive", "partial+fin one segment", "partial then fin",
	"reset", "request+fin, gone", "half-close, read, close",
}

// mixedClient runs one connection of the given kind. It returns an
// error only for a response that should have come and did not.
func mixedClient(addr string, kind int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connect: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := c.(*net.TCPConn)
	partial := "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n"
	full := req("GET", "/a.txt")
	readOne := func(br *bufio.Reader) error {
		r, err := readResponse(br, "GET")
		if err != nil {
			return err
		}
		if r.status != 200 || string(r.body) != "hello, tern\n" {
			return fmt.Errorf("%v", r)
		}
		return nil
	}
	switch mixedKinds[kind] {
	case "close after response":
		io.WriteString(c, req("GET", "/a.txt", "Connection: close"))
		return readOne(bufio.NewReader(c))
	case "keep-alive":
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			io.WriteString(c, full)
			if err := readOne(br); err != nil {
				return err
			}
		}
	case "partial+fin one segment":
		return corkedFin(tc, partial)
	case "partial then fin":
		io.WriteString(c, partial)
	case "reset":
		io.WriteString(c, partial)
		tc.SetLinger(0)
	case "request+fin, gone":
		return corkedFin(tc, full)
	case "half-close, read, close":
		if err := corkedFin(tc, full); err != nil {
			return err
		}
		return readOne(bufio.NewReader(c))
	}
	return nil
}

// corkedFin is finSegment for a client goroutine.
func corkedFin(c *net.TCPConn, raw string) error {
	sc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	sc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1)
	})
	if serr != nil {
		return serr
	}
	if _, err := io.WriteString(c, raw); err != nil {
		return err
	}
	return c.CloseWrite()
}

// TestCloseWaitAfterMixedLoad makes many connections of mixed kinds —
// complete requests, partial ones ended by a FIN (in the request's
// segment or after it), resets, keep-alive — and checks that 1 s after
// the last one no server socket is left in CLOSE-WAIT, with the default
// timeouts (60 s and more) that would otherwise keep them.
func TestCloseWaitAfterMixedLoad(t *testing.T) {
	total := closeWaitConns(t)
	s := newServer(t, procsConfig("", "", ""))
	s.file("a.txt", "hello, tern\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	const clients = 32
	var next, failed atomic.Int64
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * time.Minute)
	start := time.Now()
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if err := mixedClient(s.addr, i%len(mixedKinds)); err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 10 {
						errs = append(errs, fmt.Sprintf("%s: %v", mixedKinds[i%len(mixedKinds)], err))
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	made := min(int(next.Load()), total)
	t.Logf("%d connections in %v, %d failed", made, time.Since(start).Round(time.Millisecond), failed.Load())
	if made < total {
		t.Fatalf("only %d of %d connections within the time limit", made, total)
	}
	if failed.Load() > 0 {
		t.Errorf("%d connections failed: %s", failed.Load(), strings.Join(errs, "; "))
	}
	time.Sleep(time.Second)
	if n := closeWaits(t, s.port); n != 0 {
		t.Fatalf("%d sockets in CLOSE-WAIT 1 s after the last connection", n)
	}
}

// TestPartialRequestFlood: more fire-and-forget partial requests (each
// ended by a FIN in its own segment) than the workers have
// worker_connections do not keep legitimate clients out.
func TestPartialRequestFlood(t *testing.T) {
	s := newServer(t, procsConfig("", "", ""))
	s.file("a.txt", "hello, tern\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	const flood = 2600 // over 2 × worker_connections (1024), as in the report
	var wg sync.WaitGroup
	var sent atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < flood; i += 16 {
				c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
				if err != nil {
					continue
				}
				if corkedFin(c.(*net.TCPConn), "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n") == nil {
					sent.Add(1)
				}
				c.Close()
			}
		}(g)
	}
	wg.Wait()
	if sent.Load() < flood*9/10 {
		t.Fatalf("only %d of %d partial requests sent", sent.Load(), flood)
	}
	// Now 50 legitimate clients, each on a new connection, all served.
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 50; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req("GET", "/a.txt"))
		r, err := readResponse(bufio.NewReader(c), "GET")
		c.Close()
		if err != nil || r.status != 200 {
			t.Fatalf("client %d after %d partial requests: %v %v (CLOSE-WAIT: %d)", i, sent.Load(), r, err, closeWaits(t, s.port))
		}
	}
	if n := closeWaits(t, s.port); n != 0 {
		t.Fatalf("%d sockets in CLOSE-WAIT after the flood", n)
	}
}
