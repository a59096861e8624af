package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"tern/internal/testcert"
)

// These tests pin the behaviour of crypto/tls that this package is built
// on (read in Go's src/crypto/tls/conn.go). A Go release that changes
// one of them fails here, before the worker misbehaves.

// pipeEnd is one end of an in-memory duplex for a tls.Conn. It blocks
// like a socket until nonblock is set; then an empty Read answers
// errWouldBlock, as the loop's transport does.
type pipeEnd struct {
	mu       *sync.Mutex
	cond     *sync.Cond
	in       bytes.Buffer
	peer     *pipeEnd
	nonblock bool
	// failWrites makes Write fail with errWouldBlock, once per count.
	failWrites int
	// writes counts the calls of Write.
	writes int
}

func newPipe() (*pipeEnd, *pipeEnd) {
	mu := &sync.Mutex{}
	cond := sync.NewCond(mu)
	a, b := &pipeEnd{mu: mu, cond: cond}, &pipeEnd{mu: mu, cond: cond}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pipeEnd) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.in.Len() == 0 {
		if p.nonblock {
			return 0, errWouldBlock
		}
		p.cond.Wait()
	}
	return p.in.Read(b)
}

func (p *pipeEnd) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failWrites > 0 {
		p.failWrites--
		return 0, errWouldBlock
	}
	p.writes++
	p.peer.in.Write(b)
	p.cond.Broadcast()
	return len(b), nil
}

// take removes and returns what is waiting to be read.
func (p *pipeEnd) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := bytes.Clone(p.in.Bytes())
	p.in.Reset()
	return b
}

// give appends ciphertext for Read.
func (p *pipeEnd) give(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.in.Write(b)
	p.cond.Broadcast()
}

func (p *pipeEnd) setNonblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonblock = true
}

func (p *pipeEnd) Close() error                     { return nil }
func (p *pipeEnd) LocalAddr() net.Addr              { return nil }
func (p *pipeEnd) RemoteAddr() net.Addr             { return nil }
func (p *pipeEnd) SetDeadline(time.Time) error      { return nil }
func (p *pipeEnd) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeEnd) SetWriteDeadline(time.Time) error { return nil }

func testConfigs(t *testing.T) (*tls.Config, *tls.Config) {
	t.Helper()
	ca := testcert.NewCA("pin CA")
	pair := ca.Leaf(testcert.Options{}, "localhost")
	srv := &tls.Config{Certificates: []tls.Certificate{pair.TLS()}}
	pool := newCertPool(ca)
	cli := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return srv, cli
}

// handshake runs both sides over a blocking pipe and returns them.
func handshake(t *testing.T, version uint16) (*tls.Conn, *pipeEnd, *tls.Conn) {
	t.Helper()
	srvCfg, cliCfg := testConfigs(t)
	srvCfg.MaxVersion, cliCfg.MaxVersion = version, version
	se, ce := newPipe()
	server := tls.Server(se, srvCfg)
	client := tls.Client(ce, cliCfg)
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	return server, se, client
}

// TestHandshakeErrorIsSticky: a handshake that stops on a transport
// error stays failed, even once the bytes it wanted are there
// (Conn.handshakeErr). So a handshake cannot be driven by non-blocking
// reads: it runs on a goroutine that blocks on its transport.
func TestHandshakeErrorIsSticky(t *testing.T) {
	srvCfg, cliCfg := testConfigs(t)
	se, ce := newPipe()
	se.setNonblock()
	server := tls.Server(se, srvCfg)
	err1 := server.Handshake()
	if !errors.Is(err1, errWouldBlock) {
		t.Fatalf("first handshake: got %v, want the transport's would-block error", err1)
	}
	// The client's hello arrives; the server does not read it again.
	client := tls.Client(ce, cliCfg)
	go client.Handshake()
	deadline := time.Now().Add(5 * time.Second)
	for {
		se.mu.Lock()
		n := se.in.Len()
		se.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	err2 := server.Handshake()
	if err2 != err1 {
		t.Fatalf("second handshake: got %v, want the first error again (%v)", err2, err1)
	}
	if se.in.Len() == 0 {
		t.Fatal("the second handshake read the client hello; it should have failed without reading")
	}
	client.Close()
}

// TestReadSurvivesTemporaryError: after the handshake, a Read that meets
// a temporary net.Error keeps the partial record it has and works again
// once the rest arrives (readRecordOrCCS only records errors that are
// not Temporary). The loop feeds records in whatever pieces the socket
// gives.
func TestReadSurvivesTemporaryError(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		server, se, client := handshake(t, v)
		se.setNonblock()
		// TLS 1.3 tickets or anything else still in flight: drain it.
		buf := make([]byte, 64)
		if n, err := server.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
			t.Fatalf("v%x: read with nothing sent: %d, %v", v, n, err)
		}
		if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		record := se.take()
		half := len(record) / 2
		se.give(record[:half])
		if n, err := server.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
			t.Fatalf("v%x: read of half a record: %d, %v; want would-block", v, n, err)
		}
		se.give(record[half:])
		n, err := server.Read(buf)
		if err != nil || string(buf[:n]) != "GET / HTTP/1.1\r\n\r\n" {
			t.Fatalf("v%x: read after the rest arrived: %q, %v", v, buf[:n], err)
		}
		if _, err := server.Write([]byte("ok")); err != nil {
			t.Fatalf("v%x: write after a would-block read: %v", v, err)
		}
		got := make([]byte, 2)
		if _, err := io.ReadFull(client, got); err != nil || string(got) != "ok" {
			t.Fatalf("v%x: client read %q, %v", v, got, err)
		}
	}
}

// TestWriteErrorIsPermanent: any error from the transport's Write,
// temporary or not, fails every later Write (halfConn.setErrorLocked
// wraps it as permanent). So the loop's transport never fails a write:
// it keeps what the socket did not take and flushes it later.
func TestWriteErrorIsPermanent(t *testing.T) {
	server, se, _ := handshake(t, tls.VersionTLS13)
	se.mu.Lock()
	se.failWrites = 1
	se.mu.Unlock()
	if _, err := server.Write([]byte("a")); err == nil {
		t.Fatal("write through a failing transport succeeded")
	}
	if _, err := server.Write([]byte("b")); err == nil {
		t.Fatal("a write after a failed one succeeded: crypto/tls no longer keeps write errors")
	}
}

// TestWriteIsOneTransportWritePerRecord: Write hands each record to the
// transport in a Write of its own (writeRecordLocked), so the transport
// gathers them and the loop sends a batch with one system call.
func TestWriteIsOneTransportWritePerRecord(t *testing.T) {
	server, se, _ := handshake(t, tls.VersionTLS13)
	se.mu.Lock()
	se.writes = 0
	n0 := se.peer.in.Len()
	se.mu.Unlock()
	// 40 KiB is more than two records of 16 KiB.
	if _, err := server.Write(bytes.Repeat([]byte("x"), 40<<10)); err != nil {
		t.Fatal(err)
	}
	records := countRecords(se.peer.take()[n0:])
	if records < 3 || se.writes != records {
		t.Fatalf("40 KiB went out in %d records through %d transport writes; want at least 3, one write each", records, se.writes)
	}
}

// countRecords counts the TLS records in b.
func countRecords(b []byte) int {
	n := 0
	for len(b) >= 5 {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < 5+l {
			break
		}
		b = b[5+l:]
		n++
	}
	return n
}

func newCertPool(ca *testcert.CA) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// TestReadAllocatesOnce: a Read that has to ask the transport for
// ciphertext allocates once (readFromUntil's &atLeastReader{}, which
// bytes.Buffer.ReadFrom's interface parameter makes escape), and one
// that finds a whole record buffered allocates nothing. That is why
// Conn.fill puts the socket's bytes in crypto/tls's buffer before a Read
// (worker's TestTLSCachedRequestAllocs wants 0 allocations); if this
// fails with 0, crypto/tls stopped allocating there, and fill could go.
func TestReadAllocatesOnce(t *testing.T) {
	server, se, client := handshake(t, tls.VersionTLS13)
	se.setNonblock()
	buf := make([]byte, 4096)
	msg := []byte("GET / HTTP/1.1\r\n\r\n")
	for i := 0; i < 100; i++ {
		client.Write(msg)
		server.Read(buf)
	}
	empty := testing.AllocsPerRun(100, func() { server.Read(buf) })
	if empty != 1 {
		t.Errorf("a Read that finds nothing allocates %v times, want 1", empty)
	}
}
