//go:build linux

package event

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestAcceptLock(t *testing.T) {
	l := newShared(t).AcceptLock()
	const lease = 100 * time.Millisecond
	now := int64(time.Hour) // any point on the monotonic clock
	if !l.TryLock(100, now, lease) || !l.TryLock(100, now, lease) || l.TryLock(200, now, lease) || l.Holder() != 100 {
		t.Fatal("trylock")
	}
	if l.Unlock(200) || l.Holder() != 100 {
		t.Fatal("another pid unlocked it")
	}
	if l.ForceUnlock(300) || !l.ForceUnlock(100) || l.Holder() != 0 {
		t.Fatal("force unlock")
	}
	if !l.TryLock(200, now, lease) || !l.Unlock(200) {
		t.Fatal("relock")
	}
}

// TestAcceptLockLease: a hold lasts its lease, is renewed by its holder,
// and is taken over once it expired; a wrapped or corrupt expiry too far
// ahead counts as expired.
func TestAcceptLockLease(t *testing.T) {
	l := newShared(t).AcceptLock()
	const lease = 100 * time.Millisecond
	ms := int64(time.Millisecond)
	for i, now := range []int64{ms, int64(time.Hour), (1<<32 - 50) * ms} { // the last wraps during the lease
		atomicStore(l, 0)
		steps := []struct {
			pid  int
			at   int64 // ms after now
			want bool
		}{
			{100, 0, true},
			{200, 50, false},   // held
			{100, 60, true},    // renewed until 160
			{200, 150, false},  // still held
			{200, 161, true},   // expired: taken over
			{100, 170, false},  // the old holder lost it
			{200, 1000, true},  // its own, expired: renewed
			{100, 1050, false}, // held again
		}
		for j, st := range steps {
			if got := l.TryLock(st.pid, now+st.at*ms, lease); got != st.want {
				t.Fatalf("start %d step %d: TryLock(%d) at +%dms = %v, want %v", i, j, st.pid, st.at, got, st.want)
			}
		}
		if l.Unlock(100) || !l.Unlock(200) || l.Holder() != 0 {
			t.Fatalf("start %d: unlock", i)
		}
	}
	// An expiry further ahead than any lease (a wrapped clock, or the
	// expiry of a holder stopped for 49.7 days) is not honoured.
	now := int64(time.Hour)
	atomicStore(l, lockWord(300, leaseEnd(now, maxLease+time.Second)))
	if !l.TryLock(400, now, lease) || l.Holder() != 400 {
		t.Fatal("an expiry beyond maxLease was honoured")
	}
}

// TestSharedAcrossMappings: a second mapping of the same memfd (what a
// worker does after exec) sees the first one's writes, and Sum adds up the
// slots, keeping cumulative counters and dropping gauges on Vacate.
func TestSharedAcrossMappings(t *testing.T) {
	s, err := NewShared()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Occupy(0, 10)
	s.Occupy(3, 13)
	a, b := s.Slot(0), s.Slot(3)
	Inc(&a.Accepts)
	Add(&b.Accepts, 4)
	Inc(&a.Active)
	Inc(&b.Active)
	Inc(&b.Writing)
	Inc(&a.Status[StatusClass(404)])
	Inc(&a.Hist[HistBucket(7*time.Millisecond)])
	Add(&b.BytesSent, 1000)
	t2, err := mapShared(s.FD())
	if err != nil {
		t.Fatal(err)
	}
	sum := t2.Sum()
	if sum.Accepts != 5 || sum.Active != 2 || sum.Writing != 1 || sum.Waiting() != 1 ||
		sum.Status[Status4xx] != 1 || sum.Hist[1] != 1 || sum.BytesSent != 1000 || sum.PID != 0 {
		t.Fatalf("%+v", sum)
	}
	s.Vacate(3)
	sum = t2.Sum()
	if sum.Accepts != 5 || sum.Active != 1 || sum.Writing != 0 || s.Slot(3).PID != 0 {
		t.Fatalf("after vacate %+v", sum)
	}
	if _, err := MapShared(-1); err == nil {
		t.Fatal("mapped fd -1")
	}
}

func TestHistBucket(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int
	}{{0, 0}, {5 * time.Millisecond, 0}, {6 * time.Millisecond, 1}, {time.Second, 7}, {11 * time.Second, 11},
		{time.Hour, len(HistBounds) - 1}, {time.Hour + 1, len(HistBounds)}}
	for i, c := range cases {
		if got := HistBucket(c.d); got != c.want {
			t.Errorf("%d: %v → %d, want %d", i, c.d, got, c.want)
		}
	}
}

func atomicStore(l AcceptLock, w uint64) { atomic.StoreUint64(l.word, w) }

// newShared makes shared memory that the test's cleanup unmaps.
func newShared(t *testing.T) *Shared {
	t.Helper()
	s, err := NewShared()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCounters: the twelve counter updates of one HTTP/1.1 request
// (connection states, status, bytes, time, histogram, server codes).
func BenchmarkCounters(b *testing.B) {
	var c Counters
	var s ServerCounters
	for b.Loop() {
		Inc(&c.Reading)
		Inc(&c.Requests)
		Dec(&c.Reading)
		Inc(&c.Writing)
		Dec(&c.Writing)
		Inc(&c.Status[2])
		Add(&c.BytesSent, 1200)
		Add(&c.RequestTimeMicros, 3)
		Inc(&c.Hist[1])
		Inc(&s.Codes[3])
		Add(&s.BytesSent, 1200)
		Add(&s.BytesReceived, 80)
	}
}
