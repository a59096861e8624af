package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// wrkResult is one wrk run.
type wrkResult struct {
	rps                 float64
	requests            int64 // completed in the run
	p50, p99, p999, max time.Duration
	downloadMBs         float64
	// cpuPerRq is the server's CPU time per request, in µs, where a
	// phase measures it.
	cpuPerRq float64
	// runq and cpu are the time the server's workers waited on a run
	// queue and ran, per second of the run (the open phase).
	runq, cpu time.Duration
	// diskWait is how long the server was seen sending from the disk
	// in a sendfile to a socket (state D), diskWaitMax the longest such
	// wait (the open phase).
	diskWait, diskWaitMax time.Duration
	// late99 is the 99th percentile of how late the load generator
	// sent an open-loop request after its intended time, or after the
	// previous answer on its connection when that came later: its own
	// share of the latency measured (the open phase).
	late99 time.Duration
	// diskMBs is how fast the server read the disk, in MiB/s (the
	// open phase; in its hot windows it should be near 0).
	diskMBs float64
	// inTime is the fraction of an open-loop condition's requests
	// answered before their window ended (openLoopWindows): below 0.99,
	// the server did not keep up with the rate.
	inTime float64
	// failure says what went wrong in an open-loop run whose
	// connections failed or timed out, "" when none did.
	failure string
}

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reqRE = regexp.MustCompile(`(\d+) requests in `)
	pctRE = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

// runWrk runs wrk with latency percentiles against url.
func runWrk(o *options, url string) (wrkResult, error) { return runWrkArgs(o, url) }

// runWrkArgs is runWrk with more arguments for wrk.
func runWrkArgs(o *options, url string, args ...string) (wrkResult, error) {
	argv := append([]string{"-t1", "-c" + strconv.Itoa(o.conns), "-d" + o.duration.String(), "--latency"}, args...)
	out, err := exec.Command("wrk", append(argv, url)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	// Requests refused or failed (a docroot the workers' user may not
	// read answers 403; a limit, 503) would be measured as if served.
	if bytes.Contains(out, []byte("Non-2xx or 3xx responses")) {
		return wrkResult{}, fmt.Errorf("wrk %s: responses other than 2xx and 3xx: %s", url, out)
	}
	var r wrkResult
	if m := rpsRE.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := reqRE.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	for _, m := range pctRE.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.rps == 0 {
		return r, fmt.Errorf("no result from wrk: %s", out)
	}
	return r, nil
}

// evict drops a file from the page cache and reports the fraction of its
// pages still cached afterwards.
func evict(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 1
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	st, _ := f.Stat()
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Len: uint64(st.Size())}
	if unix.Cachestat(uint(fd), &rng, &cs, 0) != nil {
		return 0
	}
	return float64(cs.Cache) * 4096 / float64(st.Size())
}

// coldRun measures hot requests while downloaders fetch large files that
// are evicted from the page cache before each fetch; with throttle, the
// server's reads are limited by a blkio cgroup for the run.
func coldRun(o *options, s *server, root string, throttle bool) (wrkResult, float64, error) {
	return coldRunWith(o, s, root, throttle, func() (wrkResult, error) { return runWrk(o, s.url("/1k.txt")) })
}

// coldRunWith is coldRun measuring the hot requests with measure.
func coldRunWith(o *options, s *server, root string, throttle bool, measure func() (wrkResult, error)) (wrkResult, float64, error) {
	for i := 0; i < o.downloaders; i++ {
		if left := evict(filepath.Join(root, fmt.Sprintf("big%d.bin", i))); left > 0.01 {
			fmt.Printf("warning: big%d.bin still %.0f%% cached after FADV_DONTNEED\n", i, left*100)
		}
	}
	if throttle {
		undo, err := throttleReads(s.pids(), root, o.slowBPS)
		if err != nil {
			return wrkResult{}, 0, err
		}
		defer undo()
	}
	var bytes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < o.downloaders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			download(s, root, fmt.Sprintf("big%d.bin", i), stop, &bytes, nil)
		}(i)
	}
	time.Sleep(500 * time.Millisecond) // let the downloads get going
	start := time.Now()
	r, err := measure()
	el := time.Since(start)
	close(stop)
	wg.Wait()
	return r, float64(bytes.Load()) / el.Seconds() / (1 << 20), err
}

// download fetches name over and over, evicting it before each fetch,
// until stop. With gate, it reads only while gate says so, through a
// small receive buffer, so that the server soon has nothing more to
// send it, nor to read from the disk, while it does not (the open
// phase's hot windows).
func download(s *server, root, name string, stop chan struct{}, n *atomic.Int64, gate func(time.Time) bool) {
	buf := make([]byte, 256<<10)
	var dialer net.Dialer
	if gate != nil {
		dialer.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, gatedRcvbuf)
			})
		}
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		evict(filepath.Join(root, name))
		c, err := dialer.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err != nil {
			return
		}
		go func() { <-stop; c.Close() }()
		fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", name)
		for {
			for gate != nil && !gate(time.Now()) {
				select {
				case <-stop:
					c.Close()
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			k, err := c.Read(buf)
			n.Add(int64(k))
			if err != nil {
				break
			}
		}
		c.Close()
	}
}

// gatedRcvbuf is the receive buffer of a download that pauses: 64 KiB
// (the kernel doubles it), so that a paused download holds little of
// what the server sent and the server stops soon.
const gatedRcvbuf = 64 << 10

// interleavedRun is coldRunWith for the open phase's windows: the
// downloads (from s, throttled with throttle) read in w's cold windows
// only, and measure takes both conditions in one run. It returns the
// downloads' MiB/s over the cold windows.
func interleavedRun(o *options, s *server, root string, throttle bool, w *windows, measure func(*windows) ([2]wrkResult, error)) ([2]wrkResult, float64, error) {
	for i := 0; i < o.downloaders; i++ {
		evict(filepath.Join(root, fmt.Sprintf("big%d.bin", i)))
	}
	if throttle {
		undo, err := throttleReads(s.pids(), root, o.slowBPS)
		if err != nil {
			return [2]wrkResult{}, 0, err
		}
		defer undo()
	}
	var bytes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	w.start = time.Now().Add(500 * time.Millisecond) // let the downloads get going
	for i := 0; i < o.downloaders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			download(s, root, fmt.Sprintf("big%d.bin", i), stop, &bytes, w.downloading)
		}(i)
	}
	r, err := measure(w)
	close(stop)
	wg.Wait()
	return r, float64(bytes.Load()) / (time.Since(w.start) / 2).Seconds() / (1 << 20), err
}

const blkioRoot = "/sys/fs/cgroup/blkio"

func throttleAvailable() bool {
	_, err := os.Stat(filepath.Join(blkioRoot, "blkio.throttle.read_bps_device"))
	return err == nil
}

// throttleReads moves pids into a blkio cgroup that limits reads from the
// disk holding root to bps, and returns the undo.
func throttleReads(pids []int, root string, bps int64) (func(), error) {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return nil, err
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	cg := filepath.Join(blkioRoot, "tern-bench")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cg, "blkio.throttle.read_bps_device"), []byte(fmt.Sprintf("%s %d", dev, bps)), 0o644); err != nil {
		return nil, fmt.Errorf("throttling %s: %w", dev, err)
	}
	for _, p := range pids {
		if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(p)), 0o644); err != nil {
			return nil, err
		}
	}
	return func() {
		for _, p := range pids {
			os.WriteFile(filepath.Join(blkioRoot, "cgroup.procs"), []byte(strconv.Itoa(p)), 0o644)
		}
		os.Remove(cg)
	}, nil
}

// pss is the proportional set size of pid in KiB.
func pss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Pss:") {
			n, _ := strconv.ParseInt(strings.Fields(sc.Text())[1], 10, 64)
			return n
		}
	}
	return 0
}

// idlePhase opens o.idle keep-alive connections, one request each, and
// reports each worker's Pss growth per connection.
func idlePhase(o *options, servers []*server) {
	fmt.Printf("== idle: memory per idle keep-alive connection, %d connections\n", o.idle)
	for _, s := range servers {
		buf := make([]byte, 4096)
		measureIdle(o, s, 500*time.Millisecond, func() (io.Closer, error) {
			c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port))
			if err != nil {
				return nil, err
			}
			io.WriteString(c, "GET /1k.txt HTTP/1.1\r\nHost: b\r\n\r\n")
			io.ReadAtLeast(c, buf, 1024)
			return c, nil
		})
	}
	fmt.Println()
}

// measureIdle opens o.idle connections to s with open, each left idle
// after its request, waits settle, and prints the growth of the worker's
// Pss per connection.
func measureIdle(o *options, s *server, settle time.Duration, open func() (io.Closer, error)) {
	w := s.workers()[0]
	before := pss(w)
	conns := make([]io.Closer, 0, o.idle)
	for i := 0; i < o.idle; i++ {
		c, err := open()
		if err != nil {
			fmt.Printf("%-16s connection %d: %v\n", s.name, i, err)
			break
		}
		conns = append(conns, c)
	}
	time.Sleep(settle)
	after := pss(w)
	fmt.Printf("%-16s Pss %6d KiB → %6d KiB: %5.0f bytes per connection (%d open)\n",
		s.name, before, after, float64(after-before)*1024/float64(max(len(conns), 1)), len(conns))
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
}

// stracePhase counts a worker's syscalls over a short wrk run and divides
// by the requests served.
func stracePhase(o *options, servers []*server) {
	if _, err := exec.LookPath("strace"); err != nil {
		fmt.Println("strace phase skipped: strace is not installed")
		return
	}
	fmt.Println("== strace: syscalls per cached 1 KiB keep-alive request (worker's threads)")
	for _, s := range servers {
		out := filepath.Join(os.TempDir(), "tern-bench-strace-"+s.name)
		tr := exec.Command("strace", "-c", "-f", "-o", out, "-p", strconv.Itoa(s.workers()[0]))
		if err := tr.Start(); err != nil {
			fmt.Println(err)
			return
		}
		// Long enough for strace to attach to every thread; the worker's
		// idle-time calls (timers, the runtime's monitor) made before the
		// load starts are not calls per request.
		time.Sleep(300 * time.Millisecond)
		wo, _ := exec.Command("wrk", "-t1", "-c"+strconv.Itoa(o.conns), "-d3s", s.url("/1k.txt")).CombinedOutput()
		tr.Process.Signal(os.Interrupt)
		tr.Wait()
		reqs := requestsIn(string(wo))
		calls := syscallTotals(out)
		var total int64
		var parts []string
		for name, n := range calls {
			total += n
			if float64(n)/float64(reqs) >= 0.01 {
				parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(n)/float64(reqs)))
			}
		}
		fmt.Printf("%-16s %.2f syscalls/request over %d requests (%s)\n", s.name, float64(total)/float64(reqs), reqs, strings.Join(parts, ", "))
		os.Remove(out)
		if n, reqs, ok := perfSyscalls(o, s); ok {
			fmt.Printf("%-16s %.3f syscalls/request at full speed over %d requests (perf)\n", s.name, float64(n)/float64(reqs), reqs)
		}
	}
}

// perfSyscalls counts the syscalls of s's worker (every thread) under
// the same load with perf's raw_syscalls tracepoint, which does not slow
// the worker: strace stops it at every call, so the runtime's timed
// calls (sysmon's sleeps, about 100 a second) count per request as if the
// worker served 3,000 requests a second instead of 50,000.
func perfSyscalls(o *options, s *server) (calls, reqs int64, ok bool) {
	if _, err := exec.LookPath("perf"); err != nil {
		return 0, 0, false
	}
	out := filepath.Join(os.TempDir(), "tern-bench-perf-"+s.name)
	defer os.Remove(out)
	pf := exec.Command("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-o", out, "-p", strconv.Itoa(s.workers()[0]))
	if err := pf.Start(); err != nil {
		return 0, 0, false
	}
	time.Sleep(300 * time.Millisecond)
	wo, _ := exec.Command("wrk", "-t1", "-c"+strconv.Itoa(o.conns), "-d3s", s.url("/1k.txt")).CombinedOutput()
	pf.Process.Signal(os.Interrupt)
	pf.Wait()
	b, err := os.ReadFile(out)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 2 && f[2] == "raw_syscalls:sys_enter" {
			calls, err = strconv.ParseInt(f[0], 10, 64)
			reqs = requestsIn(string(wo))
			return calls, reqs, err == nil && reqs > 0
		}
	}
	return 0, 0, false
}

var reqsRE = regexp.MustCompile(`(\d+) requests in`)

func requestsIn(wrkOut string) int64 {
	if m := reqsRE.FindStringSubmatch(wrkOut); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return 1
}

// syscallTotals parses strace -c output into calls per syscall.
func syscallTotals(path string) map[string]int64 {
	b, _ := os.ReadFile(path)
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "total" || f[len(f)-1] == "syscall" {
			continue
		}
		if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
			out[f[len(f)-1]] = n
		}
	}
	return out
}

// largeRead downloads the cached large file over 4 keep-alive
// connections for o.duration, reading 1 MiB at a time, and returns MiB/s
// and the server's CPU seconds per GiB: wrk reads 8 KiB per call, which
// on 2 vCPUs costs more than a server's sending, so that every server
// measures wrk. With o.largePace, each connection reads 64 KiB at a time
// and no faster than that many bytes a second: clients slower than the
// server, as most are beyond loopback, whose socket buffers fill, so
// that the server sends as EPOLLOUT allows, and every server sends the
// same bytes: wrk's downloads are the limit themselves, and the two
// servers of a pair send at different rates.
func largeRead(o *options, s *server) (float64, float64, error) {
	w := s.workers()[0]
	before := cpuSeconds(w)
	start := time.Now()
	end := start.Add(o.duration)
	var total atomic.Int64
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = readLarge(s, end, o.largePace, &total)
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	used := cpuSeconds(w) - before
	for _, err := range errs {
		if err != nil {
			return 0, 0, err
		}
	}
	mib := float64(total.Load()) / (1 << 20)
	if mib == 0 {
		return 0, 0, fmt.Errorf("no bytes downloaded")
	}
	return mib / el.Seconds(), used / (mib / 1024), nil
}

// readLarge fetches /large.bin over one keep-alive connection until end,
// adding each body byte read to total, at most pace bytes a second when
// pace is not 0. A response cut by end is not an error: its bytes count.
func readLarge(s *server, end time.Time, pace int64, total *atomic.Int64) error {
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(end)
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, 1<<20)
	if pace > 0 {
		buf = buf[:64<<10]
	}
	start, done := time.Now(), int64(0)
	req := []byte("GET /large.bin HTTP/1.1\r\nHost: b\r\n\r\n")
	for {
		if _, err := c.Write(req); err != nil {
			return timedOut(err)
		}
		n, err := readHead(br)
		if err != nil {
			return timedOut(err)
		}
		// What the head's read brought along, then straight from the
		// socket: bufio reads a buffer at least its size directly.
		for n > 0 {
			if d := paceDelay(start, time.Now(), done, pace); d > 0 {
				if time.Now().Add(d).After(end) {
					return nil
				}
				time.Sleep(d)
			}
			k, err := br.Read(buf[:min(n, len(buf))])
			n -= k
			done += int64(k)
			total.Add(int64(k))
			if err != nil {
				return timedOut(err)
			}
		}
	}
}

// paceDelay is how long a download that has read done bytes since start
// waits, at now, before it reads again, to keep to pace bytes a second
// (no wait when pace is 0).
func paceDelay(start, now time.Time, done, pace int64) time.Duration {
	if pace <= 0 {
		return 0
	}
	due := start.Add(time.Duration(float64(done) / float64(pace) * float64(time.Second)))
	return max(due.Sub(now), 0)
}

// timedOut is nil for the deadline that ends a run, else err.
func timedOut(err error) error {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil
	}
	return err
}
