package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sysSendfile is sendfile's number in /proc/PID/task/TID/syscall.
const sysSendfile = syscall.SYS_SENDFILE

// openLoop sends GET path at a fixed rate over conns keep-alive
// connections for d, each connection taking every conns-th slot of the
// schedule, and measures each request's latency from its intended send
// time, not from when it was sent: a request that waits behind a slow
// one counts the wait (coordinated omission corrected, as wrk2 does).
// Requests still unanswered a second after d, on a connection that timed
// out or failed, count with their wait until then: a lower bound, and
// reported, not hidden. requests/s counts the answered ones.
func openLoop(addr, path string, rate, conns int, d time.Duration) (wrkResult, error) {
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	start := time.Now().Add(100 * time.Millisecond)
	cutoff := start.Add(d + time.Second)
	lat := make([][]time.Duration, conns)
	answered := make([]int, conns)
	errs := make([]error, conns)
	// unanswered counts slot k and the connection's later ones, which
	// it will not send, with their wait until the cutoff.
	unanswered := func(j, k int) {
		for ; k < total; k += conns {
			lat[j] = append(lat[j], max(0, cutoff.Sub(start.Add(time.Duration(k)*interval))))
		}
	}
	var wg sync.WaitGroup
	for j := 0; j < conns; j++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			return wrkResult{}, err
		}
		wg.Add(1)
		go func(j int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(cutoff)
			req := []byte("GET " + path + " HTTP/1.1\r\nHost: b\r\n\r\n")
			br := bufio.NewReaderSize(c, 64<<10)
			for k := j; k < total; k += conns {
				at := start.Add(time.Duration(k) * interval)
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				if _, err := c.Write(req); err != nil {
					errs[j] = err
					unanswered(j, k)
					return
				}
				if err := readResponse(br); err != nil {
					errs[j] = err
					unanswered(j, k)
					return
				}
				lat[j] = append(lat[j], time.Since(at))
				answered[j]++
			}
		}(j, c)
	}
	wg.Wait()
	var all []time.Duration
	failed, ok := 0, 0
	for j := range lat {
		all = append(all, lat[j]...)
		ok += answered[j]
		if errs[j] != nil {
			failed++
		}
	}
	if len(all) == 0 {
		return wrkResult{}, fmt.Errorf("open loop: no response (%v)", errs[0])
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	r := wrkResult{
		rps:  float64(ok) / d.Seconds(),
		p50:  pct(0.50),
		p99:  pct(0.99),
		p999: pct(0.999),
		max:  all[len(all)-1],
	}
	if failed > 0 {
		r.failure = fmt.Sprintf("%d of %d connections failed (first: %v); %d of %d requests answered, the rest count with their wait until the cutoff",
			failed, conns, firstErr(errs), ok, total)
	}
	return r, nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// readHead reads a response's head and returns its Content-Length.
func readHead(br *bufio.Reader) (int, error) {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("a response without Content-Length")
	}
	return n, nil
}

// readResponse reads one response with a Content-Length body.
func readResponse(br *bufio.Reader) error {
	n, err := readHead(br)
	if err != nil {
		return err
	}
	_, err = br.Discard(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// diskWaits samples the threads of pids every 10 ms until stop and
// reports how long one was seen waiting in the kernel (state D) inside
// a sendfile to a socket — a send from the page cache that waits for
// the disk, the stall a server's event loop must never take — and the
// longest such wait. A pool thread's fill (a sendfile to /dev/null) and
// a read are not counted.
func diskWaits(pids []int, stop <-chan struct{}) (total, longest time.Duration) {
	const every = 10 * time.Millisecond
	run := map[string]time.Duration{} // thread → the wait seen so far
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return total, longest
		case <-tick.C:
		}
		for _, pid := range pids {
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, t := range tasks {
				key := fmt.Sprintf("%d/%s", pid, t.Name())
				if !sendingFromDisk(pid, t.Name()) {
					delete(run, key)
					continue
				}
				run[key] += every
				total += every
				longest = max(longest, run[key])
			}
		}
	}
}

// sendingFromDisk reports whether thread tid of pid is in sendfile to a
// socket and waiting uninterruptibly (for a page to be read).
func sendingFromDisk(pid int, tid string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, tid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || b[i+2] != 'D' {
		return false
	}
	sc, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, tid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(sc))
	if len(f) < 2 || f[0] != strconv.Itoa(sysSendfile) {
		return false
	}
	out, err := strconv.ParseInt(strings.TrimPrefix(f[1], "0x"), 16, 64)
	if err != nil {
		return false
	}
	target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, out))
	return err == nil && strings.HasPrefix(target, "socket:")
}
