package t

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary upgrade and socket activation (docs/operations.md#binary-upgrade), each under a bounded
// load loop of keep-alive and new connections that counts every failed
// connect, reset or non-2xx response.

func hello(b []byte) bool { return string(b) == "hello\n" }

// TestUpgrade: tern -s upgrade to a rebuilt binary that reports another
// version, deployed by rename over the running one's path: no request
// fails, the new version answers, the old master exits and removes only
// PID.oldbin, and the new master (reparented) keeps serving. Then a
// second upgrade, back to the first build, from that new master.
func TestUpgrade(t *testing.T) {
	v2 := buildVariant(t, "tern-0.1.1", "-ldflags", "-X tern/filters.ServerVersion=0.1.1")
	u := newUpgradeServer(t)
	u.start()
	old := u.masterPID()
	u.waitWorkers(2, nil, 10*time.Second)
	if r := u.get(req("GET", "/")); r.header("Server") != "tern/0.1.0" {
		t.Fatalf("Server %q before the upgrade", r.header("Server"))
	}
	l := startLoad(t, u.addr, "/", 4, 4, hello)
	time.Sleep(300 * time.Millisecond)

	install(t, v2, u.bin)
	start := time.Now()
	code, out := u.upgrade()
	t.Logf("tern -s upgrade (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if code != 0 {
		t.Fatalf("tern -s upgrade exited %d", code)
	}
	first := u.pid(u.pidFile())
	if first == old || first == 0 {
		t.Fatalf("pid file names %d (old master %d)", first, old)
	}
	stopLater(t, first)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	if exists(u.pidFile() + ".oldbin") {
		t.Fatal("PID.oldbin left behind")
	}
	if p := u.pid(u.pidFile()); p != first {
		t.Fatalf("pid file names %d after the old master's exit, want %d", p, first)
	}
	if ppid, _ := parentOf(first); ppid == old || !strings.HasPrefix(cmdline(first), "tern: master process "+u.bin) {
		t.Fatalf("new master: parent %d, title %q", ppid, cmdline(first))
	}
	w := workersOf(first)
	if len(w) != 2 {
		t.Fatalf("new master's workers: %v", w)
	}
	// The hand-off variable ends with the master that read it.
	if env, _ := os.ReadFile("/proc/" + strconv.Itoa(w[0]) + "/environ"); strings.Contains(string(env), "TERN_LISTEN_FDS") {
		t.Errorf("worker %d inherited TERN_LISTEN_FDS", w[0])
	}
	time.Sleep(300 * time.Millisecond)
	if r := u.get(req("GET", "/")); r.header("Server") != "tern/0.1.1" {
		t.Fatalf("Server %q after the upgrade", r.header("Server"))
	}

	// The new master's parent is gone: it takes USR2 now.
	install(t, ternBin, u.bin)
	if code, out := u.upgrade(); code != 0 {
		t.Fatalf("second upgrade exited %d:\n%s", code, out)
	}
	second := u.pid(u.pidFile())
	stopLater(t, second)
	if second == first || !waitGone(first, 30*time.Second) {
		t.Fatalf("second upgrade: pid file names %d, first new master %d still there", second, first)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "two upgrades")
	if r := u.get(req("GET", "/")); r.header("Server") != "tern/0.1.0" {
		t.Fatalf("Server %q after the second upgrade", r.header("Server"))
	}
	if n := len(accessLines(t, u, "tern-upgrade-probe")); n < 2 {
		t.Errorf("%d probe requests in the access log, want one per upgrade at least", n)
	}
}

// accessLines returns the access log's lines that contain s.
func accessLines(t *testing.T, u *upgradeServer, s string) []string {
	var out []string
	for _, l := range readLines(t, filepath.Join(u.dir, "logs", "access.log")) {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestUpgradeRollbackExit: the binary on disk exits at start. tern -s
// upgrade exits 1 naming the cause, the old master has its pid file back
// and its workers never stopped, and no request fails.
func TestUpgradeRollbackExit(t *testing.T) {
	u := newUpgradeServer(t)
	u.start()
	old := u.masterPID()
	ws := u.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, u.addr, "/", 4, 4, hello)
	time.Sleep(300 * time.Millisecond)

	broken := u.write("broken.sh", "#!/bin/sh\necho 'broken build: refusing to start' >&2\nexit 1\n")
	install(t, broken, u.bin)
	code, out := u.upgrade()
	t.Logf("tern -s upgrade:\n%s", out)
	if code == 0 {
		t.Fatal("tern -s upgrade succeeded")
	}
	for _, want := range []string{"upgrade failed", "exited", "exit code 1", "rolled back: master " + strconv.Itoa(old)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if p := u.pid(u.pidFile()); p != old || exists(u.pidFile()+".oldbin") {
		t.Fatalf("pid file names %d (old master %d), .oldbin there: %v", p, old, exists(u.pidFile()+".oldbin"))
	}
	if w := u.workers(); !slices.Equal(w, ws) {
		t.Fatalf("workers %v, were %v", w, ws)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "upgrade to a binary that exits")
	if b, _ := os.ReadFile(u.out); !strings.Contains(string(b), "broken build: refusing to start") {
		t.Errorf("the broken binary's stderr is not in the master's output")
	}
}

// TestUpgradeRollbackTimeout: the new master starts but its workers
// never accept (a test build, -tags ternhang). After the timeout tern -s
// upgrade stops it and its workers, the old master serves on with its
// pid file, and no request fails.
func TestUpgradeRollbackTimeout(t *testing.T) {
	hang := buildVariant(t, "tern-hang", "-tags", "ternhang")
	u := newUpgradeServer(t)
	u.start()
	old := u.masterPID()
	ws := u.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, u.addr, "/", 4, 4, hello)
	time.Sleep(300 * time.Millisecond)

	install(t, hang, u.bin)
	start := time.Now()
	code, out := u.upgrade("TERN_UPGRADE_TIMEOUT=3s")
	took := time.Since(start)
	t.Logf("tern -s upgrade (%v):\n%s", took.Round(time.Millisecond), out)
	if code == 0 {
		t.Fatal("tern -s upgrade succeeded")
	}
	m := regexp.MustCompile(`timeout: no worker of the new master (\d+) answered within 3s`).FindStringSubmatch(out)
	if m == nil || took < 3*time.Second {
		t.Fatalf("no timeout after %v", took)
	}
	newPID, _ := strconv.Atoi(m[1])
	stopLater(t, newPID)
	if !waitGone(newPID, 5*time.Second) {
		t.Fatalf("new master %d still runs", newPID)
	}
	// Nothing runs the hanging binary any more: the old master and its
	// workers run the replaced one ("... (deleted)").
	for _, pid := range allPIDs() {
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); exe == u.bin {
			t.Errorf("process %d (%q) still runs the new binary", pid, cmdline(pid))
		}
	}
	if p := u.pid(u.pidFile()); p != old || exists(u.pidFile()+".oldbin") {
		t.Fatalf("pid file names %d (old master %d)", p, old)
	}
	if w := u.workers(); !slices.Equal(w, ws) {
		t.Fatalf("workers %v, were %v", w, ws)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "upgrade to workers that never answer")
}

// allPIDs lists every process.
func allPIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// errorLogHas reports whether the error log has a line from pid with
// every one of the fragments.
func errorLogHas(u *upgradeServer, pid int, frags ...string) bool {
	b, _ := os.ReadFile(filepath.Join(u.dir, "logs", "error.log"))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"pid":`+strconv.Itoa(pid)+",") && !slices.ContainsFunc(frags, func(f string) bool { return !strings.Contains(l, f) }) {
			return true
		}
	}
	return false
}

// TestUpgradeSignals walks nginx's manual procedure under load: USR2
// (pid file to .oldbin, both generations serve; USR2 ignored by both
// masters now; tern -s upgrade refused), WINCH to the old master, then a
// rollback by QUIT to the new master (the old master takes its pid file
// back and starts workers again); then USR2 again, HUP to the old master
// (workers again, configuration not re-read) and QUIT to it: it exits,
// removing PID.oldbin and not the new master's pid file.
func TestUpgradeSignals(t *testing.T) {
	u := newUpgradeServer(t)
	u.start()
	old := u.masterPID()
	ws := u.waitWorkers(2, nil, 10*time.Second)
	l := startLoad(t, u.addr, "/", 4, 4, hello)
	oldbin := u.pidFile() + ".oldbin"

	usr2 := func() int {
		u.signal(syscall.SIGUSR2)
		var n int
		waitFor(t, 10*time.Second, "a new master's pid file", func() bool {
			n = u.pid(u.pidFile())
			return n != 0 && n != old && u.pid(oldbin) == old
		})
		stopLater(t, n)
		waitFor(t, 10*time.Second, "the new master's workers", func() bool { return len(workersOf(n)) == 2 })
		return n
	}
	nm := usr2()
	stopSignal(t, nm, syscall.SIGUSR2)
	u.signal(syscall.SIGUSR2)
	waitFor(t, 5*time.Second, "both USR2 ignored in the error log", func() bool {
		return errorLogHas(u, nm, `"upgrade":"ignored"`, "the old master still runs") &&
			errorLogHas(u, old, `"upgrade":"ignored"`, "a new binary runs")
	})
	if code, out := u.upgrade(); code != 1 || !strings.Contains(out, "upgrade refused") {
		t.Fatalf("tern -s upgrade during an upgrade: %d %q", code, out)
	}

	u.signal(syscall.SIGWINCH)
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("old worker %d still runs after WINCH", pid)
		}
	}
	stopSignal(t, nm, syscall.SIGQUIT)
	if !waitGone(nm, 15*time.Second) {
		t.Fatalf("new master %d still runs after QUIT", nm)
	}
	waitFor(t, 5*time.Second, "the pid file back", func() bool { return u.pid(u.pidFile()) == old && !exists(oldbin) })
	ws = u.waitWorkers(2, ws, 10*time.Second)

	nm = usr2()
	u.signal(syscall.SIGHUP)
	u.waitWorkers(2, ws, 10*time.Second)
	u.signal(syscall.SIGQUIT)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	if exists(oldbin) || u.pid(u.pidFile()) != nm {
		t.Fatalf(".oldbin there: %v; pid file names %d, want %d", exists(oldbin), u.pid(u.pidFile()), nm)
	}
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "manual upgrade, rollback, upgrade")
}

// TestSocketActivation: a master started as systemd does (the socket as
// fd 3, LISTEN_PID its pid, LISTEN_FDS, LISTEN_FDNAMES) serves on that
// socket without binding one, keeps LISTEN_* from its workers, and hands
// the socket on through an upgrade.
func TestSocketActivation(t *testing.T) {
	u := newUpgradeServer(t)
	ln, err := net.Listen("tcp4", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if rc, err := f.SyscallConn(); err != nil || rc.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) }) != nil || err != nil {
		t.Fatal(err)
	}
	sock := "socket:[" + strconv.FormatUint(st.Ino, 10) + "]"
	// LISTEN_PID must be tern's own pid: the shell exports its pid and
	// execs tern, which keeps it.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, u.bin, "-c", u.conf())
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=web")
	// ExtraFiles hands the socket over in blocking mode (os.StartProcess
	// takes Fd()), as systemd does: tern must make it non-blocking.
	cmd.ExtraFiles = []*os.File{f}
	u.startCmd(cmd)
	f.Close()
	ln.Close() // from now on only tern holds the socket
	ws := u.waitWorkers(2, nil, 10*time.Second)
	if !holds(u.masterPID(), sock) || !holds(ws[0], sock) {
		t.Fatalf("master or worker does not hold %s", sock)
	}
	// fd 3 in the master: non-blocking (O_NONBLOCK 04000) and
	// close-on-exec (O_CLOEXEC 02000000), flags in octal.
	info, _ := os.ReadFile("/proc/" + strconv.Itoa(u.masterPID()) + "/fdinfo/3")
	var fl uint64
	if m := regexp.MustCompile(`flags:\s+([0-7]+)`).FindSubmatch(info); m != nil {
		fl, _ = strconv.ParseUint(string(m[1]), 8, 32)
	}
	if fl&04000 == 0 || fl&02000000 == 0 {
		t.Errorf("the master's fd 3: %s", info)
	}
	for _, pid := range ws {
		if env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); strings.Contains(string(env), "LISTEN_") {
			t.Errorf("worker %d inherited LISTEN_*", pid)
		}
	}
	waitFor(t, 5*time.Second, "the adoption in the error log", func() bool {
		return errorLogHas(u, u.masterPID(), "using inherited listening socket", `"systemd":true`, `"name":"web"`, `"fd":3`)
	})
	l := startLoad(t, u.addr, "/", 4, 4, hello)
	time.Sleep(500 * time.Millisecond)
	if code, out := u.upgrade(); code != 0 {
		t.Fatalf("upgrade: %d\n%s", code, out)
	}
	nm := u.pid(u.pidFile())
	stopLater(t, nm)
	if !holds(nm, sock) {
		t.Fatalf("the new master does not hold %s", sock)
	}
	u.wait(30 * time.Second)
	time.Sleep(300 * time.Millisecond)
	l.halt()
	noFailures(t, l, "socket activation and upgrade")
}

// holds reports whether pid has the file named target ("socket:[N]")
// open.
func holds(pid int, target string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == target {
			return true
		}
	}
	return false
}
