//go:build linux

package event

import (
	"testing"
	"time"
)

func TestAcceptLock(t *testing.T) {
	s, err := NewShared()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.AcceptLock()
	if !l.TryLock(100) || !l.TryLock(100) || l.TryLock(200) || l.Holder() != 100 {
		t.Fatal("trylock")
	}
	if l.Unlock(200) || l.Holder() != 100 {
		t.Fatal("another pid unlocked it")
	}
	if l.ForceUnlock(300) || !l.ForceUnlock(100) || l.Holder() != 0 {
		t.Fatal("force unlock")
	}
	if !l.TryLock(200) || !l.Unlock(200) {
		t.Fatal("relock")
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
	}{{0, 0}, {5 * time.Millisecond, 0}, {6 * time.Millisecond, 1}, {time.Second, 7}, {11 * time.Second, len(HistBounds)}}
	for i, c := range cases {
		if got := HistBucket(c.d); got != c.want {
			t.Errorf("%d: %v → %d, want %d", i, c.d, got, c.want)
		}
	}
}
