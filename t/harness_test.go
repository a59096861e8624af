// Package t holds tern's end-to-end tests: they build the binary, start
// real processes with a configuration in a temporary directory, and talk
// to them over loopback sockets and signals, as a user would.
package t

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ternBin is the binary under test, built once by TestMain.
var ternBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tern-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ternBin = filepath.Join(dir, "tern")
	build := exec.Command("go", "build", "-o", ternBin, "../cmd/tern")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tern:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output from its copying goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is a tern process under test.
type server struct {
	t      testing.TB
	dir    string // holds tern.hcl, html/ and logs/
	root   string // dir/html
	addr   string // 127.0.0.1:PORT of the first listener
	port   int
	cmd    *exec.Cmd
	output *lockedBuffer
	waited chan struct{}
	// cred, when set, runs the process as that user (see asUnprivileged).
	cred *syscall.Credential
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// The kernel may hand a closed port out again: a test that
		// takes several (tern's, and pebble's DNS server's, which is
		// UDP too) got the same one twice and failed with "address
		// already in use". No port is handed out twice per process.
		if portsGiven[port] {
			continue
		}
		if u, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			u.Close()
		} else {
			continue
		}
		portsGiven[port] = true
		return port
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// newServer prepares a directory with an html/ docroot and a config made
// from tmpl, in which {{PORT}}, {{ROOT}} and {{DIR}} are replaced. Call
// start to run it.
func newServer(t testing.TB, tmpl string) *server {
	t.Helper()
	dir := t.TempDir()
	// A master started as root (as the tests usually are) runs its
	// workers as nobody: the directory must be searchable by every user,
	// as a real docroot is (t.TempDir makes its parent 0700).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{t: t, dir: dir, root: filepath.Join(dir, "html"), port: freePort(t)}
	s.addr = "127.0.0.1:" + strconv.Itoa(s.port)
	for _, d := range []string{s.root, filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.NewReplacer("{{PORT}}", strconv.Itoa(s.port), "{{ROOT}}", s.root, "{{DIR}}", dir).Replace(tmpl)
	s.write("tern.hcl", cfg)
	return s
}

// serversConfig is the main context of every test server (pid file,
// logs and access log in DIR, one worker) around http-level lines.
func serversConfig(httpBody string) string {
	return `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
error_log_level = "info"
worker_processes = 1
http {
  access_log = "{{DIR}}/logs/access.log"
` + httpBody + `
}
`
}

// handlersConfig serves ROOT on PORT with extra http-level and
// server-level lines.
func handlersConfig(httpExtra, serverExtra string) string {
	return serversConfig(httpExtra + `
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
` + serverExtra + `
  }`)
}

// basicConfig serves ROOT on PORT with extra http-level lines.
func basicConfig(extra string) string { return handlersConfig(extra, "") }

// write creates a file relative to the server's directory.
func (s *server) write(rel, content string) string {
	s.t.Helper()
	p := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// file creates a file in the docroot.
func (s *server) file(rel, content string) string {
	return s.write(filepath.Join("html", rel), content)
}

// start runs tern -c DIR/tern.hcl and waits until it accepts.
func (s *server) start(args ...string) *server {
	s.t.Helper()
	return s.startBinary(ternBin, args...)
}

// startBinary is start with another build of tern (see buildVariant).
func (s *server) startBinary(bin string, args ...string) *server {
	s.t.Helper()
	s.output = &lockedBuffer{}
	s.cmd = exec.Command(bin, append([]string{"-c", filepath.Join(s.dir, "tern.hcl")}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if s.cred != nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.waited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.waited) }()
	s.t.Cleanup(s.kill)
	s.waitReady()
	return s
}

func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.waited:
			s.t.Fatalf("tern exited at start: %v\n%s", s.cmd.ProcessState, s.output)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("tern did not accept on %s within 10s\n%s", s.addr, s.output)
}

// signal sends sig to the tern process.
func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (s *server) wait(d time.Duration) int {
	s.t.Helper()
	select {
	case <-s.waited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		s.t.Fatalf("tern still running after %v\n%s", d, s.output)
	}
	return -1
}

// kill stops the process by PID if it still runs.
func (s *server) kill() {
	select {
	case <-s.waited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.waited
	}
}

// dial opens a connection to the server.
func (s *server) dial() *client {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &client{t: s.t, c: c, br: bufio.NewReader(c)}
}

// client is one raw connection.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (c *client) send(raw string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read reads one response to a request of the given method.
func (c *client) read(method string) *response {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := readResponse(c.br, method)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return r
}

// do sends raw and reads the response.
func (c *client) do(raw string) *response {
	c.t.Helper()
	c.send(raw)
	method, _, _ := strings.Cut(strings.TrimLeft(raw, "\r\n"), " ")
	return c.read(method)
}

// expectClosed checks that the server closes the connection: EOF (or a
// reset) with no more bytes, within d.
func (c *client) expectClosed(d time.Duration) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("connection still open: read %q%q", b, rest)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", d)
	}
}

// expectOpen checks that the connection stays open for d.
func (c *client) expectOpen(d time.Duration) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		c.t.Fatalf("connection closed or sent data: %v", err)
	}
}

// get does one request on a new connection.
func (s *server) get(raw string) *response {
	s.t.Helper()
	return s.dial().do(raw)
}

// waitFile waits until path exists.
func waitFile(t testing.TB, path string, d time.Duration, what string) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s does not exist after %v", what, path, d)
		}
	}
}

// req builds a GET request for path with extra header lines.
func req(method, path string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}
