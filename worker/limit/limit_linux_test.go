//go:build linux

package limit

import (
	"fmt"
	"testing"
	"time"

	"tern/conf"
	"tern/event"
)

func newZone(t *testing.T, name string, kind conf.ZoneKind, rate int64, size int64) *Zone {
	t.Helper()
	tb, err := event.NewTable(name, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return NewZone(&conf.LimitZone{Name: name, Kind: kind, Rate: rate, Size: size}, tb)
}

// TestReqBurst: 10r/s burst=5 nodelay: the first request and five more
// pass at once, the rest are refused; the bucket leaks one request every
// 100 ms.
func TestReqBurst(t *testing.T) {
	z := newZone(t, "one", conf.ZoneReq, 10000, event.MinTableSize)
	limits := []conf.LimitReq{{Zone: z.Conf, Burst: 5000, Delay: conf.NoDelay}}
	zones := []*Zone{z}
	key := [][]byte{[]byte("client")}
	var got []Status
	for i := 0; i < 10; i++ {
		got = append(got, Req(limits, zones, key, 1000).Status)
	}
	want := []Status{Passed, Passed, Passed, Passed, Passed, Passed, Rejected, Rejected, Rejected, Rejected}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("burst at one instant: %v, want %v", got, want)
	}
	// 100 ms later one more; 250 ms after that two more.
	if o := Req(limits, zones, key, 1100); o.Status != Passed {
		t.Errorf("after 100 ms: %v", o.Status)
	}
	if o := Req(limits, zones, key, 1100); o.Status != Rejected || o.Excess != 6000 || o.Zone != z.Conf {
		t.Errorf("again at once: %+v", o)
	}
	if a, b, c := Req(limits, zones, key, 1350), Req(limits, zones, key, 1350), Req(limits, zones, key, 1350); a.Status != Passed || b.Status != Passed || c.Status != Rejected {
		t.Errorf("after 250 ms more: %v %v %v", a.Status, b.Status, c.Status)
	}
	// Another key has its own bucket.
	if o := Req(limits, zones, [][]byte{[]byte("other")}, 1350); o.Status != Passed {
		t.Errorf("another key: %v", o.Status)
	}
	// An empty key is not limited.
	if o := Req(limits, zones, [][]byte{nil}, 1350); o.Status != None {
		t.Errorf("an empty key: %v", o.Status)
	}
}

// TestReqDelay: without nodelay, a request over the rate waits until its
// turn; delay=N lets N through at once first.
func TestReqDelay(t *testing.T) {
	z := newZone(t, "d", conf.ZoneReq, 10000, event.MinTableSize)
	zones := []*Zone{z}
	key := [][]byte{[]byte("k")}
	limits := []conf.LimitReq{{Zone: z.Conf, Burst: 5000}}
	var delays []time.Duration
	for i := 0; i < 7; i++ {
		o := Req(limits, zones, key, 0)
		delays = append(delays, o.Delay)
		if i < 6 && o.Status != Passed && o.Status != Delayed || i == 6 && o.Status != Rejected {
			t.Errorf("%d: %v", i, o.Status)
		}
	}
	want := []time.Duration{0, 100, 200, 300, 400, 500, 0}
	for i := range want {
		if delays[i] != want[i]*time.Millisecond {
			t.Errorf("delays %v, want %v ms", delays, want)
			break
		}
	}
	z2 := newZone(t, "d2", conf.ZoneReq, 10000, event.MinTableSize)
	limits = []conf.LimitReq{{Zone: z2.Conf, Burst: 5000, Delay: 2000}}
	delays = delays[:0]
	for i := 0; i < 5; i++ {
		delays = append(delays, Req(limits, []*Zone{z2}, key, 0).Delay)
	}
	if fmt.Sprint(delays) != fmt.Sprint([]time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Errorf("delay=2: %v", delays)
	}
}

// TestReqTwoZones: a request counts in every zone; a refusal by one
// leaves the others as they were (nginx's reserve, account, unlock).
func TestReqTwoZones(t *testing.T) {
	a := newZone(t, "a", conf.ZoneReq, 1000, event.MinTableSize)
	b := newZone(t, "b", conf.ZoneReq, 1000, event.MinTableSize)
	limits := []conf.LimitReq{{Zone: a.Conf, Burst: 3000, Delay: conf.NoDelay}, {Zone: b.Conf, Burst: 1000, Delay: conf.NoDelay}}
	zones := []*Zone{a, b}
	keys := [][]byte{[]byte("k"), []byte("k")}
	var got []Status
	for i := 0; i < 4; i++ {
		got = append(got, Req(limits, zones, keys, 5000000).Status)
	}
	// b (burst 1) refuses the third; a counted only what passed.
	if fmt.Sprint(got) != fmt.Sprint([]Status{Passed, Passed, Rejected, Rejected}) {
		t.Errorf("%v", got)
	}
	a.t.Lock()
	e, _ := a.t.Get([]byte("k"))
	w := a.t.Words(e)
	a.t.Unlock()
	if w[wCount] != 0 {
		t.Errorf("zone a holds %d reservations after the refusals", w[wCount])
	}
	// nginx: a's first accounting of a reserved new key starts empty.
	if w[wExcess] != 1000 {
		t.Errorf("zone a's excess %d, want 1000", w[wExcess])
	}
}

// TestReqEviction: a full zone evicts its least recently used key
// rather than refuse a new one; idle empty keys go on lookups.
func TestReqEviction(t *testing.T) {
	z := newZone(t, "small", conf.ZoneReq, 1000, event.MinTableSize)
	limits := []conf.LimitReq{{Zone: z.Conf, Burst: 0, Delay: conf.NoDelay}}
	zones := []*Zone{z}
	n := z.t.Cap()
	for i := 0; i < n; i++ {
		if o := Req(limits, zones, [][]byte{[]byte(fmt.Sprint("k", i))}, 0); o.Status != Passed {
			t.Fatalf("key %d: %v", i, o.Status)
		}
	}
	if z.t.Len() != n {
		t.Fatalf("%d keys of %d", z.t.Len(), n)
	}
	// Full: a new key evicts the oldest (k0), not refused.
	if o := Req(limits, zones, [][]byte{[]byte("new")}, 0); o.Status != Passed || o.Full {
		t.Fatalf("a new key in a full zone: %+v", o)
	}
	z.t.Lock()
	_, k0 := z.t.Get([]byte("k0"))
	_, k1 := z.t.Get([]byte("k1"))
	z.t.Unlock()
	if k0 || !k1 {
		t.Errorf("k0 kept %v, k1 kept %v: want the least recently used evicted", k0, k1)
	}
	// A minute later the idle, empty keys expire two by two on lookups.
	before := z.t.Len()
	Req(limits, zones, [][]byte{[]byte("later")}, 61000)
	if after := z.t.Len(); after != before-1 {
		t.Errorf("%d keys after a lookup a minute later, want %d (two expired, one added)", after, before-1)
	}
}

func TestConn(t *testing.T) {
	z := newZone(t, "c", conf.ZoneConn, 0, event.MinTableSize)
	key := []byte("192.0.2.1")
	e1, ok1, _ := z.Conn(key, 2)
	e2, ok2, _ := z.Conn(key, 2)
	_, ok3, full := z.Conn(key, 2)
	if !ok1 || !ok2 || ok3 || full {
		t.Fatalf("conn 1..3: %v %v %v full=%v", ok1, ok2, ok3, full)
	}
	z.Release(e1)
	e3, ok, _ := z.Conn(key, 2)
	if !ok {
		t.Fatal("a released one is not free again")
	}
	z.Release(e2)
	z.Release(e3)
	if z.t.Len() != 0 {
		t.Errorf("%d entries after every release, want 0", z.t.Len())
	}
	// A full zone refuses a new key.
	for i := 0; i < z.t.Cap(); i++ {
		if _, ok, _ := z.Conn([]byte(fmt.Sprint(i)), 1); !ok {
			t.Fatalf("key %d refused", i)
		}
	}
	if _, ok, full := z.Conn([]byte("one more"), 1); ok || !full {
		t.Errorf("a new key in a full zone: ok=%v full=%v", ok, full)
	}
}

func TestReqDoesNotAllocate(t *testing.T) {
	z := newZone(t, "one", conf.ZoneReq, 10000, event.MinTableSize)
	limits := []conf.LimitReq{{Zone: z.Conf, Burst: 5000, Delay: conf.NoDelay}}
	zones := []*Zone{z}
	keys := [][]byte{{192, 0, 2, 1}}
	now := int64(0)
	if n := testing.AllocsPerRun(100, func() { now += 1000; Req(limits, zones, keys, now) }); n != 0 {
		t.Errorf("Req allocates %v times", n)
	}
}
