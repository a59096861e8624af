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
//
// The thread keeps its nice value: sched_setattr(2) sets the one in the
// attribute it is given, and a zero there would put the pool of a tern
// started with nice (systemd's Nice=) at nice 0, ahead of its own event
// loop.
func batchThread() {
	attr := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{})), Policy: unix.SCHED_BATCH}
	if cur, err := unix.SchedGetAttr(0, 0); err == nil {
		attr.Nice = cur.Nice
	}
	unix.SchedSetAttr(0, &attr, 0) // best effort: a refusal changes nothing
}
