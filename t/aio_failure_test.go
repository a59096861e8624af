package t

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tern/internal/testcgroup"
)

// TestAIOTruncatedMidSend: a cold file that shrinks while the pool is
// sending it ends that connection after the bytes it really had, with an
// error-log line; the worker goes on serving.
func TestAIOTruncatedMidSend(t *testing.T) {
	s := newServer(t, basicConfig(`aio = "threads"`))
	s.write("html/small.txt", "small\n")
	const size = 64 << 20
	big := filepath.Join(s.root, "big.bin")
	bigFile(t, big, size)
	if !dropCache(t, big) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	s.start()

	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(64 << 10) // keep the server's sends partial
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, req("GET", "/big.bin"))
	br := bufio.NewReader(conn)
	r := &response{}
	if err := readHead(br, r); err != nil || r.status != 200 || r.header("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("head: %v %v", r, err)
	}
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 2<<20); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection stayed open after %d more bytes", len(rest))
	}
	body := append(first, rest...)
	if len(body) >= size {
		t.Fatalf("the whole %d bytes came, from a file truncated to 2 MiB", len(body))
	}
	want := make([]byte, len(body))
	io.ReadFull(rand.New(rand.NewSource(size)), want) // bigFile's contents
	if !bytes.Equal(body, want) {
		t.Fatalf("the %d bytes sent differ from the file's first bytes", len(body))
	}
	t.Logf("connection closed after %d of %d bytes", len(body), size)

	if r := s.get(req("GET", "/small.txt")); r.status != 200 || string(r.body) != "small\n" {
		t.Fatalf("after the truncation: %v", r)
	}
	s.signal(syscall.SIGQUIT)
	s.wait(10 * time.Second)
	if _, off := sendCounters(t, s); off == 0 {
		t.Fatal("the cold file went out with no thread hop")
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "logs/error.log"))
	if !bytes.Contains(log, []byte("was truncated")) {
		t.Fatalf("no truncation in the error log:\n%s", log)
	}
}

// TestAIOQueueFull: with one pool thread and no queue, a cold response
// arriving while the thread waits for the (throttled) disk gets 500 with
// Connection: close and an error-log line; the worker goes on serving
// cached files and the first download.
func TestAIOQueueFull(t *testing.T) {
	s := newServer(t, `
thread_pool "default" {
  threads   = 1
  max_queue = 0
}
`+basicConfig(`aio = "threads"`))
	s.write("html/small.txt", "small\n")
	var names []string
	for _, name := range []string{"a.bin", "b.bin"} {
		p := filepath.Join(s.root, name)
		bigFile(t, p, 8<<20)
		if !dropCache(t, p) {
			t.Skip("the page cache kept the file despite FADV_DONTNEED")
		}
		names = append(names, p)
	}
	s.start()
	workers := s.waitWorkers(1, nil, 10*time.Second)
	unthrottle := testcgroup.ThrottleReads(t, workers[0], s.root, 128<<10)

	// a.bin's first sendfile holds the only thread for seconds.
	a := s.dial()
	a.send(req("GET", "/a.bin"))
	time.Sleep(200 * time.Millisecond)
	b := s.dial()
	rb := b.do(req("GET", "/b.bin"))
	if rb.status != 500 || rb.header("Connection") != "close" {
		t.Fatalf("b.bin while the pool is busy: %v", rb)
	}
	b.expectClosed(5 * time.Second)
	if r := s.get(req("GET", "/small.txt")); r.status != 200 || string(r.body) != "small\n" {
		t.Fatalf("a cached file while the pool is busy: %v", r)
	}
	ra := &response{}
	a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := readHead(a.br, ra); err != nil || ra.status != 200 {
		t.Fatalf("a.bin: %v %v", ra, err)
	}
	a.c.Close()
	unthrottle()
	s.signal(syscall.SIGQUIT)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "logs/error.log"))
	if !strings.Contains(string(log), "thread pool task refused") {
		t.Fatalf("no refusal in the error log:\n%s", log)
	}
}
