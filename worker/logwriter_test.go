package worker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestLogWriterOrderAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	lw, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	for i := 0; i < n; i++ {
		fmt.Fprintf(lw, "line %d %s\n", i, strings.Repeat("x", i%50))
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, fmt.Sprintf("line %d ", i)) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

func TestLogWriterReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	lw, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writes continue while the file is rotated
		defer wg.Done()
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(lw, "l%d\n", i)
		}
	}()
	time.Sleep(time.Millisecond)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := lw.Reopen(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	lw.Close()
	a, _ := os.ReadFile(path + ".1")
	b, _ := os.ReadFile(path)
	total := strings.Count(string(a), "\n") + strings.Count(string(b), "\n")
	if total != 5000 {
		t.Fatalf("%d lines across both files, want 5000", total)
	}
}

// TestLogWriterStalledDisk: a log whose file stops taking writes (a FIFO
// nobody reads) never blocks the writer's caller; lines past maxPending
// are dropped, and the drop is reported once the file drains.
func TestLogWriterStalledDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lw, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("y", 1023) + "\n")
	start := time.Now()
	written := 0
	for written < 2*maxPending {
		lw.Write(line)
		written += len(line)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("writing %d bytes to a stalled log took %v", written, el)
	}
	syscall.SetNonblock(int(r.Fd()), false)
	done := make(chan string)
	go func() {
		var sb strings.Builder
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if strings.Contains(l, "dropped") {
				sb.WriteString(l)
			}
			if err == io.EOF || err != nil {
				done <- sb.String()
				return
			}
		}
	}()
	lw.Close()
	select {
	case got := <-done:
		if !strings.Contains(got, "log writer dropped") {
			t.Fatalf("no drop report; got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not finish")
	}
}

// TestLogWriterErrors: writes to a full device are counted, and reported
// once per errorReportEvery with the count since the last report.
func TestLogWriterErrors(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("SKIP (no /dev/full):", err)
	}
	lw := NewLogWriter(f)
	var mu sync.Mutex
	var reports []uint64
	var lastErr error
	lw.OnError(func(err error, failed uint64) {
		mu.Lock()
		reports = append(reports, failed)
		lastErr = err
		mu.Unlock()
	})
	for i := 0; i < 3; i++ {
		fmt.Fprintf(lw, "line %d\n", i)
		time.Sleep(flushEvery + 200*time.Millisecond)
	}
	lw.Close()
	mu.Lock()
	defer mu.Unlock()
	if n := lw.Errors(); n < 3 {
		t.Fatalf("%d failed writes counted, want 3 or more", n)
	}
	if len(reports) != 1 || reports[0] != 1 || !errors.Is(lastErr, syscall.ENOSPC) {
		t.Fatalf("reports %v (%v), want one report of the first failure", reports, lastErr)
	}
}

// TestLogWriterSetFile: SetFile switches to a file someone else opened,
// after writing what was buffered to the old one.
func TestLogWriterSetFile(t *testing.T) {
	dir := t.TempDir()
	a, _ := os.Create(filepath.Join(dir, "a"))
	b, _ := os.Create(filepath.Join(dir, "b"))
	lw := NewLogWriter(a)
	fmt.Fprintln(lw, "one")
	if err := lw.SetFile(b); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(lw, "two")
	lw.Close()
	ga, _ := os.ReadFile(filepath.Join(dir, "a"))
	gb, _ := os.ReadFile(filepath.Join(dir, "b"))
	if string(ga) != "one\n" || string(gb) != "two\n" {
		t.Fatalf("a %q, b %q", ga, gb)
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("the old file was not closed")
	}
}
