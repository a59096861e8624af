//go:build linux

package worker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// evict drops path's pages from the page cache and reports whether they
// are gone (fadvise is a hint; the test skips when it is not taken).
func evict(t testing.TB, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fsync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	var cs unix.Cachestat_t
	st, _ := f.Stat()
	rng := unix.CachestatRange{Off: 0, Len: uint64(st.Size())}
	if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err != nil {
		return true // cannot tell; assume the hint was taken
	}
	return cs.Cache == 0
}

// fetch sends req and collects the response until the connection closes
// or the whole response (by its Content-Length) came, reading slowly when
// slow is set, so that the socket fills (partial sends).
func (r *rig) fetch(t *testing.T, req string, slow bool) []byte {
	t.Helper()
	if req != "" {
		if _, err := unix.Write(r.client, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	buf := make([]byte, 64<<10)
	want := -1
	deadline := time.Now().Add(30 * time.Second)
	for (want < 0 || len(got) < want) && time.Now().Before(deadline) {
		if want < 0 {
			want = responseLen(got)
		}
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
		if slow {
			time.Sleep(200 * time.Microsecond)
			buf = buf[:16<<10]
		}
		n, err := unix.Read(r.client, buf)
		if n > 0 {
			got = append(got, buf[:n]...)
		}
		if n == 0 && err == nil {
			break // closed
		}
	}
	return got
}

// fetchFast is fetch with a client that drains the socket after every
// turn of the loop, so that the next turn finds it writable at once;
// each, when not nil, runs after every turn, before the client reads.
func (r *rig) fetchFast(t *testing.T, req string, each func()) []byte {
	t.Helper()
	if _, err := unix.Write(r.client, []byte(req)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 1<<20)
	want := -1
	for deadline := time.Now().Add(30 * time.Second); (want < 0 || len(got) < want) && time.Now().Before(deadline); {
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
		if each != nil {
			each()
		}
		for {
			n, err := unix.Read(r.client, buf)
			if n <= 0 || err != nil {
				break
			}
			got = append(got, buf[:n]...)
		}
		if want < 0 {
			want = responseLen(got)
		}
	}
	return got
}

const aioConfig = `
pid = "off"
error_log = "stderr"
thread_pool "default" {
  threads   = 2
  max_queue = 0
}
http {
  access_log = "off"
  sendfile_max_chunk = "256k"
  server {
    listen = ["127.0.0.1:1"]
    root = "{{ROOT}}"
  }
}
`

// responseLen is the length of the response in b by its Content-Length,
// or -1 while the head is incomplete.
func responseLen(b []byte) int {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return -1
	}
	j := bytes.Index(b[:i], []byte("Content-Length: "))
	if j < 0 {
		return i + 4
	}
	n := 0
	for _, c := range b[j+16 : i] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return i + 4 + n
}

func writeRandom(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func splitResponse(t *testing.T, resp []byte) (head string, body []byte) {
	t.Helper()
	i := bytes.Index(resp, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no head in %d bytes", len(resp))
	}
	return string(resp[:i+4]), resp[i+4:]
}

// TestColdFileThroughPool: a file evicted from the page cache is read
// into it on the pool and sent from the loop, byte-exact, with the socket
// filling up (partial sends); sending it again, now cached, makes no
// thread hop.
func TestColdFileThroughPool(t *testing.T) {
	for _, mode := range []string{"sendfile = true", "sendfile = false"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, strings.Replace(aioConfig, "access_log = \"off\"", "access_log = \"off\"\n  "+mode, 1))
			data := writeRandom(t, filepath.Join(r.dir, "cold.bin"), 2<<20)
			if !evict(t, filepath.Join(r.dir, "cold.bin")) {
				t.Skip("the page cache kept the file despite FADV_DONTNEED")
			}
			resp := r.fetch(t, "GET /cold.bin HTTP/1.1\r\nHost: a\r\n\r\n", true)
			head, body := splitResponse(t, resp)
			if !bytes.HasPrefix([]byte(head), []byte("HTTP/1.1 200 OK")) || sha256.Sum256(body) != sha256.Sum256(data) {
				t.Fatalf("head %q, body %d bytes (want %d), equal %v", head, len(body), len(data), bytes.Equal(body, data))
			}
			stats := r.w.env.Stats
			if stats.OffloadedSends == 0 || stats.InlineSends == 0 {
				// The pool reads the disk (and sends what it reads);
				// the loop sends what readahead brought in.
				t.Fatalf("cold file: want reads on the pool and sends inline: %+v", stats)
			}
			// Make the file wholly cached: readahead started by the
			// first fetch may still be filling its last pages, which
			// the server would rightly send from the pool.
			if _, err := os.ReadFile(filepath.Join(r.dir, "cold.bin")); err != nil {
				t.Fatal(err)
			}
			before := stats.OffloadedSends
			t.Logf("cold fetch: %+v", stats)
			resp = r.fetch(t, "GET /cold.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
			if _, body := splitResponse(t, resp); !bytes.Equal(body, data) {
				t.Fatalf("second fetch differs")
			}
			if r.w.env.Stats.OffloadedSends != before {
				t.Fatalf("a cached file hopped to a thread: %+v", r.w.env.Stats)
			}
		})
	}
}

// TestColdChunkSentByPool: a chunk that must come from the disk is read
// and sent by the pool thread in one call; the loop does not send it
// after the read. Pages a fill had read were not safe until the loop's
// send: proactive reclaim took some, and the loop's sendfile read them
// again from a throttled disk (111–193 ms stalls in t/bench's open
// phase). The server's descriptor of the file reads no more than asked
// (FADV_RANDOM: no readahead) and the file is evicted after every turn,
// so that each chunk is cold when its turn comes. Before, each chunk
// was filled on the pool and then sent inline (8 and 8); now only the
// first, whose head waits for its read, is sent by the loop.
func TestColdChunkSentByPool(t *testing.T) {
	r := newRig(t, aioConfig) // sendfile_max_chunk 256k
	// The test reads only between turns of the loop: a pool thread's
	// sendfile that found the socket's buffer full would leave the rest
	// of its chunk, which it had just read, to the loop (6 chunks on
	// the pool and 6 sends inline, once, on a loaded machine). A buffer
	// that holds the whole file, where the kernel lets us.
	if unix.SetsockoptInt(r.server, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
		unix.SetsockoptInt(r.server, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	}
	path := filepath.Join(r.dir, "cold.bin")
	data := writeRandom(t, path, 2<<20)
	if !evict(t, path) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	got := r.fetchFast(t, "GET /cold.bin HTTP/1.1\r\nHost: a\r\n\r\n", func() {
		noReadahead(t, path)
		evict(t, path)
	})
	head, body := splitResponse(t, got)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK") || !bytes.Equal(body, data) {
		t.Fatalf("head %q, body %d bytes (want %d), equal %v", head, len(body), len(data), bytes.Equal(body, data))
	}
	st := r.w.env.Stats
	t.Logf("%d chunks on the pool, %d sends inline", st.OffloadedSends, st.InlineSends)
	if st.OffloadedSends < 4 || 2*st.InlineSends > st.OffloadedSends {
		t.Fatalf("%d chunks read on the pool, %d sent by the loop: want the pool to send what it reads", st.OffloadedSends, st.InlineSends)
	}
}

// noReadahead marks every descriptor of this process open on path
// FADV_RANDOM, so that a read of it brings in only what it asks for.
func noReadahead(t testing.TB, path string) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == path {
			fd, _ := strconv.Atoi(e.Name())
			unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM)
		}
	}
}

// evictRanges drops n scattered 2 MiB ranges of path from the page cache
// (the rest stays) and reports whether they went. A range is 2 MiB,
// aligned: the kernel drops only whole folios, and the page cache keeps a
// file just written in folios of up to that.
func evictRanges(t testing.TB, path string, size int64, n int) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	unix.Fsync(fd)
	gone := true
	for i := 1; i <= n; i++ {
		off := size * int64(i) / int64(n+1) &^ (2<<20 - 1)
		unix.Fadvise(fd, off, 2<<20, unix.FADV_DONTNEED)
		var cs unix.Cachestat_t
		rng := unix.CachestatRange{Off: uint64(off), Len: 2 << 20}
		if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err == nil && cs.Cache != 0 {
			gone = false
		}
	}
	return gone
}

// TestColdRegionsOnlyOnPool: a cached file with a few regions evicted
// (pages a busy machine reclaimed) sends those regions' chunks through
// the pool and every other chunk inline: the decision is per chunk, not
// once per response. (Before, the first cold region sent the whole rest
// of the file from pool threads: about 190 offloaded sends here.)
func TestColdRegionsOnlyOnPool(t *testing.T) {
	r := newRig(t, aioConfig) // sendfile_max_chunk 256k
	const size = 16 << 20
	path := filepath.Join(r.dir, "big.bin")
	data := writeRandom(t, path, size)
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	const holes = 3
	if !evictRanges(t, path, size, holes) {
		t.Skip("the page cache kept the ranges despite FADV_DONTNEED")
	}
	resp := r.fetch(t, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
	head, body := splitResponse(t, resp)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK") || !bytes.Equal(body, data) {
		t.Fatalf("head %q, body %d bytes (want %d), equal %v", head, len(body), len(data), bytes.Equal(body, data))
	}
	st := r.w.env.Stats
	t.Logf("%d cold ranges: %d chunks filled on the pool, %d sends inline", holes, st.OffloadedSends, st.InlineSends)
	// A hole of 2 MiB overlaps at most nine 256k chunks (partial sends
	// move the chunks' bounds); readahead may fill more than a chunk,
	// never less.
	if st.OffloadedSends == 0 || st.OffloadedSends > 9*holes {
		t.Fatalf("%d chunks went to the pool for %d cold ranges; want 1 to %d", st.OffloadedSends, holes, 9*holes)
	}
	// A pool thread sends the chunk it reads; the loop sends every
	// other one. (Inline sends that found the socket full counted too
	// before a slow client's sends asked poll(2) first.)
	if want := size/(256<<10) - int(st.OffloadedSends); int(st.InlineSends) < want {
		t.Fatalf("%d sends inline; every chunk not read by the pool is sent from the loop (want ≥ %d)", st.InlineSends, want)
	}
}

// TestCachedFileLooksPerRegion: sending a cached file to a fast client
// looks at the page cache once per region a look covers (8 MiB with
// cachestat, 2 MiB with the probes alone), not before every turn; a turn
// that comes long after the look (a slow client) looks again. Each turn
// here sends what the client drained since the last one, at most
// sendfile_max_chunk: before, every send looked (127 looks for 16 MiB
// here, and the fast case failed).
func TestCachedFileLooksPerRegion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		step     int64 // the loop's clock moves this much at each reading
		min, max uint64
	}{
		{"fast", 0, 1, size16M / (2 << 20)},
		{"slow", int64(time.Second), size16M / (256 << 10), size16M / (64 << 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, aioConfig) // sendfile_max_chunk 256k
			path := filepath.Join(r.dir, "big.bin")
			data := writeRandom(t, path, size16M)
			if _, err := os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
			var clock int64
			r.w.env.Clock = func() int64 { clock += tc.step; return clock }
			resp := r.fetchFast(t, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", nil)
			head, body := splitResponse(t, resp)
			if !strings.HasPrefix(head, "HTTP/1.1 200 OK") || !bytes.Equal(body, data) {
				t.Fatalf("head %q, body %d bytes (want %d), equal %v", head, len(body), len(data), bytes.Equal(body, data))
			}
			st := r.w.env.Stats
			t.Logf("%d looks at the page cache, %d sends inline, %d on the pool", st.CacheLooks, st.InlineSends, st.OffloadedSends)
			if st.OffloadedSends != 0 {
				t.Fatalf("a cached file hopped to the pool: %+v", st)
			}
			if st.CacheLooks < tc.min || st.CacheLooks > tc.max {
				t.Fatalf("%d looks at the page cache over %d sends; want %d to %d", st.CacheLooks, st.InlineSends, tc.min, tc.max)
			}
		})
	}
}

const size16M = 16 << 20

// blocker occupies a pool thread until released.
type blocker struct{ release chan struct{} }

func (b *blocker) Run()  { <-b.release }
func (b *blocker) Done() {}

// TestFullQueueAnswers500: with every pool thread busy and no queue, a
// cold file gets 500 and the connection goes on.
func TestFullQueueAnswers500(t *testing.T) {
	r := newRig(t, strings.Replace(aioConfig, "threads   = 2", "threads   = 1", 1))
	writeRandom(t, filepath.Join(r.dir, "cold.bin"), 1<<20)
	if !evict(t, filepath.Join(r.dir, "cold.bin")) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	b := &blocker{release: make(chan struct{})}
	if err := r.w.env.Pools["default"].Post(b); err != nil {
		t.Fatal(err)
	}
	resp := r.fetch(t, "GET /cold.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
	close(b.release)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 500 Internal Server Error\r\n")) || !bytes.Contains(resp, []byte("Connection: close")) {
		t.Fatalf("response %q", resp)
	}
}

// TestTruncatedMidSend: a file that shrinks while it is being sent ends
// the connection instead of hanging or sending garbage.
func TestTruncatedMidSend(t *testing.T) {
	r := newRig(t, aioConfig)
	path := filepath.Join(r.dir, "shrink.bin")
	data := writeRandom(t, path, 4<<20)
	if _, err := unix.Write(r.client, []byte("GET /shrink.bin HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	truncated := false
	closed := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
		n, _ := unix.Read(r.client, buf)
		if n > 0 {
			got = append(got, buf[:n]...)
		}
		if n == 0 {
			closed = true
			break
		}
		if !truncated && len(got) > 512<<10 {
			if err := os.Truncate(path, 1<<20); err != nil {
				t.Fatal(err)
			}
			truncated = true
		}
	}
	_, body := splitResponse(t, got)
	if !closed || len(body) >= len(data) {
		t.Fatalf("closed %v after %d body bytes of %d", closed, len(body), len(data))
	}
	if !bytes.Equal(body, data[:len(body)]) {
		t.Fatalf("the bytes sent before the truncation differ from the file")
	}
}

// coldMount mounts an ext4 file system of the test's own — an image file
// on a loop device — at a new directory, and returns it with remount,
// which unmounts and mounts it again: after it, none of that file
// system's dentries, inodes or pages are in the kernel's caches. That is
// a cold start of one file system; drop_caches would empty the caches of
// the whole machine. The mount goes when the test ends. coldMount skips
// the test, saying why, where it cannot mount (not root, no mkfs.ext4,
// no loop device).
func coldMount(t *testing.T) (dir string, remount func()) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting a file system of the test's own needs root: no cold path to test")
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skip("no mkfs.ext4 (apt-get install e2fsprogs): no cold path to test")
	}
	tmp := t.TempDir()
	img, dir := filepath.Join(tmp, "fs.img"), filepath.Join(tmp, "mnt")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func() error {
		out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	umount := func() error {
		// Closes run on a pool thread: a descriptor may be a moment late.
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var out []byte
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return nil
			}
			err = fmt.Errorf("%v: %s", err, out)
		}
		return err
	}
	if err := mount(); err != nil {
		t.Skipf("cannot mount a file system image (no loop device?): %v", err)
	}
	t.Cleanup(func() {
		if err := umount(); err != nil {
			t.Errorf("unmounting the test's file system: %v", err)
		}
	})
	return dir, func() {
		t.Helper()
		if err := umount(); err != nil {
			t.Fatal(err)
		}
		if err := mount(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestColdPathOpenedOnPool: a path whose directories are not in the
// kernel's caches is resolved on a pool thread, and the request is served
// as if nothing happened; once resolved, the next request opens inline.
// The kernel's own RESOLVE_CACHED decides here, on a file system the test
// mounted cold (TestRevalidationOffLoop and others drive the same code
// through coldForTest).
func TestColdPathOpenedOnPool(t *testing.T) {
	root, remount := coldMount(t)
	deep := filepath.Join(root, "a", "b", "c", "d")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	data := writeRandom(t, filepath.Join(deep, "f.bin"), 100<<10)
	remount()
	r := newRig(t, strings.Replace(aioConfig, "{{ROOT}}", root, 1))
	resp := r.fetch(t, "GET /a/b/c/d/f.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
	head, body := splitResponse(t, resp)
	if !bytes.HasPrefix([]byte(head), []byte("HTTP/1.1 200 OK")) || !bytes.Equal(body, data) {
		t.Fatalf("head %q, body %d bytes", head, len(body))
	}
	before := r.w.env.Stats.OffloadedOpens
	if before == 0 {
		t.Fatal("a path on a file system mounted a moment ago was opened on the loop")
	}
	resp = r.fetch(t, "GET /a/b/c/d/f.bin HTTP/1.1\r\nHost: a\r\n\r\n", false)
	if _, body := splitResponse(t, resp); !bytes.Equal(body, data) {
		t.Fatal("second fetch differs")
	}
	if r.w.env.Stats.OffloadedOpens != before {
		t.Fatalf("a resolved path went to the pool again: %d → %d", before, r.w.env.Stats.OffloadedOpens)
	}
	// A missing file in a cold directory: 404 after the pool looked.
	for i := 0; i < 10; i++ { // let the pool close what the worker opened
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
	}
	remount()
	resp = r.fetch(t, "GET /a/b/c/d/missing HTTP/1.1\r\nHost: a\r\n\r\n", false)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 404 Not Found")) || r.w.env.Stats.OffloadedOpens == before {
		t.Fatalf("missing: %q, %d opens on the pool", resp, r.w.env.Stats.OffloadedOpens-before)
	}
}

// fetchUntilClosed sends req and reads until the server closes.
func (r *rig) fetchUntilClosed(t *testing.T, req string) []byte {
	t.Helper()
	if _, err := unix.Write(r.client, []byte(req)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		r.w.loop.CapWait(5 * time.Millisecond)
		r.w.loop.RunOnce()
		n, err := unix.Read(r.client, buf)
		if n > 0 {
			got = append(got, buf[:n]...)
		}
		if n == 0 && err == nil {
			return got
		}
	}
	t.Fatal("connection not closed within 30s")
	return nil
}

// unchunk decodes a chunked body.
func unchunk(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("bad chunk framing")
		}
		var size int
		if _, err := fmt.Sscanf(string(b[:i]), "%x", &size); err != nil {
			t.Fatalf("chunk size %q", b[:i])
		}
		b = b[i+2:]
		if size == 0 {
			return out
		}
		out = append(out, b[:size]...)
		b = b[size+2:]
	}
}

// TestColdGzipReadsOnPool: on-the-fly gzip of a file evicted from the page
// cache reads its input on a pool thread; the result decompresses to the
// file.
func TestColdGzipReadsOnPool(t *testing.T) {
	r := newRig(t, strings.Replace(aioConfig, "access_log = \"off\"", "access_log = \"off\"\n  gzip = true", 1))
	var text bytes.Buffer
	for i := 0; text.Len() < 2<<20; i++ {
		fmt.Fprintf(&text, "line %d of a text file that compresses well\n", i)
	}
	path := filepath.Join(r.dir, "big.txt")
	if err := os.WriteFile(path, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !evict(t, path) {
		t.Skip("the page cache kept the file despite FADV_DONTNEED")
	}
	resp := r.fetchUntilClosed(t, "GET /big.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
	head, body := splitResponse(t, resp)
	if !strings.Contains(head, "Content-Encoding: gzip") || !strings.Contains(head, "Transfer-Encoding: chunked") {
		t.Fatalf("head %q", head)
	}
	zr, err := gzip.NewReader(bytes.NewReader(unchunk(t, body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, text.Bytes()) {
		t.Fatalf("decompressed %d bytes (%v), want %d", len(plain), err, text.Len())
	}
	if r.w.env.Stats.OffloadedSends == 0 {
		t.Fatalf("a cold file was compressed with no read on the pool: %+v", r.w.env.Stats)
	}
}

// TestHotFileLooksOncePerTrust: responses that send the same file from
// open_file_cache share what one of them saw of the page cache: a hot
// 64 KiB file costs one look per trustCached, not three RWF_NOWAIT probes
// per response (before: one look per response, 20 here).
func TestHotFileLooksOncePerTrust(t *testing.T) {
	r := newRig(t, strings.Replace(aioConfig, `access_log = "off"`, `access_log = "off"
  open_file_cache = { max = 10 }`, 1))
	path := filepath.Join(r.dir, "64k.bin")
	data := writeRandom(t, path, 64<<10)
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	var clock int64
	r.w.env.Clock = func() int64 { return clock }
	for i := range 20 {
		okBody(t, fmt.Sprint("response ", i), r.fetch(t, "GET /64k.bin HTTP/1.1\r\nHost: a\r\n\r\n", false), data)
	}
	if st := r.w.env.Stats; st.CacheLooks != 1 || st.OffloadedSends != 0 {
		t.Fatalf("20 responses within trustCached: %d looks at the page cache, %d sends on the pool; want 1 and 0", st.CacheLooks, st.OffloadedSends)
	}
	clock += int64(2 * time.Second)
	okBody(t, "after trustCached", r.fetch(t, "GET /64k.bin HTTP/1.1\r\nHost: a\r\n\r\n", false), data)
	if n := r.w.env.Stats.CacheLooks; n != 2 {
		t.Fatalf("a response long after the last look: %d looks in all, want 2", n)
	}
}
