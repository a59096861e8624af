package t

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseMetrics reads Prometheus' text exposition format strictly: every
// sample line is NAME{LABELS} VALUE with a HELP and TYPE before its
// family.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	sampleRE := regexp.MustCompile(`^([a-z_]+)(\{[a-z]+="[^"]*"\})? (\S+)$`)
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
http {
  access_log = "off"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "= /metrics" { metrics = true }
  }
}
`)
	s.file("a.txt", strings.Repeat("m", 5000))
	s.start()
	const n = 40
	for i := 0; i < n; i++ {
		c := s.dial() // new connections, so both workers take some
		c.do(req("GET", "/a.txt"))
		c.do(req("GET", "/missing"))
	}
	time.Sleep(1200 * time.Millisecond) // counters published once a second
	r := s.get(req("GET", "/metrics"))
	if r.status != 200 || r.header("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%v", r)
	}
	m := parseMetrics(t, string(r.body))
	checks := []struct {
		name string
		ok   func(v float64) bool
	}{
		{"tern_http_requests_total", func(v float64) bool { return v >= 2*n+1 }},
		{`tern_http_responses_total{code="2xx"}`, func(v float64) bool { return v >= n }},
		{`tern_http_responses_total{code="4xx"}`, func(v float64) bool { return v >= n }},
		{"tern_http_sent_bytes_total", func(v float64) bool { return v >= n*5000 }},
		{"tern_connections_accepted_total", func(v float64) bool { return v >= n+1 }},
		{`tern_connections{state="writing"}`, func(v float64) bool { return v >= 1 }},
		{`tern_http_request_duration_seconds_bucket{le="+Inf"}`, func(v float64) bool { return v >= 2*n }},
		{"tern_http_request_duration_seconds_count", func(v float64) bool { return v == m[`tern_http_request_duration_seconds_bucket{le="+Inf"}`] }},
		{`tern_file_sends_total{mode="offloaded"}`, func(v float64) bool { return v == 0 }},
		{"tern_thread_pool_queue_depth", func(v float64) bool { return v == 0 }},
	}
	for i, c := range checks {
		v, ok := m[c.name]
		if !ok || !c.ok(v) {
			t.Errorf("%d: %s = %v (present %v)", i, c.name, v, ok)
		}
	}
	// Buckets are cumulative.
	prev := -1.0
	for _, le := range []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"} {
		v, ok := m[`tern_http_request_duration_seconds_bucket{le="`+le+`"}`]
		if !ok || v < prev {
			t.Fatalf("bucket le=%s: %v after %v", le, v, prev)
		}
		prev = v
	}
	if r := s.get(req("POST", "/metrics")); r.status != 405 {
		t.Fatalf("POST: %v", r)
	}
}
