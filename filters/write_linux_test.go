//go:build linux

package filters

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
