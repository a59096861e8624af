package t

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procIDs reads the Uid, Gid, Groups, NoNewPrivs, CapPrm and CapEff lines of every
// thread of pid: "Uid:\t33\t33\t33\t33" and so on, one map per thread.
func procIDs(t *testing.T, pid int) []map[string]string {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads for %d: %v", pid, err)
	}
	var out []map[string]string
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "Uid", "Gid", "Groups", "NoNewPrivs", "CapPrm", "CapEff":
				m[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		out = append(out, m)
	}
	return out
}

// waitDropped waits until every worker has dropped to uid: a worker
// shows its title as it starts, and drops privileges once its hand-off is
// done.
func waitDropped(t *testing.T, workers []int, uid int) {
	t.Helper()
	want := strings.TrimSpace(strings.Repeat(strconv.Itoa(uid)+" ", 4))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dropped := true
		for _, pid := range workers {
			dropped = dropped && procIDs(t, pid)[0]["Uid"] == want
		}
		if dropped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v still not uid %d after 10 s", workers, uid)
		}
	}
}

// noCaps is a capability set with nothing in it.
const noCaps = "0000000000000000"

// checkWorkerIDs checks every thread of every worker: uid and gid (real,
// effective, saved, file system), the groups, no capabilities left
// (permitted and effective: nothing to setuid back to root with), and
// NoNewPrivs (no setuid binary or file capability gives them back).
func checkWorkerIDs(t *testing.T, master int, workers []int, uid, gid int, groups string) {
	t.Helper()
	waitDropped(t, workers, uid)
	wantUID := strings.TrimSpace(strings.Repeat(strconv.Itoa(uid)+" ", 4))
	wantGID := strings.TrimSpace(strings.Repeat(strconv.Itoa(gid)+" ", 4))
	for _, pid := range workers {
		threads := procIDs(t, pid)
		if len(threads) < 2 {
			t.Errorf("worker %d has %d threads: the check means more with several", pid, len(threads))
		}
		for i, th := range threads {
			if th["Uid"] != wantUID || th["Gid"] != wantGID || th["Groups"] != groups || th["NoNewPrivs"] != "1" ||
				th["CapPrm"] != noCaps || th["CapEff"] != noCaps {
				t.Errorf("worker %d thread %d: %v, want Uid %q Gid %q Groups %q NoNewPrivs 1, no capabilities", pid, i, th, wantUID, wantGID, groups)
			}
		}
		t.Logf("worker %d: %d threads, all %v", pid, len(threads), threads[0])
	}
	if m := procIDs(t, master); m[0]["Uid"] != "0 0 0 0" {
		t.Errorf("the master is %v, want root", m[0])
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (workers drop privileges only under a master started as root): " + t.Name())
	}
}

// TestWorkersDropToNobody: without user, a master started as root runs
// its workers as nobody, every thread of them, with NoNewPrivs, and says
// so at notice; USR1 and a reload work after the drop.
func TestWorkersDropToNobody(t *testing.T) {
	needRoot(t)
	s := newServer(t, procsConfig("", "", ""))
	s.file("index.html", "hello\n")
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	// Let the workers start their pool threads.
	for i := 0; i < 4; i++ {
		if r := s.get(req("GET", "/index.html")); r.status != 200 {
			t.Fatalf("as nobody: %d", r.status)
		}
	}
	checkWorkerIDs(t, s.masterPID(), ws, 65534, 65534, "65534")
	waitLogLine(t, filepath.Join(s.dir, "logs/error.log"), `"level":"notice"`, `"process":"master"`, `"user":"nobody (uid 65534, gid 65534)"`)

	// USR1: the master reopens the log, the workers write to the new one.
	log := filepath.Join(s.dir, "logs/access.log")
	accessEntries(t, s, 4)
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	waitFile(t, log, 5*time.Second, "the reopened access log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.get(req("GET", "/after-usr1"))
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "/after-usr1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no line in the reopened access log from the unprivileged workers")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A reload: new workers, dropped as well.
	s.signal(syscall.SIGHUP)
	nws := s.waitWorkers(2, ws, 10*time.Second)
	if r := s.get(req("GET", "/index.html")); r.status != 200 {
		t.Fatalf("after the reload: %d", r.status)
	}
	checkWorkerIDs(t, s.masterPID(), nws, 65534, 65534, "65534")
}

// TestWorkersRunAsUser: user = "www-data" (and a group), and files the
// user may not read answered 403.
func TestWorkersRunAsUser(t *testing.T) {
	needRoot(t)
	if exec.Command("id", "www-data").Run() != nil {
		t.Skip("SKIP (no www-data user on this machine): TestWorkersRunAsUser")
	}
	s := newServer(t, procsConfig(`user = "www-data daemon"`, "", ""))
	s.file("index.html", "hello\n")
	secret := s.file("secret.txt", "root only\n")
	os.Chmod(secret, 0o600)
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)
	if r := s.get(req("GET", "/index.html")); r.status != 200 {
		t.Fatalf("index: %d", r.status)
	}
	if r := s.get(req("GET", "/secret.txt")); r.status != 403 {
		t.Errorf("a file www-data may not read: %d, want 403", r.status)
	}
	// www-data (33) with the group daemon (1) and www-data's own groups.
	waitDropped(t, ws, 33)
	groups := procIDs(t, ws[0])[0]["Groups"]
	ids := strings.Fields(groups)
	if !slices.Contains(ids, "1") || !slices.Contains(ids, "33") {
		t.Errorf("groups %q, want daemon (1) and www-data's (33)", groups)
	}
	checkWorkerIDs(t, s.masterPID(), ws, 33, 1, groups)

	// A reload to an unknown user changes nothing.
	conf := readFile(t, filepath.Join(s.dir, "tern.hcl"))
	s.write("tern.hcl", strings.Replace(conf, `user = "www-data daemon"`, `user = "no-such-user-here"`, 1))
	s.signal(syscall.SIGHUP)
	waitFileHas(t, filepath.Join(s.dir, "logs/error.log"), "reload failed")
	if now := workersOf(s.masterPID()); !slices.Equal(now, ws) {
		t.Errorf("workers %v after a refused reload, want %v", now, ws)
	}
	if r := s.get(req("GET", "/index.html")); r.status != 200 {
		t.Fatalf("after the refused reload: %d", r.status)
	}
	// A reload to another user: the new workers run as that one, and
	// read what it may.
	s.write("tern.hcl", strings.Replace(conf, `user = "www-data daemon"`, `user = "nobody"`, 1))
	s.signal(syscall.SIGHUP)
	nws := s.waitWorkers(2, ws, 10*time.Second)
	checkWorkerIDs(t, s.masterPID(), nws, 65534, 65534, "65534")
	// The old workers, still www-data, accept until they are retired:
	// the request below must reach a new one.
	for _, pid := range ws {
		if !waitGone(pid, 10*time.Second) {
			t.Fatalf("old worker %d still running 10 s after the reload", pid)
		}
	}
	os.Chown(secret, 65534, 65534)
	if r := s.get(req("GET", "/secret.txt")); r.status != 200 {
		t.Errorf("a file nobody owns, after the reload to nobody: %d, want 200", r.status)
	}
}

// TestUpgradeKeepsUser: a binary upgrade under a master that is root:
// the new master is root too, and its workers drop to the user as the
// old ones did, while serving.
func TestUpgradeKeepsUser(t *testing.T) {
	needRoot(t)
	if exec.Command("id", "www-data").Run() != nil {
		t.Skip("SKIP (no www-data user on this machine): TestUpgradeKeepsUser")
	}
	u := newUpgradeServer(t)
	u.write("tern.hcl", "user = \"www-data\"\n"+readFile(t, u.conf()))
	u.start()
	old := u.masterPID()
	ws := u.waitWorkers(2, nil, 10*time.Second)
	waitDropped(t, ws, 33)
	l := startLoad(t, u.addr, "/", 2, 2, hello)
	time.Sleep(200 * time.Millisecond)
	if code, out := u.upgrade(); code != 0 {
		t.Fatalf("tern -s upgrade exited %d:\n%s", code, out)
	}
	first := u.pid(u.pidFile())
	if first == old || first == 0 {
		t.Fatalf("pid file names %d (old master %d)", first, old)
	}
	stopLater(t, first)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	nws := workersOf(first)
	if len(nws) != 2 {
		t.Fatalf("new master's workers: %v", nws)
	}
	waitDropped(t, nws, 33)
	checkWorkerIDs(t, first, nws, 33, 33, procIDs(t, nws[0])[0]["Groups"])
	time.Sleep(200 * time.Millisecond)
	l.halt()
	noFailures(t, l, "an upgrade with unprivileged workers")
}

// TestCheckUnreadableRoot: tern -t, as root, warns that the workers'
// user cannot read a root, and fails for an unknown user.
func TestCheckUnreadableRoot(t *testing.T) {
	needRoot(t)
	s := newServer(t, basicConfig(""))
	if err := os.Chmod(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ternBin, "-t", "-c", filepath.Join(s.dir, "tern.hcl")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Warning: root "+s.root+" is not readable by nobody") {
		t.Errorf("tern -t: %v\n%s", err, out)
	}
	s.write("tern.hcl", "user = \"no-such-user-here\"\n"+readFile(t, filepath.Join(s.dir, "tern.hcl")))
	out, err = exec.Command(ternBin, "-t", "-c", filepath.Join(s.dir, "tern.hcl")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Unknown user no-such-user-here") {
		t.Errorf("tern -t with an unknown user: %v\n%s", err, out)
	}
}
