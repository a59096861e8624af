//go:build linux

package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestTLSServesRequests(t *testing.T) {
	r := newTLSRig(t, "", nil)
	resp := r.get(t, "GET /1k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", 0)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 OK\r\n")) {
		t.Fatalf("response %q", resp)
	}
	head, body, _ := bytes.Cut(resp, []byte("\r\n\r\n"))
	for len(body) < 1024 {
		more := r.get(t, "", 0)
		body = append(body, more...)
	}
	if len(body) != 1024 || !bytes.Contains(head, []byte("Content-Length: 1024")) {
		t.Fatalf("head %q, %d body bytes", head, len(body))
	}
	// A large file goes through memory: read, encrypted, written.
	req := "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
	resp = r.get(t, req, 1<<20+200)
	i := bytes.Index(resp, []byte("\r\n\r\n"))
	if i < 0 || !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 OK")) {
		t.Fatalf("big response %q", resp[:min(len(resp), 300)])
	}
	if n := len(resp) - i - 4; n < 1<<20 {
		resp = append(resp, r.get(t, "", 1<<20-n)...)
	}
	if len(resp)-i-4 != 1<<20 || bytes.Count(resp[i+4:], []byte("x")) != 1<<20 {
		t.Fatalf("big body: %d bytes", len(resp)-i-4)
	}
}

// TestTLSCachedRequestAllocs is TestCachedRequestAllocs over TLS: a
// keep-alive request for a cached small file allocates nothing. crypto/tls's
// Conn.Read allocates whenever it reads from its transport
// (TestReadAllocatesOnce in worker/ssl pins that), so ssl.Conn reads the
// socket into crypto/tls's buffer itself first (ssl.Conn.fill), and
// crypto/tls finds the request's record whole. It allocated once before
// fill.
func TestTLSCachedRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector (sync.Pool drops at random)")
	}
	r := newTLSRig(t, "", nil)
	req := []byte("GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	// Learn the size of the encrypted response, and warm everything up:
	// crypto/tls grows its record size (and buffers) over the first
	// 128 KiB a connection sends.
	var wire int
	for i := 0; i < 300; i++ {
		r.client.Write(req)
		if i < 2 {
			wire = r.cc.serveAll() // the first response brings a session ticket
		} else {
			r.cc.serve(wire)
		}
		r.drain(t)
	}
	// No collection meanwhile: it would empty crypto/tls's sync.Pool of
	// record buffers, whose refill is not the request's doing.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const runs = 200
	var m0, m1 runtime.MemStats
	var total uint64
	for i := 0; i < runs; i++ {
		runtime.ReadMemStats(&m0)
		r.client.Write(req) // crypto/tls writes without allocating
		r.cc.serve(wire)
		runtime.ReadMemStats(&m1)
		total += m1.Mallocs - m0.Mallocs
		r.drain(t)
	}
	// Rounded down, as testing.AllocsPerRun: the runtime allocates now
	// and then on its own (timers, the scavenger).
	if per := total / runs; per > 0 {
		t.Fatalf("%d allocations per cached request over TLS (%d in %d), want 0", per, total, runs)
	}
}

// drain decrypts the captured response.
func (r *tlsRig) drain(t *testing.T) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for r.cc.captured.Len() > 0 {
		if _, err := r.client.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTLSColdFileThroughPool: over TLS a file evicted from the page cache
// is read on a pool thread (the chunks not cached yet) and encrypted on
// the loop, byte-exact; once cached, it is read inline, with no thread
// hop.
func TestTLSColdFileThroughPool(t *testing.T) {
	r := newTLSRig(t, "", nil)
	path := filepath.Join(r.dir, "cold.bin")
	data := writeRandom(t, path, 2<<20)
	if !evict(t, path) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	req := "GET /cold.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
	fetch := func() []byte {
		resp := r.get(t, req, len(data)+200)
		_, body := splitResponse(t, resp)
		for len(body) < len(data) {
			body = append(body, r.get(t, "", len(data)-len(body))...)
		}
		return body
	}
	if body := fetch(); !bytes.Equal(body, data) {
		t.Fatalf("cold: %d bytes, equal %v", len(body), bytes.Equal(body, data))
	}
	stats := r.w.env.Stats
	if stats.OffloadedSends == 0 {
		t.Fatalf("cold file over TLS: no read offloaded: %+v", stats)
	}
	// Each chunk is asked on its own: those that the pool's reads had
	// the kernel read ahead go inline.
	t.Logf("cold: %d chunks read on the pool, %d inline", stats.OffloadedSends, stats.InlineSends)
	if _, err := os.ReadFile(path); err != nil { // wholly cached now
		t.Fatal(err)
	}
	before := stats.OffloadedSends
	if body := fetch(); !bytes.Equal(body, data) {
		t.Fatal("second fetch differs")
	}
	if s := r.w.env.Stats; s.OffloadedSends != before || s.InlineSends == 0 {
		t.Fatalf("a cached file over TLS hopped to a thread: %+v", s)
	}
}
