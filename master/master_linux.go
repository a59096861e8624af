//go:build linux

package master

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/master/acme"
)

// LogFile is an error log the master writes and reopens (worker.LogWriter).
type LogFile interface {
	io.Writer
	Reopen() error
	Close() error
}

// Options configure a master.
type Options struct {
	// Config is the validated configuration to start with.
	Config *conf.Config
	// Load reads the configuration again, for a reload (HUP). nil
	// reloads Config itself (tern serve, whose configuration is not a
	// file): new workers, same settings.
	Load func() (*conf.Config, error)
	// OpenLog opens an error log ("stderr" allowed).
	OpenLog func(path string) (LogFile, error)
	// Stderr gets the reason of a failed start.
	Stderr io.Writer
}

// Master is the master process: it never serves a request. It holds the
// listening sockets, the shared memory and the configuration, starts a
// worker per worker_processes, and turns signals into what docs/operations.md#signals says.
// Everything in it belongs to the goroutine running Run; signals arrive
// on a channel, so no state is shared with another goroutine.
type Master struct {
	opt  Options
	cfg  *conf.Config
	logf LogFile
	log  zerolog.Logger
	pid  int

	shm  *event.Shared
	lock event.AcceptLock
	// tickets are the session ticket keys the workers share.
	tickets *ticketRing
	// acme orders and renews the certificates of acme_certificate,
	// publishing them in the tickets' zone.
	acme *acme.Manager
	cpus []int
	// parentR is the read end of the pipe whose EOF tells workers that
	// the master is gone; parentW is never written, only held.
	parentR, parentW int
	// chans wakes run when a worker's channel has a message.
	chans *channels

	// gen is the generation that serves; at start, the first one while
	// it starts. next is a reload's generation while it starts: the old
	// workers keep serving until all of next's report ready. gens are
	// every generation that still has workers, gen and next included.
	gen   *generation
	next  *generation
	gens  []*generation
	procs map[int]*proc
	slots [event.MaxSlots]bool
	// reloadAgain is a HUP that came while next was starting.
	reloadAgain bool
	// reloads numbers the reloads, for the status file (reload_linux.go).
	reloads int

	quitting    bool
	terminating bool
	// stopReason says why the master stops, for the terminal.
	stopReason string
	noaccept   bool // WINCH: no workers until HUP
	exitCode   int  // 1 once the start failed
	killDelay  time.Duration
	killAt     time.Time
	respawns   []respawn

	// exe is the binary a USR2 starts: os.Executable() at start, the
	// path that a deploy renames a new binary over.
	exe string
	// newBinary is the pid of the new master a USR2 started, while it
	// runs (nginx's ngx_new_binary).
	newBinary int
	// upgradeParent is the old master that started this one, if one did:
	// USR2 is refused while it is our parent.
	upgradeParent int

	sigs chan os.Signal
}

// proc is a worker process.
type proc struct {
	pid, slot, index int
	gen              *generation
	channel          int // the master's end
	started          time.Time
	readyAt          time.Time // zero until it reports ready
	exiting          bool      // told to stop: not respawned
	// held is a stop signal kept for a worker that has not reported
	// ready (see stopWorkers), sent when it does or at heldUntil.
	held      syscall.Signal
	heldUntil time.Time
	reason    string // why it cannot start, as it said
}

// respawn is a worker index waiting out its back-off.
type respawn struct {
	gen   *generation
	index int
	at    time.Time
}

const (
	// readyTimeout bounds how long a generation's workers may take to
	// report ready: at start the master then exits 1, on a reload the old
	// workers serve on and the new ones are stopped.
	readyTimeout = 10 * time.Second
	// killFirst and killLast: a fast stop re-sends TERM after 50 ms,
	// doubling, and sends SIGKILL once the doubled delay passes a second,
	// 1.55 s after the first TERM (nginx's ngx_master_process_cycle).
	killFirst = 50 * time.Millisecond
	killLast  = time.Second
	// stableAfter is how long a worker must have served (since it
	// reported ready) for its death not to count as a crash loop. A
	// crash loop of workers that live longer costs at most one start a
	// second per worker.
	stableAfter = time.Second
	// backoffFirst and backoffMax bound the pause before respawning a
	// worker that keeps dying: the first death is replaced at once, the
	// next quick one after 100 ms, doubling up to 10 s. A worker that
	// cannot start is tried again every backoffMax.
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 10 * time.Second
)

// Run starts the master and serves until a stop signal; it returns the
// process's exit code: 0, or 1 when the start failed.
func Run(opt Options) int {
	IgnoreSignals()
	m, err := start(opt)
	if err != nil {
		fmt.Fprintln(opt.Stderr, "tern:", err)
		return 1
	}
	return m.run()
}

// IgnoreSignals ignores the signals that must never stop a tern process.
// SIGPIPE: the Go runtime dies of it when a write to fd 1 or 2 finds the
// reading end of a pipe gone, and error_log = "stderr" (tern serve's
// default) writes there; with it ignored, the write fails with EPIPE and
// the log line is lost, not the server (nginx ignores SIGPIPE too).
// SIGTTOU and SIGTTIN: the master runs in the foreground, and a
// terminal's job control would stop a background tern at its first log
// line (nginx daemonizes and has no terminal). The dispositions are
// inherited across exec, by the workers too.
func IgnoreSignals() {
	signal.Ignore(syscall.SIGPIPE, syscall.SIGTTOU, syscall.SIGTTIN)
}

// start opens everything the workers need and starts them; run then
// waits for them to report ready.
func start(opt Options) (*Master, error) {
	cfg := opt.Config
	if cfg.HTTP == nil || len(cfg.HTTP.Addrs) == 0 {
		return nil, errors.New("no listen address configured (an http block with a server is needed)")
	}
	m := &Master{opt: opt, cfg: cfg, pid: os.Getpid(), cpus: CPUs(), procs: map[int]*proc{}}
	// Named before any socket listens: whoever sees it accept sees the
	// title.
	SetTitle(MasterTitle())
	logf, err := opt.OpenLog(cfg.ErrorLog)
	if err != nil {
		return nil, fmt.Errorf("error log: %w", err)
	}
	m.setLog(logf, cfg)
	if m.exe, err = os.Executable(); err != nil {
		m.log.Warn().Err(err).Msg("the running binary's path is unknown: USR2 will not work")
	}
	fail := func(err error) (*Master, error) {
		m.log.Error().Err(err).Msg("start failed")
		m.cleanup()
		return nil, err
	}
	if m.shm, err = event.NewShared(); err != nil {
		return fail(err)
	}
	m.lock = m.shm.AcceptLock()
	inherited := false
	if m.tickets, inherited, err = newTicketRing(cfg); err != nil {
		return fail(err)
	}
	if inherited {
		m.log.Info().Msg("session ticket keys taken over from the old master")
	}
	m.acme = acme.New(m.tickets.zone, ACMEOffset, m.log, acmeRetry())
	m.registerLabels(cfg)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fail(os.NewSyscallError("pipe2", err))
	}
	m.parentR, m.parentW = p[0], p[1]
	if m.chans, err = newChannels(); err != nil {
		return fail(err)
	}
	n := workerCount(cfg, m.cpus)
	lns, err := m.openSockets(cfg, n)
	if err != nil {
		return fail(err)
	}
	inheritedZones := takeInheritedZones()
	zones, err := openZones(cfg, nil, inheritedZones, m.log)
	for _, fd := range inheritedZones {
		unix.Close(fd) // a zone the configuration no longer has
	}
	if err != nil {
		lns.closeExcept(nil)
		return fail(err)
	}
	g, err := newGeneration(1, cfg, lns, n, zones)
	if err != nil {
		lns.closeExcept(nil)
		zones.release()
		return fail(err)
	}
	m.gen = g
	m.gens = []*generation{g}
	// Signals before the first worker: a SIGCHLD must not be missed.
	m.sigs = make(chan os.Signal, 32)
	signal.Notify(m.sigs, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCHLD)
	if cfg.PID != "" {
		if err := WritePID(cfg.PID, m.pid); err != nil {
			return fail(fmt.Errorf("pid file: %w", err))
		}
	}
	m.log.Info().Int("worker_processes", n).Int("listeners", len(lns.list)).Str("conf", cfg.File).Msg("tern starting")
	if err := m.logWorkerUser(cfg); err != nil {
		return fail(err)
	}
	m.startGeneration(g)
	m.acme.Configure(cfg)
	return m, nil
}

// logWorkerUser says, at notice, who the workers of cfg run as; an
// unknown user is an error.
func (m *Master) logWorkerUser(cfg *conf.Config) error {
	u, err := WorkerUser(cfg)
	switch {
	case err != nil:
		return err
	case u == nil && cfg.UserSet:
		m.log.Warn().Str("user", cfg.User).Msg("the user directive makes sense only if the master runs as root: ignored")
	case u == nil:
	case !cfg.UserSet:
		m.log.Info().Str("user", u.String()).Msg("user is not set: the workers run as nobody, as nginx's do")
	default:
		m.log.Info().Str("user", u.String()).Msg("the workers run as " + u.Name)
	}
	return nil
}

// setLog makes logf the error log, at cfg's level.
func (m *Master) setLog(logf LogFile, cfg *conf.Config) {
	m.logf = logf
	m.log = zerolog.New(logf).Level(cfg.ErrorLogLevel).With().Timestamp().Int("pid", m.pid).Str("process", "master").Logger()
	if m.acme != nil {
		m.acme.SetLogger(m.log)
	}
}

// alert logs at the highest level, which no error_log_level filters out:
// what an operator must see (nginx's alert).
func (m *Master) alert() *zerolog.Event { return m.log.WithLevel(conf.LogAlert) }

// run is the master's loop: wait for a signal, a worker's message or a
// deadline, act, reap.
func (m *Master) run() int {
	for {
		var timeout <-chan time.Time
		if d, ok := m.nextDeadline(); ok {
			timeout = time.After(time.Until(d))
		}
		select {
		case s := <-m.sigs:
			m.signal(s.(syscall.Signal))
		case <-m.chans.wake:
		case <-timeout:
		}
		// Every wake-up reads the channels and reaps: SIGCHLDs
		// coalesce, and a worker may exit just as another signal
		// arrives.
		m.readChannels()
		m.reap()
		now := time.Now()
		m.deadlines(now)
		m.settle(now)
		if (m.quitting || m.terminating) && len(m.procs) == 0 {
			break
		}
	}
	m.log.Info().Msg("exit")
	m.cleanup()
	if m.opt.Stderr != nil {
		fmt.Fprintf(m.opt.Stderr, "tern: stopped: %s\n", m.stopReason)
	}
	return m.exitCode
}

// signal acts on one signal (nginx's master cycle).
func (m *Master) signal(s syscall.Signal) {
	if s == syscall.SIGCHLD {
		return // run reaps after every signal
	}
	m.log.Info().Int("signal", int(s)).Str("name", unix.SignalName(s)).Msg("signal received")
	switch s {
	case syscall.SIGHUP:
		if m.quitting || m.terminating {
			return
		}
		m.reload()
	case syscall.SIGQUIT:
		if m.quitting || m.terminating {
			return
		}
		m.quitting = true
		m.shm.SetDraining(true) // health locations answer 503 from now on
		m.stopReason = "QUIT received: graceful stop, every response in flight finished"
		if m.newBinary != 0 {
			m.stopReason += fmt.Sprintf("; the new master %d serves on", m.newBinary)
		}
		m.giveUp("the master is stopping")
		m.stopWorkers(syscall.SIGQUIT, func(*proc) bool { return true })
		// nginx closes the master's listening sockets at once; the
		// workers close theirs as they stop accepting.
		m.gen.lns.closeExcept(nil)
		m.gen.lns = &listenSet{}
	case syscall.SIGTERM, syscall.SIGINT:
		if m.terminating {
			return
		}
		m.stopReason = unix.SignalName(s) + " received: fast stop"
		if s == syscall.SIGINT {
			m.stopReason = "SIGINT (Ctrl-C) received: fast stop"
		}
		m.terminate()
	case syscall.SIGUSR1:
		m.reopen()
	case syscall.SIGWINCH:
		// nginx honours WINCH only when daemonized (a terminal sends it
		// on resize). tern's master always runs in the foreground, under
		// a supervisor, and WINCH is step 2 of a binary upgrade, so it
		// is honoured: the workers stop gracefully, the master stays
		// with its sockets, and HUP starts workers again.
		if m.quitting || m.terminating {
			return
		}
		m.giveUp("WINCH stops the workers")
		m.noaccept = true
		m.respawns = nil
		m.countDelayed()
		m.shm.SetDraining(true)
		m.stopWorkers(syscall.SIGQUIT, func(*proc) bool { return true })
		m.log.Info().Msg("gracefully stopping the workers, the master keeps running")
	case syscall.SIGUSR2:
		m.changeBinary()
	}
}

// terminate is the fast stop: TERM to every worker, again and again,
// then SIGKILL (see deadlines).
func (m *Master) terminate() {
	m.giveUp("the master is stopping")
	m.terminating = true
	m.stopWorkers(syscall.SIGTERM, func(*proc) bool { return true })
	m.killDelay = killFirst
	m.killAt = time.Now().Add(m.killDelay)
}

// stopWorkers sends sig to the workers sel picks and marks them exiting.
//
// A worker that has not reported ready may not catch signals yet: until
// its main installs its handlers, Go's runtime answers QUIT with a
// goroutine dump and TERM by dying. It has accepted no connection
// either, so its signal is held until it reports ready (readChannel), or
// until readyTimeout after its start (deadlines). SIGKILL is never held.
func (m *Master) stopWorkers(sig syscall.Signal, sel func(*proc) bool) {
	now := time.Now()
	for _, p := range m.procs {
		if !sel(p) {
			continue
		}
		p.exiting = true
		if until := p.started.Add(readyTimeout); sig != syscall.SIGKILL && p.readyAt.IsZero() && now.Before(until) {
			p.held, p.heldUntil = sig, until
			continue
		}
		m.kill(p, sig)
	}
}

// kill sends sig to worker p.
func (m *Master) kill(p *proc, sig syscall.Signal) {
	p.held = 0
	if err := unix.Kill(p.pid, sig); err != nil && err != unix.ESRCH {
		m.log.Error().Err(err).Int("worker", p.pid).Msg("kill failed")
	}
}

// reopen reopens the master's error log and every generation's log
// files, and hands each worker its generation's new files (USR1, for
// logrotate): a worker never opens a log itself.
func (m *Master) reopen() {
	if err := m.logf.Reopen(); err != nil {
		m.log.Error().Err(err).Msg("reopening the error log failed")
	}
	m.log.Info().Msg("reopening logs")
	for _, g := range m.gens {
		if err := g.logs.reopen(); err != nil {
			m.log.Error().Err(err).Int("generation", g.n).Msg("reopening log files failed, the old ones are kept")
		}
	}
	for _, p := range m.procs {
		if err := sendFiles(p.channel, p.gen.logs.files); err != nil {
			m.log.Error().Err(err).Int("worker", p.pid).Msg("handing the reopened logs to a worker failed")
		}
	}
}

// startWorker starts worker index of generation g in a free slot.
func (m *Master) startWorker(g *generation, index int) error {
	slot := -1
	for i := range m.slots {
		if !m.slots[i] {
			slot = i
			break
		}
	}
	if slot < 0 {
		return fmt.Errorf("%d worker processes alive: no shared memory slot left", event.MaxSlots)
	}
	mine, theirs, err := newChannel()
	if err != nil {
		return err
	}
	cpus := workerCPUs(g.cfg.WorkerCPUAffinity, index, m.cpus)
	pid, err := spawn(spawnSpec{
		params: WorkerParams{Slot: slot, Index: index, Gen: g.n, Listeners: len(g.lns.list),
			Workers: len(g.fails), Logs: len(g.logs.files), Zones: len(g.zones.list)},
		cpus:    cpus,
		shm:     m.shm.FD(),
		snap:    g.snap,
		parent:  m.parentR,
		channel: theirs,
		lns:     g.lns.forWorker(index),
		logs:    g.logs.files,
		keys:    m.tickets.zone.FD(),
		zones:   g.zones.fds(),
	})
	unix.Close(theirs)
	if err == nil {
		err = m.chans.add(mine)
	}
	if err != nil {
		unix.Close(mine)
		return err
	}
	m.slots[slot] = true
	m.shm.Occupy(slot, pid)
	m.procs[pid] = &proc{pid: pid, slot: slot, index: index, gen: g, channel: mine, started: time.Now()}
	g.procs++
	m.log.Info().Int("worker", pid).Int("index", index).Int("slot", slot).Ints("cpus", cpus).Int("generation", g.n).Msg("worker process started")
	return nil
}

// nextDeadline is the earliest timed action pending.
func (m *Master) nextDeadline() (time.Time, bool) {
	var t time.Time
	earlier := func(d time.Time) {
		if t.IsZero() || d.Before(t) {
			t = d
		}
	}
	if m.terminating && len(m.procs) > 0 {
		earlier(m.killAt)
	}
	for _, r := range m.respawns {
		earlier(r.at)
	}
	for _, p := range m.procs {
		if p.held != 0 {
			earlier(p.heldUntil)
		}
	}
	if !m.gen.serving && !m.terminating {
		earlier(m.gen.deadline)
	}
	if m.next != nil {
		earlier(m.next.deadline)
	}
	if r := m.tickets.next(); !r.IsZero() {
		earlier(r)
	}
	return t, !t.IsZero()
}

// deadlines runs the timed actions due at now.
func (m *Master) deadlines(now time.Time) {
	if m.tickets != nil && m.tickets.rotate(now) {
		m.log.Info().Dur("period", m.tickets.period).Msg("session ticket key rotated")
	}
	if m.terminating && len(m.procs) > 0 && !now.Before(m.killAt) {
		// The delay doubles before it is compared, as in nginx: TERM
		// again at 50, 150, 350 and 750 ms, SIGKILL at 1550 ms.
		m.killDelay *= 2
		sig := syscall.SIGTERM
		if m.killDelay > killLast {
			sig = syscall.SIGKILL
			m.log.Warn().Int("workers", len(m.procs)).Msg("workers still alive, sending SIGKILL")
		}
		m.stopWorkers(sig, func(*proc) bool { return true })
		m.killAt = now.Add(m.killDelay)
	}
	for _, p := range m.procs {
		if p.held != 0 && !now.Before(p.heldUntil) {
			m.kill(p, p.held) // it never reported ready
		}
	}
	m.respawnDue(now)
}

// cleanup releases what the master holds, on its way out.
func (m *Master) cleanup() {
	if m.sigs != nil {
		signal.Stop(m.sigs)
	}
	if m.gen != nil {
		// Older generations' sockets were closed as they retired.
		m.gen.lns.closeExcept(nil)
	}
	for _, g := range m.gens {
		g.release()
	}
	if m.cfg.PID != "" {
		// After an upgrade the pid file names the new master and
		// only PID.oldbin is ours.
		removePID(m.cfg.PID, m.pid)
		removePID(OldPIDPath(m.cfg.PID), m.pid)
		removeReloadStatus(m.cfg.PID, m.pid)
	}
	if m.parentW > 0 {
		unix.Close(m.parentR)
		unix.Close(m.parentW)
	}
	if m.chans != nil {
		m.chans.close()
	}
	if m.shm != nil {
		m.shm.Close()
	}
	if m.acme != nil {
		m.acme.Stop(acmeStopWait)
	}
	m.tickets.close()
	m.logf.Close()
}

// diagnostics renders a configuration error the way -t prints it.
func diagnostics(err error) string {
	var ce *conf.Error
	if errors.As(err, &ce) {
		var b bytes.Buffer
		ce.WriteText(&b)
		return b.String()
	}
	return err.Error()
}
