package t

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeFirstCommands: the README opens with the two commands a new
// user types, and the first does what its comment says from a clone:
// go run serves the repository's directory, listings on (the port is
// the test's own, added after the README's command as tern serve allows;
// the default, 127.0.0.1:8080, may be taken on a shared machine). The
// second is this test suite.
func TestReadmeFirstCommands(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\\A# tern\n\n```sh\n(.*?)```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README does not open with its title and a sh block")
	}
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	if want := []string{"go run ./cmd/tern serve .", "go test ./..."}; strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the README's first commands are %q, want %q", cmds, want)
	}
	if !strings.Contains(string(m[1]), "http://127.0.0.1:8080/") {
		t.Errorf("the README's first command does not say where it serves")
	}

	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	argv := append(strings.Fields(cmds[0]), "-listen", addr)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly") // go.sum must be complete
	// go run ignores SIGQUIT and passes no signal on: the group gets it,
	// tern's master and workers included.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		select {
		case <-waited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	})
	s := &server{t: t, addr: addr, cmd: cmd, output: &out, waited: waited}
	// The master says where it listens once every worker is ready.
	listening := "tern: listening on http://" + addr + "/"
	for deadline := time.Now().Add(3 * time.Minute); !strings.Contains(out.String(), listening); time.Sleep(100 * time.Millisecond) { // go run compiles first
		select {
		case <-waited:
			t.Fatalf("%s exited: %v\n%s", strings.Join(argv, " "), cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not say %q after 3 minutes\n%s", strings.Join(argv, " "), listening, out.String())
		}
	}
	if r := s.get(req("GET", "/README.md")); r.status != 200 || !bytes.Equal(r.body, readme) {
		t.Errorf("GET /README.md: %v", r)
	}
	if r := s.get(req("GET", "/docs/")); r.status != 200 || !bytes.Contains(r.body, []byte(`href="operations.md"`)) {
		t.Errorf("GET /docs/ (a listing): %v\n%s", r, r.body)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after QUIT\n%s", out.String())
	}
	// (go run's own exit status is not checked: it reports 1 after the
	// signal although tern exits 0.)
	if !strings.Contains(out.String(), "tern: stopped: QUIT received: graceful stop") {
		t.Errorf("after QUIT:\n%s", out.String())
	}
}
