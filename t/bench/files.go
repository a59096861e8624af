package main

// The file-size phases, every server side by side:
//
//	64k            64 KiB keep-alive requests (wrk): requests/s, and the
//	               server's CPU time per request
//	large          a cached file of -large bytes (512 MiB), 4 keep-alive
//	               downloads at once (wrk -c4, or with -large-client
//	               reader the harness's, reading 1 MiB per call, or with
//	               -large-client paced 64 KiB per call at -large-pace
//	               MiB/s each, slow clients): MiB/s,
//	               and the server's CPU seconds per GiB sent (its
//	               threads' run time, /proc/PID/task/TID/schedstat)
//	large-evicted  the same with 1 % of the file's pages evicted
//	               (FADV_DONTNEED on scattered ranges) before each run
//	sustain        whether each server alone keeps up with -rate 1 KiB
//	               requests per second, open loop (sustain.go); open runs
//	               it first
//	open           open-loop latency of 1 KiB requests at -rate per second:
//	               alone (hot) and while -downloaders clients download
//	               files evicted from the page cache, through the
//	               -slow-bps throttle where there is one (cold), the two
//	               alternating in windows of one run (p50, p99, p99.9, max
//	               from each request's intended send time; how late the
//	               load generator sent), and per condition the time the
//	               server's workers ran and waited for the CPU and what
//	               they read from the disk; with -open-control NAME,
//	               tern's requests (or those of -open-control-for) again
//	               while NAME serves the same downloads: the part of the
//	               cold tail that is the machine's and the load
//	               generator's, not tern's

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// filePhases runs the phases above that the options name.
func filePhases(o *options, servers []*server, root string) error {
	if o.phases["64k"] {
		// On 2 vCPUs wrk's one thread, reading 8 KiB per call, is the
		// limit here for every server: requests/s swing a few percent
		// from run to run whoever serves them. The server's CPU time
		// per request is what it costs, as in hot.
		cpu := map[string][]float64{}
		med, err := serverRounds(o, servers, func(s *server) (float64, error) {
			before := s.cpuSeconds()
			r, err := runWrk(o, s.url("/64k.bin"))
			if err == nil && r.rps > 0 {
				cpu[s.name] = append(cpu[s.name], (s.cpuSeconds()-before)*1e6/(r.rps*o.duration.Seconds()))
			}
			return r.rps, err
		})
		if err != nil {
			return err
		}
		showRatios("64k: 64 KiB keep-alive requests/s", "requests/s", servers, med, false)
		showRatios("64k: the server's CPU per request (lower is better)", "CPU µs/req", servers, mediansOf(cpu), true)
	}
	for _, phase := range []string{"large", "large-evicted"} {
		if !o.phases[phase] {
			continue
		}
		large := filepath.Join(root, "large.bin")
		cpu := map[string][]float64{}
		med, err := serverRounds(o, servers, func(s *server) (float64, error) {
			cached := prepareLarge(large, phase == "large-evicted")
			fmt.Printf("  %-14s %s: %.2f %% of the file's pages cached before the run\n", s.name, phase, cached*100)
			mbs, cpuPerGiB, err := largeRun(o, s)
			cpu[s.name] = append(cpu[s.name], cpuPerGiB)
			return mbs, err
		})
		if err != nil {
			return err
		}
		what := "cached"
		if phase == "large-evicted" {
			what = "1 % evicted"
		}
		client := "wrk"
		switch {
		case o.largePace > 0:
			client = fmt.Sprintf("64 KiB reads, %.0f MiB/s each", float64(o.largePace)/(1<<20))
		case o.largeReader:
			client = "1 MiB reads"
		}
		showRatios(fmt.Sprintf("%s: a %d MiB file (%s), 4 keep-alive downloads at once (%s)", phase, o.largeSize>>20, what, client), "MiB/s", servers, med, false)
		showRatios(phase+": the server's CPU per GiB sent (lower is better)", "CPU s/GiB", servers, mediansOf(cpu), true)
	}
	if o.phases["open"] {
		return openPhase(o, servers, root)
	}
	if o.phases["sustain"] {
		_, err := sustainPhase(o, servers)
		return err
	}
	return nil
}

// serverRounds runs f for every server, o.rounds interleaved rounds, and
// returns each server's median.
func serverRounds(o *options, servers []*server, f func(*server) (float64, error)) (map[string]float64, error) {
	runs := map[string][]float64{}
	for r := 0; r < o.rounds; r++ {
		fmt.Printf("  round %d: %s\n", r+1, loadAverage())
		for _, s := range rotated(servers, r) {
			v, err := f(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			runs[s.name] = append(runs[s.name], v)
		}
	}
	return mediansOf(runs), nil
}

// mediansOf is each server's median of its runs.
func mediansOf(runs map[string][]float64) map[string]float64 {
	med := map[string]float64{}
	for name, v := range runs {
		med[name] = medianOf(v)
	}
	return med
}

// rotated is servers starting at the r-th, so that over the rounds each
// server runs in each position once: the one run first after a change
// of phase (the file just read into the page cache, the downloads just
// evicted) is not always the same.
func rotated(servers []*server, r int) []*server {
	k := r % max(len(servers), 1)
	return append(append([]*server(nil), servers[k:]...), servers[:k]...)
}

// showRatios prints each server's median and its ratios to lighttpd's
// and nginx's; cost says that lower is better.
func showRatios(title, unit string, servers []*server, med map[string]float64, cost bool) {
	fmt.Printf("== %s\n", title)
	for _, s := range servers {
		line := fmt.Sprintf("%-16s %12.2f %s", s.name, med[s.name], unit)
		for _, peer := range []string{"lighttpd", "nginx"} {
			if p, ok := med[peer]; ok && p > 0 && s.name != peer {
				line += fmt.Sprintf("   %.2f× %s", med[s.name]/p, peer)
			}
		}
		fmt.Println(line)
	}
	if cost {
		fmt.Println("(ratios of a cost: below 1 is cheaper than the peer)")
	}
	fmt.Println()
}

// prepareLarge reads path whole into the page cache and, with evict,
// drops 1 % of its pages again in scattered 2 MiB ranges (the kernel
// drops whole folios only, and a file read front to back sits in folios
// of up to 2 MiB). It returns the fraction of the file cached.
func prepareLarge(path string, evict bool) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fdatasync(fd) // dirty pages cannot be dropped
	st, _ := f.Stat()
	size := st.Size()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		unix.Pread(fd, buf, off)
	}
	if evict {
		const chunk = 2 << 20
		n := max(1, size/100/chunk)
		for i := int64(1); i <= n; i++ {
			off := size * i / (n + 1) &^ (chunk - 1)
			unix.Fadvise(fd, off, chunk, unix.FADV_DONTNEED)
		}
	}
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Len: uint64(size)}
	if unix.Cachestat(uint(fd), &rng, &cs, 0) != nil {
		return 1
	}
	return float64(cs.Cache) * 4096 / float64(size)
}

// openPhase measures open-loop latency at o.rate, hot and with cold
// downloads (throttled when a blkio hierarchy is there) in alternating
// windows of one run (see windows), each server in turn, o.rounds
// rounds; it prints each round's p99s, the medians, and each server's
// ratio of p99 with the downloads to p99 without.
func openPhase(o *options, servers []*server, root string) error {
	throttle := throttleAvailable()
	load := "cold downloads (not throttled: no cgroup v1 blkio hierarchy)"
	if throttle {
		load = fmt.Sprintf("cold downloads from a disk throttled to %d MiB/s", o.slowBPS>>20)
	}
	hotRuns := map[string][]wrkResult{}
	coldRuns := map[string][]wrkResult{}
	ctrl := map[string][]wrkResult{}
	var control *server
	for _, s := range servers {
		if s.name == o.control {
			control = s
		}
	}
	measure := func(s *server) func(*windows) ([2]wrkResult, error) {
		return func(w *windows) ([2]wrkResult, error) {
			stop := make(chan struct{})
			type waits struct {
				total, longest [2]time.Duration
				first          string
			}
			waited := make(chan waits, 1)
			go func() {
				total, longest, first := diskWaits(s.workers(), stop, w)
				waited <- waits{total, longest, first}
			}()
			type used struct {
				sum     [2]usage
				seconds [2]float64
			}
			usedc := make(chan used, 1)
			go func() {
				sum, seconds := usageByWindow(s.workers, w, stop)
				usedc <- used{sum, seconds}
			}()
			r, err := openLoopWindows(fmt.Sprintf("127.0.0.1:%d", s.port), "/1k.txt", o.rate, o.conns, 2*o.duration, w)
			close(stop)
			dw, u := <-waited, <-usedc
			if dw.first != "" {
				fmt.Printf("  %s: an event loop waited %s or more for the disk in one sendfile: %s\n", s.name, stallShown, dw.first)
			}
			for cl := range r {
				r[cl].diskWait, r[cl].diskWaitMax = dw.total[cl], dw.longest[cl]
				if sec := u.seconds[cl]; sec > 0 {
					r[cl].runq = time.Duration(float64(u.sum[cl].runq) / sec)
					r[cl].cpu = time.Duration(u.sum[cl].cpu / sec * float64(time.Second))
					r[cl].diskMBs = float64(u.sum[cl].disk) / sec / (1 << 20)
				}
			}
			return r, err
		}
	}
	newWindows := func() *windows { return &windows{length: o.openWindow, guard: o.openGuard} }
	// A run whose connections failed is named, with its p99: the
	// medians below hide one such run of three (a stall of the
	// server, or of the load generator).
	failed := func(s *server, row string, r wrkResult) {
		if r.failure != "" {
			fmt.Printf("  %s %s: p99 %s; open loop: %s\n", s.name, row, round(r.p99), r.failure)
		}
		if r.diskWait > 0 {
			fmt.Printf("  %s %s: p99 %s; seen in a sendfile to a socket waiting for the disk for %s, the longest %s\n",
				s.name, row, round(r.p99), r.diskWait, r.diskWaitMax)
		}
	}
	behind, err := sustainPhase(o, servers)
	if err != nil {
		return err
	}
	for r := 0; r < o.rounds; r++ {
		fmt.Printf("  round %d: %s\n", r+1, loadAverage())
		for _, s := range rotated(servers, r) {
			res, mbs, err := interleavedRun(o, s, root, throttle, newWindows(), measure(s))
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			h, c := res[hot], res[cold]
			c.downloadMBs = mbs
			failed(s, "hot", h)
			failed(s, "cold", c)
			hotRuns[s.name] = append(hotRuns[s.name], h)
			coldRuns[s.name] = append(coldRuns[s.name], c)
			fmt.Printf("    %-16s p99 hot %9s  cold %9s  %.2f×\n", s.name, round(h.p99), round(c.p99), float64(c.p99)/float64(h.p99))
			if control != nil && control != s && o.controlled[s.name] {
				// The same downloads, served by the control: what
				// they cost s's requests without s serving them.
				res, mbs, err := interleavedRun(o, control, root, throttle, newWindows(), measure(s))
				if err != nil {
					return fmt.Errorf("%s (downloads from %s): %w", s.name, control.name, err)
				}
				c := res[cold]
				c.downloadMBs = mbs
				failed(s, "ctrl", c)
				ctrl[s.name] = append(ctrl[s.name], c)
				fmt.Printf("    %-16s p99 hot %9s  ctrl %9s  %.2f×\n", s.name, round(res[hot].p99), round(c.p99), float64(c.p99)/float64(res[hot].p99))
			}
		}
	}
	fmt.Printf("== open: 1 KiB requests at %d/s over %d connections, latency from the intended send time\n", o.rate, o.conns)
	fmt.Printf("%-16s %-5s %9s %8s %9s %9s %9s %9s %9s %12s %8s %8s %9s\n", "server", "load", "req/s", "in time", "p50", "p99", "p99.9", "max", "late p99", "download", "cpu/s", "runq/s", "disk")
	for _, s := range servers {
		for _, row := range []struct {
			name string
			runs []wrkResult
		}{{"hot", hotRuns[s.name]}, {"cold", coldRuns[s.name]}, {"ctrl", ctrl[s.name]}} {
			if len(row.runs) == 0 {
				continue
			}
			m := median(row.runs)
			dl := ""
			if row.name != "hot" {
				dl = fmt.Sprintf("%.0f MiB/s", m.downloadMBs)
			}
			fmt.Printf("%-16s %-5s %9.0f %7.1f%% %9s %9s %9s %9s %9s %12s %8s %8s %9s\n", s.name, row.name, m.rps, 100*m.inTime,
				round(m.p50), round(m.p99), round(m.p999), round(m.max), round(m.late99), dl, m.cpu.Round(time.Millisecond),
				m.runq.Round(10*time.Microsecond), fmt.Sprintf("%.1f MiB/s", m.diskMBs))
		}
	}
	fmt.Printf("(hot and cold alternate in windows of %s of one run of %s, cold first, the first %s of each left out; cold: with %d %s, which stop reading in the hot windows)\n",
		o.openWindow, 2*o.duration, o.openGuard, o.downloaders, load)
	fmt.Printf("(in time: the share of the condition's requests answered before their window ended; late p99: how late the load generator sent after the intended time or the previous answer, whichever came later: its own share of the latency; cpu/s, runq/s, disk: per second of the condition's windows, guards left out, the time the server's workers ran and waited on a run queue, ready to run, and what they read from the disk)\n")
	if control != nil {
		fmt.Printf("(ctrl: the same downloads from %s while the server measured takes only the requests)\n", control.name)
	}
	for _, s := range servers {
		h, c := median(hotRuns[s.name]), median(coldRuns[s.name])
		if h.p99 > 0 {
			fmt.Printf("%-50s %.2f× (rounds: %s)%s\n", "open-loop p99 cold / hot, "+s.name, float64(c.p99)/float64(h.p99),
				roundRatios(hotRuns[s.name], coldRuns[s.name]), caveat(o, behind[s.name], h))
		}
		if runs := ctrl[s.name]; h.p99 > 0 && len(runs) > 0 {
			fmt.Printf("%-50s %.2f×\n", "open-loop p99 ctrl / hot, "+s.name, float64(median(runs).p99)/float64(h.p99))
		}
	}
	fmt.Println()
	return nil
}

// caveat is what keeps a server's cold ÷ hot ratio from measuring what
// the downloads cost its hot requests: it did not keep up with the rate
// alone (why, from the sustain phase), or its hot windows, which follow
// cold ones, fell behind (the downloads' stall spilling into them).
func caveat(o *options, why string, h wrkResult) string {
	switch {
	case why != "":
		return fmt.Sprintf("; NOT COMPARABLE: alone it does not keep up with %d/s (%s), so both p99s measure its queue", o.rate, why)
	case h.inTime < sustainedShare:
		return fmt.Sprintf("; its hot windows fell behind (%.1f %% in time): the cold windows' stall spills into them", 100*h.inTime)
	}
	return ""
}

// roundRatios lists each round's ratio of cold to hot p99.
func roundRatios(hot, cold []wrkResult) string {
	var parts []string
	for i := range min(len(hot), len(cold)) {
		parts = append(parts, fmt.Sprintf("%.2f×", float64(cold[i].p99)/float64(hot[i].p99)))
	}
	return strings.Join(parts, " ")
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// loadAverage is the machine's load, for the record of a noisy run.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	var one, five, fifteen float64
	fmt.Sscan(string(b), &one, &five, &fifteen)
	return fmt.Sprintf("load average %.2f, %.2f, %.2f", one, five, fifteen)
}
