package t

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clientEvents are what error.log says of a client's own doing, each
// logged at info as nginx does: below the default level.
var clientEvents = []string{
	"client sent invalid request",
	"client closed connection while sending request head",
	"client timed out reading request head",
	"sending response failed",
}

// causeClientEvents makes one of each of clientEvents happen.
func causeClientEvents(t *testing.T, s *server) {
	t.Helper()
	if r := s.get("GARBAGE\r\n\r\n"); r.status != 400 {
		t.Fatalf("bad request: %d", r.status)
	}
	early := s.dial()
	early.send("GET / HTTP/1.1\r\nHo")
	time.Sleep(100 * time.Millisecond)
	early.c.Close()
	slow := s.dial()
	slow.send("GET / HTTP/1.1\r\nHo")
	slow.expectClosed(5 * time.Second) // client_header_timeout 1s
	// A client that resets the connection in the middle of a response.
	rst := s.dial()
	rst.send(get1("/big.bin"))
	time.Sleep(200 * time.Millisecond)
	rst.c.(*net.TCPConn).SetLinger(0)
	rst.c.Close()
	if r := s.get(get1("/a.txt")); r.status != 200 {
		t.Fatalf("after the events: %d", r.status)
	}
}

// errorLogConfig is one worker with client_header_timeout 1s, at level
// (none: the default).
func errorLogConfig(level string) string {
	if level != "" {
		level = `error_log_level = "` + level + `"`
	}
	return `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
` + level + `
http {
  access_log = "off"
  client_header_timeout = "1s"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/quiet/" { log_not_found = false }
  }
}
`
}

func (s *server) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
	return string(b)
}

// waitLog waits until error.log holds every one of msgs, and returns it.
func (s *server) waitLog(t *testing.T, msgs ...string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		log := s.errorLog()
		missing := ""
		for _, m := range msgs {
			if !strings.Contains(log, m) {
				missing = m
			}
		}
		if missing == "" {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("error.log has no %q after 5s:\n%s", missing, log)
		}
	}
}

// TestClientEventsLevel: timeouts, bad requests, early closes and resets
// are logged at info — their lines say "info" — which the default level,
// notice, leaves out, as nginx's default leaves them out.
func TestClientEventsLevel(t *testing.T) {
	for _, level := range []string{"", "info"} {
		s := newServer(t, errorLogConfig(level))
		s.file("a.txt", "A")
		s.file("big.bin", strings.Repeat("b", 32<<20))
		s.start()
		causeClientEvents(t, s)
		if level == "info" {
			log := s.waitLog(t, clientEvents...)
			for _, line := range strings.Split(log, "\n") {
				for _, m := range clientEvents {
					if strings.Contains(line, m) && !strings.Contains(line, `"level":"info"`) {
						t.Errorf("not at info: %s", line)
					}
				}
			}
			continue
		}
		// The last event's line would be there by now: the request
		// after it was answered.
		s.signal(syscall.SIGQUIT)
		s.wait(10 * time.Second)
		log := s.errorLog()
		for _, m := range clientEvents {
			if strings.Contains(log, m) {
				t.Errorf("default level (notice) logs %q:\n%s", m, log)
			}
		}
		if !strings.Contains(log, `"level":"notice"`) {
			t.Errorf("no notice line (start-up) at the default level:\n%s", log)
		}
	}
}

// TestLogNotFound: a missing file is logged at error, unless
// log_not_found is off where it is requested; a forbidden one still is.
func TestLogNotFound(t *testing.T) {
	s := newServer(t, errorLogConfig(""))
	s.file("a.txt", "A")
	s.file("quiet/a.txt", "A")
	s.file("quiet/dir/x", "x")
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/missing.txt"), status: 404},
		{raw: get1("/quiet/missing.txt"), status: 404},
		{raw: get1("/quiet/nodir/"), status: 404},
		{raw: get1("/quiet/a.txt/x"), status: 404},
		{raw: get1("/quiet/dir/"), status: 403},
	})
	log := s.waitLog(t, "/missing.txt", "/quiet/dir")
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "/missing.txt") && !strings.Contains(line, `"level":"error"`):
			t.Errorf("a missing file is not logged at error: %s", line)
		case strings.Contains(line, "/quiet/") && !strings.Contains(line, "directory index is forbidden"):
			t.Errorf("log_not_found = false still logs: %s", line)
		}
	}
}

// TestLocationErrorLog: error_log and error_log_level in a server or
// location take that block's request errors, as nginx's (its index.t
// "log_not_found"): a missing file under /site/ is logged in site.log
// and not in error.log, log_not_found = false keeps a nested location's
// own log empty, and error_log_level = "crit" in a location hides its
// errors from the main log, where the rest still go. USR1 reopens the
// location's log too.
func TestLocationErrorLog(t *testing.T) {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 1
http {
  access_log = "off"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/site/" {
      error_log = "{{DIR}}/logs/site.log"
      location "/site/quiet/" {
        error_log     = "{{DIR}}/logs/quiet.log"
        log_not_found = false
      }
    }
    location "/hushed/" { error_log_level = "crit" }
  }
}
`)
	s.start()
	runHCases(t, s, []hcase{
		{raw: get1("/site/missing-a"), status: 404},
		{raw: get1("/site/quiet/missing-b"), status: 404},
		{raw: get1("/hushed/missing-c"), status: 404},
		{raw: get1("/missing-d"), status: 404},
	})
	site := filepath.Join(s.dir, "logs", "site.log")
	waitFileHas(t, site, "/site/missing-a")
	log := s.waitLog(t, "/missing-d")
	for _, m := range []string{"missing-a", "missing-b", "missing-c"} {
		if strings.Contains(log, m) {
			t.Errorf("error.log has %s:\n%s", m, log)
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "logs", "quiet.log")); err != nil || len(b) > 0 {
		t.Errorf("quiet.log: %v %q, want it empty", err, b)
	}
	if b, _ := os.ReadFile(site); !strings.Contains(string(b), `"level":"error"`) || !strings.Contains(string(b), `"worker"`) {
		t.Errorf("site.log: %s", b)
	}
	// Rotated: USR1 makes the worker write to the new site.log.
	if err := os.Rename(site, site+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.get(get1("/site/missing-e"))
		if b, _ := os.ReadFile(site); strings.Contains(string(b), "/site/missing-e") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("site.log was not reopened after USR1")
		}
	}
}
