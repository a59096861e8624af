package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	r, err := openLoopWindows(addr, path, rate, conns, d, nil)
	return r[hot], err
}

// The conditions of an open-loop run with windows.
const (
	hot  = 0 // the downloads paused: the hot requests alone
	cold = 1 // the downloads reading
)

// windows alternates the open phase's two conditions within one run,
// so that both sample the same machine: on a shared machine, other
// work (a compile, another benchmark, the host taking the vCPU) comes
// in bursts of tens of milliseconds, and a hot run and a cold run taken
// seconds apart each catch or miss a different few of them, which moved
// the cold ÷ hot ratio of p99 from 1.3 to 1.7 between runs of the same
// binary. Windows of length alternate from start, cold first: in a cold
// window the downloads read, in a hot one they stop reading, so the
// server soon has nothing to send them and nothing to read from the
// disk. A request whose intended send time falls in the first guard of
// a window is left out of both conditions: the previous condition
// winding down (fills in flight, socket buffers filling).
type windows struct {
	start         time.Time
	length, guard time.Duration
}

// downloading reports whether the downloads read at t: in a cold window
// and before the first.
func (w *windows) downloading(t time.Time) bool {
	since := t.Sub(w.start)
	return since < 0 || (since/w.length)%2 == 0
}

// class is the condition a request intended at t measures: hot, cold,
// or -1 in a guard.
func (w *windows) class(t time.Time) int {
	if w == nil {
		return hot
	}
	since := t.Sub(w.start)
	switch {
	case since < 0 || since%w.length < w.guard:
		return -1
	case (since/w.length)%2 == 0:
		return cold
	}
	return hot
}

// end is when the window holding t ends (before the first window: when
// the first one starts).
func (w *windows) end(t time.Time) time.Time {
	since := t.Sub(w.start)
	if since < 0 {
		return w.start
	}
	return w.start.Add((since/w.length + 1) * w.length)
}

// openLoopWindows is openLoop over w's windows, from w.start, the
// first intended send time: it returns the hot and the cold
// requests' results, both hot when w is nil. A request is answered in
// time when its answer comes before its window ends (without windows,
// before the schedule ends): a server that keeps up answers all but
// the few sent in a window's last milliseconds in time, one that does
// not falls behind by what it lacks, however long the load generator
// then waits for the answers. The latencies are kept in
// arrays sized for the run and the collector is off meanwhile, so that
// the load generator's own pauses stay out of the tail it measures.
func openLoopWindows(addr, path string, rate, conns int, d time.Duration, w *windows) ([2]wrkResult, error) {
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	start := time.Now().Add(100 * time.Millisecond)
	if w != nil {
		start = w.start
	}
	cutoff := start.Add(d + time.Second)
	type sample struct {
		class  int
		lat    time.Duration // from the intended send time to the answer
		late   time.Duration // the load generator's lateness in sending it
		inTime bool          // answered before its window ended
	}
	// due is when a request intended at t must be answered to count as
	// answered in time.
	due := func(t time.Time) time.Time {
		end := start.Add(d)
		if w != nil && w.end(t).Before(end) {
			return w.end(t)
		}
		return end
	}
	samples := make([][]sample, conns)
	for j := range samples {
		samples[j] = make([]sample, 0, total/conns+1)
	}
	errs := make([]error, conns)
	// unanswered counts slot k and the connection's later ones, which
	// it will not send, with their wait until the cutoff.
	unanswered := func(j, k int) {
		for ; k < total; k += conns {
			at := start.Add(time.Duration(k) * interval)
			if c := w.class(at); c >= 0 {
				samples[j] = append(samples[j], sample{class: c, lat: max(0, cutoff.Sub(at)), late: -1})
			}
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var wg sync.WaitGroup
	for j := 0; j < conns; j++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			return [2]wrkResult{}, err
		}
		wg.Add(1)
		go func(j int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(cutoff)
			req := []byte("GET " + path + " HTTP/1.1\r\nHost: b\r\n\r\n")
			br := bufio.NewReaderSize(c, 64<<10)
			var done time.Time // when the previous answer came
			for k := j; k < total; k += conns {
				at := start.Add(time.Duration(k) * interval)
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				// The load generator's own lateness: from the later of
				// the intended time and the previous answer, which a
				// slow server delays.
				late := time.Since(later(at, done))
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
				done = time.Now()
				if cl := w.class(at); cl >= 0 {
					samples[j] = append(samples[j], sample{class: cl, lat: done.Sub(at), late: late, inTime: !done.After(due(at))})
				}
			}
		}(j, c)
	}
	wg.Wait()
	var out [2]wrkResult
	for cl := range out {
		var lat, late []time.Duration
		inTime := 0
		for j := range samples {
			for _, s := range samples[j] {
				if s.class != cl {
					continue
				}
				if s.inTime {
					inTime++
				}
				lat = append(lat, s.lat)
				if s.late >= 0 {
					late = append(late, s.late)
				}
			}
		}
		if len(lat) == 0 {
			// Without windows every request is hot; with them, a run
			// without cold requests measured nothing.
			if (w == nil) == (cl == hot) {
				return out, fmt.Errorf("open loop: no response (%v)", errs[0])
			}
			continue
		}
		// requests/s: the answered ones per second of the condition's
		// windows, guards left out.
		span := d
		if w != nil {
			span = time.Duration(float64(d/2) * float64(w.length-w.guard) / float64(w.length))
		}
		out[cl] = summarize(lat, late, span)
		out[cl].inTime = float64(inTime) / float64(len(lat))
		if failed := countErrs(errs); failed > 0 {
			out[cl].failure = fmt.Sprintf("%d of %d connections failed (first: %v); %d of %d requests answered, the rest count with their wait until the cutoff",
				failed, conns, firstErr(errs), len(late), len(lat))
		}
	}
	return out, nil
}

// summarize is the percentiles of lat (sorted here) and of late, the
// answered requests' send lateness, over a condition that lasted span.
func summarize(lat, late []time.Duration, span time.Duration) wrkResult {
	slices.Sort(lat)
	slices.Sort(late)
	pct := func(v []time.Duration, p float64) time.Duration {
		if len(v) == 0 {
			return 0
		}
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	return wrkResult{
		rps:    float64(len(late)) / span.Seconds(),
		p50:    pct(lat, 0.50),
		p99:    pct(lat, 0.99),
		p999:   pct(lat, 0.999),
		max:    lat[len(lat)-1],
		late99: pct(late, 0.99),
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func countErrs(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
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

// diskWaits samples the event-loop threads of pids every 10 ms until
// stop and reports, for each condition of w (both hot when w is nil),
// how long one was seen waiting in the kernel (state D) inside a
// sendfile to a socket — a send from the page cache that waits for the
// disk, the stall an event loop must never take — and the longest such
// wait. A pool thread's sends and reads are not counted. first
// describes the first wait seen to last stallShown (describeStall).
func diskWaits(pids []int, stop <-chan struct{}, w *windows) (total, longest [2]time.Duration, first string) {
	const every = 10 * time.Millisecond
	run := map[string]time.Duration{} // thread → the wait seen so far
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return total, longest, first
		case <-tick.C:
		}
		cl := w.class(time.Now())
		for _, pid := range pids {
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			pool := map[string]bool{}
			marked := false // tern marks its pool threads SCHED_BATCH
			for _, t := range tasks {
				if policy(pid, t.Name()) == unix.SCHED_BATCH {
					pool[t.Name()], marked = true, true
				}
			}
			for _, t := range tasks {
				key := fmt.Sprintf("%d/%s", pid, t.Name())
				// Only a thread that runs an event loop counts: in tern
				// every thread but the pool's (the loop's goroutine
				// moves between threads), elsewhere the main thread.
				loop := !pool[t.Name()] && (marked || t.Name() == strconv.Itoa(pid))
				if !loop || !sendingFromDisk(pid, t.Name()) {
					delete(run, key)
					continue
				}
				run[key] += every
				if first == "" && run[key] >= stallShown {
					first = describeStall(pid, t.Name())
				}
				if cl >= 0 {
					total[cl] += every
					longest[cl] = max(longest[cl], run[key])
				}
			}
		}
	}
}

// stallShown is how long an event loop must wait for the disk in one
// sendfile for diskWaits to describe the wait.
const stallShown = 200 * time.Millisecond

// describeStall describes thread tid of pid, waiting in a sendfile: the
// file it sends from, how much it asked for, and its kernel stack.
func describeStall(pid int, tid string) string {
	sc, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, tid))
	f := strings.Fields(string(sc))
	what := "sendfile"
	if len(f) >= 5 {
		in, _ := strconv.ParseInt(strings.TrimPrefix(f[2], "0x"), 16, 64)
		count, _ := strconv.ParseInt(strings.TrimPrefix(f[4], "0x"), 16, 64)
		file, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, in))
		what = fmt.Sprintf("sendfile of %d bytes from %s", count, filepath.Base(file))
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stack", pid, tid))
	var frames []string
	for _, line := range strings.Split(strings.TrimSpace(string(st)), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 {
			frames = append(frames, strings.SplitN(fields[1], "+", 2)[0])
		}
	}
	return fmt.Sprintf("thread %s of %d: %s, kernel stack %s", tid, pid, what, strings.Join(frames, " < "))
}

// usage is what the open phase reads of a server's workers at the
// edges of its windows.
type usage struct {
	runq time.Duration // waiting on a run queue (schedstat)
	cpu  float64       // CPU seconds (stat)
	disk int64         // bytes read from storage (io)
}

func usageOf(pids []int) usage {
	var u usage
	for _, p := range pids {
		u.runq += runqWait(p)
		u.cpu += cpuSeconds(p)
		u.disk += readBytes(p)
	}
	return u
}

// readBytes is the bytes pid's threads caused to be read from storage.
func readBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// usageByWindow reads the workers' usage after the guard and at the
// end of each of w's windows until stop, and adds what each window
// measured to its condition; seconds is the time summed per condition.
func usageByWindow(pids func() []int, w *windows, stop <-chan struct{}) (sum [2]usage, seconds [2]float64) {
	at := func(t time.Time) bool {
		select {
		case <-stop:
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	for k := 0; ; k++ {
		from := w.start.Add(time.Duration(k) * w.length)
		if !at(from.Add(w.guard)) {
			return sum, seconds
		}
		u0 := usageOf(pids())
		if !at(from.Add(w.length)) {
			return sum, seconds
		}
		u := usageOf(pids())
		cl := hot
		if k%2 == 0 {
			cl = cold
		}
		sum[cl].runq += u.runq - u0.runq
		sum[cl].cpu += u.cpu - u0.cpu
		sum[cl].disk += u.disk - u0.disk
		seconds[cl] += (w.length - w.guard).Seconds()
	}
}

// policy is the scheduling policy of thread tid of pid (stat's 41st
// field), -1 when it cannot be read.
func policy(pid int, tid string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, tid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	// Fields from the 3rd (state) on follow the command's ")".
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 41-2 {
		return -1
	}
	p, err := strconv.Atoi(f[41-3])
	if err != nil {
		return -1
	}
	return p
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
