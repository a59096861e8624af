//go:build linux

package threadpool

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchThread marks the calling thread SCHED_BATCH: it keeps its share of
// the CPU, but waking up (a disk read done) does not preempt a running
// interactive thread. A pool task that wakes with 2 MiB to copy into a
// socket would otherwise take the CPU from the event loop for that long,
// on the CPU they share. A marked thread runs its pool goroutine only
// (LockOSThread), so the loop's goroutine never runs on one. Each pool
// goroutine calls it once, on the thread it keeps.
func batchThread() {
	attr := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{})), Policy: unix.SCHED_BATCH}
	unix.SchedSetAttr(0, &attr, 0) // best effort: a refusal changes nothing
}
