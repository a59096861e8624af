//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/master"
	"tern/worker"
	"tern/worker/ssl"
)

// workersNeverAccept is set only in a test build (go build -tags
// ternhang, testhang_linux.go): its workers close their listening
// sockets and never accept, to test an upgrade whose new workers never
// answer.
var workersNeverAccept bool

// workerRole runs this process as a worker when the master started it as
// one, and reports whether it did, with the exit code.
func workerRole() (int, bool) {
	p, ok, err := master.WorkerRole()
	if !ok {
		return 0, false
	}
	if err != nil {
		return cannotStart(master.WorkerChannel(), "worker parameters", err), true
	}
	return runWorker(p), true
}

// cannotStart tells the master why this worker cannot start (its channel,
// and standard error for when the master is gone) and returns the exit
// status that says so.
func cannotStart(ch *master.Channel, what string, err error) int {
	reason := fmt.Sprintf("%s: %v", what, err)
	fmt.Fprintf(os.Stderr, "tern worker %d: %s\n", os.Getpid(), reason)
	ch.Fail(reason)
	return master.ExitCannotStart
}

// runWorker sets the worker up from what the master handed over (see
// master/handoff_linux.go) and serves until told to stop.
func runWorker(p master.WorkerParams) int {
	master.IgnoreSignals() // inherited from the master, and set again
	// The master's signals from now on: one that comes while the worker
	// starts waits here (Go's default for QUIT would dump goroutines and
	// exit), and is acted on once the loop runs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	master.SetTitle(master.WorkerTitle)
	ch := master.WorkerChannel()
	fatal := func(what string, err error) int { return cannotStart(ch, what, err) }
	shm, err := event.MapShared(master.FDShared)
	if err != nil {
		return fatal("shared memory", err)
	}
	unix.CloseOnExec(master.FDShared)
	cfg, err := master.ReadSnapshot(master.FDConfig)
	if err != nil {
		return fatal("configuration snapshot", err)
	}
	logs, err := workerLogs(cfg, p)
	if err != nil {
		return fatal("log files", err)
	}
	defer func() {
		for _, lw := range logs {
			lw.Close()
		}
	}()
	errw := logs[cfg.ErrorLog]
	log := zerolog.New(errw).Level(cfg.ErrorLogLevel).With().Timestamp().
		Int("pid", os.Getpid()).Int("worker", p.Index).Logger()
	if n := cfg.WorkerRlimitNofile; n > 0 {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			log.Warn().Err(err).Uint64("worker_rlimit_nofile", n).Msg("setrlimit failed")
		}
	}
	fds := master.InheritedListeners(p.Listeners)
	bound := cfg.HTTP.Bound()
	if len(fds) != len(bound) {
		return fatal("listening sockets", fmt.Errorf("%d inherited, %d configured", len(fds), len(bound)))
	}
	lns := make([]worker.Listener, len(fds))
	for i, a := range bound {
		// accept_mutex off: the kernel wakes one worker per connection
		// (a reuseport socket is this worker's alone and needs neither).
		lns[i] = worker.Listener{FD: fds[i], Addr: a, Exclusive: !cfg.AcceptMutex && !a.ReusePort}
	}
	if workersNeverAccept {
		for _, fd := range fds {
			unix.Close(fd)
		}
		lns = nil
	}
	w, err := worker.New(cfg, lns, log, logs)
	if err != nil {
		return fatal("starting", err)
	}
	if fd := master.InheritedTicketKeys(p); fd >= 0 {
		zone, err := event.MapZone(fd)
		if err != nil {
			return fatal("session ticket keys", err)
		}
		w.UseTicketKeys(ssl.NewZoneKeys(zone))
		w.UseACME(ssl.NewACMEStore(zone, master.ACMEOffset))
	}
	zones, err := master.InheritedZones(p)
	if err != nil {
		return fatal("zones", err)
	}
	if len(zones) != len(cfg.HTTP.Zones) {
		return fatal("zones", fmt.Errorf("%d inherited, %d configured", len(zones), len(cfg.HTTP.Zones)))
	}
	w.UseZones(zones)
	w.UseShared(shm, p.Slot, cfg.AcceptMutex && p.Workers > 1)
	unix.CloseOnExec(master.FDParent)
	if err := w.Loop().Add(master.FDParent, event.In, &parentWatch{w: w, log: log}); err != nil {
		return fatal("watching the master", err)
	}
	// Everything that needs root is done: the worker holds its sockets,
	// log files, certificates and shared memory (docs/directives/user.md).
	if u, err := master.WorkerUser(cfg); err != nil {
		return fatal("user", err)
	} else if u != nil {
		if err := master.DropPrivileges(u); err != nil {
			return fatal("dropping privileges to "+u.String(), err)
		}
	}
	// Signals and the channel before Run reports ready: from then on
	// the master may send USR1 or a reopen.
	workerSignals(w, ch, sigs)
	go reopenLogs(ch, master.LogPaths(cfg), logs, log)
	// Loading the configuration left garbage behind (1–2 MiB for a
	// small one): collect it and give its pages back before the first
	// connection. This also pays the runtime's one-time cost of a first
	// collection (its code paged in, its bookkeeping mapped: about
	// 0.9 MiB) now rather than with the connections that cross the
	// first heap goal (docs/design.md#the-event-loop).
	debug.FreeOSMemory()
	w.OnReady(func() {
		if err := ch.Ready(); err != nil {
			log.Error().Err(err).Msg("telling the master this worker is ready failed")
		}
	})
	if err := w.Run(); err != nil {
		log.Error().Err(err).Msg("worker process failed")
		return 1
	}
	log.Info().Msg("worker process exiting")
	return 0
}

// workerLogs makes a writer for every log the worker writes: the files
// the master opened and handed over, and the standard streams the
// configuration names.
func workerLogs(cfg *conf.Config, p master.WorkerParams) (map[string]*worker.LogWriter, error) {
	files, err := master.InheritedLogs(cfg, p)
	if err != nil {
		return nil, err
	}
	logs := make(map[string]*worker.LogWriter, len(files)+1)
	for path, f := range files {
		logs[path] = worker.NewLogWriter(f)
	}
	std := map[string]*os.File{"stderr": os.Stderr, "stdout": os.Stdout}
	use := func(path string) {
		if f := std[path]; f != nil && logs[path] == nil {
			logs[path] = worker.NewLogWriter(f)
		}
	}
	use(cfg.ErrorLog)
	for _, p := range cfg.AccessLogPaths() {
		use(p)
	}
	for _, p := range cfg.ErrorLogPaths() {
		use(p)
	}
	return logs, nil
}

// reopenLogs takes the log files the master reopens (USR1) from the
// channel and switches each writer to its new file, until the master is
// gone. It runs on a goroutine of its own, blocked in recvmsg.
func reopenLogs(ch *master.Channel, paths []string, logs map[string]*worker.LogWriter, log zerolog.Logger) {
	for {
		files, err := ch.Receive()
		if err != nil {
			return // the master is gone: parentWatch stops the worker
		}
		if len(files) != len(paths) {
			log.Error().Int("files", len(files)).Int("logs", len(paths)).Msg("the master handed over the wrong number of log files")
		}
		for i, f := range files {
			if i >= len(paths) {
				f.Close()
				continue
			}
			if err := logs[paths[i]].SetFile(f); err != nil {
				log.Error().Err(err).Str("log", paths[i]).Msg("switching to the reopened log failed")
			}
		}
	}
}

// parentWatch is the read end of the pipe the master holds open and never
// writes: it turns readable (EOF) only when the master is gone, and the
// worker then stops gracefully rather than serve on unsupervised.
type parentWatch struct {
	w   *worker.Worker
	log zerolog.Logger
}

// Event runs on the loop goroutine.
func (p *parentWatch) Event(uint32) {
	p.w.Loop().Del(master.FDParent) // level-triggered EOF would fire forever
	unix.Close(master.FDParent)
	p.log.Warn().Msg("the master process is gone, shutting down gracefully")
	master.SetTitle(master.WorkerQuitTitle)
	p.w.Orphaned()
}

// workerSignals turns the master's signals into calls on the loop: QUIT
// graceful stop, TERM and INT fast stop. USR1 asks the master to reopen
// the logs, which only it opens. HUP, WINCH and USR2 are the master's
// and ignored here, as nginx.
func workerSignals(w *worker.Worker, ch *master.Channel, sigs chan os.Signal) {
	signal.Ignore(syscall.SIGHUP, syscall.SIGWINCH, syscall.SIGUSR2)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGTERM, syscall.SIGINT:
				w.Loop().Submit(w.Stop)
			case syscall.SIGQUIT:
				w.Loop().Submit(func() {
					master.SetTitle(master.WorkerQuitTitle)
					w.Quit()
				})
			case syscall.SIGUSR1:
				ch.AskReopen()
			}
		}
	}()
}
