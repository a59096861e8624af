//go:build linux

package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// rig is a worker serving one end of a socketpair, driven by hand: the
// whole request path (epoll, read, parse, route, caches, filters, writev,
// sendfile, the thread pool) without a network.
type rig struct {
	w      *Worker
	client int
	server int    // the worker's end of the connection
	dir    string // the docroot, {{ROOT}} in the configuration
	resp   []byte
}

// newRig loads cfgText, with {{ROOT}} replaced by a new temporary
// directory, and connects a client to a worker serving it.
func newRig(tb testing.TB, cfgText string) *rig {
	tb.Helper()
	dir := tb.TempDir()
	main := filepath.Join(dir, "tern.hcl")
	text := strings.ReplaceAll(cfgText, "{{ROOT}}", dir)
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: []byte(text)})
	if err != nil {
		tb.Fatal(err)
	}
	// The logs, opened as the master would.
	logs := map[string]*LogWriter{}
	for _, p := range cfg.AccessLogPaths() {
		lw, err := OpenLog(p)
		if err != nil {
			tb.Fatal(err)
		}
		logs[p] = lw
		tb.Cleanup(func() { lw.Close() })
	}
	w, err := New(cfg, []Listener{{FD: -1, Addr: cfg.HTTP.Addrs[0]}}, zerolog.Nop(), logs)
	if err != nil {
		tb.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var rsa unix.RawSockaddrAny
	w.Accepted(&event.Listener{FD: -1, Index: 0}, fds[0], &rsa)
	tb.Cleanup(func() {
		unix.Close(fds[1])
		stopPools(w.env.Pools)
		w.closeAll()
		w.loop.Close()
	})
	return &rig{w: w, client: fds[1], server: fds[0], dir: dir, resp: make([]byte, 64<<10)}
}

// newPathRig is a rig serving a 1 KiB file for as many keep-alive
// requests as a benchmark makes.
func newPathRig(tb testing.TB, accessLog string) *rig {
	return newPathRigWith(tb, accessLog, "")
}

// newPathRigWith is newPathRig with extra lines in the server block; the
// root also has d/index.html (1 KiB) and big.bin (1 MiB).
func newPathRigWith(tb testing.TB, accessLog, server string) *rig {
	return newPathRigHTTP(tb, accessLog, "", server)
}

// newPathRigHTTP is newPathRigWith with extra lines in the http block.
func newPathRigHTTP(tb testing.TB, accessLog, http, server string) *rig {
	r := newRig(tb, `
pid = "off"
error_log = "stderr"
http {
  access_log = "`+accessLog+`"
  keepalive_requests = 1000000000
`+http+`
  server {
    listen = ["127.0.0.1:1"]
    root = "{{ROOT}}"
`+server+`
  }
}
`)
	for name, size := range map[string]int{"1k.txt": 1024, "d/index.html": 1024, "big.bin": 1 << 20} {
		os.MkdirAll(filepath.Dir(filepath.Join(r.dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(r.dir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// roundTrip sends req and runs the loop until n response bytes came back
// (n <= 0: until anything came back); it returns the bytes read.
func (r *rig) roundTrip(tb testing.TB, req []byte, n int) int {
	return r.exchange(tb, req, func(got []byte) bool { return len(got) >= max(n, 1) })
}

// exchange sends req and runs the loop until what came back is whole by
// done; it returns the bytes read.
func (r *rig) exchange(tb testing.TB, req []byte, done func(got []byte) bool) int {
	if _, err := unix.Write(r.client, req); err != nil {
		tb.Fatal(err)
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); !done(r.resp[:got]); {
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
			tb.Fatalf("no whole response after 5s (%d bytes): %q", got, r.resp[:got])
		}
	}
	return got
}

var benchReq = []byte("GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")

// TestCachedRequestAllocs: a keep-alive request for a cached small file
// allocates nothing (docs/design.md#rules).
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

// TestVariablesRequestAllocs: the cached small-file path with add_header
// values that use two variables and a map lookup allocates nothing
// either: the variables are compiled at load and expanded into the
// request's buffers.
func TestVariablesRequestAllocs(t *testing.T) {
	rig := newPathRigHTTP(t, "off", `
  map "$uri" "$kind" {
    default = "other"
    values  = { "/1K.TXT" = "text-$request_method", "/x" = "x" }
  }`, `
    add_header = { "X-Req" = "$uri from $remote_addr", "X-Kind" = "$kind" }`)
	n := rig.roundTrip(t, benchReq, 0)
	resp := string(rig.resp[:n])
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\n") || !strings.Contains(resp, "\r\nX-Kind: text-GET\r\n") ||
		!strings.Contains(resp, "\r\nX-Req: /1k.txt from ") {
		t.Fatalf("response %q", resp)
	}
	allocs := testing.AllocsPerRun(200, func() { rig.roundTrip(t, benchReq, n) })
	if allocs != 0 {
		t.Fatalf("%v allocations per request with variables and a map", allocs)
	}
}

// TestLoggedRequestAllocs: access logging — the JSON line, the combined
// line and a log_format with variables — allocates nothing per request.
func TestLoggedRequestAllocs(t *testing.T) {
	for _, format := range []string{"json", "combined", "main"} {
		t.Run(format, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "access.log")
			rig := newPathRigHTTP(t, log+" "+format, `
  log_format "main" {
    format = "$remote_addr [$time_local] \"$request\" $status $body_bytes_sent \"$http_user_agent\" $request_time $arg_x"
  }`, "")
			n := rig.roundTrip(t, benchReq, 0)
			allocs := testing.AllocsPerRun(200, func() { rig.roundTrip(t, benchReq, n) })
			if allocs != 0 {
				t.Fatalf("%v allocations per logged request", allocs)
			}
		})
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
		// The socketpair's client is a UNIX-domain one.
		{"allow_deny", `allow = ["10.0.0.0/8", "unix:"]
    deny = "all"`, "GET /1k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"limit_rate", `limit_rate = "1m"`, "GET /1k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		// A bcrypt match, remembered after the first request.
		{"auth_basic", `auth_basic = "x"
    auth_basic_user_file = "{{ROOT}}/htpasswd"`, "GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWxpY2U6d29uZGVyIGxhbmQ=\r\n\r\n"},
		// The same with a user file path expanded per request.
		{"auth_basic_vars", `auth_basic = "x"
    auth_basic_user_file = "$document_root/htpasswd$arg_v"`, "GET /1k.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWxpY2U6d29uZGVyIGxhbmQ=\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := newPathRigWith(t, "off", c.server)
			// alice, "wonder land" (htpasswd -B -C 5)
			os.WriteFile(filepath.Join(rig.dir, "htpasswd"), []byte("alice:$2y$05$KnETdNBoLvQthGGSmZGMYeyugbv.M4yV1I4Xrd8kq9aX0GTCy47J2\n"), 0o644)
			req := []byte(c.req)
			n := rig.roundTrip(t, req, 0)
			if !bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 ")) || bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 5")) ||
				bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 4")) && c.name != "error_page" {
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

// TestLimitedRequestAllocs: a request under limit_req (nodelay, within
// its burst) and limit_conn allocates nothing either.
func TestLimitedRequestAllocs(t *testing.T) {
	rig := newRig(t, `
pid = "off"
error_log = "stderr"
http {
  access_log = "off"
  keepalive_requests = 1000000000
  limit_req_zone "r" {
    key  = "$uri$binary_remote_addr"
    size = "1m"
    rate = "1000000r/s"
  }
  limit_conn_zone "c" {
    key  = "$uri"
    size = "1m"
  }
  server {
    listen = ["127.0.0.1:1"]
    root = "{{ROOT}}"
    limit_req  = { zone = "r", burst = 1000000, nodelay = true }
    limit_conn = { c = 10 }
  }
}
`)
	if err := os.WriteFile(filepath.Join(rig.dir, "1k.txt"), bytes.Repeat([]byte("x"), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	n := rig.roundTrip(t, benchReq, 0)
	if !bytes.HasPrefix(rig.resp[:n], []byte("HTTP/1.1 200 OK\r\n")) {
		t.Fatalf("response %q", rig.resp[:n])
	}
	if allocs := testing.AllocsPerRun(200, func() { rig.roundTrip(t, benchReq, n) }); allocs != 0 {
		t.Fatalf("%v allocations per limited request", allocs)
	}
}
