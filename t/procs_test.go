package t

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers that look at the processes of a running tern through /proc.

// masterPID is the pid of the master the test started.
func (s *server) masterPID() int { return s.cmd.Process.Pid }

// children lists the pids whose parent is ppid, sorted.
func children(ppid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := parentOf(pid); ok && p == ppid {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// parentOf reads the ppid of pid from /proc/PID/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || f[0] == "Z" {
		return 0, false // a zombie is not a worker any more
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// cmdline is /proc/PID/cmdline with NULs as spaces, trimmed.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// waitQuitting waits until every worker in pids that still runs shows
// the title of a worker shutting down: it has taken its QUIT (the worker
// sets the title on its loop, in the call that starts the graceful stop).
func waitQuitting(t *testing.T, pids []int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for {
			title := cmdline(pid)
			if title == "" || title == "tern: worker process is shutting down" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still shows %q after %v", pid, title, d)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// workers lists the master's workers that are serving (not shutting
// down).
func (s *server) workers() []int {
	var w []int
	for _, pid := range children(s.masterPID()) {
		if cmdline(pid) == "tern: worker process" {
			w = append(w, pid)
		}
	}
	return w
}

// waitWorkers waits until the master has n serving workers, none of them
// in old, and returns them.
func (s *server) waitWorkers(n int, old []int, d time.Duration) []int {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var w []int
		for _, pid := range s.workers() {
			if !slices.Contains(old, pid) {
				w = append(w, pid)
			}
		}
		if len(w) == n {
			return w
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d new workers after %v, want %d (all children: %v)\n%s", len(w), d, n, children(s.masterPID()), s.output)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cpusAllowed returns the distinct Cpus_allowed_list values of every
// thread of pid.
func cpusAllowed(t testing.TB, pid int) []string {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads for %d: %v", pid, err)
	}
	var lists []string
	for _, st := range tasks {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				v = strings.TrimSpace(v)
				if !slices.Contains(lists, v) {
					lists = append(lists, v)
				}
			}
		}
	}
	return lists
}

// acceptLockHolder reads the accept lock word from the master's shared
// memory, opened through /proc/MASTER/fd, and returns its holder's pid
// (the word's low half; the high half is the lease's expiry).
func (s *server) acceptLockHolder() int {
	s.t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", s.masterPID())
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if !strings.HasPrefix(target, "/memfd:tern-shm") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		defer f.Close()
		var b [8]byte
		if _, err := f.ReadAt(b[:], 128); err != nil {
			s.t.Fatal(err)
		}
		return int(uint32(binary.NativeEndian.Uint64(b[:])))
	}
	s.t.Fatal("no shared memory in the master's fds")
	return 0
}

// clientPortsOf returns the client ports of the TCP connections process
// pid holds on the server's port: the connections it serves.
func (s *server) clientPortsOf(pid int) map[int]bool {
	s.t.Helper()
	inodes := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	ports := map[int]bool{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || !inodes[fl[9]] {
			continue
		}
		_, lport, _ := strings.Cut(fl[1], ":")
		_, rport, _ := strings.Cut(fl[2], ":")
		lp, _ := strconv.ParseInt(lport, 16, 32)
		rp, _ := strconv.ParseInt(rport, 16, 32)
		if int(lp) == s.port && rp != 0 {
			ports[int(rp)] = true
		}
	}
	return ports
}

// accessPIDs counts the access log's lines by the pid that wrote them.
func accessPIDs(t *testing.T, path string) map[int]int {
	t.Helper()
	by := map[int]int{}
	for _, line := range readLines(t, path) {
		var e struct {
			PID int `json:"pid"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		by[e.PID]++
	}
	return by
}

// waitGone waits until the pid no longer exists (or is a zombie).
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, ok := parentOf(pid); !ok {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// stopSignal sends sig to a pid the test found, by pid.
func stopSignal(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill(%d, %v): %v", pid, sig, err)
	}
}

// sparseFile makes a file of size bytes quickly: a hole with 1 MiB of
// random bytes at its start, middle and end, so that a byte out of
// place changes the checksum. It returns the checksum (see hasher).
func sparseFile(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mark := make([]byte, 1<<20)
	rng := rand.New(rand.NewSource(size))
	for _, off := range []int64{0, size / 2, size - int64(len(mark))} {
		rng.Read(mark)
		if _, err := f.WriteAt(mark, off); err != nil {
			t.Fatal(err)
		}
	}
	h := newHasher()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := h.copyN(f, size); err != nil {
		t.Fatal(err)
	}
	return h.sum()
}

// hasher checksums a stream with CRC-32C (hardware-assisted: a GiB costs
// a fraction of a second, SHA-256 several).
type hasher struct{ h hash.Hash32 }

func newHasher() *hasher { return &hasher{crc32.New(crc32.MakeTable(crc32.Castagnoli))} }

func (h *hasher) copyN(r io.Reader, n int64) error {
	got, err := io.CopyBuffer(h.h, io.LimitReader(r, n), make([]byte, 1<<20))
	if err == nil && got != n {
		err = fmt.Errorf("%d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
	}
	return err
}

func (h *hasher) sum() string { return fmt.Sprintf("%08x", h.h.Sum32()) }

// waitStopped waits until pid is in the stopped state (SIGSTOP taken).
func waitStopped(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 0 && f[0] == "T" {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("worker %d did not stop", pid)
}
