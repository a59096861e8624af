//go:build linux

package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// A reload (HUP) in three steps, so that nothing an operator writes can
// take the server down:
//
//  1. Load and validate the configuration, then open what the new
//     workers need (sockets for new addresses, the snapshot, every log
//     file; the error log and the pid file when their paths change). Any
//     error: log it, change nothing.
//  2. Start the new generation's workers beside the old ones. Each
//     reports ready on its channel once it polls its sockets.
//  3. When all have, the old workers are told to quit gracefully and
//     sockets no longer configured are closed (commit). If one exits
//     first, or readyTimeout passes, the new workers are told to quit,
//     what was opened for them is closed, and the old ones serve on
//     (abandon).
//
// Each outcome is written to the reload status file beside the pid file,
// which tern -s reload waits for.

// reload is HUP.
func (m *Master) reload() {
	if m.next != nil {
		// One reload at a time: this one begins when the one under
		// way ends, and reads the files then.
		m.reloadAgain = true
		m.log.Info().Int("generation", m.next.n).Msg("a reload is under way: reloading again when it ends")
		return
	}
	m.reloads++
	m.writeReloadStatus(reloadStatus{State: "reloading"})
	if m.newBinary != 0 {
		// nginx: while a new binary runs, HUP starts workers again
		// from the configuration in memory (the first step of a
		// rollback after WINCH); it does not read the files. nginx
		// starts them beside any still running; tern replaces those
		// gracefully, as a reload.
		m.log.Info().Int("new_master", m.newBinary).Msg("a new binary runs: starting workers again without reading the configuration")
		m.switchGeneration(m.cfg)
		return
	}
	m.log.Info().Msg("reconfiguring")
	cfg := m.cfg
	if m.opt.Load != nil {
		var err error
		if cfg, err = m.opt.Load(); err != nil {
			m.reloadFailed("invalid configuration", diagnostics(err))
			return
		}
		if cfg.Warnings != nil {
			m.log.Warn().Str("diagnostics", diagnostics(cfg.Warnings)).Msg("the new configuration has warnings")
		}
	}
	if cfg.HTTP == nil || len(cfg.HTTP.Addrs) == 0 {
		m.reloadFailed("no listen address configured", "")
		return
	}
	if cfg.User != m.cfg.User || cfg.Group != m.cfg.Group {
		if err := m.logWorkerUser(cfg); err != nil {
			m.reloadFailed(err.Error(), "")
			return
		}
	}
	m.switchGeneration(cfg)
}

// reloadFailed logs why a reload changed nothing, counts it and writes
// the status file.
func (m *Master) reloadFailed(reason, diag string) {
	event.Inc(&m.shm.Master().ReloadsFailed)
	atomic.StoreUint64(&m.shm.Master().ReloadFailedAt, uint64(time.Now().Unix()))
	full := reason
	if diag != "" {
		full += ":\n" + diag
	}
	m.writeReloadStatus(reloadStatus{State: "failed", Reason: full})
	ev := m.log.Error().Str("reason", reason)
	if diag != "" {
		ev = ev.Str("diagnostics", diag)
	}
	ev.Msg("reload failed, still running the old configuration")
}

// switchGeneration opens what cfg's workers need (keeping the sockets of
// addresses that stay) and starts them as the next generation; settle
// commits it once they are all ready. On an error it changes nothing.
func (m *Master) switchGeneration(cfg *conf.Config) {
	m.registerLabels(cfg)
	n := workerCount(cfg, m.cpus)
	lns, err := openListeners(cfg, n, m.gen.lns)
	if err != nil {
		m.reloadFailed(err.Error(), "")
		return
	}
	zones, err := openZones(cfg, m.gen.zones, nil, m.log)
	if err != nil {
		lns.closeExcept(m.gen.lns)
		m.reloadFailed(err.Error(), "")
		return
	}
	g, err := newGeneration(m.gen.n+1, cfg, lns, n, zones)
	if err == nil {
		err = m.prepareFiles(g)
	}
	if err != nil {
		lns.closeExcept(m.gen.lns)
		if g != nil {
			g.release()
		} else {
			zones.release()
		}
		m.reloadFailed(err.Error(), "")
		return
	}
	m.next = g
	m.gens = append(m.gens, g)
	if m.noaccept {
		// After WINCH no worker serves: the new ones serve as each is
		// ready, and health locations answer 200 again.
		g.afterWinch = true
		m.noaccept = false
		m.shm.SetDraining(false)
	}
	m.log.Info().Int("generation", g.n).Int("worker_processes", n).Msg("starting the new workers")
	m.startGeneration(g)
}

// prepareFiles opens the error log and writes the pid file at g's paths
// when they differ from the current ones; commit then switches to them.
func (m *Master) prepareFiles(g *generation) error {
	cfg := g.cfg
	if cfg.ErrorLog != m.cfg.ErrorLog {
		logf, err := m.opt.OpenLog(cfg.ErrorLog)
		if err != nil {
			return fmt.Errorf("error log: %w", err)
		}
		g.errLog = logf
	}
	if cfg.PID != m.cfg.PID && cfg.PID != "" {
		if err := WritePID(cfg.PID, m.pid); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		g.pidWritten = true
	}
	return nil
}

// commit makes next the serving generation: every new worker reported
// ready. The old workers are told to quit gracefully, and the sockets
// no longer configured are closed.
func (m *Master) commit() {
	g, old := m.next, m.gen
	m.next = nil
	g.serving = true
	if g.errLog != nil {
		prev := m.logf
		m.setLog(g.errLog, g.cfg)
		g.errLog = nil
		prev.Close()
	} else if g.cfg.ErrorLogLevel != m.cfg.ErrorLogLevel {
		m.setLog(m.logf, g.cfg)
	}
	if g.cfg.PID != m.cfg.PID {
		removePID(m.cfg.PID, m.pid)
		removeReloadStatus(m.cfg.PID, m.pid)
	}
	m.gen, m.cfg = g, g.cfg
	m.tickets.configure(g.cfg)
	m.acme.Configure(g.cfg)
	m.respawns = nil
	m.countDelayed()
	m.stopWorkers(syscall.SIGQUIT, func(p *proc) bool { return p.gen != g })
	old.lns.closeExcept(g.lns)
	old.lns = &listenSet{}
	m.retire(old)
	event.Inc(&m.shm.Master().ReloadsOK)
	atomic.StoreUint64(&m.shm.Master().ReloadOKAt, uint64(time.Now().Unix()))
	m.writeReloadStatus(reloadStatus{State: "ok", Generation: g.n, Workers: len(g.fails)})
	m.log.Info().Int("generation", g.n).Int("worker_processes", len(g.fails)).Msg("reconfigured")
}

// abandon gives the next generation up: its workers are told to quit
// (they may have taken connections), what was opened for it is closed,
// and the old workers serve on.
func (m *Master) abandon(reason string) {
	g := m.next
	m.next = nil
	m.stopWorkers(syscall.SIGQUIT, func(p *proc) bool { return p.gen == g })
	g.lns.closeExcept(m.gen.lns)
	g.lns = &listenSet{}
	if g.pidWritten {
		removePID(g.cfg.PID, m.pid)
	}
	g.failed = reason
	if g.afterWinch {
		m.noaccept = true
		m.shm.SetDraining(true)
	}
	m.retire(g)
	m.reloadFailed(reason, "")
}

// giveUp abandons a reload under way because the master stops its
// workers (QUIT, TERM, WINCH).
func (m *Master) giveUp(why string) {
	if m.next != nil {
		m.abandon(why)
	}
	m.reloadAgain = false
}

// reloadStatus is the reload status file: the outcome of the master's
// last reload, which tern -s reload waits for.
type reloadStatus struct {
	// Master is the master's pid, Seq the reload's number (from 1).
	Master int `json:"master"`
	Seq    int `json:"seq"`
	// State is "reloading", "ok" or "failed".
	State string `json:"state"`
	// Reason says why a reload failed.
	Reason string `json:"reason,omitempty"`
	// Generation and Workers describe a successful reload.
	Generation int `json:"generation,omitempty"`
	Workers    int `json:"workers,omitempty"`
}

// ReloadStatusSuffix is appended to the pid file's path to name the
// reload status file.
const ReloadStatusSuffix = ".reload"

func reloadStatusPath(pid string) string { return pid + ReloadStatusSuffix }

// writeReloadStatus writes st for the current reload (no file without a
// pid file).
func (m *Master) writeReloadStatus(st reloadStatus) {
	if m.cfg.PID == "" {
		return
	}
	st.Master, st.Seq = m.pid, m.reloads
	b, _ := json.Marshal(st)
	if err := writeFileAtomic(reloadStatusPath(m.cfg.PID), append(b, '\n')); err != nil {
		m.log.Error().Err(err).Msg("writing the reload status file failed")
	}
}

// ReloadStatus is what tern -s reload reads from the status file.
type ReloadStatus = reloadStatus

// ReadReloadStatus reads the reload status file beside the pid file; a
// missing file is the zero status.
func ReadReloadStatus(pidPath string) (ReloadStatus, error) {
	var st reloadStatus
	b, err := os.ReadFile(reloadStatusPath(pidPath))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// removeReloadStatus removes the status file if master pid wrote it.
func removeReloadStatus(pidPath string, pid int) {
	if st, err := ReadReloadStatus(pidPath); err == nil && st.Master == pid {
		os.Remove(reloadStatusPath(pidPath))
	}
}

// WaitReload waits until the master pid has finished a reload numbered
// after seq (the status file's Seq before HUP was sent, 0 for another
// master's), or until the timeout; it also gives up when the master
// exits.
func WaitReload(pidPath string, pid, seq int, timeout time.Duration) (ReloadStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := ReadReloadStatus(pidPath)
		if err == nil && st.Master == pid && st.Seq > seq && st.State != "reloading" {
			return st, nil
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			return st, fmt.Errorf("master %d exited", pid)
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("no answer from master %d within %v (is it an older tern, without reload status?)", pid, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ReloadWait is how long tern -s reload waits for the master's answer:
// the new workers' readyTimeout, and time to read the configuration.
const ReloadWait = readyTimeout + 5*time.Second
