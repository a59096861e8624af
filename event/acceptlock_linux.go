//go:build linux

package event

import (
	"sync/atomic"
	"time"
)

// AcceptLock is nginx's accept mutex (ngx_shmtx with spin = -1) with a
// lease: a word in shared memory holding the pid of the worker that may
// poll the shared listening sockets (0 when nobody holds it) and the time
// its hold expires. It is only ever tried with a compare-and-swap, never
// waited for, so no worker blocks on another; because the word names its
// holder, the master can free it when it reaps a holder that died
// (ForceUnlock); and because the hold expires, a holder that stops
// renewing it — stopped, stuck in a blocking call, paused — loses it to
// the next worker that tries, instead of stalling every accept of every
// worker (nginx's lock has no expiry).
//
// The word is 64 bits, pid in the low half and expiry in the high half,
// so that taking, renewing and stealing are each one CAS: a separate
// expiry word could be read stale between another worker's CAS of the
// pid and its store of the expiry.
type AcceptLock struct {
	word *uint64
}

// The lease's expiry is in milliseconds of CLOCK_MONOTONIC (one clock
// for every process of the machine), modulo 2^32: it wraps every 49.7
// days, so an expiry counts as valid only from now to maxLease ahead,
// never by the sign of a wrapped difference alone.
const (
	leaseUnit = time.Millisecond
	// maxLease bounds any lease.
	maxLease = 30 * time.Second
)

// AcceptLock returns the shared accept lock.
func (s *Shared) AcceptLock() AcceptLock { return AcceptLock{word: s.lockWord()} }

func lockWord(pid int, expiry int64) uint64 {
	return uint64(uint32(expiry))<<32 | uint64(uint32(pid))
}

// leaseEnd is the expiry field of a lease from now (monotonic ns) for d,
// rounded up to the next unit.
func leaseEnd(now int64, d time.Duration) int64 {
	return (now + int64(d) + int64(leaseUnit) - 1) / int64(leaseUnit)
}

// live reports whether word w is held by someone whose lease has not
// expired at now (monotonic ns).
func live(w uint64, now int64) bool {
	if uint32(w) == 0 {
		return false
	}
	ahead := int64(uint32(w>>32) - uint32(now/int64(leaseUnit)))
	return ahead >= 0 && ahead <= int64(maxLease/leaseUnit)
}

// TryLock takes the lock for pid until now+lease (now on
// CLOCK_MONOTONIC, see Loop.Mono) if it is free, expired, or pid's
// already (a renewal), and reports whether pid holds it now.
func (l AcceptLock) TryLock(pid int, now int64, lease time.Duration) bool {
	lease = min(lease, maxLease)
	w := atomic.LoadUint64(l.word)
	// Load first: a CAS on a word another worker holds would take the
	// cache line exclusive for nothing.
	if uint32(w) != uint32(pid) && live(w, now) {
		return false
	}
	return atomic.CompareAndSwapUint64(l.word, w, lockWord(pid, leaseEnd(now, lease)))
}

// Unlock releases the lock if pid holds it (it may have lost it to
// another worker after its lease expired).
func (l AcceptLock) Unlock(pid int) bool {
	for {
		w := atomic.LoadUint64(l.word)
		if uint32(w) != uint32(pid) || pid == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(l.word, w, 0) {
			return true
		}
	}
}

// ForceUnlock frees the lock of a worker that died holding it. The master
// calls it right after wait4 reaped pid, before the pid can be reused,
// so it cannot free a live process's lock (nginx's
// ngx_shmtx_force_unlock). It reports whether pid held the lock.
func (l AcceptLock) ForceUnlock(pid int) bool { return l.Unlock(pid) }

// Remaining is how long the lease held now (monotonic ns) has left, 0
// when the lock is free or its lease expired.
func (l AcceptLock) Remaining(now int64) time.Duration {
	w := atomic.LoadUint64(l.word)
	if !live(w, now) {
		return 0
	}
	ahead := int64(uint32(w>>32) - uint32(now/int64(leaseUnit)))
	return time.Duration(ahead)*leaseUnit + leaseUnit - time.Duration(now%int64(leaseUnit))
}

// Holder is the pid holding the lock, 0 when free. A holder whose lease
// expired is still named until another worker takes the lock.
func (l AcceptLock) Holder() int { return int(uint32(atomic.LoadUint64(l.word))) }

// AcceptMutex runs nginx's accept-mutex algorithm on one worker's loop
// (ngx_process_events_and_timers, ngx_trylock_accept_mutex):
//
//   - before each wait (a Ticker), a worker that can accept — not paused
//     for lack of descriptors, not full (AcceptHandler.Full), not above
//     7/8 of worker_connections (Acceptor.Disabled <= 0) — tries the
//     lock; the holder puts the shared listening sockets in its epoll
//     set and caps its wait at half its lease, so that it renews the
//     lease in time even with nothing to do; any other takes them out
//     and caps its wait at Delay (or the holder's lease, if sooner), so
//     that it tries again soon;
//   - after the wait, the holder first accepts on every ready listening
//     socket, then releases the lock, then handles the other events: the
//     lock covers one wait and its accept batch, and other workers can
//     take it while this one serves what it accepted.
//
// So at most one process sleeps on the shared sockets and a connection
// wakes one worker, not all of them (the thundering herd). Listeners a
// worker owns alone (reuseport) are never taken out of its set.
//
// Where tern differs: each hold is a lease of Delay/2 (see leaseFor). A
// holder that stops renewing it — SIGSTOP, a blocking call, a long pause
// — loses it once it expires to the next worker that tries, and the
// others try when the lease they saw runs out, so accepting resumes
// within about Delay/2; nginx's lock stays with a stopped holder and
// nobody accepts until it runs again. If the old holder comes
// back while another holds the lock, it may finish the accept batch of
// the wait it was in: two workers accepting from one socket is safe, and
// its release then fails, the lock being another's.
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
	if !m.acc.canAccept() {
		// Paused at EMFILE/ENFILE, or full: whatever it accepted it
		// would close at once, so it leaves the lock to the others,
		// who stop counting it as a competitor.
		atomic.StoreUint64(&m.shm.Slot(m.slot).TryAt, 0)
		m.acc.disableShared()
		m.loop.CapWait(m.Delay)
		return
	}
	ahead, behind, roomElsewhere := m.balance()
	if ahead || m.acc.Disabled > 0 && roomElsewhere {
		// Let a less busy worker take the next connections. Above
		// 7/8 of worker_connections, any competing worker with
		// fewer connections is less busy: where the balance margin
		// would let this one take the lock, it would soon have to
		// close idle keep-alive connections to make room.
		m.acc.disableShared()
		m.loop.CapWait(m.Delay)
		return
	}
	lease := leaseFor(m.Delay)
	now := m.loop.Mono()
	if m.lock.TryLock(m.pid, now, lease) {
		m.held = true
		m.acc.enableShared()
		// Wake up to renew before the lease runs out.
		m.loop.CapWait(lease / 2)
		return
	}
	m.acc.disableShared()
	if behind {
		m.loop.CapWait(behindRetry)
		return
	}
	// Try again after Delay, or as soon as the holder's lease runs out
	// if it does not renew it: a stopped holder loses the lock within
	// one lease.
	m.loop.CapWait(min(m.Delay, m.lock.Remaining(now)+time.Millisecond))
}

// minLease is the shortest lease: a few of the lock's time units, so that
// rounding cannot expire a lease before its holder renews it.
const minLease = 4 * leaseUnit

// leaseFor is the lease a holder takes with accept_mutex_delay d: half of
// d. A worker without the lock tries again when the lease it saw runs
// out, so it finds an abandoned lock expired within d/2 of its holder's
// last renewal, and a live holder's every d/2 at most.
func leaseFor(d time.Duration) time.Duration { return min(max(d/2, minLease), maxLease) }

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
// connections with those of the workers that tried recently: ahead and
// behind by more than balanceMargin, and roomElsewhere when one with
// fewer connections tried within competeWindow.
func (m *AcceptMutex) balance() (ahead, behind, roomElsewhere bool) {
	now := uint64(m.loop.Wall().UnixNano())
	me := m.shm.Slot(m.slot)
	atomic.StoreUint64(&me.TryAt, now)
	mine := atomic.LoadUint64(&me.Active)
	window := uint64(m.competeWindow())
	n := int(atomic.LoadUint64(&m.shm.header().InUse))
	for i := 0; i < n && i < MaxSlots; i++ {
		if i == m.slot {
			continue
		}
		o := m.shm.Slot(i)
		at := atomic.LoadUint64(&o.TryAt)
		if at == 0 || now-at > window && at < now {
			continue
		}
		theirs := atomic.LoadUint64(&o.Active)
		if theirs < mine {
			roomElsewhere = true
		}
		if now-at > uint64(staleAfter) && at < now {
			continue
		}
		margin := balanceMargin(mine, theirs)
		if mine > theirs+margin {
			ahead = true
		}
		if theirs > mine+margin {
			behind = true
		}
	}
	return ahead, behind, roomElsewhere
}

// competeWindow is how recently a worker must have tried the lock to
// count as competing for roomElsewhere: a worker that is not behind tries
// every Delay, one that stopped trying (paused, full, stopped, exiting)
// drops out after two of them.
func (m *AcceptMutex) competeWindow() time.Duration { return 2*m.Delay + staleAfter }

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
