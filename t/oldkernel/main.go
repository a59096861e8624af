//go:build linux

// Command oldkernel runs a program as if on an older Linux: the system
// calls named on its command line fail with ENOSYS, as on a kernel that
// does not have them, for the program and every process it starts (a
// seccomp filter survives exec and fork). The tests use it to show what
// tern does on kernels before openat2 (5.6) and cachestat (6.5).
//
//	oldkernel openat2,cachestat -- /path/to/tern -c tern.hcl
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls it can take away, by name (x86-64 and arm64 numbers
// are the same for these: they are newer than the split).
var syscalls = map[string]uint32{
	"openat2":   unix.SYS_OPENAT2,
	"cachestat": 451, // x/sys names it only on newer versions
}

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: oldkernel SYSCALL,... -- PROGRAM ARGS...")
		os.Exit(2)
	}
	var nrs []uint32
	for _, name := range strings.Split(os.Args[1], ",") {
		nr, ok := syscalls[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "oldkernel: unknown system call %q\n", name)
			os.Exit(2)
		}
		nrs = append(nrs, nr)
	}
	// The filter applies to the thread that installs it, and exec keeps
	// only that thread: install and exec on one.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("PR_SET_NO_NEW_PRIVS", err)
	}
	prog := filter(nrs)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		fail("PR_SET_SECCOMP", err)
	}
	fail("exec", syscall.Exec(os.Args[3], os.Args[3:], os.Environ()))
}

// filter returns ENOSYS for the system calls nrs and allows every other.
func filter(nrs []uint32) []unix.SockFilter {
	const nrOffset = 0 // offsetof(struct seccomp_data, nr)
	prog := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: nrOffset}}
	for _, nr := range nrs {
		prog = append(prog,
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: 0, Jf: 1},
			unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	}
	return append(prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW})
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "oldkernel: %s: %v\n", what, err)
	os.Exit(1)
}
