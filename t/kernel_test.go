package t

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What tern does on older kernels, shown on this one: t/oldkernel runs
// tern with system calls taken away (ENOSYS, through a seccomp filter
// that its workers inherit), as on a kernel that predates them.

// oldKernel returns a command that runs tern with args as if the kernel
// lacked the system calls named; it is killed when ctx ends.
func oldKernel(ctx context.Context, t *testing.T, syscalls string, args ...string) *exec.Cmd {
	t.Helper()
	helper := buildVariantOf(t, "oldkernel", "./oldkernel")
	return exec.CommandContext(ctx, helper, append([]string{syscalls, "--", ternBin}, args...)...)
}

// TestOldKernelServes: without openat2 (Linux 5.6) and cachestat (6.5),
// files are still served, inline and through the thread pool, and
// directories listed.
func TestOldKernelServes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("served\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	big := bigFile(t, filepath.Join(dir, "big.bin"), 8<<20)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := oldKernel(t.Context(), t, "openat2,cachestat", "serve", "-listen", addr, dir)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, cmd: cmd, output: &out, waited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.kill)
	s.waitReady()
	if r := s.get(req("GET", "/")); r.status != 200 || string(r.body) != "served\n" {
		t.Fatalf("GET / without openat2: %v\n%s", r, out.String())
	}
	if r := s.get(req("GET", "/sub/")); r.status != 200 {
		t.Fatalf("a listing without openat2: %v", r)
	}
	if status, n, sum := fetchHash(t, s, "/big.bin"); status != 200 || n != 8<<20 || sum != big {
		t.Fatalf("big.bin without openat2 and cachestat: %d, %d bytes", status, n)
	}
}

// TestOldKernelDisableSymlinks: disable_symlinks needs openat2: -t and a
// start say so, rather than answer every request 500 (a start that
// failed to refuse would serve: the command is killed after a minute).
func TestOldKernelDisableSymlinks(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tern.hcl")
	os.WriteFile(cfg, []byte(`pid = "off"
error_log = "stderr"
http {
  access_log = "off"
  server {
    listen = ["127.0.0.1:`+strconv.Itoa(freePort(t))+`"]
    root   = "`+dir+`"
    location "/private/" { disable_symlinks = true }
  }
}
`), 0o644)
	for _, args := range [][]string{{"-t", "-c", cfg}, {"-c", cfg}} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := oldKernel(ctx, t, "openat2", args...).CombinedOutput()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 1 || !strings.Contains(string(out), cfg+":8,28: disable_symlinks needs openat2") {
			t.Errorf("tern %v without openat2: exit %d\n%s", args, code, out)
		}
	}
	// With openat2 it is fine.
	if code, _, errOut := runTern(t, dir, "-t", "-c", cfg); code != 0 {
		t.Errorf("-t: %d %s", code, errOut)
	}
	// if_not_owner lists directories through openat2 too: refused as
	// well; "off" is not.
	src, _ := os.ReadFile(cfg)
	for value, want := range map[string]int{`"if_not_owner"`: 1, `"off"`: 0} {
		os.WriteFile(cfg, []byte(strings.Replace(string(src), "true", value, 1)), 0o644)
		out, err := oldKernel(t.Context(), t, "openat2", "-t", "-c", cfg).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != want {
			t.Errorf("disable_symlinks = %s without openat2: -t exits %d, want %d\n%s", value, code, want, out)
		}
	}
}
