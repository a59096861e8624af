//go:build linux

package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// pathRig is a worker serving one end of a socketpair, driven by hand: the
// whole request path (epoll, read, parse, route, small-file cache, header
// filter, writev) without a network.
type pathRig struct {
	w      *Worker
	client int
	resp   []byte
}

func newPathRig(tb testing.TB, accessLog string) *pathRig {
	return newPathRigWith(tb, accessLog, "")
}

// newPathRigWith is newPathRig with extra lines in the server block; the
// root also has d/index.html (1 KiB) and big.bin (1 MiB).
func newPathRigWith(tb testing.TB, accessLog, server string) *pathRig {
	tb.Helper()
	dir := tb.TempDir()
	for name, size := range map[string]int{"1k.txt": 1024, "d/index.html": 1024, "big.bin": 1 << 20} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	text := `
pid = "off"
error_log = "stderr"
http {
  access_log = "` + accessLog + `"
  keepalive_requests = 1000000000
  server {
    listen = ["127.0.0.1:1"]
    root = "` + dir + `"
` + server + `
  }
}
`
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: []byte(text)})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := New(cfg, []Listener{{FD: -1, Addr: cfg.HTTP.Addrs[0]}}, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var rsa unix.RawSockaddrAny
	w.Accepted(&event.Listener{FD: -1, Index: 0}, fds[0], &rsa)
	rig := &pathRig{w: w, client: fds[1], resp: make([]byte, 64<<10)}
	tb.Cleanup(func() {
		unix.Close(fds[1])
		w.closeAll()
		w.loop.Close()
	})
	return rig
}

// roundTrip sends req and runs the loop until n response bytes came back
// (n <= 0: until anything came back); it returns the bytes read.
func (r *pathRig) roundTrip(tb testing.TB, req []byte, n int) int {
	if _, err := unix.Write(r.client, req); err != nil {
		tb.Fatal(err)
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < n || (n <= 0 && got == 0); {
		r.w.loop.CapWait(time.Millisecond)
		if err := r.w.loop.RunOnce(); err != nil {
			tb.Fatal(err)
		}
		m, err := unix.Read(r.client, r.resp[got:])
		if m > 0 {
			got += m
		}
		if err != nil && err != unix.EAGAIN {
			tb.Fatal(err)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no response after 5s (%d of %d bytes): %q", got, n, r.resp[:got])
		}
	}
	return got
}

var benchReq = []byte("GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")

// TestCachedRequestAllocs: a keep-alive request for a cached small file
// allocates nothing (STYLE 7).
func TestCachedRequestAllocs(t *testing.T) {
	rig := newPathRig(t, "off")
	n := rig.roundTrip(t, benchReq, 0)
	if !bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 200 OK\r\n")) {
		t.Fatalf("response %q", rig.resp[:n])
	}
	allocs := testing.AllocsPerRun(200, func() { rig.roundTrip(t, benchReq, n) })
	if allocs != 0 {
		t.Fatalf("%v allocations per cached request", allocs)
	}
}

// TestRedirectedRequestAllocs: an index hit (an internal redirect) and a
// try_files hit allocate nothing either, once the request's buffers have
// grown; nor does a file sent from open_file_cache.
func TestRedirectedRequestAllocs(t *testing.T) {
	cases := []struct {
		name, server, req string
	}{
		{"index", "", "GET /d/ HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"try_files", `location "/t/" {
      try_files = ["/nothing", "$uri", "/d/index.html", "=404"]
    }`, "GET /t/x HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"error_page", `error_page = { "404" = "/1k.txt" }`, "GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"return", `location "/r" {
      return = "301 /elsewhere$uri?$args"
    }`, "GET /r?a=b HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"open_file_cache", `open_file_cache = { max = 10 }`, "HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := newPathRigWith(t, "off", c.server)
			req := []byte(c.req)
			n := rig.roundTrip(t, req, 0)
			if !bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 ")) || bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 5")) {
				t.Fatalf("response %q", rig.resp[:n])
			}
			allocs := testing.AllocsPerRun(200, func() { rig.roundTrip(t, req, n) })
			if allocs != 0 {
				t.Fatalf("%v allocations per request", allocs)
			}
		})
	}
}

// BenchmarkCachedRequest measures the request path of a cached 1 KiB
// keep-alive request; the client's write and read are in the loop too.
func BenchmarkCachedRequest(b *testing.B) {
	rig := newPathRig(b, "off")
	n := rig.roundTrip(b, benchReq, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rig.roundTrip(b, benchReq, n)
	}
}

// BenchmarkCachedRequestJSONLog is the same with the JSON access log on.
func BenchmarkCachedRequestJSONLog(b *testing.B) {
	rig := newPathRig(b, filepath.Join(b.TempDir(), "access.log"))
	n := rig.roundTrip(b, benchReq, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rig.roundTrip(b, benchReq, n)
	}
}
