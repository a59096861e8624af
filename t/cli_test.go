package t

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTern runs the binary to completion and returns its exit code and
// output.
func runTern(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(ternBin, args...)
	cmd.Dir = dir
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestConfigTest(t *testing.T) {
	s := newServer(t, basicConfig(""))
	cfg := filepath.Join(s.dir, "tern.hcl")
	code, out, errOut := runTern(t, s.dir, "-t", "-c", cfg)
	if code != 0 || out != "" || errOut != "configuration file "+cfg+" test is successful\n" {
		t.Fatalf("-t: %d %q %q", code, out, errOut)
	}
	code, out, _ = runTern(t, s.dir, "-T", "-c", cfg)
	// Every directive appears with its effective value, those that only
	// servers and locations may have included.
	for _, want := range []string{"worker_connections", "keepalive_timeout", "sendfile_max_chunk", `root`,
		"try_files = ", "# return: not set", "stub_status = false", "metrics = false", "server_name = "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("-T lacks %s: %d %q", want, code, out)
		}
	}
	// -T's output is itself a valid configuration.
	dumped := s.write("dumped.hcl", out)
	if code, _, errOut := runTern(t, s.dir, "-t", "-c", dumped); code != 0 {
		t.Fatalf("-T output does not load: %s", errOut)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		cfg  string
		want string // regexp over stderr
	}{
		{"worker_processes = 0\n", `bad.hcl:1,\d+: .*`},
		{"http {\n  bogus = 1\n}\n", `bad.hcl:2,3: .*bogus`},
		{"http {\n  server {\n    listen = [\"8080\", \"8080\"]\n  }\n}\n", `bad.hcl:3,\d+: .*`},
		{"http {\n  keepalive_timeout = \"forever\"\n}\n", `bad.hcl:2,\d+: .*`},
		{"http {\n  server {\n    location \"~ (\" {}\n  }\n}\n", `bad.hcl:3,\d+: .*`},
		{"http {\n", `bad.hcl:\d+,\d+: .*`},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "bad.hcl")
		os.WriteFile(p, []byte(c.cfg), 0o644)
		code, _, errOut := runTern(t, dir, "-t", "-c", p)
		if code != 1 || !regexp.MustCompile(c.want).MatchString(errOut) || !strings.Contains(errOut, "test failed") {
			t.Errorf("%d: exit %d, stderr %q, want /%s/", i, code, errOut, c.want)
		}
	}
	// Starting with a bad configuration fails the same way.
	if code, _, errOut := runTern(t, dir, "-c", filepath.Join(dir, "bad.hcl")); code != 1 || errOut == "" {
		t.Errorf("start: exit %d %q", code, errOut)
	}
	if code, _, errOut := runTern(t, dir, "-c", filepath.Join(dir, "missing.hcl")); code != 1 || !strings.Contains(errOut, "missing.hcl") {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runTern(t, ".", "-v")
	if code != 0 || out != "tern version: tern/0.1.0\n" {
		t.Fatalf("-v: %d %q", code, out)
	}
	code, out, _ = runTern(t, ".", "-V")
	if code != 0 || !strings.Contains(out, "built with go") {
		t.Fatalf("-V: %d %q", code, out)
	}
}

// TestQuitFinishesResponses: QUIT lets a response in flight complete,
// closes idle connections, flushes the logs and removes the pid file.
func TestQuitFinishesResponses(t *testing.T) {
	s := newServer(t, basicConfig(`sendfile_max_chunk = "256k"`))
	want := bigFile(t, filepath.Join(s.root, "big.bin"), 64<<20)
	s.file("small.txt", "small\n")
	s.start()
	idle := s.dial()
	idle.do(req("GET", "/small.txt")) // keep-alive, then idle
	slow := s.dial()
	slow.send(req("GET", "/big.bin"))
	r := &response{}
	slow.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := readHead(slow.br, r); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGQUIT)
	idle.expectClosed(3 * time.Second)
	n, _ := strconv.ParseInt(r.header("Content-Length"), 10, 64)
	got := hashN(t, slow.br, n)
	if got != want || r.header("Connection") != "keep-alive" {
		t.Fatalf("download during QUIT: %s, want %s (%v)", got, want, r)
	}
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "logs/tern.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
	lines := readLines(t, filepath.Join(s.dir, "logs/access.log"))
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestAccessLogJSON(t *testing.T) {
	s := staticServer(t, "")
	workers := s.waitWorkers(1, nil, 10*time.Second)
	c := s.dial()
	c.do(req("GET", "/a.txt?x=1", "User-Agent: tester/1", "Referer: http://r/"))
	c.do(req("HEAD", "/missing"))
	s.signal(syscall.SIGQUIT)
	s.wait(5 * time.Second)
	lines := readLines(t, filepath.Join(s.dir, "logs/access.log"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	local := c.c.LocalAddr().(*net.TCPAddr)
	want := map[string]any{
		"remote_addr": local.IP.String(), "method": "GET", "uri": "/a.txt?x=1", "protocol": "HTTP/1.1",
		"status": 200.0, "body_bytes_sent": 12.0, "host": "localhost", "referer": "http://r/",
		"user_agent": "tester/1", "connection_requests": 1.0, "pid": float64(workers[0]), // the worker's
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s: %v (%T), want %v", k, e[k], e[k], v)
		}
	}
	for _, k := range []string{"time", "bytes_sent", "request_time", "connection"} {
		if _, ok := e[k]; !ok {
			t.Errorf("no %s in %s", k, lines[0])
		}
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e["status"] != 404.0 || e["connection_requests"] != 2.0 {
		t.Errorf("second line %s", lines[1])
	}
}

func TestAccessLogCombined(t *testing.T) {
	s := staticServer(t, `access_log_format = "combined"`)
	s.get(req("GET", "/a.txt", "User-Agent: a \"quoted\" agent"))
	s.signal(syscall.SIGQUIT)
	s.wait(5 * time.Second)
	lines := readLines(t, filepath.Join(s.dir, "logs/access.log"))
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /a\.txt HTTP/1\.1" 200 12 "-" "a \\x22quoted\\x22 agent"$`)
	if len(lines) != 1 || !re.MatchString(lines[0]) {
		t.Fatalf("%q", lines)
	}
}

func TestReopenLogs(t *testing.T) {
	s := staticServer(t, "")
	s.get(req("GET", "/a.txt"))
	log := filepath.Join(s.dir, "logs/access.log")
	time.Sleep(1200 * time.Millisecond) // the writer flushes once a second
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	waitFile(t, log, 5*time.Second, "USR1 did not create a new access log")
	s.get(req("GET", "/noext"))
	s.signal(syscall.SIGQUIT)
	s.wait(5 * time.Second)
	old, cur := readLines(t, log+".1"), readLines(t, log)
	if len(old) != 1 || len(cur) != 1 || !strings.Contains(old[0], "/a.txt") || !strings.Contains(cur[0], "/noext") {
		t.Fatalf("old %q new %q", old, cur)
	}
}

func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		s := staticServer(t, "")
		c := s.dial()
		c.do(req("GET", "/a.txt"))
		s.signal(sig)
		if code := s.wait(3 * time.Second); code != 0 {
			t.Fatalf("%v: exit %d", sig, code)
		}
		c.expectClosed(time.Second)
	}
}
