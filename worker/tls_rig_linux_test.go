//go:build linux

package worker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/internal/testcert"
)

// tlsRig is a worker serving TLS on one end of a socketpair, driven by
// hand like rig: the test's goroutine runs the client and, whenever the
// client waits, the worker's loop (the handshake runs on the engine's
// goroutine meanwhile).
type tlsRig struct {
	w      *Worker
	client *tls.Conn
	cc     *clientConn
	dir    string
}

// clientConn is the client's transport: writes go to the socket; reads
// come from captured (when set) or else from the socket, running the
// worker's loop while there is nothing.
type clientConn struct {
	fd       int
	w        *Worker
	captured bytes.Buffer
	capture  bool
	tb       testing.TB
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.captured.Len() > 0 {
		return c.captured.Read(p)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		n, err := unix.Read(c.fd, p)
		if n > 0 {
			return n, nil
		}
		if n == 0 && err == nil {
			return 0, os.ErrClosed
		}
		if err != unix.EAGAIN {
			return 0, err
		}
		c.w.loop.CapWait(time.Millisecond)
		if err := c.w.loop.RunOnce(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			c.tb.Fatal("the worker sent nothing for 5s")
		}
	}
}

func (c *clientConn) Write(p []byte) (int, error) { return unix.Write(c.fd, p) }

// serve runs the loop until the worker sent want bytes, reading them raw
// into c.captured: what the client decrypts later, outside a measurement.
func (c *clientConn) serve(want int) {
	buf := make([]byte, 0, 64<<10)
	c.captured.Grow(want)
	for deadline := time.Now().Add(5 * time.Second); c.captured.Len() < want; {
		c.w.loop.CapWait(time.Millisecond)
		if err := c.w.loop.RunOnce(); err != nil {
			c.tb.Fatal(err)
		}
		n, _ := unix.Read(c.fd, buf[:cap(buf)])
		if n > 0 {
			c.captured.Write(buf[:n])
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("the worker sent %d of %d bytes in 5s", c.captured.Len(), want)
		}
	}
}

// serveAll runs the loop until the worker has sent something and then
// nothing more for a few turns, and returns what it captured.
func (c *clientConn) serveAll() int {
	c.serve(c.captured.Len() + 1)
	for quiet := 0; quiet < 20; quiet++ {
		n := c.captured.Len()
		c.w.loop.CapWait(time.Millisecond)
		c.w.loop.RunOnce()
		buf := make([]byte, 64<<10)
		if m, _ := unix.Read(c.fd, buf); m > 0 {
			c.captured.Write(buf[:m])
		}
		if c.captured.Len() != n {
			quiet = 0
		}
	}
	return c.captured.Len()
}

func (c *clientConn) Close() error                     { return nil }
func (c *clientConn) LocalAddr() net.Addr              { return nil }
func (c *clientConn) RemoteAddr() net.Addr             { return nil }
func (c *clientConn) SetDeadline(time.Time) error      { return nil }
func (c *clientConn) SetReadDeadline(time.Time) error  { return nil }
func (c *clientConn) SetWriteDeadline(time.Time) error { return nil }

// newTLSRig serves {{ROOT}} over TLS with a certificate for localhost,
// extra lines in the server block, and connects a TLS client to it.
func newTLSRig(tb testing.TB, server string, cli *tls.Config) *tlsRig {
	tb.Helper()
	dir := tb.TempDir()
	ca := testcert.NewCA("rig CA")
	pair := ca.Leaf(testcert.Options{}, "localhost")
	main := filepath.Join(dir, "tern.hcl")
	text := strings.ReplaceAll(`
pid = "off"
error_log = "stderr"
http {
  access_log = "off"
  keepalive_requests = 1000000000
  server {
    listen = ["127.0.0.1:1 ssl"]
    root = "{{ROOT}}"
    ssl_certificate = "{{ROOT}}/c.pem"
    ssl_certificate_key = "{{ROOT}}/k.pem"
`+server+`
  }
}
`, "{{ROOT}}", dir)
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{
		main: []byte(text), filepath.Join(dir, "c.pem"): pair.CertPEM, filepath.Join(dir, "k.pem"): pair.KeyPEM,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for name, size := range map[string]int{"1k.txt": 1024, "big.bin": 1 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	w, err := New(cfg, []Listener{{FD: -1, Addr: cfg.HTTP.Addrs[0]}}, zerolog.Nop(), nil)
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
		w.ssl.Close()
		w.closeAll()
		w.loop.Close()
	})
	if cli == nil {
		cli = &tls.Config{}
	}
	cli.RootCAs = x509.NewCertPool()
	cli.RootCAs.AddCert(ca.Cert)
	if cli.ServerName == "" {
		cli.ServerName = "localhost"
	}
	cc := &clientConn{fd: fds[1], w: w, tb: tb}
	client := tls.Client(cc, cli)
	if err := client.Handshake(); err != nil {
		tb.Fatalf("handshake: %v", err)
	}
	return &tlsRig{w: w, client: client, cc: cc, dir: dir}
}

// get sends req and returns the whole response (want bytes of
// plaintext, or what one Read gives when want is 0).
func (r *tlsRig) get(tb testing.TB, req string, want int) []byte {
	tb.Helper()
	if _, err := r.client.Write([]byte(req)); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, max(want, 64<<10))
	got := 0
	for got < want || got == 0 {
		n, err := r.client.Read(buf[got:])
		if err != nil {
			tb.Fatalf("read after %d bytes: %v", got, err)
		}
		got += n
	}
	return buf[:got]
}
