package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tern/internal/testcert"
)

// The HTTPS phases: tern and nginx with the same ECDSA P-256 certificate,
// TLS 1.2 and 1.3, one worker pinned to the server CPU each.
//
//	tls-hot        1 KiB keep-alive requests/s over HTTPS (wrk), and the
//	               worker's context switches and CPU time per request: on
//	               one load CPU wrk may be the limit, so CPU per request
//	               is the server's cost
//	tls-handshake  new connections/s: wrk with Connection: close, session
//	               tickets off on both servers, so that every connection
//	               makes a full handshake (ECDHE and an ECDSA signature);
//	               and the worker's context switches (all its threads,
//	               voluntary and not) and CPU time per connection, from
//	               /proc: wrk's one thread may be what limits the rate
//	tls-resume     the same with tickets on: wrk keeps its session across
//	               its reconnections (SSL_clear keeps it), so these are
//	               resumptions
//	tls-large      a cached -large file, 4 downloads at once: MiB/s, and
//	               the server's CPU seconds per GiB sent
//	tls-idle       memory per idle keep-alive TLS connection (Pss)

// benchCerts writes the servers' certificate and key (ECDSA P-256, for
// localhost and 127.0.0.1) once, and returns their directory.
func benchCerts(o *options) string {
	certDir := filepath.Join(o.dir, "certs")
	if _, err := os.Stat(certDir); err != nil {
		os.MkdirAll(certDir, 0o755)
		ca := testcert.NewCA("bench CA")
		p := ca.Leaf(testcert.Options{}, "localhost", "127.0.0.1")
		os.WriteFile(filepath.Join(certDir, "cert.pem"), p.CertPEM, 0o644)
		os.WriteFile(filepath.Join(certDir, "key.pem"), p.KeyPEM, 0o644)
	}
	return certDir
}

// tlsServers starts tern and nginx on HTTPS, with tickets or without.
func tlsServers(o *options, root string, tickets bool) ([]*server, error) {
	certDir := benchCerts(o)
	suffix := "-tls"
	if !tickets {
		suffix = "-tls-nt"
	}
	var out []*server
	t, err := startTernTLS(o, root, "tern"+suffix, certDir, tickets)
	if err != nil {
		return out, err
	}
	out = append(out, t)
	if _, err := os.Stat(o.nginx); err == nil {
		n, err := startNginxTLS(o, root, "nginx"+suffix, certDir, tickets)
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
	return out, nil
}

func startTernTLS(o *options, root, name, certDir string, tickets bool) (*server, error) {
	s := &server{name: name, port: freePort(), https: true}
	server := fmt.Sprintf(`
    listen              = ["127.0.0.1:%d ssl backlog=4096"]
    root                = "%s"
    ssl_certificate     = "%s/cert.pem"
    ssl_certificate_key = "%s/key.pem"`, s.port, root, certDir, certDir)
	return s, runTern(o, s, o.tern, filepath.Join(o.dir, name), fmt.Sprintf("  ssl_session_tickets = %t", tickets), server)
}

func startNginxTLS(o *options, root, name, certDir string, tickets bool) (*server, error) {
	s := &server{name: name, port: freePort(), https: true}
	onOff := map[bool]string{true: "on", false: "off"}[tickets]
	// nginx tuned as for plain HTTP, and its TLS defaults otherwise
	// (ssl_protocols TLSv1.2 TLSv1.3, ssl_ciphers HIGH:!aNULL:!MD5).
	http := "ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_session_tickets " + onOff + ";"
	server := fmt.Sprintf(`
    listen 127.0.0.1:%d ssl backlog=4096;
    root %s;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;`, s.port, root, certDir, certDir)
	return s, runNginx(o, s, filepath.Join(o.dir, name), http, server)
}

// tlsPhases runs the HTTPS phases the options name.
func tlsPhases(o *options, root string) error {
	with, err := tlsServers(o, root, true)
	defer stopAll(with)
	if err != nil {
		return err
	}
	var without []*server
	if o.phases["tls-handshake"] {
		without, err = tlsServers(o, root, false)
		defer stopAll(without)
		if err != nil {
			return err
		}
	}
	rounds := func(servers []*server, f func(*server) (float64, error)) (map[string]float64, error) {
		runs := map[string][]float64{}
		for r := 0; r < o.rounds; r++ {
			for _, s := range servers {
				v, err := f(s)
				if err != nil {
					return nil, err
				}
				runs[s.name] = append(runs[s.name], v)
			}
		}
		return mediansOf(runs), nil
	}
	show := func(title, unit string, servers []*server, med map[string]float64) {
		fmt.Printf("== %s\n", title)
		for _, s := range servers {
			fmt.Printf("%-16s %12.1f %s\n", s.name, med[s.name], unit)
		}
		if len(servers) == 2 && med[servers[1].name] > 0 {
			fmt.Printf("%-16s %12.2f×\n", "tern / nginx", med[servers[0].name]/med[servers[1].name])
		}
		fmt.Println()
	}
	// wrkCounted runs wrk (with args: Connection: close for the
	// handshake phases) and notes the worker's context switches and CPU
	// time per request. wrk's one thread may be what limits the rate
	// (its side of each handshake, and of each record, costs as much as
	// the server's), so the worker's CPU per request is the server's
	// cost.
	type perConn struct{ switches, cpu map[string][]float64 }
	wrkCounted := func(pc perConn, args ...string) func(*server) (float64, error) {
		return func(s *server) (float64, error) {
			w := s.workers()[0]
			sw, cpu := ctxSwitches(w), cpuSeconds(w)
			r, err := runWrkArgs(o, s.url("/1k.txt"), args...)
			if r.requests > 0 {
				n := float64(r.requests)
				pc.switches[s.name] = append(pc.switches[s.name], float64(ctxSwitches(w)-sw)/n)
				pc.cpu[s.name] = append(pc.cpu[s.name], (cpuSeconds(w)-cpu)*1e6/n)
			}
			return r.rps, err
		}
	}
	showPerConn := func(phase, per string, servers []*server, pc perConn) {
		for _, m := range []struct {
			what, unit string
			runs       map[string][]float64
		}{
			{"context switches", "per " + per, pc.switches},
			{"CPU time", "µs per " + per, pc.cpu},
		} {
			show(phase+": the worker's "+m.what+" (lower is better)", m.unit, servers, mediansOf(m.runs))
		}
	}
	if o.phases["tls-hot"] {
		pc := perConn{map[string][]float64{}, map[string][]float64{}}
		med, err := rounds(with, wrkCounted(pc))
		if err != nil {
			return err
		}
		show("tls-hot: 1 KiB keep-alive requests/s over HTTPS", "requests/s", with, med)
		showPerConn("tls-hot", "request", with, pc)
	}
	if o.phases["tls-handshake"] {
		pc := perConn{map[string][]float64{}, map[string][]float64{}}
		med, err := rounds(without, wrkCounted(pc, "-H", "Connection: close"))
		if err != nil {
			return err
		}
		show("tls-handshake: full handshakes/s (Connection: close, no tickets)", "connections/s", without, med)
		showPerConn("tls-handshake", "connection", without, pc)
	}
	if o.phases["tls-resume"] {
		pc := perConn{map[string][]float64{}, map[string][]float64{}}
		med, err := rounds(with, wrkCounted(pc, "-H", "Connection: close"))
		if err != nil {
			return err
		}
		show("tls-resume: resumed handshakes/s (Connection: close, tickets)", "connections/s", with, med)
		showPerConn("tls-resume", "connection", with, pc)
	}
	if o.phases["tls-large"] {
		cpu := map[string][]float64{}
		med, err := rounds(with, func(s *server) (float64, error) {
			mbs, cpuPerGiB, err := largeRun(o, s)
			cpu[s.name] = append(cpu[s.name], cpuPerGiB)
			return mbs, err
		})
		if err != nil {
			return err
		}
		show(fmt.Sprintf("tls-large: a cached %d MiB file, 4 downloads at once", o.largeSize>>20), "MiB/s", with, med)
		show("tls-large: the server's CPU per GiB sent (lower is better)", "CPU s/GiB", with, mediansOf(cpu))
	}
	if o.phases["tls-idle"] {
		tlsIdlePhase(o, with)
	}
	return nil
}

func stopAll(servers []*server) {
	for _, s := range servers {
		s.stop()
	}
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

var transferRE = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)([KMG]B)`)

// largeRun downloads the cached large file with 4 wrk connections and
// returns MiB/s and the server's CPU seconds per GiB.
func largeRun(o *options, s *server) (float64, float64, error) {
	if o.largeReader && !s.https {
		return largeRead(o, s)
	}
	w := s.workers()[0]
	before := cpuSeconds(w)
	out, err := exec.Command("wrk", "-t1", "-c4", "-d"+o.duration.String(), s.url("/large.bin")).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	used := cpuSeconds(w) - before
	m := transferRE.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no transfer rate from wrk: %s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	mbs := v * map[string]float64{"KB": 1.0 / 1024, "MB": 1, "GB": 1024}[string(m[2])]
	gib := mbs * o.duration.Seconds() / 1024
	return mbs, used / gib, nil
}

// cpuSeconds is the time pid's threads have run, in seconds: the sum of
// each live thread's run time in /proc/PID/task/TID/schedstat, which the
// kernel keeps in nanoseconds. /proc/PID/stat counts 10 ms ticks, and a
// paced large-file run of 6 s, in which a server uses about 0.15 s,
// measured in steps of 7 %. Threads that exited are not counted (a
// worker's threads live as long as it does); where schedstat is missing
// it falls back to /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var sum float64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			if os.IsNotExist(err) && t.Name() == strconv.Itoa(pid) {
				return statCPUSeconds(pid) // no schedstat in this kernel
			}
			continue // the thread exited since ReadDir
		}
		if s, ok := schedstatSeconds(b); ok {
			sum += s
		}
	}
	return sum
}

// schedstatSeconds parses a schedstat line (run time in ns, wait time in
// ns, timeslices) into the run time in seconds.
func schedstatSeconds(b []byte) (float64, bool) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return float64(ns) / 1e9, err == nil
}

// statCPUSeconds is the user and system time of pid, all its threads, in
// steps of a tick.
func statCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// ctxSwitches is the context switches, voluntary and not, of every
// thread of pid so far (threads that exited are not counted; a worker's
// threads live as long as it does).
func ctxSwitches(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") || strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseInt(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), 10, 64)
				n += v
			}
		}
	}
	return n
}

// runqWait is how long every thread of pid waited on a run queue, ready
// to run while another task held its CPU, so far (the second field of
// /proc/PID/task/TID/schedstat; exited threads are not counted).
func runqWait(pid int) time.Duration {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			n += v
		}
	}
	return time.Duration(n)
}

// tlsIdlePhase opens o.idle keep-alive TLS connections, one request
// each, and reports each worker's Pss growth per connection.
func tlsIdlePhase(o *options, servers []*server) {
	fmt.Printf("== tls-idle: memory per idle keep-alive TLS connection, %d connections\n", o.idle)
	for _, s := range servers {
		buf := make([]byte, 4096)
		cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
		measureIdle(o, s, time.Second, func() (io.Closer, error) {
			raw, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port))
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, cfg)
			io.WriteString(c, "GET /1k.txt HTTP/1.1\r\nHost: b\r\n\r\n")
			io.ReadAtLeast(c, buf, 1024)
			return c, nil
		})
	}
	fmt.Println()
}
