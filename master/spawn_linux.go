//go:build linux

package master

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// WorkerGOMAXPROCS is the GOMAXPROCS a worker runs with, set in its
// environment so that it holds from the runtime's first instruction (and
// the runtime does not re-derive it from the affinity mask later). A
// worker pinned to one CPU still wants two Ps: the event loop sits in
// epoll_wait, a blocking syscall that keeps its P until sysmon retakes it
// (20 µs to 10 ms), and the log writers and the thread pool's goroutines
// need a P meanwhile. Measured on the 2-CPU development box, one worker
// pinned to CPU 0, wrk -t1 -c50 pinned to CPU 1, a 6-byte file with
// keep-alive, 8 alternating 2 s rounds on a machine shared with other
// builds (load average 8-10, so only the pairing means much): 2 beat 1 in
// 6 rounds of 8, medians 61k against 51k requests/s.
const WorkerGOMAXPROCS = 2

// selfExe is the running binary: a worker is always the master's own code,
// so the shared-memory layout and this hand-off match (a deploy that
// renames a new binary over the old path does not change it).
const selfExe = "/proc/self/exe"

// spawnSpec is everything one worker is started with.
type spawnSpec struct {
	params  WorkerParams
	cpus    []int // nil: not pinned
	shm     int
	snap    int
	parent  int
	channel int   // the worker's end
	lns     []int // in Config.HTTP.Addrs order
	logs    []*os.File
	keys    int   // the ticket keys zone, 0 for none
	zones   []int // in Config.HTTP.Zones order
}

// spawn starts a worker and returns its pid. The child inherits the
// calling thread's CPU mask, so the fork runs on a thread locked for the
// purpose and given the worker's mask first: every thread of the worker,
// from its first instruction, runs on those CPUs. The thread is thrown
// away afterwards (its goroutine exits locked), so the master's other
// threads keep their mask.
func spawn(s spawnSpec) (int, error) {
	files := []uintptr{0, 1, 2, uintptr(s.shm), uintptr(s.snap), uintptr(s.parent), uintptr(s.channel)}
	for _, fd := range s.lns {
		files = append(files, uintptr(fd))
	}
	for _, f := range s.logs {
		files = append(files, f.Fd())
	}
	if s.keys > 0 {
		files = append(files, uintptr(s.keys))
		s.params.Keys = 1
	}
	for _, fd := range s.zones {
		files = append(files, uintptr(fd))
	}
	env := append(workerEnviron(),
		WorkerEnv+"="+s.params.String(),
		"GOMAXPROCS="+strconv.Itoa(WorkerGOMAXPROCS))
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: files,
		// Its own process group: a terminal's Ctrl-C reaches the
		// master alone, which stops the workers in order (a worker
		// killed by the same SIGINT would look like a crash).
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		// no_new_privs is a thread's, and a child inherits its
		// parent thread's: set here, every thread of the worker has it
		// from the start (after a fork, a worker could set it on its
		// own thread only), so nothing it could ever execute gains
		// privileges. The master's other threads are untouched.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- result{-1, os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", err)}
			return
		}
		if s.cpus != nil {
			var set unix.CPUSet
			for _, c := range s.cpus {
				set.Set(c)
			}
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				done <- result{-1, fmt.Errorf("sched_setaffinity(%v): %w", s.cpus, err)}
				return
			}
		}
		pid, err := syscall.ForkExec(selfExe, []string{workerArgv0}, attr)
		done <- result{pid, err}
	}()
	r := <-done
	if r.err != nil {
		return -1, fmt.Errorf("starting a worker: %w", r.err)
	}
	return r.pid, nil
}

// workerEnviron is the master's environment without the variables the
// spawn sets.
func workerEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, WorkerEnv+"=") || strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// CPUs returns the CPUs this process may run on, in order: what
// worker_processes "auto" counts and worker_cpu_affinity "auto" deals
// out (nginx counts online CPUs; the affinity mask is what a container
// or taskset actually allows).
func CPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return []int{0}
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return []int{0}
	}
	return cpus
}

// workerCount is worker_processes, auto resolved.
func workerCount(cfg *conf.Config, cpus []int) int {
	if cfg.WorkerProcesses > 0 {
		return cfg.WorkerProcesses
	}
	return len(cpus)
}

// workerCPUs is the CPU list of worker index: auto gives the index-th CPU
// of the master's mask, wrapping; a list gives its index-th entry, the
// last one reused (nginx); off gives nil.
func workerCPUs(a conf.Affinity, index int, cpus []int) []int {
	switch a.Mode {
	case conf.AffinityAuto:
		return []int{cpus[index%len(cpus)]}
	case conf.AffinityList:
		if len(a.CPUs) == 0 {
			return nil
		}
		return a.CPUs[min(index, len(a.CPUs)-1)]
	}
	return nil
}
