//go:build linux

package master

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// Process titles, as nginx's ngx_setproctitle: ps and /proc/PID/cmdline
// show the memory that held argv when the process started, so writing a
// title over that memory renames the process. The room is what argv and
// environ took together (environ follows argv; Go copied its strings at
// start-up, so nothing reads that memory any more). When the last byte of
// argv is not NUL, Linux reads the title on into environ up to a NUL
// (fs/proc/base.c get_mm_proctitle), so a title may be longer than argv.
//
// A worker is started with argv[0] = its title padded with spaces, so that
// it can change it later ("... is shutting down") without needing the
// environment's room. The short name in /proc/PID/comm (ps -o comm, top)
// is set to "tern" through /proc/self/comm, which names the main thread
// whichever thread writes it (a worker runs /proc/self/exe, so it would
// be "exe").

// title is the argv memory (and environ's after it), found before
// anything else ran; argvLen is argv's part of it.
var (
	title   []byte
	argvLen int
)

func init() {
	if len(os.Args) == 0 {
		return
	}
	title, argvLen = argvMemory()
	// os.Args point into that memory (the runtime does not copy them):
	// give the program copies, so that a title never changes them.
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = strings.Clone(a)
	}
	os.Args = args
}

// argvMemory returns the writable memory of argv, and of environ after it
// when the kernel's /proc/self/stat shows that environ follows at once,
// and the length of argv's part.
func argvMemory() ([]byte, int) {
	base := unsafe.StringData(os.Args[0])
	if base == nil {
		return nil, 0
	}
	// argv strings are contiguous, each NUL-terminated.
	n := 0
	for _, a := range os.Args {
		if unsafe.StringData(a) != (*byte)(unsafe.Add(unsafe.Pointer(base), n)) && a != "" {
			return nil, 0 // not the kernel's layout: leave it alone
		}
		n += len(a) + 1
	}
	argv := n
	if argStart, argEnd, envStart, envEnd, ok := procStatAreas(); ok &&
		argStart == uintptr(unsafe.Pointer(base)) && argEnd == argStart+uintptr(n) && envStart == argEnd && envEnd > envStart {
		n = int(envEnd - argStart)
	}
	return unsafe.Slice(base, n), argv
}

// procStatAreas reads arg_start, arg_end, env_start and env_end, fields
// 48 to 51 of /proc/self/stat (Linux 3.5).
func procStatAreas() (argStart, argEnd, envStart, envEnd uintptr, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return
	}
	// comm, field 2, may hold spaces and parentheses: count from the
	// last ')'. The field after it is number 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return
	}
	f := strings.Fields(string(b[i+1:]))
	const first = 3
	if len(f) < 51-first+1 {
		return
	}
	var v [4]uintptr
	for k := range v {
		n, err := strconv.ParseUint(f[48-first+k], 10, 64)
		if err != nil {
			return
		}
		v[k] = uintptr(n)
	}
	return v[0], v[1], v[2], v[3], true
}

// SetTitle shows t as this process's command line, cut to the room
// there is, and names the process "tern" in /proc/PID/comm. Not safe to
// call from two goroutines at once.
func SetTitle(t string) {
	if len(title) == 0 {
		return
	}
	n := copy(title, t)
	// Clear the rest of argv; environ is overwritten only as far as a
	// long title needs (/proc/PID/environ keeps the rest).
	if n < len(title) {
		title[n] = 0
	}
	if n < argvLen {
		clear(title[n:argvLen])
	}
	if n == len(title) {
		title[n-1] = 0
	}
	os.WriteFile("/proc/self/comm", []byte("tern"), 0)
}

// MasterTitle is the master's title: nginx's "nginx: master process"
// followed by the command line it was started with.
func MasterTitle() string {
	return "tern: master process " + strings.Join(os.Args, " ")
}

const (
	// WorkerTitle is what ps shows for a worker.
	WorkerTitle = "tern: worker process"
	// WorkerQuitTitle is shown by a worker that quits gracefully.
	WorkerQuitTitle = "tern: worker process is shutting down"
)

// workerArgv0 is the argv[0] a worker starts with: room for either title.
var workerArgv0 = WorkerTitle + strings.Repeat(" ", len(WorkerQuitTitle)-len(WorkerTitle))
