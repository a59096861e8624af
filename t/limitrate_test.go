package t

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rateRead reads the body of a GET for path for d after its first byte
// and returns the body bytes read and the time they took.
func rateRead(t *testing.T, s *server, path string, d time.Duration) (int64, time.Duration) {
	t.Helper()
	c := s.dial()
	c.send(req("GET", path))
	c.c.SetReadDeadline(time.Now().Add(d + 10*time.Second))
	// The head.
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the head: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	buf := make([]byte, 256<<10)
	if _, err := io.ReadFull(c.br, buf[:1]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var n int64 = 1
	for time.Since(start) < d {
		m, err := c.br.Read(buf)
		n += int64(m)
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
	}
	return n, time.Since(start)
}

// TestLimitRate: limit_rate 2m holds a download to 2 MiB/s within 5 %
// over 10 s, sending with sendfile (the worker's send counters, and its
// syscalls when strace is there, show it); limit_rate_after lets the
// first bytes through at full speed.
func TestLimitRate(t *testing.T) {
	s := newServer(t, handlersConfig(`
  aio = "off"
`, `
    location "/slow/" {
      limit_rate = "2m"
    }
    location "/after/" {
      limit_rate       = "64k"
      limit_rate_after = "1m"
    }
`))
	for _, d := range []string{"slow", "after"} {
		os.MkdirAll(filepath.Join(s.root, d), 0o755)
	}
	bigFile(t, filepath.Join(s.root, "slow/big.bin"), 40<<20)
	bigFile(t, filepath.Join(s.root, "after/big.bin"), 4<<20)
	s.start()
	worker := s.waitWorkers(1, nil, 10*time.Second)[0]
	// The worker is ready: its start-up (its privilege drop, which reads
	// /etc/passwd and its threads' status) is over before strace counts.
	waitFileHas(t, filepath.Join(s.dir, "logs/error.log"), `"message":"tern started"`)

	var trace *exec.Cmd
	var traceOut strings.Builder
	if path, err := exec.LookPath("strace"); err == nil {
		trace = exec.Command(path, "-f", "-c", "-p", strconv.Itoa(worker))
		trace.Stderr = &traceOut
		if err := trace.Start(); err != nil {
			trace = nil
		} else {
			time.Sleep(300 * time.Millisecond) // attached
		}
	} else {
		t.Log("strace is not installed: no syscall counts")
	}

	const window = 10 * time.Second
	n, d := rateRead(t, s, "/slow/big.bin", window)
	rate := float64(n) / d.Seconds()
	want := float64(2 << 20)
	t.Logf("limit_rate 2m: %d bytes in %v: %.0f bytes/s (%.2f%% of 2 MiB/s)", n, d, rate, 100*rate/want)
	if rate < want*0.95 || rate > want*1.05 {
		t.Errorf("%.0f bytes/s, want 2 MiB/s within 5%%", rate)
	}

	if trace != nil {
		trace.Process.Signal(syscall.SIGINT)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { trace.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			trace.Process.Kill()
		}
		counts := straceCounts(traceOut.String())
		t.Logf("worker syscalls while sending %d bytes in %v: %v", n, d, counts)
		if counts["sendfile"] == 0 || counts["pread64"] > 5 || counts["read"] > 10 {
			t.Errorf("the rate-limited response was not sent with sendfile: %v", counts)
		}
		// About rateQuanta sends a second, not one per page.
		if per := float64(counts["sendfile"]) / d.Seconds(); per > 200 {
			t.Errorf("%.0f sendfile calls a second", per)
		}
	}

	// limit_rate_after: the first MiB at once, then 64 KiB/s.
	c := s.dial()
	c.send(req("GET", "/after/big.bin"))
	c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	br := bufio.NewReaderSize(c.c, 64<<10)
	got := 0
	for got < 1<<20 {
		m, err := br.Read(make([]byte, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		got += m
	}
	if fast := time.Since(start); fast > 2*time.Second {
		t.Errorf("the first MiB took %v, want it at full speed", fast)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		c.c.SetReadDeadline(deadline)
		m, _ := br.Read(make([]byte, 64<<10))
		got += m
	}
	// 1 MiB + 64 KiB/s × the time since the start (at most ~3 s) and a
	// quantum.
	if extra := got - 1<<20; extra > 64<<10*4 {
		t.Errorf("%d bytes past limit_rate_after in about a second at 64 KiB/s", extra)
	}
}

// TestLimitRateLow: a rate below 512 bytes a second holds from the first
// byte, head and error pages included, as nginx's (stub_status.t keeps a
// limit_rate 15 response writing): the head start is a second's worth,
// not 512 bytes, so a 404 of 300 bytes takes about 20 s at 15 bytes/s.
func TestLimitRateLow(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/low/" {
      limit_rate = "15"
    }
`))
	s.start()
	c := s.dial()
	c.send(req("GET", "/low/missing"))
	deadline := time.Now().Add(1500 * time.Millisecond)
	c.c.SetReadDeadline(deadline)
	got := 0
	for time.Now().Before(deadline) {
		m, err := c.br.Read(make([]byte, 4096))
		got += m
		if err != nil {
			break
		}
	}
	// 15 bytes to start and 15 a second: about 37 in 1.5 s.
	if got == 0 || got > 60 {
		t.Errorf("%d bytes in 1.5 s at limit_rate 15, want 15 to 60", got)
	}
}

// TestLimitRateReset: a client that resets its connection while
// limit_rate pauses the response is let go at once, as nginx does
// (stub_status.t counts it no longer writing right after), not when the
// pause ends: at limit_rate 1 a pause is a second, and the connection is
// gone from stub_status's Writing well before.
func TestLimitRateReset(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    location "/low/" {
      limit_rate = "1"
    }
    location "= /status" {
      stub_status = true
    }
`))
	s.start()
	c := s.dial()
	c.send(req("GET", "/low/missing"))
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.br.Peek(1); err != nil { // the first quantum: one byte
		t.Fatal(err)
	}
	s.waitWriting(t, s.addr, func(n int) bool { return n == 2 }, 5*time.Second)
	// Closing with the byte unread resets the connection (RFC 2525,
	// section 2.17).
	c.c.(*net.TCPConn).SetLinger(0)
	c.c.Close()
	start := time.Now()
	s.waitWriting(t, s.addr, func(n int) bool { return n == 1 }, 5*time.Second)
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("the reset connection was still writing after %v", d)
	}
}

// straceCounts parses strace -c's table into calls by syscall.
func straceCounts(out string) map[string]int {
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "%" || strings.HasPrefix(f[0], "-") || f[len(f)-1] == "total" {
			continue
		}
		name := f[len(f)-1]
		// "% time seconds usecs/call calls [errors] syscall"
		if n, err := strconv.Atoi(f[3]); err == nil {
			counts[name] = n
		}
	}
	return counts
}
