//go:build linux

package threadpool

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	// fileSize is the test file: 1 MiB, more than the default AF_UNIX
	// socket buffer, so that sendfile must stop short and resume.
	fileSize = 1 << 20
	// readChunk is what one pread task reads: a page-multiple like a
	// real read-ahead window.
	readChunk = 16 << 10
	// sendChunk caps one sendfile task, as sendfile_max_chunk does.
	sendChunk = 256 << 10
)

// coldFile writes fileSize random bytes, syncs them and asks the kernel
// to drop them from the page cache, so that the reads below may really
// wait for the disk. Returns the open fd and the contents.
func coldFile(t *testing.T) (int, []byte) {
	t.Helper()
	data := make([]byte, fileSize)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	name := filepath.Join(t.TempDir(), "cold")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	unix.Fdatasync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED) // a hint; fine if ignored
	return fd, data
}

// preadTask reads one chunk into its own buffer; only Run's result
// crosses back.
type preadTask struct {
	fd  int
	off int64
	buf []byte
	n   int
	err error
}

func (r *preadTask) Run()  { r.n, r.err = unix.Pread(r.fd, r.buf, r.off) }
func (r *preadTask) Done() {}

func TestPreadInRun(t *testing.T) {
	fd, data := coldFile(t)
	l, p := newLoopPool(t, 4, 64)
	tasks := make([]preadTask, fileSize/readChunk)
	for i := range tasks {
		tasks[i] = preadTask{fd: fd, off: int64(i * readChunk), buf: make([]byte, readChunk)}
		if err := p.Post(&tasks[i]); err != nil {
			t.Fatal(err)
		}
	}
	runUntil(t, l, p, func() bool { return p.Stats().Completed == uint64(len(tasks)) })
	for i, r := range tasks {
		want := data[r.off : r.off+readChunk]
		if r.err != nil || r.n != readChunk || !bytes.Equal(r.buf, want) {
			t.Fatalf("chunk %d: n=%d err=%v, contents match %v", i, r.n, r.err, bytes.Equal(r.buf, want))
		}
	}
}

// sendTask is the write filter's use of the pool: sendfile from a file to
// a non-blocking socket in Run (it blocks only on the disk), and in Done,
// on the loop, consume the result and post again until the file is sent.
// Here Done also plays the client, reading what arrived.
type sendTask struct {
	TaskState
	p            *Pool
	file, sock   int
	off          int64 // advanced by sendfile, in Run
	sent         int   // Run's result
	err          error // Run's result
	peer         int   // the client's end, read in Done
	got          []byte
	readBuf      []byte
	eagain, done int
	fail         error
}

func (s *sendTask) Run() {
	for {
		s.sent, s.err = unix.Sendfile(s.sock, s.file, &s.off, min(sendChunk, fileSize-int(s.off)))
		if s.err != unix.EINTR {
			return
		}
	}
}

func (s *sendTask) Done() {
	switch {
	case s.err == unix.EAGAIN:
		s.eagain++ // socket buffer full: nginx waits for EPOLLOUT
	case s.err != nil:
		s.fail = s.err
		return
	case s.sent == 0:
		s.fail = io.ErrUnexpectedEOF // nginx: "file was truncated"
		return
	}
	for {
		n, err := unix.Read(s.peer, s.readBuf)
		if n <= 0 || err != nil {
			break
		}
		s.got = append(s.got, s.readBuf[:n]...)
	}
	if int(s.off) == fileSize {
		s.done++
		return
	}
	s.fail = s.p.Post(s)
}

func TestSendfileInRun(t *testing.T) {
	fd, data := coldFile(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	l, p := newLoopPool(t, 2, 0)
	s := &sendTask{p: p, file: fd, sock: pair[0], peer: pair[1], readBuf: make([]byte, 64<<10)}
	if err := p.Post(s); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, p, func() bool { return s.done == 1 || s.fail != nil })
	if s.fail != nil {
		t.Fatal(s.fail)
	}
	if !bytes.Equal(s.got, data) {
		t.Fatalf("received %d bytes, contents match %v", len(s.got), bytes.Equal(s.got, data[:len(s.got)]))
	}
	t.Logf("sent %d bytes in %d tasks (%d EAGAIN)", fileSize, p.Stats().Completed, s.eagain)
}
