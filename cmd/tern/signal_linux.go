//go:build linux

package main

import (
	"fmt"
	"io"
	"syscall"

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
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "tern: no running master: kill(%d, %s): %v\n", pid, o.signal, err)
		return 1
	}
	return 0
}
