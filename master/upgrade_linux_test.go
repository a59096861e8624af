//go:build linux

package master

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tern/conf"
)

// upgradeDirEnv tells fakeNewMaster where to report.
const upgradeDirEnv = "TERN_TEST_UPGRADE_DIR"

// fakeNewMaster is this test binary started by a master's USR2: it
// adopts the sockets named in ListenFDsEnv, reports its pid and their
// addresses in $TERN_TEST_UPGRADE_DIR/new-master, and exits with code 3
// when told TERM.
func fakeNewMaster() int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	fds, err := ParseFDList(os.Getenv(ListenFDsEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	report := strconv.Itoa(os.Getpid()) + "\n"
	for _, fd := range fds {
		a, err := adopt(fd)
		if err != nil {
			fmt.Fprintln(os.Stderr, fd, err)
			return 1
		}
		report += a.Addr + "\n"
	}
	dir := os.Getenv(upgradeDirEnv)
	if err := os.WriteFile(filepath.Join(dir, "new-master.tmp"), []byte(report), 0o644); err != nil {
		return 1
	}
	os.Rename(filepath.Join(dir, "new-master.tmp"), filepath.Join(dir, "new-master"))
	<-ch
	return 3
}

// bufLog is an error log in memory, read by the test while the master
// writes it.
type bufLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *bufLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *bufLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *bufLog) Reopen() error { return nil }
func (l *bufLog) Close() error  { return nil }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUpgradeInProcess runs the master in this process (under the race
// detector in CI) through nginx's rollback: WINCH stops the workers, USR2
// starts the new binary with the listening sockets and moves the pid file
// to .oldbin, a second USR2 is ignored, and when the new master exits
// the pid file comes back (as a new file) and the workers start again.
func TestUpgradeInProcess(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	file := filepath.Join(dir, "tern.hcl")
	pidFile := filepath.Join(dir, "tern.pid")
	src := fmt.Sprintf("pid = %q\nworker_processes = 1\nhttp {\n  server {\n    listen = [\"127.0.0.1:%d\"]\n  }\n}\n", pidFile, port)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The master opens the default logs, in PREFIX/logs.
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(upgradeDirEnv, dir)
	logs := &bufLog{}
	done := make(chan int, 1)
	go func() {
		done <- Run(Options{
			Config:  cfg,
			OpenLog: func(string) (LogFile, error) { return logs, nil },
			Stderr:  os.Stderr,
		})
	}()
	self := os.Getpid()
	ws := waitChildren(t, 1, nil)
	syscall.Kill(self, syscall.SIGWINCH)
	waitFor(t, "the workers to stop", func() bool { return len(childrenOf(self)) == 0 })
	var before syscall.Stat_t
	if err := syscall.Stat(pidFile, &before); err != nil {
		t.Fatal(err)
	}

	syscall.Kill(self, syscall.SIGUSR2)
	var report []byte
	waitFor(t, "the new master", func() bool {
		report, err = os.ReadFile(filepath.Join(dir, "new-master"))
		return err == nil
	})
	lines := strings.Fields(string(report))
	newPID, _ := strconv.Atoi(lines[0])
	if len(lines) != 2 || lines[1] != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("the new master got %q", report)
	}
	if pid, err := ReadPID(OldPIDPath(pidFile)); err != nil || pid != self {
		t.Fatalf(".oldbin: %d %v", pid, err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file still there: %v", err)
	}
	syscall.Kill(self, syscall.SIGUSR2)
	waitFor(t, "the second USR2 to be ignored", func() bool {
		return strings.Contains(logs.String(), `"upgrade":"ignored"`)
	})

	syscall.Kill(newPID, syscall.SIGTERM)
	waitFor(t, "the pid file back", func() bool {
		pid, err := ReadPID(pidFile)
		_, oerr := os.Stat(OldPIDPath(pidFile))
		return err == nil && pid == self && os.IsNotExist(oerr)
	})
	var after syscall.Stat_t
	if err := syscall.Stat(pidFile, &after); err != nil || after.Ino == before.Ino {
		t.Errorf("the pid file was not written anew: inode %d, was %d (%v)", after.Ino, before.Ino, err)
	}
	waitChildren(t, 1, append(ws, newPID))
	if !strings.Contains(logs.String(), `"upgrade":"rolled back"`) || !strings.Contains(logs.String(), `"code":3`) {
		t.Errorf("log:\n%s", logs)
	}

	syscall.Kill(self, syscall.SIGQUIT)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the master did not exit on QUIT")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
}
