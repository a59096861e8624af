// Command bench runs tern and, when installed, nginx side by side on the
// same docroot with equivalent configurations — one worker each, pinned to
// one CPU, the load generator pinned to the other — and prints medians and
// ratios. It is a measuring tool, never a test: nothing here asserts a
// number.
//
//	go run ./t/bench                         # every phase
//	go run ./t/bench -phases hot -rounds 5   # 1 KiB keep-alive requests/s only
//	go run ./t/bench -phases hot -police     # and with allow/deny + limit_req + limit_conn
//	go run ./t/bench -phases hot,64k -server-quota 0.5
//	                                         # the servers, not wrk, the limit on 2 CPUs
//	go run ./t/bench -phases large,h2-64k -congestion cubic
//	                                         # every server under CUBIC, not the machine's BBR
//	go run ./t/bench -phases pairs -police -tern-old OLD
//	                                         # the same costs, each pair loaded at once
//
// Phases:
//
//	hot    1 KiB keep-alive requests (wrk): requests/s, p50, p99
//	       (every phase reports medians over interleaved rounds)
//	cold   the same while 8 clients download large files evicted from the
//	       page cache (FADV_DONTNEED, checked with cachestat)
//	slow   cold, with the server's reads throttled by a cgroup v1 blkio
//	       limit (-slow-bps) on the docroot's disk
//	idle   memory per idle keep-alive connection with -idle open (Pss)
//	strace syscalls per cached 1 KiB request (strace -c on the worker)
//	pairs  hot, with two servers loaded at once and compared (pairs.go):
//	       tern-police / tern, nginx-police / nginx, tern / tern-old, tern / nginx,
//	       tern / lighttpd; -pair-load says with what (1k, 64k, large)
//	tls-*  the HTTPS phases (tls.go): tls-hot, tls-handshake, tls-resume,
//	       tls-large, tls-idle
//	h2-*   the HTTP/2 phases (h2.go, with h2load): h2-hot, h2-64k,
//	       h2-large (over h2c and TLS), h2-idle; nginx and lighttpd
//	       beside tern
//	64k, large, large-evicted, sustain, open
//	       by file size, and open-loop latency (files.go)
//
// Needs wrk; nginx, lighttpd, strace and a cgroup v1 blkio hierarchy are
// used when present. Run as root for the slow phase.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type options struct {
	tern, nginx      string
	ternOld          string
	lighttpd         string
	largeSize        int64
	rate             int
	duration         time.Duration
	rounds, conns    int
	loadRounds       int
	phases           map[string]bool
	bigSize          int64
	downloaders      int
	slowBPS          int64
	idle             int
	serverCPU, loadC int
	// serverQuota caps each server of the plain phases to this share
	// of its CPU (-server-quota); 0 leaves it uncapped.
	serverQuota float64
	dir         string
	police      bool
	pairLoad    string
	// pairs are the pairs of the pairs phase (-pairs); nil: every
	// default pair whose two servers run.
	pairs []pair
	// largeFile is the docroot's large file.
	largeFile string
	h2Conns   int
	h2Streams int
	// largeReader downloads large files with the harness's reader
	// instead of wrk (-large-client reader or paced); largePace, when
	// not 0, is the bytes per second each of its downloads reads
	// (-large-client paced, -large-pace).
	largeReader bool
	largePace   int64
	// skip names the servers of the plain phases left out (-skip).
	skip map[string]bool
	// control names the server that takes the open phase's downloads
	// in its control rows (-open-control), controlled the servers that
	// get such rows (-open-control-for).
	control    string
	controlled map[string]bool
	// openWindow and openGuard shape the open phase's windows (see
	// windows in openloop.go).
	openWindow, openGuard time.Duration
	// sustainP50 is the median latency above which a server alone at
	// -rate is taken not to keep up with it (the sustain phase).
	sustainP50 time.Duration
	// congestion is the TCP congestion control of the whole run
	// (-congestion); empty keeps the machine's (congestion.go).
	congestion string
}

func main() {
	var o options
	var phases string
	flag.StringVar(&o.tern, "tern", "", "tern binary (default: build ./cmd/tern)")
	flag.StringVar(&o.ternOld, "tern-old", "", "another tern binary, run as tern-old without the police directives (an older commit's, to measure what unused features cost)")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx binary; skipped when missing")
	flag.StringVar(&o.lighttpd, "lighttpd", "/usr/sbin/lighttpd", "lighttpd binary; skipped when missing")
	flag.Int64Var(&o.largeSize, "large", 512<<20, "size of the cached file of large, large-evicted, tls-large and h2-large")
	flag.DurationVar(&o.openWindow, "open-window", time.Second, "the open phase's hot and cold windows alternate this often within one run")
	flag.DurationVar(&o.openGuard, "open-guard", 300*time.Millisecond, "the start of each open-phase window left out of both conditions: the previous one winding down")
	flag.IntVar(&o.rate, "rate", 10000, "requests/s of the open and sustain phases: one every server keeps up with alone, or the open phase's ratios compare queues (on 2 vCPUs nginx with aio threads takes 80-100 % of its CPU at 20000, half at 10000); the sustain phase, which open runs first, says whether each does")
	flag.DurationVar(&o.sustainP50, "sustain-p50", 5*time.Millisecond, "the sustain phase's bound: a server alone at -rate whose median latency is above it does not keep up (its queue does not drain)")
	flag.DurationVar(&o.duration, "d", 8*time.Second, "length of one measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of the hot phase; medians are reported")
	flag.IntVar(&o.loadRounds, "load-rounds", 3, "interleaved rounds of the cold and slow phases")
	flag.IntVar(&o.conns, "c", 100, "wrk connections")
	flag.StringVar(&phases, "phases", "hot,64k,large,large-evicted,open,cold,slow,idle,strace,tls-hot,tls-handshake,tls-resume,tls-large,tls-idle,h2-hot,h2-64k,h2-large,h2-idle", "phases to run")
	flag.IntVar(&o.h2Conns, "h2-c", 10, "h2load connections of h2-hot and h2-64k")
	flag.IntVar(&o.h2Streams, "h2-m", 100, "h2load concurrent streams per connection of h2-hot and h2-64k")
	flag.Int64Var(&o.bigSize, "big", 256<<20, "size of each large file")
	flag.IntVar(&o.downloaders, "downloaders", 8, "concurrent large-file downloads in cold and slow")
	flag.Int64Var(&o.slowBPS, "slow-bps", 20<<20, "read bytes/s of the slow phase's disk")
	flag.IntVar(&o.idle, "idle", 10000, "idle connections of the idle phase")
	flag.IntVar(&o.serverCPU, "server-cpu", 0, "CPU the servers run on")
	flag.IntVar(&o.loadC, "load-cpu", 1, "CPU wrk and the downloaders run on")
	flag.Float64Var(&o.serverQuota, "server-quota", 0, "cap each server of the plain phases to this share of its CPU (0.5: half) with a cgroup v1 cpu group, so that the server, not wrk's one thread, limits requests/s: on 2 vCPUs wrk is otherwise the limit of hot and 64k for every server")
	flag.StringVar(&o.pairLoad, "pair-load", "1k", "what the pairs phase loads each server with: 1k, 64k, large (4 downloads of the -large file, cached) or large-evicted (the same with 1 % of the file evicted before each round, as large-evicted)")
	var skip, controlled, largeClient, pairList string
	flag.StringVar(&pairList, "pairs", "", "the pairs phase's pairs, a/b,c/d by server name (tern/tern-aio-off); default: tern-police/tern, nginx-police/nginx, tern/tern-old, tern/nginx, tern/lighttpd, those whose servers run")
	flag.StringVar(&largeClient, "large-client", "wrk", "the 4 downloads of large and large-evicted: wrk (8 KiB reads, and an ioctl per read: on 2 vCPUs it is the limit near 600 MiB/s whatever the server), reader (the harness's keep-alive downloads, 1 MiB reads: the server is the limit) or paced (the harness's downloads, 64 KiB reads kept to -large-pace each: slow clients, every server sends the same bytes, and its CPU per GiB compares at equal rates)")
	var pace float64
	flag.Float64Var(&pace, "large-pace", 50, "MiB/s each download of -large-client paced reads")
	flag.StringVar(&controlled, "open-control-for", "tern", "the servers that get -open-control's rows, by name")
	flag.StringVar(&o.control, "open-control", "", "in the open phase, also measure the hot requests of the servers -open-control-for names while this server takes the cold downloads: what the downloads cost the machine and the load generator, not the server measured")
	flag.StringVar(&skip, "skip", "", "servers of the plain phases to leave out, by name (tern-aio-off,nginx-aio,...): for iterating; a closing run has every server")
	flag.StringVar(&o.congestion, "congestion", "", "TCP congestion control of every connection of the run (cubic, bbr, ...), put back when it ends; default: the machine's. Under BBR the kernel paces loopback connections with a timer per packet, which decides large-file and HTTP/2 rates more than the servers (congestion.go)")
	flag.BoolVar(&o.police, "police", false, "also run tern and nginx with allow/deny, a limit_req and a limit_conn that refuse nothing")
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	switch largeClient {
	case "wrk":
	case "reader":
		o.largeReader = true
	case "paced":
		o.largeReader, o.largePace = true, int64(pace*(1<<20))
		if o.largePace <= 0 {
			fmt.Fprintln(os.Stderr, "bench: -large-pace must be above 0")
			os.Exit(2)
		}
	default:
		fmt.Fprintln(os.Stderr, "bench: -large-client is wrk, reader or paced")
		os.Exit(2)
	}
	o.controlled = map[string]bool{}
	for _, name := range strings.Split(controlled, ",") {
		o.controlled[strings.TrimSpace(name)] = true
	}
	for _, p := range strings.Split(pairList, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		a, b, ok := strings.Cut(p, "/")
		if !ok || a == "" || b == "" || a == b {
			fmt.Fprintf(os.Stderr, "bench: -pairs %q: want a/b, two server names\n", p)
			os.Exit(2)
		}
		o.pairs = append(o.pairs, pair{a, b})
	}
	o.skip = map[string]bool{}
	for _, name := range strings.Split(skip, ",") {
		o.skip[strings.TrimSpace(name)] = true
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is not installed (apt-get install wrk)")
	}
	if err := pinSelf(o.loadC); err != nil {
		return err
	}
	if o.congestion != "" {
		restore, err := setCongestion(o.congestion)
		if err != nil {
			return err
		}
		defer restoreOnSignal(restore)()
		defer restore()
	}
	dir, err := os.MkdirTemp("", "tern-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // nginx's workers run as nobody
	o.dir = dir
	if o.tern == "" {
		o.tern = filepath.Join(dir, "tern-bin")
		build := exec.Command("go", "build", "-o", o.tern, "./cmd/tern")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building tern: %w", err)
		}
	}
	root, err := makeDocroot(o)
	if err != nil {
		return err
	}
	var servers []*server
	plain := false
	for _, p := range []string{"hot", "64k", "large", "large-evicted", "sustain", "open", "cold", "slow", "idle", "strace", "pairs"} {
		plain = plain || o.phases[p]
	}
	if plain {
		servers, err = startServers(o, root)
		if err == nil && o.serverQuota > 0 {
			for _, s := range servers {
				if err = s.limitCPU(o.serverQuota); err != nil {
					break
				}
			}
		}
	}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	quota := ""
	if o.serverQuota > 0 {
		quota = fmt.Sprintf(", each capped to %.0f%% of it", 100*o.serverQuota)
	}
	fmt.Printf("servers pinned to CPU %d%s, load on CPU %d; %s per run; TCP congestion control %s; %s\n\n", o.serverCPU, quota, o.loadC, o.duration, congestion(), loadAverage())
	if o.phases["hot"] || o.phases["cold"] || o.phases["slow"] {
		if err := loadPhases(o, servers, root); err != nil {
			return err
		}
	}
	if err := filePhases(o, servers, root); err != nil {
		return err
	}
	if o.phases["pairs"] {
		o.largeFile = filepath.Join(root, "large.bin")
		if o.pairLoad == "large" {
			prepareLarge(o.largeFile, false)
		}
		if err := pairsPhase(o, servers); err != nil {
			return err
		}
	}
	if o.phases["idle"] {
		idlePhase(o, servers)
	}
	if o.phases["strace"] {
		stracePhase(o, servers)
	}
	if h2Phase(o) {
		if err := h2Phases(o, root); err != nil {
			return err
		}
	}
	for p := range o.phases {
		if strings.HasPrefix(p, "tls-") {
			return tlsPhases(o, root)
		}
	}
	return nil
}

// loadPhases runs hot (several interleaved rounds), then cold and slow.
func loadPhases(o *options, servers []*server, root string) error {
	res := map[string]map[string][]wrkResult{} // phase → server → runs
	add := func(phase, name string, r wrkResult) {
		if res[phase] == nil {
			res[phase] = map[string][]wrkResult{}
		}
		res[phase][name] = append(res[phase][name], r)
	}
	if o.phases["hot"] {
		for round := 0; round < o.rounds; round++ {
			for _, s := range servers {
				before := s.cpuSeconds()
				r, err := runWrk(o, s.url("/1k.txt"))
				if err != nil {
					return err
				}
				r.cpuPerRq = (s.cpuSeconds() - before) * 1e6 / (r.rps * o.duration.Seconds())
				add("hot", s.name, r)
			}
		}
	}
	for _, phase := range []string{"cold", "slow"} {
		if !o.phases[phase] {
			continue
		}
		if phase == "slow" && !throttleAvailable() {
			fmt.Println("slow phase skipped: no cgroup v1 blkio hierarchy at /sys/fs/cgroup/blkio")
			continue
		}
		// Interleaved rounds, as hot: a single run of these phases
		// swings with whatever the disk and page cache were doing.
		for round := 0; round < o.loadRounds; round++ {
			for _, s := range servers {
				r, mbs, err := coldRun(o, s, root, phase == "slow")
				if err != nil {
					return err
				}
				r.downloadMBs = mbs
				add(phase, s.name, r)
			}
		}
	}
	report(o, servers, res)
	return nil
}

// report prints one table per phase and the ratios the issues ask for.
func report(o *options, servers []*server, res map[string]map[string][]wrkResult) {
	for _, phase := range []string{"hot", "cold", "slow"} {
		runs := res[phase]
		if runs == nil {
			continue
		}
		fmt.Printf("== %s\n%-16s %12s %10s %10s %12s %11s\n", phase, "server", "requests/s", "p50", "p99", "download", "CPU µs/req")
		for _, s := range servers {
			m := median(runs[s.name])
			dl := ""
			if m.downloadMBs > 0 {
				dl = fmt.Sprintf("%.0f MiB/s", m.downloadMBs)
			}
			cpu := ""
			if m.cpuPerRq > 0 {
				cpu = fmt.Sprintf("%.1f", m.cpuPerRq)
			}
			fmt.Printf("%-16s %12.0f %10s %10s %12s %11s\n", s.name, m.rps, m.p50, m.p99, dl, cpu)
		}
		fmt.Println()
	}
	hot := res["hot"]
	ratio := func(a, b string, get func(wrkResult) float64, what string) {
		if len(hot[a]) == 0 || len(hot[b]) == 0 {
			return
		}
		fmt.Printf("%-50s %.2f×\n", what, get(median(hot[a]))/get(median(hot[b])))
	}
	rps := func(r wrkResult) float64 { return r.rps }
	ratio("tern", "nginx", rps, "hot requests/s, tern / nginx")
	ratio("tern", "lighttpd", rps, "hot requests/s, tern / lighttpd")
	ratio("tern", "tern-aio-off", rps, "hot requests/s, tern aio threads / aio off")
	ratio("nginx-aio", "nginx", rps, "hot requests/s, nginx aio threads / nginx")
	ratio("tern-police", "tern", rps, "hot requests/s, tern police / tern")
	ratio("nginx-police", "nginx", rps, "hot requests/s, nginx police / nginx")
	ratio("tern", "tern-old", rps, "hot requests/s, tern / tern-old")
	// CPU time per request is not inflated by time slices lost to
	// other processes, which requests/s is (pairs.go).
	cpu := func(r wrkResult) float64 { return r.cpuPerRq }
	ratio("tern-police", "tern", cpu, "hot CPU per request, tern police / tern")
	ratio("nginx-police", "nginx", cpu, "hot CPU per request, nginx police / nginx")
	ratio("tern", "tern-old", cpu, "hot CPU per request, tern / tern-old")
	for _, phase := range []string{"cold", "slow"} {
		for _, s := range servers {
			if len(res[phase][s.name]) == 0 || len(hot[s.name]) == 0 {
				continue
			}
			fmt.Printf("%-50s %.2f×\n", fmt.Sprintf("hot p99 in %s / hot-only p99, %s", phase, s.name),
				float64(median(res[phase][s.name]).p99)/float64(median(hot[s.name]).p99))
		}
	}
}

// median takes each field's median over runs.
func median(runs []wrkResult) wrkResult {
	if len(runs) == 0 {
		return wrkResult{}
	}
	pick := func(f func(wrkResult) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return wrkResult{
		rps:         pick(func(r wrkResult) float64 { return r.rps }),
		p50:         time.Duration(pick(func(r wrkResult) float64 { return float64(r.p50) })),
		p99:         time.Duration(pick(func(r wrkResult) float64 { return float64(r.p99) })),
		p999:        time.Duration(pick(func(r wrkResult) float64 { return float64(r.p999) })),
		max:         time.Duration(pick(func(r wrkResult) float64 { return float64(r.max) })),
		downloadMBs: pick(func(r wrkResult) float64 { return r.downloadMBs }),
		cpuPerRq:    pick(func(r wrkResult) float64 { return r.cpuPerRq }),
		runq:        time.Duration(pick(func(r wrkResult) float64 { return float64(r.runq) })),
		cpu:         time.Duration(pick(func(r wrkResult) float64 { return float64(r.cpu) })),
		late99:      time.Duration(pick(func(r wrkResult) float64 { return float64(r.late99) })),
		inTime:      pick(func(r wrkResult) float64 { return r.inTime }),
		diskMBs:     pick(func(r wrkResult) float64 { return r.diskMBs }),
	}
}
