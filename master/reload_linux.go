//go:build linux

package master

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// reload is HUP: load and validate the configuration; on any error log
// it and change nothing; else open the new sockets (keeping those of
// addresses that stay), start a new generation of workers, tell the old
// ones to quit gracefully, and close the sockets no longer configured.
func (m *Master) reload() {
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
			m.log.Error().Str("diagnostics", diagnostics(err)).Msg("reload failed: invalid configuration, still running the old one")
			return
		}
	}
	if cfg.HTTP == nil || len(cfg.HTTP.Addrs) == 0 {
		m.log.Error().Msg("reload failed: no listen address configured, still running the old one")
		return
	}
	m.switchGeneration(cfg)
}

// switchGeneration opens cfg's sockets (keeping those of addresses that
// stay), starts a new generation of workers, tells the old ones to quit
// gracefully and closes the sockets no longer configured. On an error it
// logs and changes nothing.
func (m *Master) switchGeneration(cfg *conf.Config) {
	n := workerCount(cfg, m.cpus)
	lns, err := openListeners(cfg, n, m.gen.lns)
	if err != nil {
		m.log.Error().Err(err).Msg("reload failed, still running the old configuration")
		return
	}
	snap, err := writeSnapshot(cfg)
	if err != nil {
		lns.closeExcept(m.gen.lns)
		m.log.Error().Err(err).Msg("reload failed, still running the old configuration")
		return
	}
	if err := m.switchFiles(cfg); err != nil {
		lns.closeExcept(m.gen.lns)
		unix.Close(snap)
		m.log.Error().Err(err).Msg("reload failed, still running the old configuration")
		return
	}
	old := m.gen
	g := &generation{n: old.n + 1, cfg: cfg, lns: lns, snap: snap, fails: make([]int, n)}
	m.gen, m.cfg = g, cfg
	m.noaccept = false
	m.shm.SetDraining(false) // workers again after a WINCH
	m.respawns = nil
	for i := 0; i < n; i++ {
		if err := m.startWorker(g, i); err != nil {
			m.log.Error().Err(err).Int("index", i).Msg("starting a worker failed")
		}
	}
	time.Sleep(startPause)
	m.stopWorkers(syscall.SIGQUIT, func(p *proc) bool { return p.gen != g })
	old.lns.closeExcept(lns)
	unix.Close(old.snap)
	m.log.Info().Int("generation", g.n).Int("worker_processes", n).Msg("reconfigured")
}

// switchFiles moves the error log and the pid file to the paths cfg
// names, when they changed.
func (m *Master) switchFiles(cfg *conf.Config) error {
	if cfg.ErrorLog != m.cfg.ErrorLog {
		logf, err := m.opt.OpenLog(cfg.ErrorLog)
		if err != nil {
			return fmt.Errorf("error log: %w", err)
		}
		old := m.logf
		m.setLog(logf, cfg)
		old.Close()
	} else if cfg.ErrorLogLevel != m.cfg.ErrorLogLevel {
		m.setLog(m.logf, cfg)
	}
	if cfg.PID != m.cfg.PID {
		if cfg.PID != "" {
			if err := WritePID(cfg.PID, m.pid); err != nil {
				return fmt.Errorf("pid file: %w", err)
			}
		}
		removePID(m.cfg.PID, m.pid)
	}
	return nil
}
