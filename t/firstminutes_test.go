package t

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first five minutes of a new user: tern serve, what a foreground
// tern says on the terminal, and what tern -t says about a configuration
// that cannot work.

// startServe runs tern serve with args on a free port and waits until it
// accepts.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(ternBin, append(append([]string{"serve"}, args...), "-listen", addr)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, cmd: cmd, output: &out, waited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.kill)
	s.waitReady()
	return s
}

// TestServe runs the zero-configuration quick start with the flags after
// the directory: index files, directory listings (on by default), and a
// clean stop with its reason on the terminal.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	// Readable by all, as a docroot is: run as root, tern serve's workers
	// drop to nobody without a note (TestServeUser covers the others).
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("served\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "notes.txt"), []byte("n\n"), 0o644)
	s := startServe(t, dir)
	if r := s.get(req("GET", "/")); r.status != 200 || string(r.body) != "served\n" {
		t.Fatalf("%v", r)
	}
	if r := s.get(req("GET", "/sub/")); r.status != 200 || !strings.Contains(string(r.body), `<a href="notes.txt">notes.txt</a>`) {
		t.Fatalf("a directory is not listed: %v\n%s", r, r.body)
	}
	waitOutput(t, s, "tern: serving "+dir+" (directory listings on, gzip off)\ntern: listening on http://"+s.addr+"/\n")
	s.signal(syscall.SIGTERM)
	if code := s.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.output)
	}
	if out := s.output.String(); !strings.Contains(out, "tern: stopped: SIGTERM received: fast stop\n") {
		t.Fatalf("no reason on the terminal:\n%s", out)
	}
	if code, _, errOut := runTern(t, dir, "serve", filepath.Join(dir, "index.html")); code != 1 || !strings.Contains(errOut, "not a directory") {
		t.Fatalf("serve a file: %d %q", code, errOut)
	}
}

// TestServeFlags: -autoindex=false refuses listings, -gzip compresses
// text and serves FILE.gz; flags may come before the directory.
func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	text := strings.Repeat("tern serves text, compressed on the fly. ", 50)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte(text), 0o644)
	os.WriteFile(filepath.Join(dir, "b.js"), []byte("plain"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.js.gz"), []byte("precompressed"), 0o644)
	s := startServe(t, "-autoindex=false", "-gzip", dir)
	if r := s.get(req("GET", "/sub/")); r.status != 403 {
		t.Errorf("-autoindex=false: %v", r)
	}
	r := s.get(req("GET", "/a.txt", "Accept-Encoding: gzip"))
	if r.status != 200 || r.header("Content-Encoding") != "gzip" {
		t.Fatalf("-gzip: %v", r)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || string(got) != text {
		t.Errorf("-gzip: the body does not decompress to the file: %v", err)
	}
	if r := s.get(req("GET", "/b.js", "Accept-Encoding: gzip")); r.header("Content-Encoding") != "gzip" || string(r.body) != "precompressed" {
		t.Errorf("-gzip does not serve FILE.gz: %v %q", r, r.body)
	}
	if !strings.Contains(s.output.String(), "(directory listings off, gzip on)") {
		t.Errorf("the terminal shows:\n%s", s.output)
	}
}

// TestServeHelp: --help is a real help on standard output; a bad flag
// is an error with the usage.
func TestServeHelp(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := runTern(t, dir, "serve", "--help")
	for _, want := range []string{"usage: tern serve", "-listen ADDR", "-autoindex=false", "-gzip", "Examples:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("--help: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	if code, _, errOut := runTern(t, dir, "serve", "-bogus"); code != 1 || !strings.Contains(errOut, "-bogus") || !strings.Contains(errOut, "usage: tern serve") {
		t.Errorf("a bad flag: exit %d %q", code, errOut)
	}
	if code, _, errOut := runTern(t, dir, "serve", dir, dir); code != 1 || !strings.Contains(errOut, "one directory") {
		t.Errorf("two directories: exit %d %q", code, errOut)
	}
}

// TestForegroundTerminal: tern -c prints one line per listening address
// with its servers, and why it stopped.
func TestForegroundTerminal(t *testing.T) {
	s := newServer(t, serversConfig(`
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["example.com", "www.example.com"]
    root        = "{{ROOT}}"
  }
  server {
    listen = ["127.0.0.1:{{PORT}} default_server"]
    root   = "{{ROOT}}"
  }`))
	s.start()
	waitOutput(t, s, "tern: listening on http://"+s.addr+"/ for example.com, a server without server_name (default)\n")
	s.signal(syscall.SIGQUIT)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if out := s.output.String(); !strings.Contains(out, "tern: stopped: QUIT received: graceful stop, every response in flight finished\n") {
		t.Fatalf("no reason on the terminal:\n%s", out)
	}
}

// TestConfigTestPaths: tern -t warns about a root that does not exist
// and fails on a log directory that does not, at their lines.
func TestConfigTestPaths(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	cfg := filepath.Join(dir, "tern.hcl")
	os.WriteFile(cfg, []byte("http {\n  server {\n    listen = [\"8080\"]\n    root = \"/nonexistent/www\"\n  }\n}\n"), 0o644)
	code, _, errOut := runTern(t, dir, "-t", "-c", cfg)
	if code != 0 || !strings.Contains(errOut, cfg+":4,12: Warning: root /nonexistent/www: it does not exist") ||
		!strings.Contains(errOut, "test is successful") {
		t.Errorf("a missing root: exit %d\n%s", code, errOut)
	}
	os.WriteFile(cfg, []byte("error_log = \"/nonexistent/logs/error.log\"\nhttp {\n  server {\n    listen = [\"8080\"]\n    root = \".\"\n  }\n}\n"), 0o644)
	code, _, errOut = runTern(t, dir, "-t", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, cfg+":1,13: Cannot open error_log /nonexistent/logs/error.log: the directory /nonexistent/logs does not exist") ||
		!strings.Contains(errOut, "test failed") {
		t.Errorf("an uncreatable log directory: exit %d\n%s", code, errOut)
	}
	// Starting fails the same way, before anything is opened.
	if code, _, errOut := runTern(t, dir, "-c", cfg); code != 1 || !strings.Contains(errOut, "Cannot open error_log") {
		t.Errorf("start: exit %d\n%s", code, errOut)
	}
}

// TestConfigTestMissingBrace: a missing "}" is reported where the block
// opens and where the file ends.
func TestConfigTestMissingBrace(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tern.hcl")
	os.WriteFile(cfg, []byte("http {\n  server {\n    listen = [\"8080\"]\n    location \"/\" {\n      root = \".\"\n  }\n}\n"), 0o644)
	code, _, errOut := runTern(t, dir, "-t", "-c", cfg)
	for _, want := range []string{
		cfg + ":1,6: Unclosed configuration block",
		cfg + ":4,18: Missing closing brace",
		cfg + ":7,2: Unclosed configuration block: the file ends here",
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want %q in\n%s", code, want, errOut)
		}
	}
}

// waitOutput waits until the process has written want: the sockets
// accept before the master has told the terminal about them.
func waitOutput(t *testing.T, s *server, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.output.String(), want) {
			return
		}
	}
	t.Fatalf("want %q on the terminal:\n%s", want, s.output)
}
