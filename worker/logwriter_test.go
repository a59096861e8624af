package worker

import (
	"bufio"
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
