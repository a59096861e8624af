//go:build linux

package worker

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// A worker that accepted connections up to its descriptor limit would
// have none left for the file a request asks for, and answer 500; one
// that keeps accepting at EMFILE keeps failing. So the worker caps its
// connections below the limit, leaving room for its own descriptors, the
// open_file_cache's and the files its requests have open, and a full
// worker stops competing for the accept lock (see Room): the other
// workers take the connections. nginx only warns that worker_connections
// exceed the limit.

// minFileReserve is the least room kept for the files requests open.
const minFileReserve = 16

// connLimit is worker_connections lowered, when the descriptor limit
// requires it, to leave room beside open descriptors already open
// (listening sockets, logs, the loop's) for cached ones and for one file
// per eight connections, at least minFileReserve.
func connLimit(want int, nofile uint64, open, cached int) int {
	if nofile > 1<<30 {
		return want
	}
	free := int(nofile) - open - cached
	room := free - max(free/8, minFileReserve)
	return max(min(want, room), 1)
}

// fdLimit reads the soft RLIMIT_NOFILE and counts the descriptors open
// now (at start, before any connection).
func fdLimit() (nofile uint64, open int, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, os.NewSyscallError("getrlimit", err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return rl.Cur, 0, err
	}
	return rl.Cur, len(ents), nil
}

// cachedFiles is how many descriptors the configuration's
// open_file_caches may hold at most.
func cachedFiles(cfg *conf.Config) int {
	seen := map[*conf.OpenFileCache]bool{}
	n := 0
	add := func(s *conf.Settings) {
		if c := s.OpenFileCache; c != nil && !seen[c] {
			seen[c] = true
			n += c.Max
		}
	}
	cfg.EachLocation(func(l *conf.Location) { add(&l.Settings) })
	return n
}

// limitConns applies connLimit at start, logging when the descriptor
// limit lowers worker_connections.
func (w *Worker) limitConns() {
	nofile, open, err := fdLimit()
	if err != nil {
		w.log.Warn().Err(err).Msg("cannot check worker_connections against the descriptor limit")
		return
	}
	n := connLimit(w.cfg.WorkerConnections, nofile, open+8, cachedFiles(w.cfg))
	if n < w.cfg.WorkerConnections {
		w.log.Warn().Int("worker_connections", w.cfg.WorkerConnections).Uint64("nofile", nofile).
			Int("connections", n).Msg("worker_connections exceed the open file limit, lowered")
	}
	w.maxConns = n
}

// Room is how many more connections the worker takes
// (event.AcceptHandler): its free worker_connections; 0 when a new one
// costs its oldest idle keep-alive connection; -1 when a new one would be
// closed at once, none being idle.
func (w *Worker) Room() int {
	if free := w.maxConns - w.active; free > 0 {
		return free
	}
	if w.idle.front() != nil {
		return 0
	}
	// Under the accept lock the connections wait in the listen queue
	// for a worker with room; say why.
	w.warnFull()
	return -1
}

// warnFull logs, at most once a second, that the worker has no room for
// a new connection.
func (w *Worker) warnFull() {
	if now := w.loop.Now(); now-w.lastWarn > int64(time.Second) || w.lastWarn == 0 {
		w.lastWarn = now
		w.log.Warn().Int("worker_connections", w.maxConns).Msg("worker_connections are not enough")
	}
}
