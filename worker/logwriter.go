package worker

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// LogWriter buffers log lines in memory and writes them to their file from
// a goroutine of its own, so that a slow or stalled disk never blocks the
// event loop: the loop only appends to a buffer under an uncontended
// mutex. Lines are written when a buffer fills or every flushEvery. While
// the disk is stalled, at most maxPending bytes wait; lines beyond that
// are counted and dropped, and the count is written once the disk answers
// again — nginx would block the whole worker instead.
//
// A write that fails (a full disk, a file system gone read-only, a pipe
// whose reader is gone) is counted (Errors) and reported through the
// function given to OnError, at most once every errorReportEvery; nginx
// logs every failure, which on a full disk is one line per request into
// an error log that is likely on the same disk.
type LogWriter struct {
	path string // "" for a standard stream or a file handed over

	mu      sync.Mutex
	cur     []byte
	spare   [][]byte // written buffers, for reuse
	pending [][]byte
	npend   int
	dropped uint64
	f       *os.File
	closed  bool

	kick   chan struct{}
	reopen chan reopenReq
	policy chan time.Duration
	done   chan struct{}
	// batch is the size at which a buffer is written (access_log's
	// buffer=); guarded by mu.
	batch int

	errs atomic.Uint64 // failed writes, ever
	// onError, lastReport and unreported belong to the writer goroutine
	// (and to Close, after it ended).
	onError    func(err error, failed uint64)
	lastReport time.Time
	unreported uint64
}

// reopenReq asks the writer goroutine to switch files: to f, or when f
// is nil to a new open of the path.
type reopenReq struct {
	f   *os.File
	res chan error
}

const (
	// logBufSize is the batch one write(2) of the log carries.
	logBufSize = 64 << 10
	// maxPending bounds the memory of lines waiting for a stalled disk.
	maxPending = 8 << 20
	// flushEvery bounds how long a line waits in memory.
	flushEvery = time.Second
	// errorReportEvery bounds how often failed writes are reported.
	errorReportEvery = 10 * time.Second
)

// OpenLog opens a log file for appending ("stderr" and "stdout" name the
// process's streams) and starts its writer goroutine.
func OpenLog(path string) (*LogWriter, error) {
	var f *os.File
	switch path {
	case "stderr":
		f, path = os.Stderr, ""
	case "stdout":
		f, path = os.Stdout, ""
	default:
		var err error
		if f, err = openAppend(path); err != nil {
			return nil, err
		}
	}
	lw := newLogWriter(f)
	lw.path = path
	go lw.run()
	return lw, nil
}

// NewLogWriter writes to f, a file opened by someone else (the master
// opens a worker's logs): Reopen does nothing, SetFile switches to
// another file. Close closes f, unless it is a standard stream.
func NewLogWriter(f *os.File) *LogWriter {
	lw := newLogWriter(f)
	go lw.run()
	return lw
}

func newLogWriter(f *os.File) *LogWriter {
	return &LogWriter{
		f:      f,
		cur:    make([]byte, 0, logBufSize),
		kick:   make(chan struct{}, 1),
		reopen: make(chan reopenReq),
		policy: make(chan time.Duration),
		done:   make(chan struct{}),
		batch:  logBufSize,
	}
}

// SetPolicy sets how long a line may wait in memory (access_log's
// flush=; 0 keeps flushEvery) and the size at which a buffer is written
// (buffer=; 0 keeps logBufSize).
func (lw *LogWriter) SetPolicy(flush time.Duration, batch int) {
	if batch > 0 {
		lw.mu.Lock()
		lw.batch = batch
		lw.mu.Unlock()
	}
	if flush > 0 {
		select {
		case lw.policy <- flush:
		case <-lw.done:
		}
	}
}

// OnError sets the function failed writes are reported to, with the
// count of failures since the last report: at most once every
// errorReportEvery, from the writer's goroutine. Call it before the
// first Write.
func (lw *LogWriter) OnError(f func(err error, failed uint64)) { lw.onError = f }

// Errors is how many writes have failed.
func (lw *LogWriter) Errors() uint64 { return lw.errs.Load() }

// written counts a write's failure and reports it when the last report
// is old enough.
func (lw *LogWriter) written(err error) {
	if err == nil {
		return
	}
	lw.errs.Add(1)
	lw.unreported++
	if lw.onError == nil {
		return
	}
	if now := time.Now(); now.Sub(lw.lastReport) >= errorReportEvery {
		lw.lastReport = now
		n := lw.unreported
		lw.unreported = 0
		lw.onError(err, n)
	}
}

// maxSpare is how many written buffers are kept for reuse.
const maxSpare = 4

// newBuf returns an empty buffer, reusing a written one. Called with mu
// held.
func (lw *LogWriter) newBuf() []byte {
	if n := len(lw.spare); n > 0 {
		b := lw.spare[n-1]
		lw.spare = lw.spare[:n-1]
		return b
	}
	return make([]byte, 0, logBufSize)
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// Write appends one line (zerolog calls it once per event). It never
// blocks on the disk and never fails.
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return len(p), nil
	}
	if len(lw.cur)+len(p) > lw.batch && len(lw.cur) > 0 {
		if lw.npend+len(lw.cur) > maxPending {
			lw.dropped++
			lw.mu.Unlock()
			return len(p), nil
		}
		lw.pending = append(lw.pending, lw.cur)
		lw.npend += len(lw.cur)
		lw.cur = lw.newBuf()
		select {
		case lw.kick <- struct{}{}:
		default:
		}
	}
	lw.cur = append(lw.cur, p...)
	lw.mu.Unlock()
	return len(p), nil
}

// run writes batches until Close.
func (lw *LogWriter) run() {
	defer close(lw.done)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-lw.kick:
		case <-tick.C:
		case req := <-lw.reopen:
			lw.flush(true)
			req.res <- lw.swapFile(req.f)
			continue
		case d := <-lw.policy:
			tick.Reset(d)
			continue
		}
		if !lw.flush(true) {
			return
		}
	}
}

// flush writes everything queued; with all, the partly filled buffer too.
// It reports false once the writer is closed and drained.
func (lw *LogWriter) flush(all bool) bool {
	lw.mu.Lock()
	batches := lw.pending
	lw.pending = nil
	lw.npend = 0
	if all && len(lw.cur) > 0 {
		batches = append(batches, lw.cur)
		lw.cur = lw.newBuf()
	}
	dropped := lw.dropped
	lw.dropped = 0
	closed := lw.closed
	f := lw.f
	lw.mu.Unlock()
	for _, b := range batches {
		_, err := f.Write(b)
		lw.written(err)
	}
	lw.mu.Lock()
	for _, b := range batches {
		if len(lw.spare) < maxSpare {
			lw.spare = append(lw.spare, b[:0])
		}
	}
	lw.mu.Unlock()
	if dropped > 0 {
		_, err := fmt.Fprintf(f, "{\"level\":\"warn\",\"message\":\"log writer dropped %d lines while the disk was stalled\"}\n", dropped)
		lw.written(err)
	}
	return !closed
}

// Reopen reopens the file at its path (USR1, after logrotate renamed it)
// and returns once lines go to the new file.
func (lw *LogWriter) Reopen() error {
	if lw.path == "" {
		return nil
	}
	return lw.switchTo(nil)
}

// SetFile makes f the file lines go to, once what was buffered is
// written to the old one, which is closed (a reopen of a log the master
// opened for this process). It returns once lines go to f.
func (lw *LogWriter) SetFile(f *os.File) error { return lw.switchTo(f) }

func (lw *LogWriter) switchTo(f *os.File) error {
	req := reopenReq{f: f, res: make(chan error, 1)}
	select {
	case lw.reopen <- req:
		return <-req.res
	case <-lw.done:
		if f != nil {
			f.Close()
		}
		return nil
	}
}

// swapFile switches to f, or to a new open of the path when f is nil.
// A standard stream is never closed.
func (lw *LogWriter) swapFile(f *os.File) error {
	if f == nil {
		var err error
		if f, err = openAppend(lw.path); err != nil {
			return err
		}
	}
	lw.mu.Lock()
	old := lw.f
	lw.f = f
	lw.mu.Unlock()
	if isStdStream(old) {
		return nil
	}
	return old.Close()
}

func isStdStream(f *os.File) bool { return f == os.Stdout || f == os.Stderr }

// Close writes what is buffered and stops the writer goroutine.
func (lw *LogWriter) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return nil
	}
	lw.closed = true
	lw.mu.Unlock()
	select {
	case lw.kick <- struct{}{}:
	default:
	}
	<-lw.done
	lw.flush(true)
	if isStdStream(lw.f) {
		return nil
	}
	return lw.f.Close()
}
