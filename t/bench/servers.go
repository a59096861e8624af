package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// server is one server process under measurement.
type server struct {
	name  string
	port  int
	cmd   *exec.Cmd
	https bool
	// cpuGroup is the cgroup v1 cpu group that caps the server's CPU
	// (-server-quota), removed when it stops.
	cpuGroup string
}

func (s *server) url(path string) string {
	scheme := "http"
	if s.https {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, s.port, path)
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	if s.cpuGroup != "" {
		os.Remove(s.cpuGroup)
	}
}

const cpuRoot = "/sys/fs/cgroup/cpu"

// limitCPU caps what the server's processes may run to quota of one CPU,
// through a cgroup v1 cpu group of its own (CFS bandwidth control), so that
// the server and not the one-thread load generator on the other CPU is
// what limits requests/s: req/s then follows the server's CPU per request.
// A 10 ms period keeps the throttled stretches short next to a run.
func (s *server) limitCPU(quota float64) error {
	const period = 10000 // µs
	cg := filepath.Join(cpuRoot, "tern-bench-"+s.name)
	if err := os.MkdirAll(cg, 0o755); err != nil {
		return fmt.Errorf("-server-quota needs a cgroup v1 cpu hierarchy at %s: %w", cpuRoot, err)
	}
	s.cpuGroup = cg
	set := func(file string, v int) error {
		return os.WriteFile(filepath.Join(cg, file), []byte(strconv.Itoa(v)), 0o644)
	}
	if err := set("cpu.cfs_period_us", period); err != nil {
		return err
	}
	if err := set("cpu.cfs_quota_us", int(quota*period)); err != nil {
		return err
	}
	for _, pid := range s.pids() {
		if err := set("cgroup.procs", pid); err != nil {
			return fmt.Errorf("%s: moving %d into %s: %w", s.name, pid, cg, err)
		}
	}
	return nil
}

// workers returns the pids that serve: the children of the master, or the
// process itself when it serves alone.
func (s *server) workers() []int {
	pid := s.cmd.Process.Pid
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var kids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			kids = append(kids, n)
		}
	}
	if len(kids) == 0 {
		return []int{pid}
	}
	return kids
}

// pids is the master and its workers.
func (s *server) pids() []int {
	all := []int{s.cmd.Process.Pid}
	for _, w := range s.workers() {
		if w != all[0] {
			all = append(all, w)
		}
	}
	return all
}

// pinSelf moves every thread of this process to cpu; threads the runtime
// starts later inherit the mask from the thread that creates them.
func pinSelf(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		unix.SchedSetaffinity(tid, &set)
	}
	return nil
}

func freePort() int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// makeDocroot writes the 1 KiB file and the large files.
func makeDocroot(o *options) (string, error) {
	root := filepath.Join(o.dir, "html")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "1k.txt"), bytes.Repeat([]byte("t"), 1024), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "64k.bin"), bytes.Repeat([]byte("s"), 64<<10), 0o644); err != nil {
		return "", err
	}
	if o.phases["tls-large"] || o.phases["large"] || o.phases["large-evicted"] || o.phases["h2-large"] ||
		o.phases["pairs"] && strings.HasPrefix(o.pairLoad, "large") {
		// A file the page cache holds: written just now.
		buf := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		f, err := os.Create(filepath.Join(root, "large.bin"))
		if err != nil {
			return "", err
		}
		for n := int64(0); n < o.largeSize; n += int64(len(buf)) {
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return "", err
			}
		}
		f.Close()
	}
	if !o.phases["cold"] && !o.phases["slow"] && !o.phases["open"] {
		return root, nil
	}
	fmt.Printf("writing %d files of %d MiB...\n", o.downloaders, o.bigSize>>20)
	buf := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(buf)
	for i := 0; i < o.downloaders; i++ {
		f, err := os.Create(filepath.Join(root, fmt.Sprintf("big%d.bin", i)))
		if err != nil {
			return "", err
		}
		for n := int64(0); n < o.bigSize; n += int64(len(buf)) {
			buf[0] = byte(i)
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return "", err
			}
		}
		f.Sync()
		f.Close()
	}
	return root, nil
}

// startServers starts every variant: tern with aio threads and off,
// nginx with and without aio threads when nginx is installed, and
// lighttpd when it is.
func startServers(o *options, root string) ([]*server, error) {
	var out []*server
	type variant struct{ name, aio, httpExtra, serverExtra, bin string }
	terns := []variant{{"tern", "threads", "", "", o.tern}, {"tern-aio-off", "off", "", "", o.tern}}
	if o.police {
		terns = append(terns, variant{"tern-police", "threads", ternPoliceHTTP, ternPoliceServer, o.tern})
	}
	if o.ternOld != "" {
		terns = append(terns, variant{"tern-old", "threads", "", "", o.ternOld})
	}
	for _, v := range terns {
		if o.skip[v.name] {
			continue
		}
		s, err := startTern(o, v.bin, root, v.name, v.aio, v.httpExtra, v.serverExtra)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	nginxes := []variant{{"nginx", "", "", "", ""}, {"nginx-aio", "aio threads;", "", "", ""}}
	if o.police {
		nginxes = append(nginxes, variant{"nginx-police", "", nginxPoliceHTTP, nginxPoliceServer, ""})
	}
	if _, err := os.Stat(o.nginx); err != nil {
		fmt.Printf("nginx not found at %s: without it\n", o.nginx)
		nginxes = nil
	}
	for _, v := range nginxes {
		if o.skip[v.name] {
			continue
		}
		s, err := startNginx(o, root, v.name, v.aio, v.httpExtra, v.serverExtra)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	if o.skip["lighttpd"] {
		return out, nil
	}
	if _, err := os.Stat(o.lighttpd); err != nil {
		fmt.Printf("lighttpd not found at %s (apt-get install lighttpd): without it\n", o.lighttpd)
		return out, nil
	}
	s, err := startLighttpd(o, root)
	if err != nil {
		return out, err
	}
	return append(out, s), nil
}

// startLighttpd starts lighttpd, a single process with one event loop, as
// the peer: sendfile, keep-alive unlimited, no access log.
func startLighttpd(o *options, root string) (*server, error) {
	s := &server{name: "lighttpd", port: freePort()}
	d := filepath.Join(o.dir, s.name)
	os.MkdirAll(d, 0o755)
	cfg := fmt.Sprintf(`
server.document-root           = "%s"
server.bind                    = "127.0.0.1"
server.port                    = %d
server.errorlog                = "%s/error.log"
server.network-backend         = "sendfile"
server.max-fds                 = %d
server.max-connections         = %d
server.max-keep-alive-requests = 1000000000
server.max-keep-alive-idle     = 75
`, root, s.port, d, 2*(o.idle+2048), o.idle+1024)
	p := filepath.Join(d, "lighttpd.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	s.cmd = exec.Command("taskset", "-c", strconv.Itoa(o.serverCPU), o.lighttpd, "-D", "-f", p)
	return s, startAndWait(s)
}

// The -police variants: allow/deny, a limit_req and a limit_conn that
// refuse nothing (the highest rate tern takes, a burst as large, far
// more connections than wrk opens), so that the cost measured is that of
// checking them on every request.
const (
	ternPoliceHTTP = `
  limit_req_zone "bench" {
    key  = "$binary_remote_addr"
    size = "10m"
    rate = "1000000r/s"
  }
  limit_conn_zone "perip" {
    key  = "$binary_remote_addr"
    size = "10m"
  }`
	ternPoliceServer = `
    allow      = ["127.0.0.0/8"]
    deny       = "all"
    limit_req  = { zone = "bench", burst = 1000000, nodelay = true }
    limit_conn = { perip = 65535 }`
	nginxPoliceHTTP = `limit_req_zone $binary_remote_addr zone=bench:10m rate=1000000r/s;
  limit_conn_zone $binary_remote_addr zone=perip:10m;`
	nginxPoliceServer = `allow 127.0.0.0/8; deny all; limit_req zone=bench burst=1000000 nodelay; limit_conn perip 65535;`
)

func startTern(o *options, bin, root, name, aio, httpExtra, serverExtra string) (*server, error) {
	s := &server{name: name, port: freePort()}
	http := fmt.Sprintf("  aio                = %q\n%s", aio, httpExtra)
	server := fmt.Sprintf(`
    listen = ["127.0.0.1:%d"]
    root   = "%s"
%s`, s.port, root, serverExtra)
	return s, runTern(o, s, bin, filepath.Join(o.dir, name), http, server)
}

// runTern writes tern's configuration in dir — one worker, room for
// -idle connections, no access log, keep-alive unlimited, nginx's
// open_file_cache (runNginx; lighttpd keeps descriptors open too), then the
// http lines http and one server block holding server — and starts bin
// with it as s.
func runTern(o *options, s *server, bin, dir, http, server string) error {
	os.MkdirAll(dir, 0o755)
	cfg := fmt.Sprintf(`
worker_processes     = 1
worker_connections   = %d
worker_rlimit_nofile = %d
pid       = "%s/tern.pid"
error_log = "%s/error.log"
http {
  access_log         = "off"
  keepalive_requests = 1000000000
  open_file_cache    = { max = 1000, inactive = "60s" }
%s
  server {%s
  }
}
`, o.idle+1024, o.idle+2048, dir, dir, http, server)
	p := filepath.Join(dir, "tern.hcl")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return err
	}
	s.cmd = exec.Command("taskset", "-c", strconv.Itoa(o.serverCPU), bin, "-c", p)
	return startAndWait(s)
}

func startNginx(o *options, root, name, aio, httpExtra, serverExtra string) (*server, error) {
	s := &server{name: name, port: freePort()}
	server := fmt.Sprintf(`
    listen 127.0.0.1:%d;
    root %s;
    %s`, s.port, root, serverExtra)
	return s, runNginx(o, s, filepath.Join(o.dir, name), aio+"\n  "+httpExtra, server)
}

// runNginx writes nginx's configuration in dir — one worker, the http
// lines every phase gives it, then http and one server block holding
// server — and starts it as s.
func runNginx(o *options, s *server, dir, http, server string) error {
	os.MkdirAll(dir, 0o755)
	// nginx tuned fairly: sendfile, tcp_nopush, open_file_cache, no
	// access log, keep-alive unlimited as tern's.
	cfg := fmt.Sprintf(`
worker_processes 1;
worker_rlimit_nofile %d;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections %d; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000 inactive=60s;
  keepalive_requests 1000000000;
  keepalive_timeout 75s;
  %s
  server {%s
  }
}
`, o.idle+2048, dir, dir, o.idle+1024, http, server)
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return err
	}
	s.cmd = exec.Command("taskset", "-c", strconv.Itoa(o.serverCPU), o.nginx, "-c", p, "-p", dir)
	return startAndWait(s)
}

func startAndWait(s *server) error {
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			c.Close()
			time.Sleep(100 * time.Millisecond) // let the workers start
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start", s.name)
}
