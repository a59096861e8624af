//go:build linux

package event

import (
	"sync/atomic"
	"time"
)

// AcceptLock is nginx's accept mutex (ngx_shmtx with spin = -1): a word
// in shared memory holding the pid of the worker that may poll the shared
// listening sockets, 0 when nobody holds it. It is only ever tried with a
// compare-and-swap, never waited for, so no worker blocks on another;
// and because the word names its holder, the master can free it when it
// reaps a holder that died (ForceUnlock), which a plain flag could not
// tell apart from a live holder.
type AcceptLock struct {
	word *uint32
}

// AcceptLock returns the shared accept lock.
func (s *Shared) AcceptLock() AcceptLock { return AcceptLock{word: s.lockWord()} }

// TryLock takes the lock for pid if it is free, and reports whether pid
// holds it now (it may already have).
func (l AcceptLock) TryLock(pid int) bool {
	w := atomic.LoadUint32(l.word)
	if w == uint32(pid) {
		return true
	}
	// Load first: a CAS on a word another worker holds would take the
	// cache line exclusive for nothing.
	return w == 0 && atomic.CompareAndSwapUint32(l.word, 0, uint32(pid))
}

// Unlock releases the lock if pid holds it.
func (l AcceptLock) Unlock(pid int) bool {
	return atomic.CompareAndSwapUint32(l.word, uint32(pid), 0)
}

// ForceUnlock frees the lock of a worker that died holding it. The master
// calls it right after wait4 reaped pid, before the pid can be reused,
// so it cannot free a live process's lock (nginx's
// ngx_shmtx_force_unlock). It reports whether pid held the lock.
func (l AcceptLock) ForceUnlock(pid int) bool { return l.Unlock(pid) }

// Holder is the pid holding the lock, 0 when free.
func (l AcceptLock) Holder() int { return int(atomic.LoadUint32(l.word)) }

// AcceptMutex runs nginx's accept-mutex algorithm on one worker's loop
// (ngx_process_events_and_timers, ngx_trylock_accept_mutex):
//
//   - before each wait (a Ticker), a worker that is not above 7/8 of
//     worker_connections (Acceptor.Disabled <= 0) tries the lock; the
//     holder puts the shared listening sockets in its epoll set, any
//     other takes them out and caps its wait at Delay, so that it tries
//     again soon even when it has nothing else to do;
//   - after the wait, the holder first accepts on every ready listening
//     socket, then releases the lock, then handles the other events: the
//     lock covers one wait and its accept batch, and other workers can
//     take it while this one serves what it accepted.
//
// So at most one process sleeps on the shared sockets and a connection
// wakes one worker, not all of them (the thundering herd). Listeners a
// worker owns alone (reuseport) are never taken out of its set.
//
// Where tern differs: nginx's mutex does not balance. The busiest worker
// loops most often, so it tries the lock most often, and holds it while it
// sleeps, while an idle one tries every accept_mutex_delay; on a box
// where the workers are not saturated one of them takes nearly every
// connection (measured: 99% of them with two workers). So a worker also
// compares its open connections with the other competing workers'
// (shared counters): one ahead by more than balanceMargin stops trying
// and lets the others take new connections, and one behind retries every
// behindRetry instead of every Delay, so the lock is never left
// untaken for long. Only workers that tried within staleAfter count, so a
// hung or exiting worker cannot make the others stop accepting.
type AcceptMutex struct {
	lock AcceptLock
	pid  int
	acc  *Acceptor
	loop *Loop
	shm  *Shared
	slot int
	// Delay is accept_mutex_delay: how long a worker without the lock
	// waits at most before trying again.
	Delay time.Duration

	held    bool
	stopped bool
}

// NewAcceptMutex makes acc's shared listeners follow lock on loop, for
// the worker pid. Call it before the loop runs.
// Its counters are shm's slot.
func NewAcceptMutex(loop *Loop, acc *Acceptor, shm *Shared, slot, pid int, delay time.Duration) *AcceptMutex {
	m := &AcceptMutex{lock: shm.AcceptLock(), pid: pid, acc: acc, loop: loop, shm: shm, slot: slot, Delay: delay}
	acc.mutex = m
	loop.mutex = m
	loop.AddTicker(m)
	return m
}

// Tick tries the lock before the wait.
func (m *AcceptMutex) Tick() {
	if m.stopped || !m.acc.want || m.acc.closed {
		return
	}
	if m.acc.Disabled > 0 {
		// Above 7/8 of worker_connections: let the others compete
		// for a while (ngx_accept_disabled counts iterations).
		m.acc.Disabled--
		m.acc.disableShared()
		m.loop.CapWait(m.Delay)
		return
	}
	ahead, behind := m.balance()
	if ahead {
		// Let a less busy worker take the next connections.
		m.acc.disableShared()
		m.loop.CapWait(m.Delay)
		return
	}
	if m.lock.TryLock(m.pid) {
		m.held = true
		m.acc.enableShared()
		return
	}
	m.acc.disableShared()
	if behind {
		m.loop.CapWait(behindRetry)
		return
	}
	m.loop.CapWait(m.Delay)
}

const (
	// behindRetry is how often a worker with fewer connections than
	// another tries the lock.
	behindRetry = time.Millisecond
	// staleAfter: a worker that has not tried the lock for this long
	// does not count in the balance (hung, stopped, or trying only
	// every Delay because it is not behind).
	staleAfter = 20 * time.Millisecond
)

// balanceMargin is how many more open connections than another worker
// make a worker "ahead": 2, plus 1/8 of the larger count.
func balanceMargin(a, b uint64) uint64 { return 2 + max(a, b)/8 }

// balance records this try in the worker's slot and compares its open
// connections with those of the workers that tried recently.
func (m *AcceptMutex) balance() (ahead, behind bool) {
	now := uint64(m.loop.Wall().UnixNano())
	me := m.shm.Slot(m.slot)
	atomic.StoreUint64(&me.TryAt, now)
	mine := atomic.LoadUint64(&me.Active)
	n := int(atomic.LoadUint64(&m.shm.header().InUse))
	for i := 0; i < n && i < MaxSlots; i++ {
		if i == m.slot {
			continue
		}
		o := m.shm.Slot(i)
		at := atomic.LoadUint64(&o.TryAt)
		if at == 0 || now-at > uint64(staleAfter) && at < now {
			continue
		}
		theirs := atomic.LoadUint64(&o.Active)
		margin := balanceMargin(mine, theirs)
		if mine > theirs+margin {
			ahead = true
		}
		if theirs > mine+margin {
			behind = true
		}
	}
	return ahead, behind
}

// Held reports whether this worker holds the lock (between a successful
// try and the end of the accept batch that follows the wait).
func (m *AcceptMutex) Held() bool { return m.held }

// release gives the lock back after the accept batch. The listeners stay
// in the epoll set until the next Tick fails to take it again.
func (m *AcceptMutex) release() {
	if m.held {
		m.held = false
		m.lock.Unlock(m.pid)
	}
}

// Stop releases the lock and stops competing: a worker that quits.
func (m *AcceptMutex) Stop() {
	m.stopped = true
	atomic.StoreUint64(&m.shm.Slot(m.slot).TryAt, 0)
	m.release()
	m.acc.disableShared()
}
