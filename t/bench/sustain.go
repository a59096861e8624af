package main

import (
	"fmt"
	"time"
)

// sustainedShare is the share of an open-loop run's requests a server
// must answer in time (openLoopWindows) to keep up with the rate.
const sustainedShare = 0.99

// sustains says why r, a hot-only open-loop run at the target rate,
// shows a server that does not keep up with the rate: requests failed,
// fewer than sustainedShare answered in time (a queue that grows), or
// a median above bound (a queue that does not drain); "" when it keeps
// up. The median, not the p99: on a shared machine other work on the
// server's CPU puts 10-20 ms into the p99 of a server at a fifth of its
// capacity, while the median of one that keeps up stays near 1 ms (at
// 20000/s, nginx with aio threads alone at 99 % of its CPU: median
// 26 ms, p99 94 ms; at 78 %: median 0.18 ms, p99 8.6 ms).
func sustains(r wrkResult, bound time.Duration) string {
	switch {
	case r.failure != "":
		return r.failure
	case r.inTime < sustainedShare:
		return fmt.Sprintf("%.1f %% answered in time", 100*r.inTime)
	case r.p50 > bound:
		return fmt.Sprintf("median %s above %s", round(r.p50), bound)
	}
	return ""
}

// sustainPhase runs each server alone, open loop at o.rate with no
// downloads, for o.duration, and prints whether it keeps up: the open
// phase's cold ÷ hot ratio of a server that does not compares two
// queues, not what the downloads cost. It returns, by server name, why
// each server that does not keep up does not.
func sustainPhase(o *options, servers []*server) (map[string]string, error) {
	fmt.Printf("== sustain: does each server keep up with %d requests/s of 1 KiB, open loop over %d connections, nothing else running? (%s each; keeps up: ≥ %.0f %% answered in time and median ≤ %s)\n",
		o.rate, o.conns, o.duration, 100*sustainedShare, o.sustainP50)
	fmt.Printf("%-16s %9s %8s %9s %9s %9s %9s %9s %8s  %s\n", "server", "req/s", "in time", "p50", "p99", "p99.9", "max", "late p99", "cpu/s", "verdict")
	// A second of the same load first, unmeasured: the first server's
	// first run otherwise pays for every server's start (page faults,
	// connection setup).
	for _, s := range servers {
		openLoop(fmt.Sprintf("127.0.0.1:%d", s.port), "/1k.txt", o.rate, o.conns, time.Second)
	}
	not := map[string]string{}
	for _, s := range servers {
		u0 := usageOf(s.workers())
		r, err := openLoop(fmt.Sprintf("127.0.0.1:%d", s.port), "/1k.txt", o.rate, o.conns, o.duration)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		cpu := (usageOf(s.workers()).cpu - u0.cpu) / o.duration.Seconds()
		verdict := "keeps up"
		if why := sustains(r, o.sustainP50); why != "" {
			not[s.name] = why
			verdict = "DOES NOT KEEP UP: " + why
		}
		fmt.Printf("%-16s %9.0f %7.1f%% %9s %9s %9s %9s %9s %7.0f%%  %s\n", s.name, r.rps, 100*r.inTime,
			round(r.p50), round(r.p99), round(r.p999), round(r.max), round(r.late99), 100*cpu, verdict)
	}
	fmt.Println("(cpu/s: the share of a CPU the server's workers used; the servers run on one)")
	fmt.Println()
	return not, nil
}
