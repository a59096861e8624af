//go:build linux

package master

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// Binary upgrade (docs/operations.md#binary-upgrade), nginx's procedure:
//
//  1. USR2: the master renames its pid file to PID.oldbin and starts the
//     binary now on disk at the path it was started from (os.Executable,
//     resolved at start: a deploy renames a new binary over that path)
//     with its own arguments, handing over every listening socket (see
//     inherit_linux.go). The new master adopts them, binds only addresses
//     that are new, writes the pid file and starts its workers: both
//     generations now accept on the same sockets.
//  2. WINCH to the old master: its workers stop gracefully.
//  3. QUIT to the old master: it exits, removing PID.oldbin only. Or, to
//     roll back: HUP to the old master (workers again, configuration not
//     re-read) and QUIT or TERM to the new one.
//
// When the new master exits, the old one takes its pid file back and
// keeps serving, starting workers again if WINCH had stopped them.
//
// The new master is a child of the old one, in its process group, with
// its standard streams. It does not watch its parent: when the old master
// exits, the kernel reparents it to the nearest subreaper (systemd, a
// supervisor that set PR_SET_CHILD_SUBREAPER) or to init, and it keeps
// running. A supervisor that tracks the pid file (systemd's PIDFile=)
// follows it; one that only watches the process it started sees that
// process exit after a successful upgrade.
//
// `tern -s upgrade` (cmd/tern) drives the whole procedure and rolls back
// by itself on failure.

// OldPIDSuffix is appended to the pid file's name while a new binary
// runs (nginx's NGX_OLDPID_EXT).
const OldPIDSuffix = ".oldbin"

// OldPIDPath is the name the pid file path has while a new binary runs.
func OldPIDPath(pid string) string { return pid + OldPIDSuffix }

// upgradeLogKey is the error log field on the outcome of an upgrade
// attempt, which tern -s upgrade looks for to name the cause of a
// failure: "started", "ignored", "failed" or "rolled back".
const upgradeLogKey = "upgrade"

// changeBinary is USR2: start the new binary, unless one runs already or
// this master is itself a new binary whose old master still lives
// (nginx's rule: one upgrade at a time, and no chain of them).
func (m *Master) changeBinary() {
	switch {
	case m.quitting || m.terminating:
		return
	case m.newBinary != 0:
		m.log.Error().Str(upgradeLogKey, "ignored").Int("new_master", m.newBinary).
			Msg("the changing binary signal is ignored: a new binary runs; QUIT this master to finish the upgrade or QUIT the new one to roll back")
		return
	case m.upgradeParent != 0 && os.Getppid() == m.upgradeParent:
		m.log.Error().Str(upgradeLogKey, "ignored").Int("old_master", m.upgradeParent).
			Msg("the changing binary signal is ignored: the old master still runs; QUIT or TERM it first")
		return
	case m.exe == "":
		m.log.Error().Str(upgradeLogKey, "failed").Msg("cannot start a new binary: the path of the running binary is unknown")
		return
	}
	m.log.Info().Str("binary", m.exe).Msg("changing binary")
	if m.cfg.PID != "" {
		if err := os.Rename(m.cfg.PID, OldPIDPath(m.cfg.PID)); err != nil {
			m.log.Error().Str(upgradeLogKey, "failed").Err(err).Msg("renaming the pid file before starting the new binary failed, not upgrading")
			return
		}
	}
	pid, err := execNewBinary(m.exe, os.Args, m.gen.lns.FDs(), m.tickets.zone.FD(), m.gen.zones)
	if err != nil {
		m.log.Error().Str(upgradeLogKey, "failed").Err(err).Msg("starting the new binary failed, still serving")
		m.restorePID()
		return
	}
	m.newBinary = pid
	m.log.Info().Str(upgradeLogKey, "started").Int("new_master", pid).Str("binary", m.exe).Msg("new binary process started")
}

// execNewBinary starts path as a new master with argv, the listening
// sockets fds as its fds 3, 4, ... (not close-on-exec: ForkExec dup2s
// them into place) named in ListenFDsEnv, the ticket keys zone after
// them named in TicketKeysEnv, the limit zones' tables after that named
// in ZonesEnv, and this process's environment and standard streams.
func execNewBinary(path string, argv []string, fds []int, keys int, zones *zoneSet) (int, error) {
	files := []uintptr{0, 1, 2}
	child := make([]int, len(fds))
	for i, fd := range fds {
		files = append(files, uintptr(fd))
		child[i] = listenFDsStart + i
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ListenFDsEnv+"=") && !strings.HasPrefix(kv, TicketKeysEnv+"=") && !strings.HasPrefix(kv, ZonesEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, ListenFDsEnv+"="+formatFDList(child))
	if keys > 0 {
		env = append(env, TicketKeysEnv+"="+strconv.Itoa(len(files)))
		files = append(files, uintptr(keys))
	}
	env = append(env, ZonesEnv+"="+zones.zonesEnv(len(files)))
	for _, fd := range zones.fds() {
		files = append(files, uintptr(fd))
	}
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
}

// newBinaryExited is the reaping of the new master: the upgrade is over
// or rolled back. This master takes its pid file back and, if WINCH had
// stopped its workers, starts them again (nginx's ngx_reap_children).
func (m *Master) newBinaryExited(ws unix.WaitStatus) {
	pid := m.newBinary
	m.newBinary = 0
	// Any exit of the new binary while this master lives is a rollback.
	event.Inc(&m.shm.Master().UpgradesFailed)
	atomic.StoreUint64(&m.shm.Master().UpgradeFailedAt, uint64(time.Now().Unix()))
	var ev *zerolog.Event
	switch {
	case ws.Signaled():
		ev = m.log.Error().Int("signal", int(ws.Signal()))
	case ws.ExitStatus() != 0:
		ev = m.log.Error().Int("code", ws.ExitStatus())
	default:
		ev = m.log.Warn().Int("code", 0)
	}
	ev.Str(upgradeLogKey, "rolled back").Int("new_master", pid).Msg("new binary process exited, this master serves on")
	m.restorePID()
	if m.noaccept && !m.quitting && !m.terminating {
		m.noaccept = false
		m.shm.SetDraining(false)
		m.log.Info().Msg("starting workers again")
		for i := range m.gen.fails {
			if err := m.startWorker(m.gen, i); err != nil {
				m.log.Error().Err(err).Int("index", i).Msg("starting a worker failed")
			}
		}
	}
}

// restorePID gives the pid file back to this master after the new binary
// failed or exited. nginx renames PID.oldbin back; tern writes the pid
// file anew (another inode, same content) and then removes PID.oldbin, so
// that tern -s upgrade, which noted the pid file's inode before sending
// USR2, tells "rolled back" from "not started yet" even when the new
// binary died within a millisecond.
func (m *Master) restorePID() {
	path := m.cfg.PID
	if path == "" {
		return
	}
	if err := WritePID(path, m.pid); err != nil {
		m.log.Error().Err(err).Msg("writing the pid file back failed, renaming " + OldPIDSuffix + " back")
		if err := os.Rename(OldPIDPath(path), path); err != nil {
			m.log.Error().Err(err).Msg("renaming the pid file back failed")
		}
		return
	}
	removePID(OldPIDPath(path), m.pid)
}

// openSockets opens cfg's listening sockets for n workers at start,
// adopting the sockets this process inherited (from an old master or
// systemd) for the addresses they are bound to and closing those that
// no address wants.
func (m *Master) openSockets(cfg *conf.Config, n int) (*listenSet, error) {
	in, err := takeInherited(m.log)
	if err != nil {
		return nil, err
	}
	if in.fromMaster {
		m.upgradeParent = os.Getppid()
	}
	lns, err := openListeners(cfg, n, in.set)
	if err != nil {
		in.set.closeExcept(nil)
		return nil, err
	}
	used := map[int]bool{}
	for _, fd := range lns.FDs() {
		used[fd] = true
	}
	for _, l := range in.set.list {
		for _, fd := range l.fds {
			if !used[fd] {
				m.log.Info().Int("fd", fd).Str("addr", l.addr.Addr).Msg("closing an inherited socket the configuration does not use")
				unix.Close(fd)
			}
		}
	}
	return lns, nil
}
