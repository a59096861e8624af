//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/master"
)

// The rollback half of tern -s upgrade.

// errExited wraps the failures in which the new binary exited by itself.
var errExited = errors.New("exited")

// rollBack stops the new master if one started, waits for the old master
// to have its pid file and workers back, and returns the failure with
// its cause and the state it leaves.
func (u *upgrader) rollBack(cause error) error {
	switch {
	case errors.Is(cause, errRolledBack) || errors.Is(cause, errExited):
		if d := u.logCause("rolled back", "failed"); d != "" {
			cause = fmt.Errorf("%w (error log: %s)", cause, d)
		}
	case u.newPID == 0:
		if d := u.logCause("ignored", "failed"); d != "" {
			cause = fmt.Errorf("%w (error log: %s)", cause, d)
		}
	}
	u.progress("%v; rolling back", cause)
	u.stopNewMaster()
	return fmt.Errorf("%w; %s", cause, u.waitRestored())
}

// victim is a process to stop, with its start time, so that a pid reused
// meanwhile is left alone.
type victim struct {
	pid   int
	start uint64
}

func (v victim) alive() bool {
	st, ok := readStat(v.pid)
	return ok && st.state != 'Z' && st.start == v.start
}

// stopNewMaster sends TERM to the new master (known from the pid file, or
// else the old master's children that are not workers: a new binary that
// never wrote the pid file), and after killGrace SIGKILL to it and to its
// workers still alive.
func (u *upgrader) stopNewMaster() {
	pids := []int{u.newPID}
	if u.newPID == 0 {
		pids = nil
		for _, c := range children(u.oldPID) {
			if !isWorker(c) {
				pids = append(pids, c)
			}
		}
	}
	var masters, all []victim
	for _, pid := range pids {
		st, ok := readStat(pid)
		if !ok || st.state == 'Z' {
			continue
		}
		v := victim{pid, st.start}
		masters = append(masters, v)
		all = append(all, v)
		for _, w := range children(pid) {
			if st, ok := readStat(w); ok {
				all = append(all, victim{w, st.start})
			}
		}
	}
	for _, v := range masters {
		u.progress("stopping the new master %d (TERM)", v.pid)
		syscall.Kill(v.pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(killGrace)
	for slices.ContainsFunc(masters, victim.alive) && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	for _, v := range all {
		if v.alive() {
			u.progress("process %d still runs after %v: SIGKILL", v.pid, killGrace)
			syscall.Kill(v.pid, syscall.SIGKILL)
		}
	}
}

// waitRestored waits for the old master to name itself in the pid file
// again and to have workers, and describes the state it finds.
func (u *upgrader) waitRestored() string {
	deadline := time.Now().Add(restoreWait)
	for {
		pid, err := master.ReadPID(u.pidPath)
		_, oerr := os.Stat(u.oldPath)
		restored := err == nil && pid == u.oldPID && os.IsNotExist(oerr)
		workers := len(workersOf(u.oldPID))
		switch {
		case !alive(u.oldPID):
			return fmt.Sprintf("the old master %d is gone too: nothing serves", u.oldPID)
		case restored && workers > 0:
			return fmt.Sprintf("rolled back: master %d serves with %d workers, pid file %s restored", u.oldPID, workers, u.pidPath)
		case time.Now().After(deadline):
			return fmt.Sprintf("rolled back, but after %v master %d has %d workers and the pid file %s names %d (%v)", restoreWait, u.oldPID, workers, u.pidPath, pid, err)
		}
		time.Sleep(pollEvery)
	}
}

// logCause looks in the error log, from where it ended when USR2 was
// sent, for the old master's line on the upgrade whose "upgrade" field is
// one of kinds, for up to logWait, and returns its message and details.
func (u *upgrader) logCause(kinds ...string) string {
	if u.logOff < 0 {
		return ""
	}
	deadline := time.Now().Add(logWait)
	for {
		if s := u.scanLog(kinds); s != "" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (u *upgrader) scanLog(kinds []string) string {
	f, err := os.Open(u.cfg.ErrorLog)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(u.logOff, io.SeekStart); err != nil {
		return ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			PID     int    `json:"pid"`
			Upgrade string `json:"upgrade"`
			Message string `json:"message"`
			Error   string `json:"error"`
			Code    *int   `json:"code"`
			Signal  *int   `json:"signal"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.PID != u.oldPID || !slices.Contains(kinds, e.Upgrade) {
			continue
		}
		parts := []string{e.Message}
		if e.Code != nil {
			parts = append(parts, fmt.Sprintf("exit code %d", *e.Code))
		}
		if e.Signal != nil {
			parts = append(parts, "killed by "+unix.SignalName(syscall.Signal(*e.Signal)))
		}
		if e.Error != "" {
			parts = append(parts, e.Error)
		}
		return strings.Join(parts, ", ")
	}
	return ""
}
