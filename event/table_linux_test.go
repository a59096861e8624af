//go:build linux

package event

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSipHash13 checks the reference implementation's vectors
// (github.com/veorq/SipHash, as Rust's core::hash tests carry them): key
// 00..0f, message 00..(n-1).
func TestSipHash13(t *testing.T) {
	want := map[int]uint64{0: 0xabac0158050fc4dc, 1: 0xc9f49bf37d57ca93, 4: 0xcf75576088d38328,
		7: 0xd3927d989bb11140, 8: 0x369095118d299a8e, 15: 0xd320d86d2a519956, 16: 0xcc4fdd1a7d908b66,
		20: 0xc0dc2f46a6cce040, 63: 0x9d199062b7bbb3a8}
	var msg [64]byte
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, w := range want {
		if got := sipHash13(0x0706050403020100, 0x0f0e0d0c0b0a0908, msg[:n]); got != w {
			t.Errorf("%d bytes: SipHash-1-3 = %#x, want %#x", n, got, w)
		}
	}
	if sipHash13(1, 2, nil) == sipHash13(1, 3, nil) {
		t.Error("the key does not change the hash")
	}
}

func newTestTable(t *testing.T, size int64) *Table {
	t.Helper()
	tb, err := NewTable("test", size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// mapAgain maps tb's memory a second time, as another worker would.
func mapAgain(t *testing.T, tb *Table) *Table {
	t.Helper()
	fd, err := unix.Dup(tb.FD())
	if err != nil {
		t.Fatal(err)
	}
	other, err := MapTable(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

func TestTable(t *testing.T) {
	tb := newTestTable(t, MinTableSize)
	other := mapAgain(t, tb)
	n := tb.Cap()
	if n < 64 {
		t.Fatalf("a minimal table holds %d entries", n)
	}
	long := bytes.Repeat([]byte("k"), 100)
	keys := [][]byte{[]byte("a"), {}, []byte("192.0.2.1\x00"), long, append(append([]byte{}, long...), 'x')}
	for i, k := range keys {
		if _, ok := tb.Get(k); ok {
			t.Fatalf("%d: %q found before Put", i, k)
		}
		e, ok := tb.Put(k)
		if !ok {
			t.Fatal("Put failed")
		}
		tb.Words(e)[0] = uint64(i + 1)
	}
	// The other mapping sees them; a long key and its extension differ.
	for i, k := range keys {
		e, ok := other.Get(k)
		if !ok || other.Words(e)[0] != uint64(i+1) {
			t.Errorf("%d: %q through the other mapping: %v %v", i, trunc(k), ok, e)
		}
	}
	// Get moved each to the newest end in turn: the oldest is keys[0].
	if e, _ := tb.Oldest(); tb.Words(e)[0] != 1 {
		t.Errorf("oldest has %d", tb.Words(e)[0])
	}
	e, _ := tb.Get(keys[0])
	if o, _ := tb.Oldest(); o == e {
		t.Error("Get did not make the entry the newest")
	}
	tb.Remove(e)
	if _, ok := tb.Get(keys[0]); ok || tb.Len() != len(keys)-1 {
		t.Errorf("after Remove: found, %d in use", tb.Len())
	}
	// Fill it; the next Put fails; a Remove makes room again.
	for i := tb.Len(); i < n; i++ {
		if _, ok := tb.Put([]byte(fmt.Sprint("fill", i))); !ok {
			t.Fatalf("Put %d of %d failed", i, n)
		}
	}
	if _, ok := tb.Put([]byte("one too many")); ok {
		t.Fatal("Put into a full table")
	}
	o, _ := tb.Oldest()
	tb.Remove(o)
	if _, ok := tb.Put([]byte("one too many")); !ok {
		t.Fatal("Put after a Remove failed")
	}
	// Walk from the oldest to the newest: every entry once.
	seen := 0
	for e, ok := tb.Oldest(); ok; e, ok = tb.Newer(e) {
		seen++
	}
	if seen != n {
		t.Errorf("the recently-used list has %d entries, want %d", seen, n)
	}
}

// TestTableRecentlyUsed: Get and GetOrPut keep the recently-used order,
// whether the entry they find is the newest already or not.
func TestTableRecentlyUsed(t *testing.T) {
	tb := newTestTable(t, MinTableSize)
	keys := []string{"a", "b", "c"}
	for _, k := range keys {
		if _, added, ok := tb.GetOrPut([]byte(k)); !added || !ok {
			t.Fatalf("GetOrPut(%q) of a new key: added %v, ok %v", k, added, ok)
		}
	}
	order := func() string {
		var s []byte
		for e, ok := tb.Oldest(); ok; e, ok = tb.Newer(e) {
			s = append(s, tb.entries[e].key[0])
		}
		return string(s)
	}
	steps := []struct {
		get, want string
	}{
		{"c", "abc"}, // the newest already
		{"c", "abc"},
		{"a", "bca"}, // the oldest
		{"c", "bac"}, // in the middle
		{"b", "acb"},
		{"b", "acb"},
	}
	for i, s := range steps {
		e, added, ok := tb.GetOrPut([]byte(s.get))
		if added || !ok || tb.entries[e].key[0] != s.get[0] {
			t.Fatalf("%d: GetOrPut(%q): entry %d, added %v, ok %v", i, s.get, e, added, ok)
		}
		if got := order(); got != s.want {
			t.Errorf("%d: after GetOrPut(%q) the order is %q, want %q", i, s.get, got, s.want)
		}
		tb.Get([]byte(s.get))
		if got := order(); got != s.want {
			t.Errorf("%d: after Get(%q) the order is %q, want %q", i, s.get, got, s.want)
		}
	}
	// A full table: GetOrPut finds what is there and refuses the rest.
	for i := tb.Len(); i < tb.Cap(); i++ {
		tb.Put([]byte(fmt.Sprint("fill", i)))
	}
	if _, _, ok := tb.GetOrPut([]byte("b")); !ok {
		t.Error("GetOrPut of a key in a full table failed")
	}
	if e, added, ok := tb.GetOrPut([]byte("new")); ok || added || e != -1 {
		t.Errorf("GetOrPut of a new key in a full table: %d %v %v", e, added, ok)
	}
}

func trunc(b []byte) string {
	s := string(b)
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// TestTableLock: two mappings increment one counter under the lock.
func TestTableLock(t *testing.T) {
	tb := newTestTable(t, MinTableSize)
	e, _ := tb.Put([]byte("counter"))
	tables := []*Table{tb, mapAgain(t, tb)}
	const rounds = 20000
	var wg sync.WaitGroup
	for _, m := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				m.Lock()
				w := m.Words(e)
				w[0]++
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	if got := tb.Words(e)[0]; got != 2*rounds {
		t.Errorf("counter %d, want %d", got, 2*rounds)
	}
	// A dead holder's lock is freed by pid only.
	tb.Lock()
	if tb.ForceUnlock(int(tb.pid) + 1) {
		t.Error("ForceUnlock freed another pid's lock")
	}
	if !tb.ForceUnlock(int(tb.pid)) {
		t.Error("ForceUnlock did not free the holder's lock")
	}
}

func TestTableMapChecks(t *testing.T) {
	if _, err := NewTable("small", MinTableSize-1); err == nil {
		t.Error("a table under MinTableSize")
	}
	fd, _ := unix.MemfdCreate("junk", unix.MFD_CLOEXEC)
	unix.Ftruncate(fd, MinTableSize)
	if _, err := MapTable(fd); err == nil || !strings.Contains(err.Error(), "layout") {
		t.Errorf("a memfd of zeros mapped as a table: %v", err)
	}
	tb := newTestTable(t, 1<<20)
	if !CompatibleTable(tb.FD(), 1<<20) || CompatibleTable(tb.FD(), 2<<20) {
		t.Error("CompatibleTable")
	}
	entries, buckets := tableGeometry(10 << 20)
	t.Logf("10 MiB: %d entries, %d buckets", entries, buckets)
	if entries < 150000 {
		t.Errorf("10 MiB hold only %d entries", entries)
	}
}

func TestTableGetDoesNotAllocate(t *testing.T) {
	tb := newTestTable(t, MinTableSize)
	key := []byte{192, 0, 2, 1}
	tb.Put(key)
	long := bytes.Repeat([]byte("k"), 100)
	tb.Put(long)
	if n := testing.AllocsPerRun(100, func() { tb.Get(key); tb.Get(long) }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}

// BenchmarkTableGet is limit_req's lookup of a client in a 10 MiB zone
// holding a thousand others: lock, hash, chain, recently-used list.
func BenchmarkTableGet(b *testing.B) {
	tb, err := NewTable("bench", 10<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	for i := 0; i < 1000; i++ {
		tb.Put([]byte{10, 0, byte(i >> 8), byte(i)})
	}
	key := []byte{127, 0, 0, 1}
	tb.Put(key)
	b.ReportAllocs()
	for b.Loop() {
		tb.Lock()
		if _, ok := tb.Get(key); !ok {
			b.Fatal("lost the key")
		}
		tb.Unlock()
	}
}

// BenchmarkTableAddRemove is limit_conn's count of a request: its
// client's entry is made when the request starts and removed when it
// ends.
func BenchmarkTableAddRemove(b *testing.B) {
	tb, err := NewTable("bench", 10<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	for i := 0; i < 1000; i++ {
		tb.Put([]byte{10, 0, byte(i >> 8), byte(i)})
	}
	key := []byte{127, 0, 0, 1}
	b.ReportAllocs()
	for b.Loop() {
		tb.Lock()
		e, ok := tb.Get(key)
		if !ok {
			e, _ = tb.Put(key)
		}
		tb.Unlock()
		tb.Lock()
		tb.Remove(e)
		tb.Unlock()
	}
}

func BenchmarkSipHash13(b *testing.B) {
	key := []byte{127, 0, 0, 1}
	var sum uint64
	for b.Loop() {
		sum += sipHash13(1, 2, key)
	}
	if sum == 42 {
		b.Log(sum)
	}
}
