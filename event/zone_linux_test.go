//go:build linux

package event

import (
	"bytes"
	"sync"
	"testing"
)

func TestZoneBlob(t *testing.T) {
	z, err := NewZone("test", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	b := z.Blob(64, 256)
	if b.Cap() != 240 || len(b.Load(nil)) != 0 {
		t.Fatalf("cap %d, empty load %q", b.Cap(), b.Load(nil))
	}
	for _, v := range [][]byte{[]byte("a"), bytes.Repeat([]byte("xy"), 120), []byte("0123456789abcdef0")} {
		b.Store(v)
		if got := b.Load(nil); !bytes.Equal(got, v) {
			t.Fatalf("stored %q, loaded %q", v, got)
		}
	}
	// Another mapping of the same memfd (a worker) sees the value.
	other, err := MapZone(z.FD())
	if err != nil {
		t.Fatal(err)
	}
	if got := other.Blob(64, 256).Load(nil); string(got) != "0123456789abcdef0" {
		t.Fatalf("the other mapping loads %q", got)
	}
}

// TestZoneBlobConsistent: a reader never sees half of one value and half
// of another (run it with -race too).
func TestZoneBlobConsistent(t *testing.T) {
	z, err := NewZone("test", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	b := z.Blob(0, 4096)
	vals := [][]byte{bytes.Repeat([]byte{1}, 160), bytes.Repeat([]byte{2}, 240), bytes.Repeat([]byte{3}, 80)}
	b.Store(vals[0])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b.Store(vals[i%len(vals)])
		}
	}()
	buf := make([]byte, 0, 4096)
	for i := 0; i < 20000; i++ {
		got := b.Load(buf)
		ok := false
		for _, v := range vals {
			ok = ok || bytes.Equal(got, v)
		}
		if !ok {
			close(stop)
			wg.Wait()
			t.Fatalf("torn read: %d bytes starting %x", len(got), got[:min(len(got), 8)])
		}
	}
	close(stop)
	wg.Wait()
}
