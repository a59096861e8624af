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

func TestSipHash(t *testing.T) {
	// The paper's test vector (appendix A): key 00..0f, message 00..0e.
	var msg []byte
	for i := 0; i < 15; i++ {
		msg = append(msg, byte(i))
	}
	if got := sipHash(0x0706050403020100, 0x0f0e0d0c0b0a0908, msg); got != 0xa129ca6149be45e5 {
		t.Errorf("SipHash-2-4 = %#x, want 0xa129ca6149be45e5", got)
	}
	if sipHash(1, 2, nil) == sipHash(1, 3, nil) {
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
