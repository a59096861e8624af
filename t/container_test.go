package t

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The container image (Dockerfile): built with podman from a binary
// built here (no base image to pull: FROM scratch), run with a docroot
// mounted on /srv, asked for files, and stopped the way a runtime stops
// it (its STOPSIGNAL) while a download is in flight.

// podmanCmd runs podman with args, bounded by d, and returns its output.
func podmanCmd(d time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
	return string(out), err
}

// imageContext lays out a build context in a new directory: the
// Dockerfile, what it copies, and a static tern built from this tree.
func imageContext(t *testing.T) string {
	t.Helper()
	ctx := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(ctx, "tern"), "../cmd/tern")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a static tern: %v\n%s", err, out)
	}
	for _, f := range []string{"Dockerfile", ".dockerignore", "contrib/container/tern.hcl", "contrib/container/passwd",
		"contrib/container/group", "contrib/container/srv/index.html"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(ctx, f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx
}

// runOptions finds the podman run options this machine needs to start a
// container of image: none, limits no higher than this process's own
// (podman's defaults exceed them where CAP_SYS_RESOURCE is missing),
// runc where crun refuses a hybrid cgroup hierarchy. It returns the
// reason none works, with podman's words.
func runOptions(image string) ([]string, string) {
	var nofile, nproc syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc)
	limits := []string{
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Cur),
		"--ulimit", fmt.Sprintf("nproc=%d:%d", min(nproc.Cur, 4096), min(nproc.Cur, 4096)),
	}
	var why []string
	for _, opts := range [][]string{nil, limits, {"--runtime", "runc"}, append([]string{"--runtime", "runc"}, limits...)} {
		args := append(append([]string{"run", "--rm"}, opts...), image, "-v")
		out, err := podmanCmd(time.Minute, args...)
		if err == nil && strings.Contains(out, "tern version: tern/") {
			return opts, ""
		}
		why = append(why, fmt.Sprintf("podman %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out)))
	}
	return nil, strings.Join(why, "\n")
}

func TestContainerImage(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		skipLoudly(t, "podman is not installed (apt-get install podman runc): the container image is not tested")
	}
	if testing.Short() {
		t.Skip("-short: the container image takes a minute")
	}
	image := "localhost/tern-test:" + strconv.Itoa(os.Getpid())
	if out, err := podmanCmd(5*time.Minute, "build", "--build-arg", "TERN_BINARY=context", "-t", image, imageContext(t)); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	t.Cleanup(func() { podmanCmd(time.Minute, "rmi", "-f", image) })
	out, err := podmanCmd(time.Minute, "image", "inspect", image, "--format", "{{.Config.User}} {{.Config.StopSignal}} {{json .Config.Entrypoint}}")
	if err != nil || strings.TrimSpace(out) != `65532:65532 SIGQUIT ["/usr/local/bin/tern","-c","/etc/tern/tern.hcl"]` {
		t.Fatalf("the image's configuration: %v %q", err, out)
	}
	opts, why := runOptions(image)
	if why != "" {
		skipLoudly(t, "podman cannot run containers on this machine:\n"+why)
	}

	// A docroot the container's user may read, with a file big enough
	// that its download is still in flight when the stop comes.
	srv := t.TempDir()
	os.Chmod(srv, 0o755)
	os.WriteFile(filepath.Join(srv, "index.html"), []byte("mounted\n"), 0o644)
	const size = 64 << 20
	sum := bigFile(t, filepath.Join(srv, "big.bin"), size)
	os.Chmod(filepath.Join(srv, "big.bin"), 0o644)

	name := "tern-test-" + strconv.Itoa(os.Getpid())
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append(append([]string{"run", "-d", "--name", name, "-p", addr + ":8080", "-v", srv + ":/srv:ro"}, opts...), image)
	if out, err := podmanCmd(2*time.Minute, args...); err != nil {
		t.Fatalf("podman %v: %v\n%s", args, err, out)
	}
	t.Cleanup(func() { podmanCmd(time.Minute, "rm", "-f", "-t", "0", name) })
	logs := func() string { out, _ := podmanCmd(time.Minute, "logs", name); return out }
	s := &server{t: t, addr: addr}
	waitFor(t, 30*time.Second, "the container to answer /healthz", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, req("GET", "/healthz"))
		r, err := readResponse(bufio.NewReader(c), "GET")
		return err == nil && r.status == 200
	})
	if r := s.get(req("GET", "/")); r.status != 200 || string(r.body) != "mounted\n" {
		t.Fatalf("GET /: %v\n%s", r, logs())
	}
	idle := idleConns(t, s, 50)

	// A download in flight: the head and the first MiB, then the stop.
	dl := s.dial()
	dl.send(req("GET", "/big.bin"))
	dl.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	head := &response{}
	if err := readHead(dl.br, head); err != nil || head.status != 200 || head.header("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("big.bin: %v %v", head, err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, dl.br, 1<<20); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan string, 1)
	go func() {
		out, err := podmanCmd(2*time.Minute, "stop", "-t", "60", name)
		stopped <- fmt.Sprintf("%v %s", err, out)
	}()
	// The stop has begun when health says so (podman takes a moment to
	// send the signal); the download still waits.
	expectDrainingEvery(t, idle, 100*time.Millisecond)
	select {
	case res := <-stopped:
		t.Fatalf("the container stopped before the download finished: %s", res)
	default:
	}
	dl.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, err := io.Copy(h, dl.br)
	if err != nil || n != size-1<<20 || hex.EncodeToString(h.Sum(nil)) != sum {
		t.Fatalf("the download cut short by the stop: %d of %d bytes, %v\n%s", n+1<<20, size, err, logs())
	}
	select {
	case res := <-stopped:
		t.Logf("podman stop: %s", res)
	case <-time.After(60 * time.Second):
		t.Fatalf("podman stop did not return\n%s", logs())
	}
	out, err = podmanCmd(time.Minute, "inspect", name, "--format", "{{.State.ExitCode}}")
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Fatalf("exit code %q %v\n%s", out, err, logs())
	}
	all := logs()
	for _, want := range []string{
		"tern: listening on http://0.0.0.0:8080/",
		`"uri":"/big.bin","protocol":"HTTP/1.1","status":200,`,
		`"body_bytes_sent":` + strconv.Itoa(size) + `,`,
		"tern: stopped: QUIT received: graceful stop",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the container's output lacks %q:\n%s", want, all)
		}
	}
}
