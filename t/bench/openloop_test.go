package main

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"
)

func TestWindowsEnd(t *testing.T) {
	start := time.Unix(1000, 0)
	w := &windows{start: start, length: time.Second, guard: 300 * time.Millisecond}
	for _, tc := range []struct {
		at, want time.Duration // from start
	}{
		{-time.Millisecond, 0},
		{0, time.Second},
		{999 * time.Millisecond, time.Second},
		{time.Second, 2 * time.Second},
		{2500 * time.Millisecond, 3 * time.Second},
	} {
		if got := w.end(start.Add(tc.at)).Sub(start); got != tc.want {
			t.Errorf("end(start%+v) = start+%v, want start+%v", tc.at, got, tc.want)
		}
	}
}

func TestSustains(t *testing.T) {
	const bound = 5 * time.Millisecond
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		r    wrkResult
		ok   bool
	}{
		{"keeps up", wrkResult{inTime: 0.999, p50: ms, p99: 3 * ms}, true},
		{"keeps up, other work in its tail", wrkResult{inTime: 0.999, p50: ms, p99: 23 * ms}, true},
		{"just in time", wrkResult{inTime: sustainedShare, p50: bound}, true},
		{"falls behind", wrkResult{inTime: 0.987, p50: 2 * ms, p99: 9 * ms}, false},
		{"queue that does not drain", wrkResult{inTime: 1, p50: 26 * ms, p99: 94 * ms}, false},
		{"connections failed", wrkResult{inTime: 1, p50: ms, failure: "1 of 100 connections failed"}, false},
	} {
		if why := sustains(tc.r, bound); (why == "") != tc.ok {
			t.Errorf("%s: sustains = %q, want keeping up %v", tc.name, why, tc.ok)
		}
	}
}

// slowServer answers each request of every connection after holding one
// lock for per: a server that handles at most one request per per.
func slowServer(t *testing.T, per time.Duration) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var one sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					one.Lock()
					time.Sleep(per)
					one.Unlock()
					if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestOpenLoopInTime: a server that answers 250 requests/s at most
// keeps up with 50/s and answers well under the share of 1000/s that
// counts as keeping up, however long the load generator then waits for
// the answers it is late with.
func TestOpenLoopInTime(t *testing.T) {
	addr := slowServer(t, 4*time.Millisecond)
	for _, tc := range []struct {
		rate     int
		min, max float64
	}{
		{50, 0.9, 1},   // 2 requests in 40 ms late at most, on a loaded machine
		{1000, 0, 0.5}, // capacity 250/s: about a quarter in time
	} {
		r, err := openLoop(addr, "/", tc.rate, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.inTime < tc.min || r.inTime > tc.max {
			t.Errorf("rate %d/s: %.3f answered in time, want %.2f to %.2f (p99 %v)", tc.rate, r.inTime, tc.min, tc.max, r.p99)
		}
	}
}

func TestPaceDelay(t *testing.T) {
	start := time.Unix(1000, 0)
	const mib = 1 << 20
	for _, tc := range []struct {
		at         time.Duration // from start
		done, pace int64
		want       time.Duration
	}{
		{0, 0, 50 * mib, 0},
		{0, 50 * mib, 50 * mib, time.Second},
		{250 * time.Millisecond, 25 * mib, 50 * mib, 250 * time.Millisecond},
		{2 * time.Second, 50 * mib, 50 * mib, 0}, // behind: read at once
		{0, 50 * mib, 0, 0},                      // not paced
	} {
		if got := paceDelay(start, start.Add(tc.at), tc.done, tc.pace); got != tc.want {
			t.Errorf("paceDelay(at start+%v, %d bytes done, %d B/s) = %v, want %v", tc.at, tc.done, tc.pace, got, tc.want)
		}
	}
}
