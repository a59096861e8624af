//go:build linux

package filters

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// pipeTxn connects t to one end of a socket pair and collects what the
// other end receives; done closes the sending end and returns it.
func pipeTxn(tb testing.TB, t *Txn) (done func() []byte) {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		tb.Fatal(err)
	}
	t.FD = fds[0]
	t.Conn = &Socket{FD: fds[0]}
	got := make(chan []byte)
	go func() {
		var out []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fds[1], buf)
			if n <= 0 || err != nil {
				break
			}
			out = append(out, buf[:n]...)
		}
		unix.Close(fds[1])
		got <- out
	}()
	return func() []byte {
		unix.Close(fds[0])
		return <-got
	}
}

// send runs the chain and resumes it until the response is sent, as a
// connection would; it returns the number of WaitPost yields.
func send(tb testing.TB, c Chain, t *Txn) (posts int, res Result) {
	tb.Helper()
	for r := c.Run(t); ; r = c.Resume(t) {
		if r != Again {
			return posts, r
		}
		switch t.Wait {
		case WaitPost:
			posts++
		case WaitWrite:
			pfd := []unix.PollFd{{Fd: int32(t.FD), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 10000); err != nil && err != unix.EINTR {
				tb.Fatal(err)
			}
		default:
			tb.Fatalf("waits for %d", t.Wait)
		}
	}
}

// openFile writes data to a file and returns it as the static handler
// would open it (not cached: the body goes out with sendfile and gzip
// reads it with pread).
func openFile(tb testing.TB, data []byte) *File {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return &File{FD: fd, Size: int64(len(data)), MTime: testMTime, Name: []byte(p)}
}

func fileTxn(f *File, set func(*conf.Settings)) *Txn {
	t := newTxn(testLoc(set))
	r := &t.Resp
	r.Status, r.ContentType, r.ContentLength, r.LastModified = 200, "text/html", f.Size, f.MTime
	r.ETag, r.AcceptRanges = []byte(`"e"`), true
	r.Body.AddFile(f, 0, f.Size)
	return t
}

// splitHead separates a response's head from its body.
func splitHead(tb testing.TB, wire []byte) (string, []byte) {
	tb.Helper()
	head, body, ok := bytes.Cut(wire, []byte("\r\n\r\n"))
	if !ok {
		tb.Fatalf("no head in %d bytes", len(wire))
	}
	return string(head) + "\r\n", body
}

// TestWriteGzipFile compresses a file larger than many turns' input
// through the real write filter and checks that it yields between
// pieces, frames chunks and gives back the compressor.
func TestWriteGzipFile(t *testing.T) {
	var text []byte
	for i := 0; len(text) < 3<<20; i++ {
		text = fmt.Appendf(text, "<li>item %d of a long list</li>\n", i)
	}
	f := openFile(t, text)
	tx := fileTxn(f, func(s *conf.Settings) { s.Gzip = true })
	tx.Req.AcceptEncoding = []byte("gzip")
	done := pipeTxn(t, tx)
	posts, res := send(t, NewChain(), tx)
	wire := done()
	if res != Done {
		t.Fatalf("%v: %v", res, tx.Err)
	}
	if min := len(text)/gzipTurnInput - 1; posts < min {
		t.Errorf("%d yields for %d bytes, want at least %d", posts, len(text), min)
	}
	head, body := splitHead(t, wire)
	for _, h := range []string{"Transfer-Encoding: chunked\r\n", "Content-Encoding: gzip\r\n", "Vary: Accept-Encoding\r\n", "ETag: W/\"e\"\r\n"} {
		if !strings.Contains(head, h) {
			t.Errorf("head lacks %q:\n%s", h, head)
		}
	}
	if strings.Contains(head, "Content-Length") || strings.Contains(head, "Accept-Ranges") {
		t.Errorf("head:\n%s", head)
	}
	zipped, err := unchunk(body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := gunzip(zipped); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("%v: %d bytes back of %d", err, len(got), len(text))
	}
	if tx.Resp.Body.Producer != nil || len(tx.Env.gzip.idle) != 1 || len(tx.Env.gzip.bufs) != 2 {
		t.Errorf("the producer or its buffers (output, file input) were not given back")
	}
}

// TestWriteMultipartFile sends several ranges of a file with sendfile
// and checks every part.
func TestWriteMultipartFile(t *testing.T) {
	data := make([]byte, 5<<20)
	rand.New(rand.NewSource(7)).Read(data)
	f := openFile(t, data)
	for _, sendfile := range []bool{true, false} {
		tx := fileTxn(f, func(s *conf.Settings) { s.Sendfile, s.SendfileMaxChunk = sendfile, 1<<20 })
		tx.Resp.ContentType = "text/plain"
		tx.Req.Range = []byte("bytes=4000000-, 0-0, 1000-2999999, -100")
		done := pipeTxn(t, tx)
		_, res := send(t, NewChain(), tx)
		wire := done()
		if res != Done {
			t.Fatalf("%v: %v", res, tx.Err)
		}
		head, body := splitHead(t, wire)
		if !strings.HasPrefix(head, "HTTP/1.1 206 ") || !strings.Contains(head, fmt.Sprintf("Content-Length: %d\r\n", len(body))) {
			t.Fatalf("head %s with %d bytes", head, len(body))
		}
		checkParts(t, &tx.Resp, body, data)
		if n := strings.Count(string(body), "Content-Range: bytes "); n != 4 {
			t.Errorf("sendfile %v: %d parts", sendfile, n)
		}
	}
}

// TestWriteGzipTruncated: a file that shrinks while it is compressed
// ends the response in Error.
func TestWriteGzipTruncated(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 50000)
	f := openFile(t, data)
	if err := os.Truncate(string(f.Name), 100000); err != nil {
		t.Fatal(err)
	}
	tx := fileTxn(f, func(s *conf.Settings) { s.Gzip = true })
	tx.Req.AcceptEncoding = []byte("gzip")
	done := pipeTxn(t, tx)
	_, res := send(t, NewChain(), tx)
	done()
	if res != Error || !errors.Is(tx.Err, ErrTruncated) {
		t.Fatalf("%v: %v", res, tx.Err)
	}
	tx.Reset()
	if len(tx.Env.gzip.idle) != 1 || len(tx.Env.gzip.bufs) != 2 {
		t.Errorf("the producer of an aborted response or its buffers were not given back")
	}
}

// tcpTxn connects t to the server end of a loopback TCP connection and
// collects what the client end receives; done closes the server end and
// returns it. TCP_CORK, unlike a socket pair, takes effect there.
func tcpTxn(tb testing.TB, t *Txn) (done func() []byte) {
	tb.Helper()
	return pacedTCPTxn(tb, t, 0)
}

// pacedTCPTxn is tcpTxn with a client that, when pause is not 0, reads
// 16 KiB at a time and pauses between reads: slower than the sender, so
// that the socket fills.
func pacedTCPTxn(tb testing.TB, t *Txn, pause time.Duration) (done func() []byte) {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	f, err := server.(*net.TCPConn).File() // a blocking duplicate
	server.Close()
	if err != nil {
		tb.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		tb.Fatal(err)
	}
	t.FD = fd
	t.Conn = &Socket{FD: fd}
	got := make(chan []byte)
	go func() {
		var out []byte
		if pause == 0 {
			out, _ = io.ReadAll(client)
		} else {
			buf := make([]byte, 16<<10)
			for {
				n, err := client.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
				time.Sleep(pause)
			}
		}
		client.Close()
		got <- out
	}()
	return func() []byte {
		unix.Close(fd)
		return <-got
	}
}

// nagled reports whether fd has Nagle's algorithm on (TCP_NODELAY off).
func nagled(tb testing.TB, fd int) bool {
	tb.Helper()
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if err != nil {
		tb.Fatal(err)
	}
	return v == 0
}

// TestWriteNagleLongFile checks that a file that takes more than one
// sendfile goes out with Nagle's algorithm on (tcp_nopush), so that the
// partial segment each call ends with waits for the next call's bytes
// instead of leaving as a small packet of its own, and that TCP_NODELAY
// is back when the response is done, so that its last bytes leave at
// once. A file sent in one call, a paced one and tcp_nopush off keep
// TCP_NODELAY throughout.
func TestWriteNagleLongFile(t *testing.T) {
	const chunk = 64 << 10
	tests := []struct {
		name  string
		size  int
		set   func(*conf.Settings)
		limit int64
		nagle bool
	}{
		{"several chunks", 5*chunk + 100, func(s *conf.Settings) { s.TCPNopush = true }, 0, true},
		{"one chunk", chunk, func(s *conf.Settings) { s.TCPNopush = true }, 0, false},
		{"tcp_nopush off", 5*chunk + 100, nil, 0, false},
		{"limit_rate", 5*chunk + 100, func(s *conf.Settings) { s.TCPNopush = true }, 1 << 30, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := make([]byte, tt.size)
			rand.New(rand.NewSource(1)).Read(data)
			f := openFile(t, data)
			tx := fileTxn(f, func(s *conf.Settings) {
				s.SendfileMaxChunk = chunk
				if tt.set != nil {
					tt.set(s)
				}
			})
			if tt.limit > 0 {
				tx.Env.Clock = func() int64 { return time.Now().UnixNano() }
				tx.LimitRate, tx.RateStart = tt.limit, tx.Env.Clock()
			}
			done := tcpTxn(t, tx)
			if nagled(t, tx.FD) {
				t.Fatal("an accepted socket without TCP_NODELAY")
			}
			c := NewChain()
			sawNagle := false
			r := c.Run(tx)
			for ; r == Again; r = c.Resume(tx) {
				sawNagle = sawNagle || nagled(t, tx.FD)
				switch tx.Wait {
				case WaitPost, WaitTimer:
				case WaitWrite:
					pfd := []unix.PollFd{{Fd: int32(tx.FD), Events: unix.POLLOUT}}
					unix.Poll(pfd, 10000)
				default:
					t.Fatalf("waits for %d", tx.Wait)
				}
			}
			if r != Done {
				t.Fatalf("result %v: %v", r, tx.Err)
			}
			if sawNagle != tt.nagle {
				t.Errorf("Nagle on between sends: %v, want %v", sawNagle, tt.nagle)
			}
			if nagled(t, tx.FD) {
				t.Error("TCP_NODELAY still off after the response")
			}
			_, body := splitHead(t, done())
			if !bytes.Equal(body, data) {
				t.Fatalf("body: %d bytes, want %d", len(body), len(data))
			}
		})
	}
}

// TestWriteNagleUnixSocket sends a file that takes several sendfile calls
// over a UNIX-domain socket, which has no TCP_NODELAY to clear: the
// response goes out whole, as it did before Nagle's algorithm was used
// for long files.
func TestWriteNagleUnixSocket(t *testing.T) {
	const chunk = 64 << 10
	data := make([]byte, 5*chunk+100)
	rand.New(rand.NewSource(2)).Read(data)
	tx := fileTxn(openFile(t, data), func(s *conf.Settings) {
		s.SendfileMaxChunk, s.TCPNopush = chunk, true
	})
	done := pipeTxn(t, tx)
	if _, r := send(t, NewChain(), tx); r != Done {
		t.Fatalf("result %v: %v", r, tx.Err)
	}
	if _, body := splitHead(t, done()); !bytes.Equal(body, data) {
		t.Fatalf("body: %d bytes, want %d", len(body), len(data))
	}
}

// TestSetNagleAllocs checks that turning Nagle's algorithm on and off
// allocates nothing: it runs once per long response.
func TestSetNagleAllocs(t *testing.T) {
	tx := newTxn(testLoc(nil))
	done := tcpTxn(t, tx)
	defer done()
	if n := testing.AllocsPerRun(100, func() { setNagle(tx.FD, true); setNagle(tx.FD, false) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// TestSlowClientNoBlindSends sends a file of many turns to a client that
// reads slower than the loop sends, and checks that no sendfile finds the
// socket full: each such call reads its pages into the kernel's pipe and
// gives them back for nothing. A short count, and a turn after a full
// one, first ask poll(2) whether the socket has room; when it has none,
// the response waits for EPOLLOUT, which that poll arms (tcp_poll sets
// SOCK_NOSPACE).
func TestSlowClientNoBlindSends(t *testing.T) {
	const chunk = 256 << 10
	tx, data, done := slowClientTxn(t, chunk, 64, 3)
	posts, r := send(t, NewChain(), tx)
	if r != Done {
		t.Fatalf("result %v: %v", r, tx.Err)
	}
	st := tx.Env.Stats
	t.Logf("%d sends, %d of them to a full socket, %d turns ended by sendfile_max_chunk", st.InlineSends, st.FullSocketSends, posts)
	if st.FullSocketSends != 0 {
		t.Errorf("%d of %d sendfile calls found the socket full", st.FullSocketSends, st.InlineSends)
	}
	if _, body := splitHead(t, done()); !bytes.Equal(body, data) {
		t.Fatalf("body: %d bytes, want %d", len(body), len(data))
	}
}

// TestSlowClientTurnRunsToFull: a turn that EPOLLOUT starts for a client
// that reads slower than the loop sends goes on past sendfile_max_chunk
// until a send comes back short (the socket is full again), up to
// slowTurnChunks chunks, instead of ending every 256 KiB and polling for
// room before the next. Each such turn sends at most one sendfile into a
// socket the last full send had filled exactly, and no send carries more
// than one chunk: a longer one could wait on the disk for pages evicted
// since the page cache was last asked.
func TestSlowClientTurnRunsToFull(t *testing.T) {
	const chunk = 64 << 10
	tx, data, done := slowClientTxn(t, chunk, 256, 5)
	c := NewChain()
	signalled, cut, over := 0, 0, 0
	for r := c.Run(tx); ; {
		if r != Again {
			if r != Done {
				t.Fatalf("result %v: %v", r, tx.Err)
			}
			break
		}
		was := tx.Wait
		switch was {
		case WaitPost:
		case WaitWrite:
			pfd := []unix.PollFd{{Fd: int32(tx.FD), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 10000); err != nil && err != unix.EINTR {
				t.Fatal(err)
			}
		default:
			t.Fatalf("waits for %d", tx.Wait)
		}
		before, slow, sends := tx.Sent, tx.slowPeer, tx.Env.Stats.InlineSends
		r = c.Resume(tx)
		if tx.Sent-before > int64(tx.Env.Stats.InlineSends-sends)*chunk {
			over++
		}
		if was == WaitWrite && slow {
			signalled++
			if r == Again && tx.Wait == WaitPost && tx.Sent-before < slowTurnChunks*chunk {
				cut++
			}
		}
	}
	st := tx.Env.Stats
	t.Logf("%d sends, %d to a full socket, %d turns started by EPOLLOUT, %d of them ended by the chunk", st.InlineSends, st.FullSocketSends, signalled, cut)
	if signalled == 0 {
		t.Fatal("the client never filled the socket: no turn to check")
	}
	if cut != 0 {
		t.Errorf("%d of %d turns started by EPOLLOUT ended after one chunk with room left", cut, signalled)
	}
	if over != 0 {
		t.Errorf("%d turns sent more than one chunk in a single sendfile", over)
	}
	if st.FullSocketSends > uint64(signalled) {
		t.Errorf("%d sendfile calls found the socket full in %d turns", st.FullSocketSends, signalled)
	}
	if _, body := splitHead(t, done()); !bytes.Equal(body, data) {
		t.Fatalf("body: %d bytes, want %d", len(body), len(data))
	}
}

// slowClientTxn is the response of a file of chunks times chunk bytes
// and a few more (random, from seed), sent with sendfile_max_chunk chunk
// and tcp_nopush to a TCP client that pauses 50 µs between reads, slower
// than the loop sends.
func slowClientTxn(t *testing.T, chunk int64, chunks int, seed int64) (*Txn, []byte, func() []byte) {
	t.Helper()
	data := make([]byte, int64(chunks)*chunk+100)
	rand.New(rand.NewSource(seed)).Read(data)
	tx := fileTxn(openFile(t, data), func(s *conf.Settings) {
		s.SendfileMaxChunk, s.TCPNopush = chunk, true
	})
	return tx, data, pacedTCPTxn(t, tx, 50*time.Microsecond)
}
