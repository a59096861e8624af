//go:build linux

package event

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// The loop's one eventfd is how other goroutines — thread-pool workers,
// the signal forwarder — hand work back to the loop. It is registered
// edge-triggered and never read: every write is a new edge, and the counter
// (2^64-2 before a write would fail) cannot fill at one write per wake-up.
// Writers coalesce through wakePending, so a burst of completions costs one
// write and one wake-up.

// wakeHandler is the eventfd's Handler.
type wakeHandler Loop

func (l *Loop) initWake() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	l.wakeFD = fd
	if err := l.Add(fd, In|ET, (*wakeHandler)(l)); err != nil {
		unix.Close(fd)
		return err
	}
	return nil
}

// OnWake registers d to be drained after every wake-up.
func (l *Loop) OnWake(d Drainer) { l.drainers = append(l.drainers, d) }

// Wake makes the loop drain its Drainers soon. Safe from any goroutine.
func (l *Loop) Wake() {
	if !l.wakePending.CompareAndSwap(0, 1) {
		return // a wake-up is already on its way
	}
	for {
		// A raw write of a package-level value: unix.Write makes its
		// buffer escape under the race detector.
		_, err := Write(l.wakeFD, wakeOne[:])
		if err != unix.EINTR {
			return
		}
	}
}

// wakeOne is the 8-byte native-endian 1 an eventfd write adds.
var wakeOne = func() (b [8]byte) {
	binary.NativeEndian.PutUint64(b[:], 1)
	return b
}()

// Submit runs f on the loop goroutine soon. Safe from any goroutine; meant
// for rare work (signals, log reopening), as it allocates.
func (l *Loop) Submit(f func()) {
	l.submitMu.Lock()
	l.submitted = append(l.submitted, f)
	l.submitMu.Unlock()
	l.Wake()
}

// Event drains everything handed over since the last wake-up.
func (w *wakeHandler) Event(uint32) {
	l := (*Loop)(w)
	// Clear the flag before draining: a hand-over that lands after this
	// store writes the eventfd again, so nothing is left behind.
	l.wakePending.Store(0)
	for _, d := range l.drainers {
		d.Drain()
	}
	l.submitMu.Lock()
	l.submitting, l.submitted = l.submitted, l.submitting[:0]
	l.submitMu.Unlock()
	for i, f := range l.submitting {
		l.submitting[i] = nil
		f()
	}
}
