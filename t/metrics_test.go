package t

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parseMetrics reads Prometheus' text exposition format strictly: every
// sample line is NAME{LABELS} VALUE with a HELP and TYPE before its
// family.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	const label = `[a-z]+="(?:[^"\\]|\\.)*"`
	sampleRE := regexp.MustCompile(`^([a-z_]+)(\{` + label + `(?:,` + label + `)*\})? (\S+)$`)
	typed := map[string]string{}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			typed[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad sample line %q", line)
		}
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		if typed[family] == "" && typed[m[1]] == "" {
			t.Fatalf("sample %q before its TYPE", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	s := newServer(t, `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
worker_processes = 2
thread_pool "disk" {
  threads = 4
}
http {
  access_log = "off"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "= /metrics" { metrics = true }
  }
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["example.com", "www.example.com"]
    root        = "{{ROOT}}"
    aio         = "threads=disk"
  }
}
`)
	s.file("a.txt", strings.Repeat("m", 5000))
	s.start()
	const n = 40
	received := 0
	for i := 0; i < n; i++ {
		c := s.dial() // new connections, so both workers take some
		for _, raw := range []string{
			"GET /a.txt HTTP/1.1\r\nHost: example.com\r\n\r\n",
			"GET /missing HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		} {
			c.do(raw)
			received += len(raw)
		}
	}
	c := s.dial()
	c.do(req("GET", "/a.txt"))
	c.do(req("POST", "/metrics", "Content-Length: 0"))
	time.Sleep(1200 * time.Millisecond) // counters published once a second
	r := s.get(req("GET", "/metrics"))
	if r.status != 200 || r.header("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%v", r)
	}
	m := parseMetrics(t, string(r.body))
	local := `server="127.0.0.1:` + strconv.Itoa(s.port) + `"`
	checks := []struct {
		name string
		ok   func(v float64) bool
	}{
		{"tern_http_requests_total", func(v float64) bool { return v >= 2*n+3 }},
		{`tern_http_responses_total{server="example.com",code="200"}`, func(v float64) bool { return v == n }},
		{`tern_http_responses_total{server="example.com",code="404"}`, func(v float64) bool { return v == n }},
		{`tern_http_responses_total{` + local + `,code="200"}`, func(v float64) bool { return v == 1 }},
		{`tern_http_responses_total{` + local + `,code="405"}`, func(v float64) bool { return v == 1 }},
		{`tern_http_sent_bytes_total{server="example.com"}`, func(v float64) bool { return v >= n*5000 }},
		{`tern_http_received_bytes_total{server="example.com"}`, func(v float64) bool { return v == float64(received) }},
		{`tern_http_received_bytes_total{` + local + `}`, func(v float64) bool { return v > 0 }},
		{"tern_connections_accepted_total", func(v float64) bool { return v >= n+1 }},
		{`tern_connections{state="writing"}`, func(v float64) bool { return v >= 1 }},
		{`tern_http_request_duration_seconds_bucket{le="+Inf"}`, func(v float64) bool { return v >= 2*n }},
		{"tern_http_request_duration_seconds_count", func(v float64) bool { return v == m[`tern_http_request_duration_seconds_bucket{le="+Inf"}`] }},
		{`tern_file_sends_total{mode="offloaded"}`, func(v float64) bool { return v >= 0 }},
		{`tern_thread_pool_queue_depth{pool="default"}`, func(v float64) bool { return v == 0 }},
		{`tern_thread_pool_queue_depth{pool="disk"}`, func(v float64) bool { return v == 0 }},
		{`tern_thread_pool_tasks_running{pool="disk"}`, func(v float64) bool { return v == 0 }},
		{`tern_thread_pool_rejected_total{pool="disk"}`, func(v float64) bool { return v == 0 }},
	}
	for i, c := range checks {
		v, ok := m[c.name]
		if !ok || !c.ok(v) {
			t.Errorf("%d: %s = %v (present %v)", i, c.name, v, ok)
		}
	}
	info := regexp.MustCompile(`(?m)^tern_build_info\{version="0\.\d+\.\d+",goversion="go[^"]+",revision="[^"]+"\} 1$`)
	if !info.Match(r.body) {
		t.Errorf("no tern_build_info:\n%s", r.body)
	}
	// Buckets are cumulative, up to an hour.
	prev := -1.0
	for _, le := range []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
		"30", "60", "120", "300", "600", "1800", "3600", "+Inf"} {
		v, ok := m[`tern_http_request_duration_seconds_bucket{le="`+le+`"}`]
		if !ok || v < prev {
			t.Fatalf("bucket le=%s: %v after %v", le, v, prev)
		}
		prev = v
	}
}

// TestMetricsReloadsAndUpgrades: reloads by outcome with when each last
// happened; a rolled-back upgrade in the old master, a successful one in
// the master it started.
func TestMetricsReloadsAndUpgrades(t *testing.T) {
	u := newUpgradeServerWith(t, metricsLocation)
	u.start()
	old := u.masterPID()
	ws := u.waitWorkers(2, nil, 10*time.Second)
	t0 := float64(time.Now().Unix())
	u.signal(syscall.SIGHUP)
	ws = u.waitWorkers(2, ws, 10*time.Second)
	waitFor(t, 10*time.Second, "the reload counted", func() bool {
		return u.metrics(t)[`tern_reloads_total{result="ok"}`] == 1
	})
	m := u.metrics(t)
	if at := m[`tern_reload_last_timestamp_seconds{result="ok"}`]; at < t0 || at > float64(time.Now().Unix()) ||
		m[`tern_reload_last_timestamp_seconds{result="failed"}`] != 0 {
		t.Fatalf("reload timestamps: ok %v failed %v (t0 %v)", at, m[`tern_reload_last_timestamp_seconds{result="failed"}`], t0)
	}

	// USR2, then the new master quits: a rollback, counted by the old.
	u.signal(syscall.SIGUSR2)
	nm := waitNewMaster(t, u, old)
	stopSignal(t, nm, syscall.SIGQUIT)
	if !waitGone(nm, 15*time.Second) {
		t.Fatalf("new master %d still runs after QUIT", nm)
	}
	waitFor(t, 10*time.Second, "the rollback counted", func() bool {
		return u.metrics(t)[`tern_upgrades_total{result="failed"}`] == 1
	})
	if m := u.metrics(t); m[`tern_upgrade_last_timestamp_seconds{result="failed"}`] < t0 || m[`tern_upgrades_total{result="ok"}`] != 0 {
		t.Fatalf("after a rollback: %v", m)
	}

	// USR2, WINCH, QUIT: the new master counts the upgrade that started it.
	u.signal(syscall.SIGUSR2)
	nm = waitNewMaster(t, u, old)
	u.signal(syscall.SIGWINCH)
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("old worker %d still runs after WINCH", pid)
		}
	}
	u.signal(syscall.SIGQUIT)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	// The new master counts it once its workers have reported ready.
	waitFor(t, 10*time.Second, "the upgrade counted", func() bool {
		return u.metrics(t)[`tern_upgrades_total{result="ok"}`] == 1
	})
	m = u.metrics(t)
	if m[`tern_upgrades_total{result="ok"}`] != 1 || m[`tern_upgrade_last_timestamp_seconds{result="ok"}`] < t0 ||
		m[`tern_upgrades_total{result="failed"}`] != 0 {
		t.Fatalf("the new master's upgrade metrics: ok %v at %v, failed %v", m[`tern_upgrades_total{result="ok"}`],
			m[`tern_upgrade_last_timestamp_seconds{result="ok"}`], m[`tern_upgrades_total{result="failed"}`])
	}
}

// waitNewMaster waits for the master a USR2 to old started, and its
// workers, and returns its pid.
func waitNewMaster(t *testing.T, u *upgradeServer, old int) int {
	t.Helper()
	var nm int
	waitFor(t, 10*time.Second, "a new master's pid file", func() bool {
		nm = u.pid(u.pidFile())
		return nm != 0 && nm != old
	})
	stopLater(t, nm)
	waitFor(t, 10*time.Second, "the new master's workers", func() bool { return len(workersOf(nm)) == 2 })
	return nm
}
