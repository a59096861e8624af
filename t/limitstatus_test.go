package t

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitLogLine waits until a line of the file at path holds every one of
// subs, and fails the test with the file's lines that hold the first
// when none does within 5 s.
func waitLogLine(t *testing.T, path string, subs ...string) {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ = os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(line, s)
			}
			if all {
				return
			}
		}
	}
	t.Fatalf("no line of %s has all of %q; lines with %q:\n%s", path, subs, subs[0], grepLines(b, subs[0]))
}

// TestLimitStatusesAndLevels: limit_req_status and limit_conn_status
// choose the refusal's status, limit_req_log_level and
// limit_conn_log_level the level its error log line has (a delay is
// logged one level lower, as nginx), and limit_conn_dry_run lets the
// request through with a line that says it would have been refused.
func TestLimitStatusesAndLevels(t *testing.T) {
	s := newServer(t, limitsConfig(`
  limit_req_zone "one" {
    key  = "$binary_remote_addr"
    size = "1m"
    rate = "1r/m"
  }
  limit_req_zone "slow" {
    key  = "$binary_remote_addr"
    size = "1m"
    rate = "2r/s"
  }
  limit_req_zone "dd" {
    key  = "$binary_remote_addr"
    size = "1m"
    rate = "1r/m"
  }
  limit_conn_zone "c" {
    key  = "$binary_remote_addr"
    size = "1m"
  }
`, `
    location "/q/" {
      limit_req = { zone = "one", nodelay = true }
      limit_req_status = 429
      limit_req_log_level = "warn"
    }
    location "/delay/" {
      limit_req = { zone = "slow", burst = 5 }
      limit_req_log_level = "warn"
    }
    location "/delaydry/" {
      limit_req = { zone = "dd", burst = 5 }
      limit_req_dry_run = true
      add_header = { "X-Status" = "$limit_req_status" }
    }
    location "/c/" {
      limit_conn = { c = 1 }
      limit_conn_status = 429
      limit_conn_log_level = "notice"
      limit_rate = "64k"
    }
    location "/cdry/" {
      limit_conn = { c = 1 }
      limit_conn_dry_run = true
    }
`))
	s.file("q/x", "x")
	s.file("delay/x", "x")
	s.file("delaydry/x", "x")
	s.file("cdry/x", "x")
	os.MkdirAll(filepath.Join(s.root, "c"), 0o755)
	bigFile(t, filepath.Join(s.root, "c/big.bin"), 4<<20)
	s.start()
	errlog := filepath.Join(s.dir, "logs/error.log")

	if r := s.get(req("GET", "/q/x")); r.status != 200 {
		t.Fatalf("first /q/: %d", r.status)
	}
	if r := s.get(req("GET", "/q/x")); r.status != 429 {
		t.Errorf("second /q/ over 1r/m: %d, want limit_req_status 429", r.status)
	}
	waitLogLine(t, errlog, `"level":"warn"`, `"zone":"one"`, `"message":"limiting requests"`)

	// Two at once at 2r/s: the second waits its turn, logged at notice,
	// one level below warn.
	a, b := s.dial(), s.dial()
	a.send(req("GET", "/delay/x"))
	b.send(req("GET", "/delay/x"))
	if ra, rb := a.read("GET"), b.read("GET"); ra.status != 200 || rb.status != 200 {
		t.Errorf("/delay/: %d %d, want 200 200", ra.status, rb.status)
	}
	waitLogLine(t, errlog, `"level":"notice"`, `"zone":"slow"`, `"message":"delaying request"`)

	// A dry run of a delay: answered at once, and logged as nginx does.
	if r := s.get(req("GET", "/delaydry/x")); r.status != 200 || r.header("X-Status") != "PASSED" {
		t.Errorf("first /delaydry/: %d %q", r.status, r.header("X-Status"))
	}
	start := time.Now()
	if r := s.get(req("GET", "/delaydry/x")); r.status != 200 || r.header("X-Status") != "DELAYED_DRY_RUN" {
		t.Errorf("second /delaydry/: %d %q, want 200 DELAYED_DRY_RUN", r.status, r.header("X-Status"))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a dry-run delay of a minute took %v", d)
	}
	waitLogLine(t, errlog, `"level":"warn"`, `"zone":"dd"`, `"message":"delaying request, dry run"`)

	// A download in flight holds the key's one connection.
	dl := s.dial()
	dl.send(req("GET", "/c/big.bin"))
	time.Sleep(300 * time.Millisecond)
	if r := s.get(req("GET", "/c/big.bin")); r.status != 429 {
		t.Errorf("a second download: %d, want limit_conn_status 429", r.status)
	}
	waitLogLine(t, errlog, `"level":"notice"`, `"zone":"c"`, `"message":"limiting connections"`)
	if r := s.get(req("GET", "/cdry/x")); r.status != 200 {
		t.Errorf("dry run with the key's connection taken: %d, want 200", r.status)
	}
	waitLogLine(t, errlog, `"level":"error"`, `"zone":"c"`, `"message":"limiting connections, dry run"`)
	dl.c.Close()
}
