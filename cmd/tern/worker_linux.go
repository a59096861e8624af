//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/event"
	"tern/master"
	"tern/worker"
)

// fatalExit tells the master that this worker cannot start and must not
// be respawned (nginx's exit code 2).
const fatalExit = 2

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
		fmt.Fprintln(os.Stderr, "tern worker:", err)
		return fatalExit, true
	}
	return runWorker(p), true
}

// runWorker sets the worker up from what the master handed over (see
// master/handoff_linux.go) and serves until told to stop.
func runWorker(p master.WorkerParams) int {
	master.IgnoreSignals() // inherited from the master, and set again
	master.SetTitle(master.WorkerTitle)
	fatal := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "tern worker %d: %s: %v\n", os.Getpid(), what, err)
		return fatalExit
	}
	shm, err := event.MapShared(master.FDShared)
	if err != nil {
		return fatal("shared memory", err)
	}
	unix.CloseOnExec(master.FDShared)
	cfg, err := master.ReadSnapshot(master.FDConfig)
	if err != nil {
		return fatal("configuration snapshot", err)
	}
	errw, err := worker.OpenLog(cfg.ErrorLog)
	if err != nil {
		return fatal("error log", err)
	}
	defer errw.Close()
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
	w, err := worker.New(cfg, lns, log)
	if err != nil {
		return fatal("starting", err)
	}
	w.UseShared(shm, p.Slot, cfg.AcceptMutex && p.Workers > 1)
	unix.CloseOnExec(master.FDParent)
	if err := w.Loop().Add(master.FDParent, event.In, &parentWatch{w: w, log: log}); err != nil {
		return fatal("watching the master", err)
	}
	workerSignals(w, errw)
	if err := w.Run(); err != nil {
		log.Error().Err(err).Msg("worker process failed")
		return 1
	}
	log.Info().Msg("worker process exiting")
	return 0
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
// graceful stop, TERM and INT fast stop, USR1 reopen the logs. HUP,
// WINCH and USR2 are the master's and ignored here, as nginx.
func workerSignals(w *worker.Worker, errw *worker.LogWriter) {
	signal.Ignore(syscall.SIGHUP, syscall.SIGWINCH, syscall.SIGUSR2)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	go func() {
		for s := range ch {
			switch s {
			case syscall.SIGTERM, syscall.SIGINT:
				w.Loop().Submit(w.Stop)
			case syscall.SIGQUIT:
				w.Loop().Submit(func() {
					master.SetTitle(master.WorkerQuitTitle)
					w.Quit()
				})
			case syscall.SIGUSR1:
				errw.Reopen()
				w.ReopenLogs()
			}
		}
	}()
}
