package t

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// contrib/systemd: the unit's commands do what its comments and
// docs/operations.md#systemd say, run as systemd runs them (a foreground
// master whose pid is in PIDFile, a reload that fails on a bad
// configuration while the old one serves on, KillSignal to the main
// process for a graceful stop); and systemd-analyze verifies the units
// where it is installed.

const systemdDir = "../contrib/systemd"

// unitFile is a systemd unit: section → key → values, in order (a key
// may repeat).
type unitFile map[string]map[string][]string

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: %q is not KEY=VALUE in a section", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// one returns the single value of key in section.
func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	if v := u[section][key]; len(v) == 1 {
		return v[0]
	}
	t.Fatalf("[%s] %s: %q, want one value", section, key, u[section][key])
	return ""
}

// unitPaths are the installed paths the units name, and where the test
// puts them instead.
func unitPaths(s *server) *strings.Replacer {
	return strings.NewReplacer(
		"/usr/local/bin/tern", ternBin,
		"/etc/tern/tern.hcl", filepath.Join(s.dir, "tern.hcl"),
		"/run/tern/tern.pid", filepath.Join(s.dir, "logs/tern.pid"))
}

// execLine runs one Exec line of the unit (rewritten to the test's
// paths) to completion and returns its exit code and output.
func execLine(t *testing.T, line string) (int, string) {
	t.Helper()
	argv := strings.Fields(line)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return 0, string(out)
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, filepath.Join(systemdDir, "tern.service"))
	for key, want := range map[string]string{"Type": "simple", "KillSignal": "SIGQUIT", "KillMode": "mixed"} {
		if got := u.one(t, "Service", key); got != want {
			t.Errorf("[Service] %s=%s, want %s (docs/operations.md#systemd)", key, got, want)
		}
	}
	stopTimeout, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatal(err)
	}
	// The configuration the unit runs: pid where PIDFile says, a drain
	// shorter than TimeoutStopSec, a health location.
	s := newServer(t, strings.Replace(handlersConfig("", `    location "= /healthz" { health = true }`),
		"worker_processes = 1", "worker_processes = 1\nworker_shutdown_timeout = \"10s\"", 1))
	s.file("index.html", "hello\n")
	paths := unitPaths(s)
	if got, want := paths.Replace(u.one(t, "Service", "PIDFile")), filepath.Join(s.dir, "logs/tern.pid"); got != want {
		t.Fatalf("PIDFile is not the pid file the test rewrites: %s", got)
	}
	if 10*time.Second >= stopTimeout {
		t.Fatalf("TimeoutStopSec=%v does not exceed the test's worker_shutdown_timeout", stopTimeout)
	}

	// ExecStartPre tests the configuration.
	if code, out := execLine(t, paths.Replace(u.one(t, "Service", "ExecStartPre"))); code != 0 || !strings.Contains(out, "test is successful") {
		t.Fatalf("ExecStartPre: exit %d\n%s", code, out)
	}
	// ExecStart stays in the foreground (Type=simple) and writes its pid
	// where PIDFile looks.
	argv := strings.Fields(paths.Replace(u.one(t, "Service", "ExecStart")))
	s.output = &lockedBuffer{}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.waited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.kill)
	s.waitReady()
	pidFile := filepath.Join(s.dir, "logs/tern.pid")
	waitFile(t, pidFile, 10*time.Second, "PIDFile")
	if b, _ := os.ReadFile(pidFile); strings.TrimSpace(string(b)) != strconv.Itoa(s.cmd.Process.Pid) {
		t.Fatalf("PIDFile holds %q, the main process is %d", b, s.cmd.Process.Pid)
	}
	if r := s.get(req("GET", "/healthz")); r.status != 200 {
		t.Fatalf("/healthz: %v", r)
	}

	// ExecReload: a new configuration takes effect, and systemctl reload
	// reports success.
	cfg := filepath.Join(s.dir, "tern.hcl")
	good, _ := os.ReadFile(cfg)
	s.write("tern.hcl", strings.Replace(string(good), `location "= /healthz"`, `location "= /new" { return = "204" }
    location "= /healthz"`, 1))
	reload := paths.Replace(u.one(t, "Service", "ExecReload"))
	if code, out := execLine(t, reload); code != 0 {
		t.Fatalf("ExecReload: exit %d\n%s", code, out)
	}
	if r := s.get(req("GET", "/new")); r.status != 204 {
		t.Fatalf("after ExecReload, /new: %v", r)
	}
	// An invalid one fails the reload, with the reason, and the running
	// configuration serves on.
	s.write("tern.hcl", string(good)+"\nhttp {\n")
	if code, out := execLine(t, reload); code == 0 || !strings.Contains(out, "tern.hcl") {
		t.Fatalf("ExecReload of an invalid configuration: exit %d\n%s", code, out)
	}
	if r := s.get(req("GET", "/new")); r.status != 204 {
		t.Fatalf("after a failed ExecReload, /new: %v", r)
	}

	// systemctl stop: KillSignal to the main process (KillMode=mixed),
	// which drains and exits 0 within TimeoutStopSec, removing its pid
	// file.
	sig := map[string]syscall.Signal{"SIGQUIT": syscall.SIGQUIT, "SIGTERM": syscall.SIGTERM}[u.one(t, "Service", "KillSignal")]
	s.signal(sig)
	if code := s.wait(stopTimeout); code != 0 {
		t.Fatalf("after KillSignal, exit %d\n%s", code, s.output)
	}
	if _, err := os.Stat(pidFile); err == nil {
		t.Errorf("the pid file outlives the stop")
	}
	if !strings.Contains(s.output.String(), "tern: stopped: QUIT received: graceful stop") {
		t.Errorf("the journal does not say why tern stopped:\n%s", s.output)
	}
}

// TestSystemdVerify: systemd-analyze verify accepts both units (with the
// binary where the test built it); it prints, rather than fails on, an
// unknown key or value, so any output fails the test.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): the units are not verified")
	}
	s := newServer(t, basicConfig(""))
	paths := unitPaths(s)
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"tern.service", "tern.socket"} {
		b, err := os.ReadFile(filepath.Join(systemdDir, name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(paths.Replace(string(b))), 0o644)
		units = append(units, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
