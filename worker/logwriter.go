package worker

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// LogWriter buffers log lines in memory and writes them to their file from
// a goroutine of its own, so that a slow or stalled disk never blocks the
// event loop: the loop only appends to a buffer under an uncontended
// mutex. Lines are written when a buffer fills or every flushEvery. While
// the disk is stalled, at most maxPending bytes wait; lines beyond that
// are counted and dropped, and the count is written once the disk answers
// again — nginx would block the whole worker instead.
type LogWriter struct {
	path string // "" for a standard stream

	mu      sync.Mutex
	cur     []byte
	spare   [][]byte // written buffers, for reuse
	pending [][]byte
	npend   int
	dropped uint64
	f       *os.File
	closed  bool

	kick   chan struct{}
	reopen chan chan error
	done   chan struct{}
}

const (
	// logBufSize is the batch one write(2) of the log carries.
	logBufSize = 64 << 10
	// maxPending bounds the memory of lines waiting for a stalled disk.
	maxPending = 8 << 20
	// flushEvery bounds how long a line waits in memory.
	flushEvery = time.Second
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
	lw := &LogWriter{
		path:   path,
		f:      f,
		cur:    make([]byte, 0, logBufSize),
		kick:   make(chan struct{}, 1),
		reopen: make(chan chan error),
		done:   make(chan struct{}),
	}
	go lw.run()
	return lw, nil
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
	if len(lw.cur)+len(p) > logBufSize && len(lw.cur) > 0 {
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
		case res := <-lw.reopen:
			lw.flush(true)
			res <- lw.swapFile()
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
		f.Write(b)
	}
	lw.mu.Lock()
	for _, b := range batches {
		if len(lw.spare) < maxSpare {
			lw.spare = append(lw.spare, b[:0])
		}
	}
	lw.mu.Unlock()
	if dropped > 0 {
		fmt.Fprintf(f, "{\"level\":\"warn\",\"message\":\"log writer dropped %d lines while the disk was stalled\"}\n", dropped)
	}
	return !closed
}

// Reopen reopens the file at its path (USR1, after logrotate renamed it)
// and returns once lines go to the new file.
func (lw *LogWriter) Reopen() error {
	if lw.path == "" {
		return nil
	}
	res := make(chan error, 1)
	select {
	case lw.reopen <- res:
		return <-res
	case <-lw.done:
		return nil
	}
}

func (lw *LogWriter) swapFile() error {
	f, err := openAppend(lw.path)
	if err != nil {
		return err
	}
	lw.mu.Lock()
	old := lw.f
	lw.f = f
	lw.mu.Unlock()
	return old.Close()
}

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
	if lw.path != "" {
		return lw.f.Close()
	}
	return nil
}
