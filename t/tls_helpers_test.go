package t

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tern/internal/testcert"
)

// Helpers for the HTTPS tests: certificates made for each test (no
// private key is checked in), TLS clients, and the command-line clients
// curl and openssl, which the tests skip without, saying so.

// tlsCerts are a test's CA and certificates, written under DIR/certs:
//
//	ca.pem                           the CA
//	localhost.crt/.key               ECDSA, localhost and 127.0.0.1
//	localhost.rsa.crt/.key           RSA, the same names
//	a.test.crt/.key, b.test.crt/.key ECDSA, one name each
//	both.test.ec.crt/.key, both.test.rsa.crt/.key  ECDSA and RSA, both.test
//	client.crt/.key                  a client certificate by the CA
//	other-client.crt/.key            a client certificate by another CA
type tlsCerts struct {
	ca   *testcert.CA
	pool *x509.CertPool
	dir  string
}

func writeCerts(t testing.TB, s *server) *tlsCerts {
	t.Helper()
	ca := testcert.NewCA("tern test CA")
	other := testcert.NewCA("another CA")
	c := &tlsCerts{ca: ca, pool: x509.NewCertPool(), dir: filepath.Join(s.dir, "certs")}
	c.pool.AddCert(ca.Cert)
	pairs := map[string]testcert.Pair{
		"localhost":     ca.Leaf(testcert.Options{}, "localhost", "127.0.0.1"),
		"localhost.rsa": ca.Leaf(testcert.Options{Key: testcert.RSA}, "localhost", "127.0.0.1"),
		"a.test":        ca.Leaf(testcert.Options{}, "a.test"),
		"b.test":        ca.Leaf(testcert.Options{}, "b.test"),
		"both.test.ec":  ca.Leaf(testcert.Options{}, "both.test"),
		"both.test.rsa": ca.Leaf(testcert.Options{Key: testcert.RSA}, "both.test"),
		"client":        ca.Leaf(testcert.Options{Client: true}, "client"),
		"other-client":  other.Leaf(testcert.Options{Client: true}, "intruder"),
	}
	for name, p := range pairs {
		s.write("certs/"+name+".crt", string(p.CertPEM))
		s.write("certs/"+name+".key", string(p.KeyPEM))
	}
	s.write("certs/ca.pem", string(ca.CertPEM))
	return c
}

// path is a file under DIR/certs.
func (c *tlsCerts) path(name string) string { return filepath.Join(c.dir, name) }

// clientPair loads a client certificate of the set.
func (c *tlsCerts) clientPair(t testing.TB, name string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(c.path(name+".crt"), c.path(name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// config returns a client configuration that trusts the CA, with SNI
// name ("" sends none: the connection is to an IP address).
func (c *tlsCerts) config(name string) *tls.Config {
	cfg := &tls.Config{RootCAs: c.pool, ServerName: name}
	if name == "" {
		cfg.ServerName = "127.0.0.1"
	}
	return cfg
}

// dialTLS opens a TLS connection to the server and completes the
// handshake.
func (s *server) dialTLS(cfg *tls.Config) *client {
	s.t.Helper()
	c, err := s.tryTLS(cfg)
	if err != nil {
		s.t.Fatalf("TLS handshake: %v", err)
	}
	return c
}

// tryTLS is dialTLS that returns the handshake's error.
func (s *server) tryTLS(cfg *tls.Config) (*client, error) {
	s.t.Helper()
	raw, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { raw.Close() })
	tc := tls.Client(raw, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return &client{t: s.t, c: tc, br: bufio.NewReader(tc)}, nil
}

// tlsConfig serves ROOT over TLS on PORT with localhost's certificate
// (ECDSA), with extra http-level and server-level lines.
func tlsConfig(httpExtra, serverExtra string) string {
	return serversConfig(httpExtra + `
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    root = "{{ROOT}}"
    ssl_certificate = "{{DIR}}/certs/localhost.crt"
    ssl_certificate_key = "{{DIR}}/certs/localhost.key"
` + serverExtra + `
  }`)
}

// newTLSServer prepares a server whose certificates are written before
// its configuration is checked.
func newTLSServer(t *testing.T, cfg string) (*server, *tlsCerts) {
	t.Helper()
	s := newServer(t, cfg)
	return s, writeCerts(t, s)
}

// needTool returns the path of a command-line client, or skips the test
// saying that it is missing (.ci/run installs them).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIP: %s is not installed (apt-get install %s); this test needs a real %s client", name, name, name)
	}
	return p
}

// runTool runs a client with stdin and returns its combined output and
// exit code.
func runTool(t *testing.T, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v ran for 30s:\n%s", name, args, out.String())
	}
	return "", -1
}

// sClient runs openssl s_client against the server, sending stdin, and
// returns its output. With a request to send, it waits for the server to
// close the connection (-ign_eof: send HTTP/1.0 requests); without, it
// closes after the handshake.
func (s *server) sClient(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	openssl := needTool(t, "openssl")
	base := []string{"s_client", "-connect", s.addr}
	if stdin != "" {
		base = append(base, "-ign_eof")
	}
	return runTool(t, stdin, openssl, append(base, args...)...)
}

// curl runs curl against https://NAME:PORT/PATH (NAME resolving to
// 127.0.0.1), trusting the test CA, and returns its output.
func (s *server) curl(t *testing.T, c *tlsCerts, name, path string, args ...string) (string, int) {
	t.Helper()
	curl := needTool(t, "curl")
	base := []string{"-sS", "--max-time", "20", "--cacert", c.path("ca.pem"),
		"--resolve", name + ":" + strconv.Itoa(s.port) + ":127.0.0.1", "https://" + name + ":" + strconv.Itoa(s.port) + path}
	return runTool(t, "", curl, append(base, args...)...)
}

// accessEntries returns the server's access log lines once every worker
// has written them (after a stop).
func accessLog(t *testing.T, s *server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "logs", "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
