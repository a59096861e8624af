//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/rs/zerolog"

	"tern/conf"
	"tern/master"
	"tern/worker"
)

// start runs the server in this process, in the foreground, until a
// signal stops it: one worker serving every listening socket.
func start(cfg *conf.Config, stderr io.Writer) int {
	errw, err := worker.OpenLog(cfg.ErrorLog)
	if err != nil {
		fmt.Fprintln(stderr, "tern: error log:", err)
		return 1
	}
	defer errw.Close()
	log := zerolog.New(errw).Level(cfg.ErrorLogLevel).With().Timestamp().Int("pid", os.Getpid()).Logger()

	var lns []worker.Listener
	for _, a := range worker.Bound(cfg.HTTP.Addrs) {
		fd, err := master.Listen(a)
		if err != nil {
			fmt.Fprintln(stderr, "tern:", err)
			log.Error().Err(err).Msg("start failed")
			return 1
		}
		lns = append(lns, worker.Listener{FD: fd, Addr: a})
	}
	w, err := worker.New(cfg, lns, log)
	if err != nil {
		fmt.Fprintln(stderr, "tern:", err)
		return 1
	}
	if cfg.PID != "" {
		if err := os.WriteFile(cfg.PID, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(stderr, "tern: pid file:", err)
			return 1
		}
		defer os.Remove(cfg.PID)
	}
	forwardSignals(w, errw)
	log.Info().Int("listeners", len(lns)).Msg("tern started")
	if err := w.Run(); err != nil {
		log.Error().Err(err).Msg("worker failed")
		return 1
	}
	log.Info().Msg("tern exited")
	return 0
}

// forwardSignals turns signals into calls on the worker's loop.
func forwardSignals(w *worker.Worker, errw *worker.LogWriter) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGHUP)
	go func() {
		for s := range ch {
			switch s {
			case syscall.SIGTERM, syscall.SIGINT:
				w.Loop().Submit(w.Stop)
			case syscall.SIGQUIT:
				w.Loop().Submit(w.Quit)
			case syscall.SIGUSR1:
				errw.Reopen()
				w.ReopenLogs()
			}
		}
	}()
}
