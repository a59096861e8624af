package t

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPanicClosesOnlyItsConnection runs a test build of tern (-tags
// ternpanic, worker/testpanic_on_linux.go) whose connections panic where
// a request's path says: while a response is built from an epoll event,
// in a timer (a limit_rate pause), in a posted resumption (after
// sendfile_max_chunk) and in a thread-pool completion (the check of an
// auth_basic user file). Each panic is logged with its stack at alert
// and closes its own connection only: the worker stays the same process,
// a keep-alive client and a stalled download on it go on, new clients are
// served, and once everyone is gone the worker has exactly the
// descriptors it started with.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	bin := buildVariant(t, "tern-panic", "-tags", "ternpanic")
	s := newServer(t, handlersConfig("", `
    location "/panic-timer/" { limit_rate = "64k" }
    location "/panic-posted/" { sendfile_max_chunk = "16k" }
    location "/panic-completion/" {
      auth_basic = "x"
      auth_basic_user_file = "{{DIR}}/htpasswd"
    }`))
	s.write("htpasswd", "alice:{PLAIN}secret\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	for _, p := range []string{"big.bin", "panic-timer/big.bin", "panic-posted/big.bin"} {
		s.file(p, string(big))
	}
	s.file("ok.txt", "ok\n")
	s.file("panic-event.txt", "never sent\n")
	s.file("panic-completion/x.txt", "never sent\n")
	s.startBinary(bin)
	ws := s.waitWorkers(1, nil, 10*time.Second)
	worker := ws[0]
	if r := s.get(req("GET", "/ok.txt", "Connection: close")); r.status != 200 {
		t.Fatal(r)
	}
	time.Sleep(100 * time.Millisecond) // let that connection close
	baseline := fdCount(t, worker)

	// Bystanders: a keep-alive client and a download stalled mid-way.
	keep := s.dial()
	if r := keep.do(req("GET", "/ok.txt")); r.status != 200 {
		t.Fatal(r)
	}
	stalled := s.dial()
	stalled.send(req("GET", "/big.bin"))
	head, err := stalled.br.Peek(1024)
	if err != nil || !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
		t.Fatalf("download: %q %v", head, err)
	}

	for _, where := range []string{"event", "timer", "posted", "completion"} {
		path := map[string]string{
			"event":      "/panic-event.txt",
			"timer":      "/panic-timer/big.bin",
			"posted":     "/panic-posted/big.bin",
			"completion": "/panic-completion/x.txt",
		}[where]
		c := s.dial()
		c.t = t
		// alice:secret, so that the user file is read, on a pool thread.
		c.send(req("GET", path, "Authorization: Basic YWxpY2U6c2VjcmV0"))
		// The connection closes, after whatever part of the response
		// went out before the panic.
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c.br)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: the connection is still open after 5 s (%d bytes read)", where, n)
		}
		if n >= int64(len(big)) {
			t.Fatalf("%s: %d bytes: the whole response went out, no panic?", where, n)
		}
		if w := s.workers(); len(w) != 1 || w[0] != worker {
			t.Fatalf("%s: workers %v, want %d still serving\n%s", where, w, worker, s.output)
		}
		if r := keep.do(req("GET", "/ok.txt")); r.status != 200 || string(r.body) != "ok\n" {
			t.Fatalf("%s: keep-alive client: %v", where, r)
		}
		if r := s.get(req("GET", "/ok.txt", "Connection: close")); r.status != 200 {
			t.Fatalf("%s: new client: %v", where, r)
		}
	}

	// The stalled download completes, byte-exact.
	r := stalled.read("GET")
	if r.status != 200 || !bytes.Equal(r.body, big) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	keep.c.Close()
	stalled.c.Close()
	// No descriptor leaked: sockets, files, the pool's.
	deadline := time.Now().Add(5 * time.Second)
	for n := fdCount(t, worker); n != baseline; n = fdCount(t, worker) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker has %d descriptors, %d before the panics", n, baseline)
		}
		time.Sleep(20 * time.Millisecond)
	}

	s.signal(syscall.SIGQUIT) // flush the error log
	s.wait(10 * time.Second)
	logged := map[string]bool{}
	for _, line := range readLines(t, filepath.Join(s.dir, "logs/error.log")) {
		if !strings.Contains(line, "panic serving a connection") {
			continue
		}
		if !strings.Contains(line, `"level":"alert"`) || !strings.Contains(line, "goroutine ") || !strings.Contains(line, "testPanic") {
			t.Errorf("panic logged without its level or stack: %s", trunc(line))
		}
		for _, where := range []string{"event", "timer", "posted", "completion"} {
			if strings.Contains(line, "test panic at "+where) {
				logged[where] = true
			}
		}
	}
	if len(logged) != 4 {
		t.Fatalf("panics logged: %v, want event, timer, posted and completion", logged)
	}
}

// fdCount counts the descriptors process pid has open.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
