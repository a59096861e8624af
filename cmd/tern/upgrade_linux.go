//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/master"
)

// tern -s upgrade: nginx's binary upgrade (docs/operations.md#binary-upgrade, master/upgrade_linux.go)
// driven to its end or rolled back, one at a time:
//
//  1. Refuse when another tern -s upgrade runs (flock on PID.upgrade-lock)
//     or when PID.oldbin names a live master (an upgrade not finished, or
//     an old master still draining its connections).
//  2. USR2 to the master named by the pid file.
//  3. Wait for the new master's pid in the pid file, then for a worker of
//     the new master to answer a health request (probe_linux.go).
//  4. WINCH and QUIT to the old master: its workers finish their
//     responses, and it exits.
//
// On a timeout, or when the new master exits, it is stopped (TERM, then
// SIGKILL to it and its workers after killGrace), the old master takes
// its pid file back and serves on (its workers never stopped), and the
// command exits 1 naming the cause.

const (
	// defaultUpgradeTimeout bounds steps 2-3 unless -upgrade-timeout or
	// TERN_UPGRADE_TIMEOUT says otherwise.
	defaultUpgradeTimeout = 10 * time.Second
	// upgradeTimeoutEnv sets the timeout when the flag is not given.
	upgradeTimeoutEnv = "TERN_UPGRADE_TIMEOUT"
	// killGrace is how long a new master has to stop after TERM before
	// it and its workers get SIGKILL.
	killGrace = 5 * time.Second
	// restoreWait bounds the wait for the old master to take its pid
	// file back and to have workers.
	restoreWait = 5 * time.Second
	// logWait is how long the cause is looked for in the error log:
	// the master writes its log at least every second.
	logWait = 1500 * time.Millisecond
	// pollEvery is the pause between two looks at the pid files.
	pollEvery = 10 * time.Millisecond
	// probeEvery is the pause between two health probes: most land on
	// an old worker while both generations accept.
	probeEvery = 20 * time.Millisecond
	// winchWait bounds the pause between WINCH and QUIT.
	winchWait = 2 * time.Second
	// lockSuffix names the lock file beside the pid file.
	lockSuffix = ".upgrade-lock"
)

// upgrader is one run of tern -s upgrade.
type upgrader struct {
	cfg      *conf.Config
	out      io.Writer
	timeout  time.Duration
	deadline time.Time
	pidPath  string
	oldPath  string
	oldPID   int
	pidIno   uint64 // the pid file's inode when USR2 was sent
	newPID   int
	logOff   int64 // the error log's size then; -1: not a file
}

// upgradeMaster runs tern -s upgrade and returns the exit code.
func upgradeMaster(cfg *conf.Config, timeout time.Duration, stderr io.Writer) int {
	if cfg.PID == "" {
		fmt.Fprintln(stderr, "tern: the configuration has no pid file (pid = \"off\"): -s upgrade needs one")
		return 1
	}
	u := &upgrader{cfg: cfg, out: stderr, timeout: timeout, pidPath: cfg.PID, oldPath: master.OldPIDPath(cfg.PID), logOff: -1}
	unlock, err := u.lock()
	if err != nil {
		fmt.Fprintln(stderr, "tern: upgrade refused:", err)
		return 1
	}
	defer unlock()
	if err := u.run(); err != nil {
		fmt.Fprintln(stderr, "tern: upgrade failed:", err)
		return 1
	}
	return 0
}

// upgradeTimeout is the -upgrade-timeout value, or else TERN_UPGRADE_TIMEOUT,
// or else the default.
func upgradeTimeout(flag time.Duration) (time.Duration, error) {
	if flag > 0 {
		return flag, nil
	}
	v := os.Getenv(upgradeTimeoutEnv)
	if v == "" {
		return defaultUpgradeTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration (e.g. 30s)", upgradeTimeoutEnv, v)
	}
	return d, nil
}

func (u *upgrader) progress(format string, args ...any) {
	fmt.Fprintf(u.out, "tern: upgrade: "+format+"\n", args...)
}

// lock takes the upgrade lock and checks that no upgrade is under way.
func (u *upgrader) lock() (func(), error) {
	fd, err := unix.Open(u.pidPath+lockSuffix, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: u.pidPath + lockSuffix, Err: err}
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if err == unix.EWOULDBLOCK {
			return nil, errors.New("another tern -s upgrade is running")
		}
		return nil, os.NewSyscallError("flock", err)
	}
	// The lock goes with the descriptor, also when the process dies;
	// the file itself stays (removing it would race with a waiter).
	unlock := func() { unix.Close(fd) }
	if pid, err := master.ReadPID(u.oldPath); err == nil && alive(pid) {
		unlock()
		return nil, fmt.Errorf("%s names master %d, which still runs: an upgrade is under way or its old master is still finishing its connections; wait for it to exit (or QUIT it)", u.oldPath, pid)
	} else if err == nil {
		u.progress("removing the stale %s (master %d is gone)", u.oldPath, pid)
		os.Remove(u.oldPath)
	}
	return unlock, nil
}

// run sends USR2 and sees the upgrade through, or rolls it back.
func (u *upgrader) run() error {
	pid, err := master.ReadPID(u.pidPath)
	if err != nil {
		return fmt.Errorf("no running master: %w", err)
	}
	if !alive(pid) {
		return fmt.Errorf("no running master: %s names %d, which is not running", u.pidPath, pid)
	}
	u.oldPID = pid
	var st unix.Stat_t
	if err := unix.Stat(u.pidPath, &st); err != nil {
		return err
	}
	u.pidIno = st.Ino
	if path := u.cfg.ErrorLog; path != "stderr" && path != "stdout" {
		if fi, err := os.Stat(path); err == nil {
			u.logOff = fi.Size()
		}
	}
	u.deadline = time.Now().Add(u.timeout)
	u.progress("sending USR2 to master %d (timeout %v)", u.oldPID, u.timeout)
	if err := syscall.Kill(u.oldPID, syscall.SIGUSR2); err != nil {
		return fmt.Errorf("kill(%d, USR2): %w", u.oldPID, err)
	}
	if err := u.waitNewMaster(); err != nil {
		return u.rollBack(err)
	}
	addr, err := probeAddress(u.cfg)
	if err != nil {
		return u.rollBack(err)
	}
	u.progress("new master %d wrote the pid file; waiting for one of its workers to answer on %s", u.newPID, addr)
	res, err := u.waitHealthy(addr)
	if err != nil {
		return u.rollBack(err)
	}
	u.progress("worker %d of the new master answered (status %d, Server: %s)", res.worker, res.status, res.server)
	return u.retireOld()
}

// retireOld sends WINCH to the old master, waits (briefly) for its
// workers to begin their graceful stop, then sends QUIT. QUIT alone would
// do as much; the pause keeps the two steps apart in its log, as in
// nginx's procedure.
func (u *upgrader) retireOld() error {
	fail := func(err error) error {
		return fmt.Errorf("the new master %d serves, but signalling the old master %d failed: %w", u.newPID, u.oldPID, err)
	}
	if err := syscall.Kill(u.oldPID, syscall.SIGWINCH); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(winchWait)
	for len(servingWorkersOf(u.oldPID)) > 0 && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	if err := syscall.Kill(u.oldPID, syscall.SIGQUIT); err != nil {
		return fail(err)
	}
	u.progress("sent WINCH and QUIT to the old master %d: it exits once its workers have finished their responses", u.oldPID)
	u.progress("done: master %d serves", u.newPID)
	return nil
}

// errRolledBack: the old master took its pid file back, the new binary
// having exited (or failed to start).
var errRolledBack = errors.New("the new binary exited, or could not be started, before writing its pid file")

// rolledBack reports whether the pid file names the old master again in
// a file written since USR2 (master.restorePID writes a new one).
func (u *upgrader) rolledBack() bool {
	var st unix.Stat_t
	pid, err := master.ReadPID(u.pidPath)
	return err == nil && pid == u.oldPID && unix.Stat(u.pidPath, &st) == nil && st.Ino != u.pidIno
}

// waitNewMaster waits until the pid file names a new master.
func (u *upgrader) waitNewMaster() error {
	for {
		if pid, err := master.ReadPID(u.pidPath); err == nil && pid != u.oldPID {
			u.newPID = pid
			return nil
		}
		if u.rolledBack() {
			return errRolledBack
		}
		if !alive(u.oldPID) {
			return fmt.Errorf("the master %d exited", u.oldPID)
		}
		if time.Now().After(u.deadline) {
			if _, err := os.Stat(u.oldPath); err != nil {
				return fmt.Errorf("timeout: master %d did not start a new binary within %v (USR2 ignored?)", u.oldPID, u.timeout)
			}
			return fmt.Errorf("timeout: the new binary did not write its pid file within %v", u.timeout)
		}
		time.Sleep(pollEvery)
	}
}

// waitHealthy probes addr until a worker of the new master answers.
func (u *upgrader) waitHealthy(addr string) (probeResult, error) {
	var last error
	for {
		if !alive(u.newPID) || u.rolledBack() {
			return probeResult{}, fmt.Errorf("the new master %d %w before its workers answered", u.newPID, errExited)
		}
		left := time.Until(u.deadline)
		if left <= 0 {
			cause := fmt.Sprintf("timeout: no worker of the new master %d answered within %v", u.newPID, u.timeout)
			if last != nil {
				cause += " (last probe: " + last.Error() + ")"
			}
			return probeResult{}, errors.New(cause)
		}
		res, err := probe(addr, u.newPID, u.oldPID, min(left, time.Second))
		if err == nil {
			return res, nil
		}
		if err != errOtherWorker {
			last = err
		}
		time.Sleep(probeEvery)
	}
}
