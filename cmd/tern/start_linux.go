//go:build linux

package main

import (
	"fmt"
	"io"

	"tern/conf"
	"tern/master"
	"tern/worker"
)

// start runs the master in the foreground until a stop signal: it opens
// the listening sockets and starts worker_processes workers, which serve
// (docs/operations.md#signals). load reads the configuration again on HUP (nil: tern serve,
// whose configuration is not a file). worker_processes = 1 goes through
// the master too, as nginx.
func start(cfg *conf.Config, stderr io.Writer, load func() (*conf.Config, error)) int {
	return master.Run(master.Options{
		Config:  cfg,
		Load:    load,
		OpenLog: func(path string) (master.LogFile, error) { return worker.OpenLog(path) },
		Stderr:  stderr,
	})
}

// checkFiles opens every log file, as the master will before it starts
// or reloads workers (conf.CheckPaths only looks at directories and
// permissions), and says which one fails.
func checkFiles(cfg *conf.Config, stderr io.Writer) bool {
	if err := master.CheckFiles(cfg); err != nil {
		fmt.Fprintln(stderr, "tern:", err)
		return false
	}
	return true
}
