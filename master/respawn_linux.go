//go:build linux

package master

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"tern/event"
)

// The worker exit protocol. A worker the master told to stop (QUIT,
// TERM, a reload retiring its generation) exits and is not replaced. Any
// other exit is a crash, logged at alert and counted
// (tern_worker_crashes_total), and:
//
//   - a worker of a generation that is still starting fails it: the
//     start fails (the master exits 1) or the reload is given up (the old
//     workers serve on);
//   - a worker of the serving generation is replaced in the same index
//     (same CPU, same reuseport sockets): at once, unless it died within
//     stableAfter of reporting ready after the previous one did too (a
//     crash loop), then after 100 ms, doubling up to 10 s
//     (tern_worker_respawns_delayed counts those waiting);
//   - a worker that exited with ExitCannotStart, which Go never uses by
//     itself, is tried again every backoffMax, with its reason logged
//     each time: the master checked everything it could before, so what
//     is left is an unexpected condition that may pass.

// reap collects every worker that exited, frees what it held, and
// decides what its exit means.
func (m *Master) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if pid == m.newBinary {
			m.newBinaryExited(ws)
			continue
		}
		p := m.procs[pid]
		if p == nil {
			continue
		}
		// What it said before it exited (why it cannot start) is in
		// its channel by now.
		m.readChannel(p)
		delete(m.procs, pid)
		unix.Close(p.channel)
		// Right after wait4, before the pid can be reused: a lock the
		// dead worker held is freed, its gauges zeroed.
		held := m.lock.ForceUnlock(pid)
		if p.gen.zones.forceUnlock(pid) {
			m.log.Warn().Int("worker", pid).Msg("a zone's lock was held by the dead worker, released")
		}
		m.shm.Vacate(p.slot)
		m.slots[p.slot] = false
		if held {
			m.log.Warn().Int("worker", pid).Msg("accept lock was held by the dead worker, released")
		}
		p.gen.procs--
		m.exited(p, ws)
		m.retire(p.gen)
	}
}

// exited logs a worker's exit and acts on it.
func (m *Master) exited(p *proc, ws unix.WaitStatus) {
	how := exitStatus(ws)
	if p.exiting || m.quitting || m.terminating {
		m.log.Info().Int("worker", p.pid).Int("index", p.index).Int("generation", p.gen.n).
			Str("status", how).Msg("worker process exited")
		return
	}
	event.Inc(&m.shm.Master().Crashes)
	cannotStart := ws.Exited() && ws.ExitStatus() == ExitCannotStart
	ev := m.alert().Int("worker", p.pid).Int("index", p.index).Int("generation", p.gen.n).
		Str("status", how).Dur("lived", time.Since(p.started))
	if p.reason != "" {
		ev = ev.Str("reason", p.reason)
	}
	switch {
	case !p.gen.serving:
		why := "a new worker " + how
		if p.reason != "" {
			why += ": " + p.reason
		}
		if p.gen.failed == "" {
			p.gen.failed = why
		}
		ev.Msg("worker process exited while starting")
	case p.gen != m.gen || m.noaccept:
		ev.Msg("worker process exited")
	case cannotStart:
		ev.Dur("respawn_in", backoffMax).Msg("worker process cannot start, trying again later")
		m.respawnAt(p.gen, p.index, time.Now().Add(backoffMax))
	default:
		delay := m.backoff(p)
		ev.Dur("respawn_in", delay).Msg("worker process crashed, respawning")
		if delay == 0 {
			m.respawnNow(p.gen, p.index)
		} else {
			m.respawnAt(p.gen, p.index, time.Now().Add(delay))
		}
	}
}

// exitStatus says how a process ended, for the log.
func exitStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Signaled() && ws.CoreDump():
		return fmt.Sprintf("killed by %s (core dumped)", unix.SignalName(ws.Signal()))
	case ws.Signaled():
		return "killed by " + unix.SignalName(ws.Signal())
	case ws.ExitStatus() == ExitCannotStart:
		return fmt.Sprintf("exited with status %d (cannot start)", ExitCannotStart)
	case ws.ExitStatus() == 2:
		return "exited with status 2 (a Go panic, fatal error or SIGABRT)"
	}
	return fmt.Sprintf("exited with status %d", ws.ExitStatus())
}

// backoff is the pause before replacing p: none the first time, then a
// doubling one while each replacement dies within stableAfter of
// reporting ready (or before it).
func (m *Master) backoff(p *proc) time.Duration {
	g := p.gen
	if !p.readyAt.IsZero() && time.Since(p.readyAt) >= stableAfter {
		g.fails[p.index] = 0
	}
	g.fails[p.index]++
	if f := g.fails[p.index]; f > 1 {
		return min(backoffFirst<<min(f-2, 16), backoffMax)
	}
	return 0
}

func (m *Master) respawnNow(g *generation, index int) {
	event.Inc(&m.shm.Master().Respawns)
	if err := m.startWorker(g, index); err != nil {
		m.alert().Err(err).Int("index", index).Dur("respawn_in", backoffMax).Msg("respawning a worker failed")
		// Try again later rather than never.
		m.respawnAt(g, index, time.Now().Add(backoffMax))
	}
}

// respawnAt replaces worker index of g at a later time.
func (m *Master) respawnAt(g *generation, index int, at time.Time) {
	m.respawns = append(m.respawns, respawn{gen: g, index: index, at: at})
	m.countDelayed()
}

// respawnDue starts the respawns due at now, and drops those of a
// generation that no longer serves.
func (m *Master) respawnDue(now time.Time) {
	rest := m.respawns[:0]
	var due []respawn
	for _, r := range m.respawns {
		switch {
		case r.gen != m.gen || m.quitting || m.terminating || m.noaccept:
			// dropped: its generation is over
		case !now.Before(r.at):
			due = append(due, r)
		default:
			rest = append(rest, r)
		}
	}
	m.respawns = rest
	for _, r := range due {
		m.respawnNow(r.gen, r.index)
	}
	m.countDelayed()
}

// countDelayed publishes how many respawns wait (a crash loop).
func (m *Master) countDelayed() {
	event.Store(&m.shm.Master().Delayed, uint64(len(m.respawns)))
}

// retire forgets a generation that neither serves nor starts once it
// has no worker left, closing what it held.
func (m *Master) retire(g *generation) {
	if g.procs > 0 || g == m.gen || g == m.next {
		return
	}
	for i, x := range m.gens {
		if x == g {
			m.gens = append(m.gens[:i], m.gens[i+1:]...)
			break
		}
	}
	g.release()
}
