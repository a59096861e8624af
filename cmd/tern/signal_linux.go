//go:build linux

package main

import (
	"fmt"
	"io"
	"syscall"

	"tern/conf"
	"tern/master"
)

// signals maps -s names to what the master is sent.
var signals = map[string]syscall.Signal{
	"stop":   syscall.SIGTERM,
	"quit":   syscall.SIGQUIT,
	"reload": syscall.SIGHUP,
	"reopen": syscall.SIGUSR1,
}

// signalMaster sends -s SIGNAL to the master named by the pid file, or
// runs the whole binary upgrade for -s upgrade.
func signalMaster(o options, stderr io.Writer) int {
	sig, ok := signals[o.signal]
	if !ok && o.signal != "upgrade" {
		fmt.Fprintf(stderr, "tern: invalid option: \"-s %s\" (stop, quit, reload, reopen, upgrade)\n", o.signal)
		return 1
	}
	// The configuration names the pid file; for an upgrade it is also
	// the one the new master will read, checked here first.
	cfg, code := load(o.file, o.prefix, stderr)
	if cfg == nil {
		return code
	}
	if o.signal == "upgrade" {
		timeout, err := upgradeTimeout(o.upgradeTimeout)
		if err != nil {
			fmt.Fprintln(stderr, "tern:", err)
			return 1
		}
		return upgradeMaster(cfg, timeout, stderr)
	}
	if cfg.PID == "" {
		fmt.Fprintln(stderr, "tern: the configuration has no pid file (pid = \"off\")")
		return 1
	}
	pid, err := master.ReadPID(cfg.PID)
	if err != nil {
		fmt.Fprintf(stderr, "tern: no running master: %v\n", err)
		return 1
	}
	var before master.ReloadStatus
	if sig == syscall.SIGHUP {
		// Checked here too, so that a log that cannot be opened is
		// named at once; the master checks again.
		ce := cfg.CheckPaths()
		if ce != nil {
			ce.WriteText(stderr)
		}
		if ce.HasErrors() || !checkFiles(cfg, stderr) {
			fmt.Fprintf(stderr, "tern: reload refused: configuration file %s test failed\n", cfg.File)
			return 1
		}
		before, _ = master.ReadReloadStatus(cfg.PID)
		if before.Master != pid {
			before.Seq = 0
		}
	}
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "tern: no running master: kill(%d, %s): %v\n", pid, o.signal, err)
		return 1
	}
	if sig == syscall.SIGHUP {
		return waitReload(cfg, pid, before.Seq, stderr)
	}
	return 0
}

// waitReload waits for the master's verdict on the reload (its reload
// status file) and says it: nothing and 0 when the new workers serve,
// the reason and 1 when the master kept the old ones.
func waitReload(cfg *conf.Config, pid, seq int, stderr io.Writer) int {
	st, err := master.WaitReload(cfg.PID, pid, seq, master.ReloadWait)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "tern: reload: %v\n", err)
		return 1
	case st.State != "ok":
		fmt.Fprintf(stderr, "tern: reload failed, master %d serves on with the old configuration: %s\n", pid, st.Reason)
		return 1
	}
	return 0
}
