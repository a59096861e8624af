package t

import (
	"syscall"
	"testing"
	"time"
)

// Health locations (health = true): 200 while serving, 503 from the
// moment the server drains — a graceful stop, WINCH, the hand-over of a
// binary upgrade, a dead master — and 200 again when WINCH is undone.
// A drain is seen on keep-alive connections opened before it: the
// listening sockets stop accepting, and an idle connection gets a
// second's grace for a request.

// healthLocation is the server-level part of the health tests' config: a
// try_files that would stat the (missing) root for every path, which
// health never gets to.
const healthLocation = `
    try_files = ["$uri", "=404"]
    location "= /healthz" {
      health = true
      root   = "/nonexistent"
    }
`

// idleConns opens n keep-alive connections, each answered 200 by the
// health location once, and leaves them idle.
func idleConns(t *testing.T, s *server, n int) []*client {
	t.Helper()
	conns := make([]*client, n)
	for i := range conns {
		conns[i] = s.dial()
		if r := conns[i].do(req("GET", "/healthz")); r.status != 200 || string(r.body) != "ok\n" {
			t.Fatalf("healthz before the drain: %v %q", r, r.body)
		}
	}
	return conns
}

// expectDraining asks the health location on one idle connection after
// another until one answers 503, and checks that answer: "draining",
// with the connection closed after it. Connections that answer 200
// before the master has flagged the drain are fine; none may fail.
func expectDraining(t *testing.T, conns []*client) {
	expectDrainingEvery(t, conns, 20*time.Millisecond)
}

// expectDrainingEvery is expectDraining, asking every d.
func expectDrainingEvery(t *testing.T, conns []*client, d time.Duration) {
	t.Helper()
	for i, c := range conns {
		r := c.do(req("GET", "/healthz"))
		switch {
		case r.status == 503:
			if string(r.body) != "draining\n" || r.header("Connection") != "close" || r.header("Content-Type") != "text/plain" {
				t.Fatalf("the 503: %v %q", r, r.body)
			}
			c.expectClosed(2 * time.Second)
			t.Logf("503 on connection %d of %d", i+1, len(conns))
			return
		case r.status != 200:
			t.Fatalf("healthz during the drain: %v", r)
		}
		time.Sleep(d)
	}
	t.Fatalf("no 503 on %d connections", len(conns))
}

// healthServer starts a two-worker server with a health location.
func healthServer(t *testing.T) *server {
	s := newServer(t, procsConfig("", "", healthLocation))
	s.file("index.html", "hello\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	return s
}

// TestHealthServing: 200 "ok" for GET, a head for HEAD, 405 for POST,
// from memory: the root is missing and a try_files would 404.
func TestHealthServing(t *testing.T) {
	s := healthServer(t)
	r := s.get(req("GET", "/healthz"))
	if r.status != 200 || string(r.body) != "ok\n" || r.header("Content-Type") != "text/plain" || r.header("Content-Length") != "3" {
		t.Fatalf("GET: %v %q", r, r.body)
	}
	if r := s.get(req("HEAD", "/healthz")); r.status != 200 || len(r.body) != 0 || r.header("Content-Length") != "3" {
		t.Fatalf("HEAD: %v", r)
	}
	if r := s.get(req("POST", "/healthz", "Content-Length: 0")); r.status != 405 {
		t.Fatalf("POST: %v", r)
	}
	if r := s.get(req("GET", "/missing")); r.status != 404 {
		t.Fatalf("the try_files around it: %v", r)
	}
}

// TestHealthGracefulStop: QUIT to the master.
func TestHealthGracefulStop(t *testing.T) {
	s := healthServer(t)
	conns := idleConns(t, s, 20)
	s.signal(syscall.SIGQUIT)
	expectDraining(t, conns)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestHealthWinch: WINCH drains; HUP starts workers that answer 200.
func TestHealthWinch(t *testing.T) {
	s := healthServer(t)
	ws := s.waitWorkers(2, nil, 10*time.Second)
	conns := idleConns(t, s, 20)
	s.signal(syscall.SIGWINCH)
	expectDraining(t, conns)
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("worker %d still alive after WINCH", pid)
		}
	}
	s.signal(syscall.SIGHUP)
	s.waitWorkers(2, ws, 10*time.Second)
	if r := s.get(req("GET", "/healthz")); r.status != 200 {
		t.Fatalf("after WINCH and HUP: %v", r)
	}
}

// TestHealthReload: a reload does not drain. The old workers answer 200
// on their keep-alive connections until their grace closes them; new
// connections reach new workers, which answer 200.
func TestHealthReload(t *testing.T) {
	s := healthServer(t)
	ws := s.waitWorkers(2, nil, 10*time.Second)
	conns := idleConns(t, s, 20)
	s.signal(syscall.SIGHUP)
	answered := 0
	for _, c := range conns {
		c.send(req("GET", "/healthz"))
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResponse(c.br, "GET")
		if err != nil {
			break // closed by an old worker's grace: not a 503
		}
		if r.status != 200 {
			t.Fatalf("during a reload: %v", r)
		}
		answered++
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d answers on old connections", answered)
	s.waitWorkers(2, ws, 10*time.Second)
	if r := s.get(req("GET", "/healthz")); r.status != 200 {
		t.Fatalf("a new worker: %v", r)
	}
}

// TestHealthUpgrade: after USR2 both generations answer 200; the old
// master's WINCH (the hand-over) makes its workers answer 503 while the
// new master's answer 200.
func TestHealthUpgrade(t *testing.T) {
	u := newUpgradeServerWith(t, healthLocation)
	u.start()
	old := u.masterPID()
	ows := u.waitWorkers(2, nil, 10*time.Second)
	conns := idleConns(t, u.server, 20)
	u.signal(syscall.SIGUSR2)
	var nm int
	waitFor(t, 10*time.Second, "a new master's pid file", func() bool {
		nm = u.pid(u.pidFile())
		return nm != 0 && nm != old
	})
	stopLater(t, nm)
	waitFor(t, 10*time.Second, "the new master's workers", func() bool { return len(workersOf(nm)) == 2 })
	// Not yet a hand-over: the old workers answer 200.
	if r := conns[0].do(req("GET", "/healthz")); r.status != 200 {
		t.Fatalf("an old worker after USR2: %v", r)
	}
	u.signal(syscall.SIGWINCH)
	expectDraining(t, conns[1:])
	// Once the old workers are gone, new connections reach the new
	// master's workers only (until then an old worker may still take
	// one, and answer 503).
	for _, pid := range ows {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("old worker %d still alive after WINCH", pid)
		}
	}
	for i := 0; i < 4; i++ {
		if r := u.get(req("GET", "/healthz")); r.status != 200 {
			t.Fatalf("the new master's workers: %v", r)
		}
	}
	u.signal(syscall.SIGQUIT)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	if r := u.get(req("GET", "/healthz")); r.status != 200 {
		t.Fatalf("after the upgrade: %v", r)
	}
}

// TestHealthMasterGone: workers whose master died answer 503 while they
// finish.
func TestHealthMasterGone(t *testing.T) {
	s := healthServer(t)
	conns := idleConns(t, s, 20)
	// Not s.wait: the master's output pipe stays open in its workers
	// until they exit.
	s.cmd.Process.Kill()
	expectDraining(t, conns)
}

// TestHealthBeforeReturn: a server that redirects everything still
// answers its health checks; deny applies to them.
func TestHealthBeforeReturn(t *testing.T) {
	s := newServer(t, handlersConfig("", `
    return = "301 https://$host$request_uri"
    location "= /healthz" { health = true }
    location "= /hidden"  {
      health = true
      deny   = "all"
    }`))
	s.start()
	if r := s.get(req("GET", "/healthz")); r.status != 200 || string(r.body) != "ok\n" {
		t.Fatalf("healthz: %v", r)
	}
	if r := s.get(req("GET", "/other")); r.status != 301 {
		t.Fatalf("the server's return: %v", r)
	}
	if r := s.get(req("GET", "/hidden")); r.status != 403 {
		t.Fatalf("deny: %v", r)
	}
}
