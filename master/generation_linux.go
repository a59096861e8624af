//go:build linux

package master

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// A generation is what one configuration's workers need; the master has
// one serving and, during a reload, one starting. A generation serves
// once every one of its workers has reported ready on its channel.

// generation is a configuration and what was opened for it: sockets,
// the snapshot, the log files; a reload makes a new one.
type generation struct {
	n    int
	cfg  *conf.Config
	lns  *listenSet
	snap int // the configuration snapshot memfd; -1 once closed
	logs *logSet
	// zones are the limit_req and limit_conn zones' tables, shared with
	// the generations before and after it that have the same zones.
	zones *zoneSet
	// fails counts the quick deaths of each worker index in a row, for
	// the respawn back-off.
	fails []int
	// serving: every worker reported ready once. Until then the
	// generation is starting: a worker of it that exits makes failed
	// say why, and it never serves.
	serving  bool
	ready    int       // workers that reported ready, while starting
	deadline time.Time // while starting: when it is given up
	failed   string
	procs    int // its workers alive
	// errLog is a reload's new error log (its path changed), taken
	// over by the master when the generation serves.
	errLog LogFile
	// pidWritten: a reload wrote the pid file at a new path, removed if
	// the generation is given up.
	pidWritten bool
	// afterWinch: a reload started it while WINCH had stopped every
	// worker; given up, the master is back in that state.
	afterWinch bool
}

// newGeneration prepares generation n of cfg on lns and zones for
// workers: the snapshot and the log files, everything a worker needs
// that can fail. zones is the generation's from then on.
func newGeneration(n int, cfg *conf.Config, lns *listenSet, workers int, zones *zoneSet) (*generation, error) {
	snap, err := writeSnapshot(cfg)
	if err != nil {
		return nil, err
	}
	logs, err := openLogs(cfg)
	if err != nil {
		unix.Close(snap)
		return nil, err
	}
	return &generation{n: n, cfg: cfg, lns: lns, snap: snap, logs: logs, zones: zones, fails: make([]int, workers)}, nil
}

// startGeneration starts every worker of g, which then has readyTimeout
// to report ready. A worker that cannot be started fails g at once.
func (m *Master) startGeneration(g *generation) {
	g.deadline = time.Now().Add(readyTimeout)
	for i := range g.fails {
		if err := m.startWorker(g, i); err != nil {
			g.failed = err.Error()
			return
		}
	}
}

// readChannels reads every worker's messages.
func (m *Master) readChannels() {
	for _, p := range m.procs {
		m.readChannel(p)
	}
}

// readChannel acts on a worker's messages: ready, cannot start (kept for
// when it is reaped), a reopen it asks for.
func (m *Master) readChannel(p *proc) {
	msgs, _ := readMessages(p.channel)
	for _, msg := range msgs {
		switch msg.kind {
		case msgReady:
			if p.readyAt.IsZero() {
				p.readyAt = time.Now()
				p.gen.ready++
				m.log.Info().Int("worker", p.pid).Int("index", p.index).Int("generation", p.gen.n).
					Dur("after", p.readyAt.Sub(p.started)).Msg("worker process ready")
			}
			if p.held != 0 {
				m.kill(p, p.held) // told to stop while it started
			}
		case msgFail:
			p.reason = msg.text
		case msgReopen:
			m.log.Info().Int("worker", p.pid).Msg("a worker asks for its logs to be reopened")
			m.reopen()
		}
	}
}

// settle moves the starting generations on: the first one serves once
// its workers are ready, or the start fails; a reload's commits or is
// given up (reload_linux.go).
func (m *Master) settle(now time.Time) {
	if g := m.gen; !g.serving && !m.terminating && !m.quitting {
		switch {
		case g.failed != "":
			m.startFailed(g.failed)
		case g.ready == len(g.fails):
			g.serving = true
			m.log.Info().Int("worker_processes", len(g.fails)).Msg("tern started")
			announce(m.opt.Stderr, g.cfg.HTTP)
			if m.upgradeParent != 0 {
				// A binary upgrade started this master, and it serves.
				event.Inc(&m.shm.Master().UpgradesOK)
				atomic.StoreUint64(&m.shm.Master().UpgradeOKAt, uint64(now.Unix()))
			}
		case !now.Before(g.deadline):
			m.startFailed(fmt.Sprintf("the workers did not report ready within %v", readyTimeout))
		}
	}
	if g := m.next; g != nil {
		switch {
		case g.failed != "":
			m.abandon(g.failed)
		case g.ready == len(g.fails):
			m.commit()
		case !now.Before(g.deadline):
			m.abandon(fmt.Sprintf("the new workers did not report ready within %v", readyTimeout))
		}
	}
	if m.next == nil && m.reloadAgain && !m.quitting && !m.terminating {
		m.reloadAgain = false
		m.reload()
	}
}

// startFailed ends a start whose workers did not all start: the reason
// goes to standard error and the error log, and the master stops its
// workers and exits 1.
func (m *Master) startFailed(reason string) {
	m.alert().Str("reason", reason).Msg("start failed")
	fmt.Fprintln(m.opt.Stderr, "tern: start failed:", reason)
	m.exitCode = 1
	m.stopReason = "the start failed"
	m.terminate()
}

// release closes what g holds for its workers: the snapshot, the log
// files and the zones no other generation has (not the sockets, which
// the next generation may keep).
func (g *generation) release() {
	if g.snap >= 0 {
		unix.Close(g.snap)
		g.snap = -1
	}
	g.zones.release()
	g.zones = &zoneSet{}
	g.logs.close()
	if g.errLog != nil {
		g.errLog.Close()
		g.errLog = nil
	}
}
