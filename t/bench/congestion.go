package main

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// The TCP congestion control every connection of a run uses: the
// machine's default (net.ipv4.tcp_congestion_control), or the one
// -congestion names for the run.
//
// It decides more than the servers on loopback. Under BBR a connection
// paces itself once BBR leaves its start-up phase, and without a pacing
// qdisc (loopback has none) the kernel paces with a timer per packet:
// measured on the 2-vCPU development machine, 4 downloads of a cached
// 512 MiB file ran at 2,400–3,700 MiB/s for 0.25–0.40 CPU seconds per
// GiB, for tern and lighttpd alike, and at 8,200–8,800 MiB/s for 0.10
// under CUBIC. Which connections leave start-up, and when, changes from
// run to run, so under BBR the large-file and HTTP/2 ratios swing with
// it. -congestion cubic measures every server under CUBIC; the default
// measures the machine as it is. Either way the header says which.
var (
	congestionPath = "/proc/sys/net/ipv4/tcp_congestion_control"
	availablePath  = "/proc/sys/net/ipv4/tcp_available_congestion_control"
)

// congestion is the congestion control new connections get.
func congestion() string {
	b, err := os.ReadFile(congestionPath)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// setCongestion makes name the congestion control of new connections and
// returns what puts the previous one back. It refuses a name the kernel
// does not offer (tcp_available_congestion_control) rather than loading a
// module.
func setCongestion(name string) (restore func(), err error) {
	b, err := os.ReadFile(availablePath)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(strings.Fields(string(b)), name) {
		return nil, fmt.Errorf("-congestion %s: the kernel offers %s", name, strings.TrimSpace(string(b)))
	}
	old := congestion()
	if old == name {
		return func() {}, nil
	}
	if err := os.WriteFile(congestionPath, []byte(name), 0o644); err != nil {
		return nil, fmt.Errorf("-congestion %s: %w (run as root)", name, err)
	}
	return func() {
		if err := os.WriteFile(congestionPath, []byte(old), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: putting back tcp_congestion_control %s: %v\n", old, err)
		}
	}, nil
}

// restoreOnSignal runs restore and exits when the run is interrupted, so
// that a bench stopped with ^C leaves the machine's setting as it was.
// The returned function stops watching.
func restoreOnSignal(restore func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			restore()
			fmt.Fprintf(os.Stderr, "bench: %v\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
