package t

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// bigFile writes size pseudo-random bytes to path and returns their
// SHA-256.
func bigFile(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rand.New(rand.NewSource(size)), size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fetchHash GETs path and returns the status, Content-Length and SHA-256
// of the body, streaming it.
func fetchHash(t testing.TB, s *server, path string) (int, int64, string) {
	t.Helper()
	c := s.dial()
	c.send(req("GET", path))
	c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	r := &response{}
	if err := readHead(c.br, r); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(r.header("Content-Length"), 10, 64)
	if err != nil {
		t.Fatalf("Content-Length %q", r.header("Content-Length"))
	}
	return r.status, n, hashN(t, c.br, n)
}

// hashN reads n bytes from r and returns their SHA-256.
func hashN(t testing.TB, r io.Reader, n int64) string {
	t.Helper()
	h := sha256.New()
	got, err := io.CopyN(h, r, n)
	if err != nil {
		t.Fatalf("body after %d of %d bytes: %v", got, n, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestLargeFile(t *testing.T) {
	const size = 100 << 20
	for _, mode := range []string{"sendfile = true", "sendfile = false"} {
		t.Run(mode, func(t *testing.T) {
			s := newServer(t, basicConfig(mode+"\n  sendfile_max_chunk = \"1m\""))
			want := bigFile(t, filepath.Join(s.root, "big.bin"), size)
			s.start()
			status, n, got := fetchHash(t, s, "/big.bin")
			if status != 200 || n != size || got != want {
				t.Fatalf("status %d length %d sha256 %s, want 200 %d %s", status, n, got, size, want)
			}
		})
	}
}
