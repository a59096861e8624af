//go:build soak

package t

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSoak is the soak of issue 9: an hour of mixed load (small, medium
// and large files, ranges, gzip, HEAD, 404s, keep-alive and fresh
// connections) with a reload every minute, a worker killed with SIGKILL
// every 5 minutes and a log rotation (rename and USR1) every 10, which
// reports failed requests, descriptors and memory over time. CI does not
// run it (build tag soak); t/soak.sh does:
//
//	bash t/soak.sh                      # one hour
//	SOAK_DURATION=5m bash t/soak.sh     # a short run
//
// SOAK_CLIENTS (8, half keep-alive) and SOAK_PAUSE (2ms, a client's rest
// between two requests) set the load: the default leaves a shared
// machine room for others. The intervals are SOAK_RELOAD (1m), SOAK_KILL
// (5m), SOAK_REOPEN (10m) and SOAK_SAMPLE (30s).
//
// It fails on a request that failed on a connection no killed worker
// held (those a SIGKILL cuts are counted apart), on a reload, reopen or
// respawn that did not happen, and on descriptors that grew between the
// first sample after warm-up and the last.
func TestSoak(t *testing.T) {
	duration := soakEnv(t, "SOAK_DURATION", time.Hour)
	reloadEvery := soakEnv(t, "SOAK_RELOAD", time.Minute)
	killEvery := soakEnv(t, "SOAK_KILL", 5*time.Minute)
	reopenEvery := soakEnv(t, "SOAK_REOPEN", 10*time.Minute)
	sampleEvery := soakEnv(t, "SOAK_SAMPLE", 30*time.Second)
	pause := soakEnv(t, "SOAK_PAUSE", 2*time.Millisecond)
	clients := 8
	if v := os.Getenv("SOAK_CLIENTS"); v != "" {
		clients, _ = strconv.Atoi(v)
	}

	s := newServer(t, "")
	// Each reload's configuration names its generation in a header.
	writeConfig := func(gen int) string {
		cfg := s.reloadConfig(`worker_shutdown_timeout = "30s"`, filepath.Join(s.dir, "logs/access.log"))
		cfg = strings.Replace(cfg, `root = "`+s.root+`"`, `root = "`+s.root+`"
    add_header = { "X-Soak" = "`+strconv.Itoa(gen)+`" }
    gzip = true
    gzip_types = ["text/css"]`, 1)
		return s.write("tern.hcl", cfg)
	}
	cfgPath := writeConfig(0)
	s.file("index.html", "hello\n")
	css := strings.Repeat("body { color: #123456; }\n", 400)
	s.file("style.css", css)
	medium := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	s.file("m.bin", string(medium))
	sparseFile(t, filepath.Join(s.root, "big.bin"), 8<<20)
	s.start()
	ws := s.waitWorkers(2, nil, 10*time.Second)

	head := func(path string, lines ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + strings.Join(append(lines, ""), "\r\n")
	}
	reqs := []loadReq{
		{method: "GET", head: head("/"), status: 200, body: func(r *response) bool { return string(r.body) == "hello\n" }},
		{method: "GET", head: head("/m.bin"), status: 200, body: func(r *response) bool { return bytes.Equal(r.body, medium) }},
		{method: "GET", head: head("/m.bin", "Range: bytes=100-199"), status: 206, body: func(r *response) bool { return bytes.Equal(r.body, medium[100:200]) }},
		{method: "GET", head: head("/style.css", "Accept-Encoding: gzip"), status: 200, body: func(r *response) bool {
			return r.header("Content-Encoding") == "gzip" && gunzipped(r.body) == css
		}},
		{method: "HEAD", head: strings.Replace(head("/big.bin"), "GET", "HEAD", 1), status: 200, body: func(r *response) bool {
			return r.header("Content-Length") == strconv.Itoa(8<<20) && len(r.body) == 0
		}},
		{method: "GET", head: head("/big.bin"), status: 200, body: func(r *response) bool { return len(r.body) == 8<<20 }},
		{method: "GET", head: head("/missing"), status: 404},
		{method: "GET", head: head("/"), status: 200},
	}
	l := startMixedLoad(t, s.addr, reqs, clients/2, clients-clients/2, pause, duration+time.Minute)

	start := time.Now()
	next := map[string]time.Time{"reload": start.Add(reloadEvery), "kill": start.Add(killEvery),
		"reopen": start.Add(reopenEvery), "sample": start}
	var samples []soakSample
	lost := map[int]bool{}
	gen, kills, reopens := 0, 0, 0
	for time.Since(start) < duration {
		now := time.Now()
		switch {
		case !now.Before(next["sample"]):
			samples = append(samples, s.soakSample(l, time.Since(start)))
			t.Log(samples[len(samples)-1])
			next["sample"] = now.Add(sampleEvery)
		case !now.Before(next["reload"]):
			gen++
			writeConfig(gen)
			if code, _, errOut := runTern(t, s.dir, "-s", "reload", "-c", cfgPath); code != 0 {
				t.Errorf("reload %d: exit %d %q", gen, code, errOut)
			}
			if r := s.get(req("GET", "/", "Connection: close")); r.header("X-Soak") != strconv.Itoa(gen) {
				t.Errorf("reload %d: X-Soak %q", gen, r.header("X-Soak"))
			}
			ws = s.waitWorkers(2, ws, 10*time.Second)
			next["reload"] = now.Add(reloadEvery)
		case !now.Before(next["kill"]):
			kills++
			victim := ws[kills%len(ws)]
			stopSignal(t, victim, syscall.SIGSTOP)
			waitStopped(t, victim)
			for p := range s.clientPortsOf(victim) {
				lost[p] = true
			}
			stopSignal(t, victim, syscall.SIGKILL)
			others := slices.DeleteFunc(slices.Clone(ws), func(p int) bool { return p == victim })
			ws = append(others, s.waitWorkers(1, others, 10*time.Second)...)
			t.Logf("%v: worker %d killed and replaced", time.Since(start).Round(time.Second), victim)
			next["kill"] = now.Add(killEvery)
		case !now.Before(next["reopen"]):
			reopens++
			log := filepath.Join(s.dir, "logs/access.log")
			if err := os.Rename(log, fmt.Sprintf("%s.%d", log, reopens)); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := runTern(t, s.dir, "-s", "reopen", "-c", cfgPath); code != 0 {
				t.Errorf("reopen %d: exit %d %q", reopens, code, errOut)
			}
			waitFile(t, log, 5*time.Second, "USR1 did not make a new access log")
			next["reopen"] = now.Add(reopenEvery)
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	samples = append(samples, s.soakSample(l, time.Since(start)))
	l.halt()
	t.Log(samples[len(samples)-1])
	t.Logf("%d reloads, %d workers killed, %d log rotations", gen, kills, reopens)
	noFailuresBut(t, l, "soak", lost)
	s.soakReport(t, samples, sampleEvery)
}

// gunzipped is a gzip body decompressed, or "" if it is not gzip.
func gunzipped(b []byte) string {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return ""
	}
	return string(out)
}

// soakEnv reads a duration from the environment.
func soakEnv(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

// soakSample is one look at the processes.
type soakSample struct {
	at                    time.Duration
	ok                    int64
	failed                int
	masterFDs, workerFDs  int   // the workers' summed over them
	masterRSS, workerRSS  int64 // KiB
	workers, shuttingDown int
}

func (x soakSample) String() string {
	return fmt.Sprintf("%8v  requests ok %9d failed %4d  fds master %3d workers %4d  RSS KiB master %6d workers %7d  workers %d (+%d stopping)",
		x.at.Round(time.Second), x.ok, x.failed, x.masterFDs, x.workerFDs, x.masterRSS, x.workerRSS, x.workers, x.shuttingDown)
}

func (s *server) soakSample(l *load, at time.Duration) soakSample {
	x := soakSample{at: at, ok: l.ok.Load(), failed: len(l.Failures())}
	x.masterFDs, x.masterRSS = procFDsRSS(s.masterPID())
	for _, pid := range children(s.masterPID()) {
		if cmdline(pid) != "tern: worker process" {
			x.shuttingDown++
			continue
		}
		x.workers++
		fds, rss := procFDsRSS(pid)
		x.workerFDs += fds
		x.workerRSS += rss
	}
	return x
}

// procFDsRSS counts pid's open descriptors and reads its resident set.
func procFDsRSS(pid int) (int, int64) {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var rss int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return len(ents), rss
}

// soakReport prints the first sample after warm-up (two sample periods
// in) and the last, with the extremes, and fails if the master's
// descriptors grew or the workers' did by more than the connections a
// sample may catch open.
func (s *server) soakReport(t *testing.T, samples []soakSample, every time.Duration) {
	if len(samples) < 4 {
		t.Log("too short for a trend")
		return
	}
	first, last := samples[2], samples[len(samples)-1]
	var maxMasterRSS, maxWorkerRSS int64
	var maxWorkerFDs int
	for _, x := range samples[2:] {
		maxMasterRSS = max(maxMasterRSS, x.masterRSS)
		maxWorkerRSS = max(maxWorkerRSS, x.workerRSS)
		maxWorkerFDs = max(maxWorkerFDs, x.workerFDs)
	}
	t.Logf("after warm-up (%v): %v", first.at.Round(time.Second), first)
	t.Logf("at the end    (%v): %v", last.at.Round(time.Second), last)
	t.Logf("largest: worker fds %d, master RSS %d KiB, workers RSS %d KiB", maxWorkerFDs, maxMasterRSS, maxWorkerRSS)
	if last.masterFDs > first.masterFDs {
		t.Errorf("the master's descriptors grew from %d to %d", first.masterFDs, last.masterFDs)
	}
	// Each worker holds its fixed descriptors plus one per open
	// connection: at most the clients' connections apart.
	if last.workerFDs > first.workerFDs+2*8 {
		t.Errorf("the workers' descriptors grew from %d to %d", first.workerFDs, last.workerFDs)
	}
}
