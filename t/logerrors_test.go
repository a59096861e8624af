package t

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of access-log write errors: a full disk is reported in the error
// log (at error level, at most once every 10 s per log) and counted in
// metrics, and the server keeps serving.

// logErrorConfig serves ROOT with two workers, the access log at
// accessLog and metrics at /metrics.
func logErrorConfig(accessLog string) string {
	return strings.Replace(procsConfig("", "", metricsLocation), `access_log = "{{DIR}}/logs/access.log"`, `access_log = "`+accessLog+`"`, 1)
}

// TestAccessLogFull writes the access log to /dev/full, where every
// write fails with ENOSPC.
func TestAccessLogFull(t *testing.T) {
	s := newServer(t, logErrorConfig("/dev/full"))
	s.file("index.html", "hello\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	for i := 0; i < 50; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	lines := s.waitLogLine("writing the access log failed, lines are lost", 1)
	time.Sleep(2500 * time.Millisecond) // two more flushes, both failing
	for i := 0; i < 50; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	time.Sleep(1200 * time.Millisecond) // counters published once a second
	m := s.metrics(t)
	if m["tern_log_write_errors_total"] < 2 {
		t.Fatalf("tern_log_write_errors_total = %v, want the failed flushes", m["tern_log_write_errors_total"])
	}
	lines = s.waitLogLine("writing the access log failed, lines are lost", 1)
	// Rate-limited: at most one line per worker in these few seconds.
	if len(lines) > 2 {
		t.Fatalf("%d error lines in %v, want at most one per worker", len(lines), 4*time.Second)
	}
	for _, e := range lines {
		if e["level"] != "error" || e["access_log"] != "/dev/full" || !strings.Contains(e["error"].(string), "no space left on device") {
			t.Fatalf("logged as %v", e)
		}
	}
	t.Logf("%v failed writes, %d error lines", m["tern_log_write_errors_total"], len(lines))
}

// TestAccessLogDiskFull fills a small tmpfs that holds the access log
// (root only: the test mounts it): writes fail and are reported; once
// space is freed, lines are written again.
func TestAccessLogDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (needs root to mount a tmpfs): TestAccessLogDiskFull; TestAccessLogFull covers the same with /dev/full")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tern-test", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP (cannot mount a tmpfs: %v %s): TestAccessLogDiskFull", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	full := func() {
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 4096)
		for {
			if _, err := f.Write(b); err != nil {
				return // ENOSPC: full
			}
		}
	}
	access := filepath.Join(dir, "access.log")
	s := newServer(t, logErrorConfig(access))
	s.file("index.html", "hello\n")
	s.start()
	s.waitWorkers(2, nil, 10*time.Second)
	full()
	for i := 0; i < 50; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	lines := s.waitLogLine("writing the access log failed, lines are lost", 1)
	if lines[0]["level"] != "error" || !strings.Contains(lines[0]["error"].(string), "no space left on device") {
		t.Fatalf("logged as %v", lines[0])
	}
	time.Sleep(1200 * time.Millisecond)
	if m := s.metrics(t); m["tern_log_write_errors_total"] < 1 {
		t.Fatalf("tern_log_write_errors_total = %v", m["tern_log_write_errors_total"])
	}
	// Space again: the next lines are written.
	os.Remove(filler)
	before := len(readLines(t, access))
	for i := 0; i < 10; i++ {
		if r := s.get(req("GET", "/", "Connection: close")); r.status != 200 {
			t.Fatal(r)
		}
	}
	s.signal(syscall.SIGQUIT)
	s.wait(15 * time.Second)
	if after := len(readLines(t, access)); after < before+10 {
		t.Fatalf("%d lines before space was freed, %d after 10 more requests", before, after)
	}
}
