package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The pairs phase loads two servers at once, each with its own wrk, so
// that both share whatever else the machine is doing: on a machine other
// people use, sequential runs of a few seconds swing by tens of percent
// (a neighbour's build lands in one run and not the next), while two
// servers that run side by side on the same CPU lose the same share to
// it, and the ratio of their rates is the ratio of their costs per
// request. Each server's CPU time per request is reported too, read from
// /proc, which time lost to other processes does not inflate.
//
// Pairs: tern-police against tern and nginx-police against nginx (with
// -police), tern against tern-old (with -tern-old: the cost of features
// a configuration does not use), and tern against nginx, whose
// difference is known from quiet runs: the control that shows the pairs
// can tell one of a few percent (when the load generator's CPU, not the
// servers', is what limits both, every ratio comes out near 1).

// pair is two servers compared, a against b.
type pair struct{ a, b string }

// pairResult is one round of a pair: each server's rate (requests or
// MiB per second) and its CPU time per unit (µs per request, s per GiB).
type pairResult struct {
	rps      [2]float64
	cpuPerRq [2]float64
}

// pairLoads are what -pair-load can name: what each server of a pair is
// loaded with, and the units of its rate and CPU cost.
var pairLoads = map[string]struct{ rate, cost string }{
	"1k":            {"req/s", "CPU µs/req"},
	"64k":           {"req/s", "CPU µs/req"},
	"large":         {"MiB/s", "CPU s/GiB"},
	"large-evicted": {"MiB/s", "CPU s/GiB"},
}

// pairsPhase runs every pair for o.rounds rounds and prints each round's
// ratios and their medians.
func pairsPhase(o *options, servers []*server) error {
	byName := map[string]*server{}
	for _, s := range servers {
		byName[s.name] = s
	}
	pairs := o.pairs
	if pairs == nil {
		for _, p := range []pair{{"tern-police", "tern"}, {"nginx-police", "nginx"}, {"tern", "tern-old"}, {"tern", "nginx"}, {"tern", "lighttpd"}} {
			if byName[p.a] != nil && byName[p.b] != nil {
				pairs = append(pairs, p)
			}
		}
	}
	for _, p := range pairs {
		if byName[p.a] == nil || byName[p.b] == nil {
			return fmt.Errorf("-pairs %s/%s: both must be running (see -skip)", p.a, p.b)
		}
	}
	if len(pairs) == 0 {
		fmt.Println("pairs phase skipped: it needs two of tern, tern-police, tern-old, nginx, nginx-police, lighttpd")
		return nil
	}
	units, ok := pairLoads[o.pairLoad]
	if !ok {
		return fmt.Errorf("-pair-load %q: one of 1k, 64k, large, large-evicted", o.pairLoad)
	}
	load := fmt.Sprintf("%s keep-alive requests, %d connections each", o.pairLoad, o.conns)
	switch o.pairLoad {
	case "large":
		load = fmt.Sprintf("4 downloads each of a cached %d MiB file", o.largeSize>>20)
	case "large-evicted":
		load = fmt.Sprintf("4 downloads each of a %d MiB file, 1 %% of it evicted before each round", o.largeSize>>20)
	}
	fmt.Printf("== pairs: two servers loaded at once, %s; %s\n", load, loadAverage())
	fmt.Printf("%-26s %10s %10s %8s %14s %8s\n", "a / b", "a "+units.rate, "b "+units.rate, "ratio", units.cost, "ratio")
	for _, p := range pairs {
		var rps, cpu []float64
		for round := 0; round < o.rounds; round++ {
			if o.pairLoad == "large-evicted" {
				// Both servers send the same file: whichever reaches
				// an evicted range first reads it from the disk.
				prepareLarge(o.largeFile, true)
			}
			r, err := runPair(o, byName[p.a], byName[p.b])
			if err != nil {
				return err
			}
			rps = append(rps, r.rps[0]/r.rps[1])
			cpu = append(cpu, r.cpuPerRq[0]/r.cpuPerRq[1])
			fmt.Printf("%-26s %10.0f %10.0f %7.3f× %6.3g / %-6.3g %7.3f×\n", p.a+" / "+p.b,
				r.rps[0], r.rps[1], rps[len(rps)-1], r.cpuPerRq[0], r.cpuPerRq[1], cpu[len(cpu)-1])
		}
		fmt.Printf("%-26s median rate ratio %.3f× (%s), CPU per request %.3f×\n\n", p.a+" / "+p.b,
			medianOf(rps), spread(rps), medianOf(cpu))
	}
	return nil
}

// runPair loads a and b at once for o.duration.
func runPair(o *options, a, b *server) (pairResult, error) {
	var r pairResult
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range []*server{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if strings.HasPrefix(o.pairLoad, "large") {
				r.rps[i], r.cpuPerRq[i], errs[i] = largeRun(o, s)
				return
			}
			path := map[string]string{"1k": "/1k.txt", "64k": "/64k.bin"}[o.pairLoad]
			before := s.cpuSeconds()
			w, err := runWrk(o, s.url(path))
			used := s.cpuSeconds() - before
			if err != nil {
				errs[i] = err
				return
			}
			r.rps[i] = w.rps
			r.cpuPerRq[i] = used * 1e6 / (w.rps * o.duration.Seconds())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// cpuSeconds is the time the server's processes (the master and its
// workers) ran so far (see cpuSeconds).
func (s *server) cpuSeconds() float64 {
	var sum float64
	for _, pid := range s.pids() {
		sum += cpuSeconds(pid)
	}
	return sum
}

// spread is the lowest and highest of v.
func spread(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("%.3f–%.3f", s[0], s[len(s)-1])
}
