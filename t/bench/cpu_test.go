package main

import (
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSchedstatSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"215072910 24794820 551\n", 0.21507291, true},
		{"0 0 1\n", 0, true},
		{"215072910 24794820\n", 0, false},
		{"x 1 2\n", 0, false},
	} {
		got, ok := schedstatSeconds([]byte(tc.in))
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("schedstatSeconds(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestCPUSecondsSumsThreads burns CPU on two threads and wants
// cpuSeconds, summed from the threads' schedstat, to grow by what the
// process's own tick count says, within its ticks.
func TestCPUSecondsSumsThreads(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/schedstat"); err != nil {
		t.Skip("no schedstat in this kernel:", err)
	}
	s0, t0 := cpuSeconds(pid), statCPUSeconds(pid)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // on a thread of its own; unlocked, the thread stays
			defer runtime.UnlockOSThread()
			for x := 0; !stop.Load(); x++ {
				_ = x * x
			}
		}()
	}
	for statCPUSeconds(pid)-t0 < 0.3 {
		runtime.Gosched()
	}
	stop.Store(true)
	wg.Wait()
	ds, dt := cpuSeconds(pid)-s0, statCPUSeconds(pid)-t0
	if math.Abs(ds-dt) > 0.05 {
		t.Errorf("cpuSeconds grew %.3f s, /proc/PID/stat %.3f s", ds, dt)
	}
}

// The medians the ratio tables print: each server's middle run, whatever
// the order the rounds produced them in.
func TestMediansOf(t *testing.T) {
	got := mediansOf(map[string][]float64{
		"tern":     {30.5, 24.1, 26.0},
		"lighttpd": {29.0},
	})
	if len(got) != 2 || got["tern"] != 26.0 || got["lighttpd"] != 29.0 {
		t.Fatalf("mediansOf = %v, want tern 26, lighttpd 29", got)
	}
}
