//go:build linux

package http2

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/filters"
	"tern/internal/testcgroup"
	"tern/threadpool"
)

// fileBody writes size random bytes to a file the rig's handler answers
// path with, and returns them.
func (r *rig) fileBody(path string, size int) []byte {
	body := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(body)
	name := filepath.Join(r.t.TempDir(), "body")
	if err := os.WriteFile(name, body, 0o644); err != nil {
		r.t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	if r.h.files == nil {
		r.h.files = map[string]*filters.File{}
	}
	r.h.files[path] = &filters.File{FD: int(f.Fd()), Size: int64(size), Name: []byte(name)}
	return body
}

// TestFileFramesBatched: file data over a transport without sendfile
// (TLS) is read into the batch, many DATA frames to a write, each frame
// within http2_chunk_size, byte for byte; two streams share the batches.
// Before, each batch held one 8 KiB frame: a write per frame.
func TestFileFramesBatched(t *testing.T) {
	r := newRig(t, nil, false)
	const size = 1<<20 + 5
	body := r.fileBody("/file", size)
	r.fr.WriteWindowUpdate(0, 4<<20)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 4 << 20})
	r.get(1, "/file", true)
	r.pump(0)
	fs := r.frames()
	resp := responseOf(fs, 1)
	if !bytes.Equal(resp.body, body) || !resp.ended {
		t.Fatalf("body of %d bytes (want %d), ended %v", len(resp.body), size, resp.ended)
	}
	for _, f := range fs {
		if f.typ == http2.FrameData && len(f.data) > 8<<10 {
			t.Fatalf("a DATA frame of %d bytes, more than http2_chunk_size", len(f.data))
		}
	}
	if max := size/(64<<10) + 4; r.p.calls > max {
		t.Errorf("%d writes for %d bytes of file, want at most %d", r.p.calls, size, max)
	}

	// Two files at once: both whole, and the second begins before the
	// first ends.
	other := r.fileBody("/other", 300<<10+1)
	calls := r.p.calls
	r.get(3, "/file", true)
	r.get(5, "/other", true)
	r.pump(0)
	fs = r.frames()
	if got := responseOf(fs, 3); !bytes.Equal(got.body, body) || !got.ended {
		t.Fatalf("stream 3: %d bytes, ended %v", len(got.body), got.ended)
	}
	if got := responseOf(fs, 5); !bytes.Equal(got.body, other) || !got.ended {
		t.Fatalf("stream 5: %d bytes, ended %v", len(got.body), got.ended)
	}
	first5, last3 := -1, -1
	for i, f := range fs {
		if f.typ == http2.FrameData && f.stream == 5 && first5 < 0 {
			first5 = i
		}
		if f.typ == http2.FrameData && f.stream == 3 {
			last3 = i
		}
	}
	if first5 > last3 {
		t.Errorf("stream 5's first DATA frame came after stream 3's last")
	}
	if max := (size+len(other))/(64<<10) + 4; r.p.calls-calls > max {
		t.Errorf("%d writes for two files, want at most %d", r.p.calls-calls, max)
	}
}

// TestFileTurns: with many streams at once, a stream's turn carries up
// to turnBytes of its file: ten 64 KiB responses each come in one run of
// DATA frames, whole; and streams of larger files take turns, no run
// longer than turnBytes while another stream waits.
func TestFileTurns(t *testing.T) {
	r := newRig(t, nil, false)
	small := r.fileBody("/small", 64<<10)
	large := r.fileBody("/large", 300<<10)
	r.fr.WriteWindowUpdate(0, 16<<20)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 4 << 20})
	for i := range 10 {
		r.get(uint32(2*i+1), "/small", true)
	}
	r.get(21, "/large", true)
	r.get(23, "/large", true)
	r.pump(0)
	fs := r.frames()
	for i := range 12 {
		id, want := uint32(2*i+1), small
		if i >= 10 {
			want = large
		}
		if got := responseOf(fs, id); !bytes.Equal(got.body, want) || !got.ended {
			t.Fatalf("stream %d: %d bytes, ended %v", id, len(got.body), got.ended)
		}
	}
	// The runs of DATA frames, stream by stream.
	type run struct {
		stream uint32
		bytes  int
	}
	var runs []run
	for _, f := range fs {
		if f.typ != http2.FrameData || len(f.data) == 0 {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].stream == f.stream {
			runs[n-1].bytes += len(f.data)
		} else {
			runs = append(runs, run{f.stream, len(f.data)})
		}
	}
	seen := map[uint32]int{}
	for i, ru := range runs {
		seen[ru.stream]++
		if ru.stream < 21 && seen[ru.stream] > 1 {
			t.Errorf("stream %d's 64 KiB came in more than one run: %v", ru.stream, runs)
		}
		if last := i == len(runs)-1; ru.bytes > turnBytes && !last {
			t.Errorf("run %d: %d bytes of stream %d, more than a turn", i, ru.bytes, ru.stream)
		}
	}
	if seen[21] < 2 || seen[23] < 2 {
		t.Errorf("the large files did not take turns: %v", runs)
	}
}

// TestFileFlowControl: file data stops exactly at the windows and goes on
// as they open.
func TestFileFlowControl(t *testing.T) {
	r := newRig(t, nil, false)
	body := r.fileBody("/file", 100000)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 20000})
	r.get(1, "/file", true)
	r.pump(0)
	got := responseOf(r.frames(), 1).body
	if len(got) != 20000 {
		t.Fatalf("sent %d bytes in a window of 20000", len(got))
	}
	r.fr.WriteWindowUpdate(1, 1<<20)
	r.pump(0)
	if more := responseOf(r.frames(), 1).body; len(more) != 65535-20000 {
		t.Fatalf("sent %d bytes in what was left of the connection window, want %d", len(more), 65535-20000)
	} else {
		got = append(got, more...)
	}
	r.fr.WriteWindowUpdate(0, 1<<20)
	r.pump(0)
	rest := responseOf(r.frames(), 1)
	if got = append(got, rest.body...); !bytes.Equal(got, body) || !rest.ended {
		t.Fatalf("body of %d bytes, ended %v", len(got), rest.ended)
	}
}

// TestFileTruncated: a file that is shorter than when it was opened ends
// its stream with RST_STREAM INTERNAL_ERROR after the data there is.
func TestFileTruncated(t *testing.T) {
	r := newRig(t, nil, false)
	r.fileBody("/file", 50000)
	f := r.h.files["/file"]
	if err := os.Truncate(string(f.Name), 30000); err != nil {
		t.Fatal(err)
	}
	r.get(1, "/file", true)
	r.pump(0)
	fs := r.frames()
	if code, ok := rst(fs, 1); !ok || code != http2.ErrCodeInternal {
		t.Fatalf("stream 1: RST_STREAM %v %v, want INTERNAL_ERROR", code, ok)
	}
	if got := responseOf(fs, 1); len(got.body) != 30000 || got.ended {
		t.Fatalf("%d bytes, ended %v; want the 30000 there are, not ended", len(got.body), got.ended)
	}
}

// sock is a Conn's transport on one end of a socket pair, as a cleartext
// connection's: writev, and sendfile to it. The test reads the other end
// into the rig's pipe.
type sock struct {
	fd, peer int
	calls    int
	written  int // bytes written with writev
}

func newSock(t *testing.T) *sock {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return &sock{fd: fds[0], peer: fds[1]}
}

func (s *sock) Writev(bufs [][]byte, more bool) (int, error) {
	s.calls++
	n, err := unix.Writev(s.fd, bufs)
	s.written += max(n, 0)
	return max(n, 0), err
}

func (s *sock) SendfileFD() int { return s.fd }
func (s *sock) Flush() error    { return nil }

// onSock moves the rig's Conn onto a socket pair: its client has sent
// nothing yet.
func (r *rig) onSock(s *sock) {
	r.c = New(r.h, r.sh, s, r.cfg)
	r.h.c = r.c
}

// sockPump hands the client's frames to the Conn and lets it write until
// it has nothing more to do, reading what it wrote into the rig's pipe.
func (r *rig) sockPump(s *sock) { r.poolPump(s, nil) }

// TestFileFramesCleartext: on a cleartext connection, frames of the
// default size are read into the batch as over TLS (a sendfile and a
// writev per 8 KiB frame cost twice the CPU); frames of 64 KiB and more,
// when http2_chunk_size and the client allow them, go out with sendfile.
// Both byte for byte.
func TestFileFramesCleartext(t *testing.T) {
	for _, tc := range []struct {
		name         string
		chunk        int64
		maxFrame     uint32
		maxWrites    int
		minWrites    int
		maxFrameSeen int
	}{
		{"8k frames, batched", 8 << 10, 0, 20, 1, 8 << 10},
		{"256k frames, sendfile", 256 << 10, 1 << 20, 20, 4, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil, true)
			s := newSock(t)
			r.onSock(s)
			r.h.loc.HTTP2ChunkSize = tc.chunk
			const size = 1<<20 + 5
			body := r.fileBody("/file", size)
			r.in.WriteString(http2.ClientPreface)
			settings := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 4 << 20}}
			if tc.maxFrame > 0 {
				settings = append(settings, http2.Setting{ID: http2.SettingMaxFrameSize, Val: tc.maxFrame})
			}
			r.fr.WriteSettings(settings...)
			r.fr.WriteWindowUpdate(0, 4<<20)
			r.get(1, "/file", true)
			r.rd.SetMaxReadFrameSize(1 << 20)
			r.sockPump(s)
			fs := r.frames()
			resp := responseOf(fs, 1)
			if !bytes.Equal(resp.body, body) || !resp.ended {
				t.Fatalf("body of %d bytes (want %d), ended %v", len(resp.body), size, resp.ended)
			}
			largest := 0
			for _, f := range fs {
				if f.typ == http2.FrameData {
					largest = max(largest, len(f.data))
				}
			}
			if largest != tc.maxFrameSeen {
				t.Errorf("the largest DATA frame has %d bytes, want %d", largest, tc.maxFrameSeen)
			}
			if s.calls > tc.maxWrites || s.calls < tc.minWrites {
				t.Errorf("%d writev calls for %d bytes, want %d to %d", s.calls, size, tc.minWrites, tc.maxWrites)
			}
		})
	}
}

// TestFileLimitRate: limit_rate holds file data read into the batch to
// its rate: at most a quantum at once, then exactly what each second
// earns, byte for byte to the end.
func TestFileLimitRate(t *testing.T) {
	r := newRig(t, nil, false)
	const rate = 100000
	r.h.limitRate = rate
	body := r.fileBody("/file", 250000)
	r.fr.WriteWindowUpdate(0, 1<<20)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	r.get(1, "/file", true)
	r.pump(0)
	got := responseOf(r.frames(), 1).body
	// At most filters' quantum, a twentieth of the rate, at once; the
	// head counts (as nginx's limit_rate counts the header).
	q := rate/20 - r.h.txns[0].HeadLen
	if len(got) > q {
		t.Fatalf("sent %d bytes at once, more than a quantum less the head, %d", len(got), q)
	}
	for sec := 1; len(got) < len(body) && sec < 10; sec++ {
		r.now += int64(time.Second)
		if !r.c.Timeout() {
			t.Fatal("the connection ended")
		}
		r.write()
		got = append(got, responseOf(r.frames(), 1).body...)
		if want := min(sec*rate+q, len(body)); len(got) != want {
			t.Fatalf("after %d s: %d bytes, want %d", sec, len(got), want)
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body of %d bytes differs", len(got))
	}
}

// TestFileColdStreamStaysOffSendfile: once a stream's file data had to
// come from the disk, through the pool, the rest of it is read into the
// batch, with preadv2(RWF_NOWAIT), which stops short at a page still
// being read, rather than sent by sendfile on the loop, which waits for
// such a page: the pool's read started readahead past it, and the look
// that vouches for a region probes three of its pages (cachestat counts
// a page in flight as present). The write filter keeps HTTP/1.1 off the
// loop there the same way (filters' coldReach and slowFill). Byte for
// byte.
func TestFileColdStreamStaysOffSendfile(t *testing.T) {
	const size, frame = 4 << 20, 256 << 10
	r, s, pool, body, f := aioFileRig(t, size, frame)
	// All but the first frame cached: the page cache drops whole folios,
	// so the file goes, and the rest is read back without readahead.
	unix.Fdatasync(f.FD)
	unix.Fadvise(f.FD, 0, 0, unix.FADV_DONTNEED)
	unix.Fadvise(f.FD, 0, 0, unix.FADV_RANDOM)
	unix.Pread(f.FD, make([]byte, size-frame), frame)
	if filters.Resident(f.FD, 0, frame) || !filters.Resident(f.FD, frame, size-frame) {
		t.Skip("the page cache did not drop the first frame and keep the rest")
	}
	// A slow disk: the first frame, whose read the look at the page
	// cache starts, is still being read when the stream asks again.
	defer testcgroup.ThrottleReads(t, os.Getpid(), string(f.Name), 256<<10)()
	r.getWhole(s, pool, body)
	if r.h.env.Stats.OffloadedSends == 0 {
		// The look's RWF_NOWAIT read started reading the frame, and
		// the disk finished before the stream asked again (a second,
		// at 256 KiB/s): there was no cold read to follow.
		t.Skip("no read went to the pool: the first frame was in before the stream asked again")
	}
	if s.written < size {
		t.Errorf("%d bytes went out with writev, want the whole %d-byte body: after the pool's read, sendfile sent the rest", s.written, size)
	}
}

// TestSlowFileStreamStaysOffSendfile: a stream whose file another
// response found behind a slow disk less than slowRemembered ago
// (File.SlowDisk: an HTTP/1.1 response, or a stream of another
// connection) reads its DATA into the batch with RWF_NOWAIT from the
// start, as one that needed the pool itself does; otherwise, and once
// the mark is old, cached frames of 256 KiB go out with sendfile.
func TestSlowFileStreamStaysOffSendfile(t *testing.T) {
	const size, frame = 2 << 20, 256 << 10
	for _, tc := range []struct {
		name   string
		marked time.Duration // how long before the request; < 0: never
		slow   bool
	}{{"unmarked", -1, false}, {"marked now", 0, true}, {"marked long ago", 3 * time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			r, s, pool, body, f := aioFileRig(t, size, frame)
			if !filters.Resident(f.FD, 0, size) {
				t.Skip("the page cache did not keep the file just written")
			}
			if tc.marked >= 0 {
				f.MarkSlowDisk(r.now - int64(tc.marked))
			}
			r.getWhole(s, pool, body)
			if viaWritev := s.written >= size; viaWritev != tc.slow {
				t.Errorf("%d bytes went out with writev (body %d): all of it %v, want %v", s.written, size, viaWritev, tc.slow)
			}
		})
	}
}

// aioFileRig is a rig over a socket whose location reads cold file data
// on a pool of one thread (aio threads) and sends DATA frames of frame
// bytes, serving a size-byte file at /file.
func aioFileRig(t *testing.T, size, frame int) (*rig, *sock, *threadpool.Pool, []byte, *filters.File) {
	t.Helper()
	r := newRig(t, nil, true)
	s := newSock(t)
	r.onSock(s)
	pool := threadpool.New("test", 1, 16, wakeNothing{})
	t.Cleanup(pool.Close)
	r.h.env.Pools = map[string]*threadpool.Pool{"default": pool}
	r.h.loc.AIO = conf.AIO{Mode: conf.AIOThreads, Pool: "default"}
	r.h.loc.HTTP2ChunkSize = int64(frame)
	body := r.fileBody("/file", size)
	return r, s, pool, body, r.h.files["/file"]
}

// getWhole asks for /file on stream 1, with windows and frames large
// enough for the whole body, and checks that all of it came, byte for
// byte, and ended the stream.
func (r *rig) getWhole(s *sock, pool *threadpool.Pool, body []byte) {
	r.t.Helper()
	r.in.WriteString(http2.ClientPreface)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 8 << 20},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
	r.fr.WriteWindowUpdate(0, 8<<20)
	r.get(1, "/file", true)
	r.rd.SetMaxReadFrameSize(1 << 20)
	r.poolPump(s, pool)
	resp := responseOf(r.frames(), 1)
	if !bytes.Equal(resp.body, body) || !resp.ended {
		r.t.Fatalf("body of %d bytes (want %d), ended %v", len(resp.body), len(body), resp.ended)
	}
}

// poolPump is sockPump for a Conn whose streams wait for reads on pool
// (nil: none): it hands their completions back (pool.Drain, as the
// worker's loop does on the pool's eventfd) until every stream is done.
func (r *rig) poolPump(s *sock, pool *threadpool.Pool) {
	for r.in.Len() > 0 {
		b := r.c.ReadBuffer()
		n, _ := r.in.Read(b)
		r.c.Received(n)
	}
	buf := make([]byte, 256<<10)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if pool != nil {
			pool.Drain()
		}
		st := r.c.Write()
		for {
			n, err := unix.Read(s.peer, buf)
			if n <= 0 || err != nil {
				break
			}
			r.p.out.Write(buf[:n])
		}
		switch {
		case st == Broken:
			r.t.Fatalf("the connection broke: %v", r.c.WriteErr())
		case st == Idle && (pool == nil || len(r.h.done) == len(r.h.requests)):
			return
		case st == Idle:
			time.Sleep(time.Millisecond) // a pool thread is reading
		}
	}
	r.t.Fatal("Write never finished")
}

type wakeNothing struct{}

func (wakeNothing) Wake() {}

// TestStalledSendfileMarksTheDisk: a sendfile of a DATA payload on the
// loop that waited slowSend or more for the disk marks the connection's
// disk slow, so that its streams read file data into the batch from then
// on (Conn.sendfile), and the file's, for every response sending it
// (File.SlowDisk); one from the page cache marks neither.
func TestStalledSendfileMarksTheDisk(t *testing.T) {
	const size = 64 << 10
	r := newRig(t, nil, true)
	r.fileBody("/file", size)
	f := r.h.files["/file"]
	unix.Fdatasync(f.FD)
	unix.Fadvise(f.FD, 0, 0, unix.FADV_RANDOM) // no readahead: only what is sent is read
	defer testcgroup.ThrottleReads(t, os.Getpid(), string(f.Name), 64<<10)()
	for _, cold := range []bool{true, false} {
		if cold {
			unix.Fadvise(f.FD, 0, 0, unix.FADV_DONTNEED)
		}
		s := newSock(t)
		r.onSock(s)
		file := &filters.File{FD: f.FD, Size: f.Size, Name: f.Name} // unmarked
		r.c.addPiece(piece{kind: pieceFile, file: file, off: 0, n: 16 << 10})
		start := time.Now()
		_, st := r.c.writeBatch()
		took := time.Since(start)
		if st != Idle {
			t.Fatalf("writeBatch: %v: %v", st, r.c.WriteErr())
		}
		if cold && took < slowSend {
			t.Skipf("the throttled read took %v: no stall to see", took)
		}
		if r.c.slowDisk != cold || file.SlowDisk(r.now) != cold {
			t.Errorf("a sendfile that took %v: slowDisk %v, the file's disk slow %v; want %v", took, r.c.slowDisk, file.SlowDisk(r.now), cold)
		}
	}
}
