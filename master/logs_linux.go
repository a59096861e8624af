//go:build linux

package master

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// The master opens every log file its workers write, as nginx does, and
// hands them over as inherited descriptors: a worker never opens a log
// itself (it may run without the right to), a path that cannot be opened
// fails -t and a reload before any worker changes, and on USR1 the master
// opens them anew and passes the new descriptors down each worker's
// channel.

// LogPaths are the log files of cfg that the master opens for its
// workers, in the order they are handed over: the error log, then every
// distinct access_log, then every error_log of http, server and location
// blocks, in configuration order. Standard streams ("stderr",
// "stdout") are not in it: workers inherit those as fds 1 and 2.
func LogPaths(cfg *conf.Config) []string {
	var paths []string
	add := func(p string) {
		if p != "" && p != "stderr" && p != "stdout" && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	add(cfg.ErrorLog)
	for _, p := range cfg.AccessLogPaths() {
		add(p)
	}
	for _, p := range cfg.ErrorLogPaths() {
		add(p)
	}
	return paths
}

// logSet is a generation's log files, in LogPaths order.
type logSet struct {
	paths []string
	files []*os.File
}

// openLogs opens every log file of cfg (creating it, for appending).
func openLogs(cfg *conf.Config) (*logSet, error) {
	ls := &logSet{paths: LogPaths(cfg)}
	for _, p := range ls.paths {
		f, err := openLogFile(p)
		if err != nil {
			ls.close()
			return nil, err
		}
		ls.files = append(ls.files, f)
	}
	return ls, nil
}

// openLogFile opens a log for appending, creating it, close-on-exec. The
// error names the path and says what the open(2) said.
func openLogFile(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("log file: %w", &os.PathError{Op: "open", Path: path, Err: err})
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// reopen opens every file anew (logrotate renamed them) and closes the
// old descriptors; a path that cannot be opened keeps its old one, and
// the errors are returned together.
func (ls *logSet) reopen() error {
	var errs []string
	for i, p := range ls.paths {
		f, err := openLogFile(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ls.files[i].Close()
		ls.files[i] = f
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (ls *logSet) close() {
	if ls == nil {
		return
	}
	for _, f := range ls.files {
		f.Close()
	}
	ls.files = nil
}

// InheritedLogs returns the log files a worker inherited, by path, made
// close-on-exec: they follow the listening sockets, in LogPaths order.
func InheritedLogs(cfg *conf.Config, p WorkerParams) (map[string]*os.File, error) {
	paths := LogPaths(cfg)
	if len(paths) != p.Logs {
		return nil, fmt.Errorf("%d log files inherited, %d configured", p.Logs, len(paths))
	}
	files := make(map[string]*os.File, len(paths))
	for i, path := range paths {
		fd := FDListen + p.Listeners + i
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, fmt.Errorf("log file %s (fd %d): %w", path, fd, os.NewSyscallError("fstat", err))
		}
		unix.CloseOnExec(fd)
		files[path] = os.NewFile(uintptr(fd), path)
	}
	return files, nil
}

// CheckFiles opens every log file of cfg, as the master will before it
// starts or reloads workers (creating it, as nginx -t does), and closes
// it again: what tern -t and -s reload check beyond conf.CheckPaths,
// which looks at directories and permissions without opening anything.
func CheckFiles(cfg *conf.Config) error {
	ls, err := openLogs(cfg)
	if err != nil {
		return err
	}
	ls.close()
	return nil
}
