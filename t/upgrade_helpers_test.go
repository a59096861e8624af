package t

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for the binary upgrade tests (upgrade_test.go): binaries built
// with other flags, a master started from a path a test can rename a new
// binary over, and the stop of a master that is not the test's child.

var (
	variantsMu sync.Mutex
	variants   = map[string]string{}
)

// buildVariant builds cmd/tern with extra go build flags once per test
// binary run, beside ternBin, and returns its path.
func buildVariant(t *testing.T, name string, flags ...string) string {
	return buildVariantOf(t, name, "../cmd/tern", flags...)
}

// buildVariantOf builds the package pkg as buildVariant does.
func buildVariantOf(t *testing.T, name, pkg string, flags ...string) string {
	t.Helper()
	variantsMu.Lock()
	defer variantsMu.Unlock()
	if p, ok := variants[name]; ok {
		return p
	}
	p := filepath.Join(filepath.Dir(ternBin), name)
	args := append(append([]string{"build", "-o", p}, flags...), pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	variants[name] = p
	return p
}

// install puts a copy of src at dst as a deploy does: written beside it,
// then renamed over it (overwriting a running binary fails with
// ETXTBSY).
func install(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// upgradeServer is a tern master started from a binary of its own, in
// bin, so that a test can deploy another binary over it.
type upgradeServer struct {
	*server
	bin string // DIR/sbin/tern
	out string // DIR/output.log: standard output and error of every master
}

// newUpgradeServer prepares a two-worker server with index.html.
func newUpgradeServer(t *testing.T) *upgradeServer { return newUpgradeServerWith(t, "") }

// newUpgradeServerWith is newUpgradeServer with extra server lines.
func newUpgradeServerWith(t *testing.T, extra string) *upgradeServer {
	s := newServer(t, procsConfig("", "", extra))
	s.file("index.html", "hello\n")
	u := &upgradeServer{server: s, bin: filepath.Join(s.dir, "sbin", "tern"), out: filepath.Join(s.dir, "output.log")}
	install(t, ternBin, u.bin)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(u.out)
			e, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
			t.Logf("output:\n%s\nerror log (masters):\n%s", b, grepLines(e, `"process":"master"`))
		}
	})
	return u
}

// grepLines returns the lines of b that contain s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// start runs cmd as the server's master and waits until it accepts. Its
// output goes to a file: a new master started by an upgrade inherits it,
// and a pipe would keep exec.Cmd.Wait waiting for that one too.
func (u *upgradeServer) startCmd(cmd *exec.Cmd) {
	u.t.Helper()
	f, err := os.OpenFile(u.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		u.t.Fatal(err)
	}
	defer f.Close()
	u.output = &lockedBuffer{}
	u.cmd = cmd
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		u.t.Fatal(err)
	}
	u.waited = make(chan struct{})
	go func() { cmd.Wait(); close(u.waited) }()
	u.t.Cleanup(u.kill)
	u.waitReady()
}

// start runs the master from u.bin.
func (u *upgradeServer) start() {
	u.t.Helper()
	u.startCmd(exec.Command(u.bin, "-c", u.conf()))
}

func (u *upgradeServer) conf() string { return filepath.Join(u.dir, "tern.hcl") }

func (u *upgradeServer) pidFile() string { return filepath.Join(u.dir, "logs", "tern.pid") }

// pid reads the pid file (0 when absent).
func (u *upgradeServer) pid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// upgrade runs tern -s upgrade (the client is always the build under
// test, whatever lies at u.bin) and returns its exit code and output.
func (u *upgradeServer) upgrade(env ...string) (int, string) {
	u.t.Helper()
	cmd := exec.Command(ternBin, "-s", "upgrade", "-c", u.conf())
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		u.t.Fatal(err)
	}
	return 0, out.String()
}

// stopLater stops master pid, which is not the test's child (a new
// master, reparented when the old one exits), when the test ends: TERM,
// then SIGKILL if it still runs after 10 s. Its workers get TERM from it.
func stopLater(t *testing.T, pid int) {
	t.Cleanup(func() {
		if _, ok := parentOf(pid); !ok {
			return
		}
		syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, 10*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	})
}

// workersOf lists the serving workers of master pid.
func workersOf(master int) []int {
	var w []int
	for _, pid := range children(master) {
		if cmdline(pid) == "tern: worker process" {
			w = append(w, pid)
		}
	}
	return w
}

// waitFor polls cond every 5 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
