package t

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTLSServes: over TLS, files of every size come out byte for byte,
// keep-alive and pipelining work, and the access log names the protocol,
// cipher and ALPN.
func TestTLSServes(t *testing.T) {
	s, certs := newTLSServer(t, tlsConfig("", `location "/dir/" { autoindex = true }`))
	s.file("small.txt", "hello over TLS\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	s.file("big.bin", string(big))
	os.MkdirAll(filepath.Join(s.root, "dir"), 0o755)
	s.start()

	cfg := certs.config("localhost")
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c := s.dialTLS(cfg)
	st := c.c.(*tls.Conn).ConnectionState()
	if st.NegotiatedProtocol != "http/1.1" || st.Version != tls.VersionTLS13 {
		t.Fatalf("ALPN %q, version %x", st.NegotiatedProtocol, st.Version)
	}
	r := c.do(req("GET", "/small.txt"))
	if r.status != 200 || string(r.body) != "hello over TLS\n" {
		t.Fatalf("small: %v %q", r, r.body)
	}
	r = c.do(req("GET", "/big.bin"))
	if r.status != 200 || !bytes.Equal(r.body, big) {
		t.Fatalf("big: %v", r)
	}
	r = c.do(req("GET", "/big.bin", "Range: bytes=100000-100009"))
	if r.status != 206 || string(r.body) != string(big[100000:100010]) {
		t.Fatalf("range: %v %q", r, r.body)
	}
	// Pipelined: two requests in one record.
	c.send(req("HEAD", "/small.txt") + req("GET", "/small.txt"))
	if r1, r2 := c.read("HEAD"), c.read("GET"); r1.status != 200 || r2.status != 200 || string(r2.body) != "hello over TLS\n" {
		t.Fatalf("pipelined: %v %v", r1, r2)
	}
	// A directory redirect is to https, without the default port only.
	if r := c.do(req("GET", "/dir")); r.status != 301 || r.header("Location") != "https://localhost:"+strconv.Itoa(s.port)+"/dir/" {
		t.Fatalf("redirect: %v", r)
	}
	c.c.Close()

	s.signal(syscall.SIGQUIT)
	s.wait(10 * time.Second)
	var e map[string]any
	for _, line := range strings.Split(strings.TrimSpace(accessLog(t, s)), "\n") {
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e["tls_protocol"] != "TLSv1.3" || e["tls_cipher"] != "TLS_AES_128_GCM_SHA256" && e["tls_cipher"] != "TLS_AES_256_GCM_SHA384" &&
			e["tls_cipher"] != "TLS_CHACHA20_POLY1305_SHA256" || e["alpn"] != "http/1.1" {
			t.Fatalf("access log: %s", line)
		}
	}
}

// TestTLSPlainOnTLSPort: a plain HTTP request on a TLS listener gets
// nginx's 400 page and a closed connection; error_page 497 may redirect
// it instead.
func TestTLSPlainOnTLSPort(t *testing.T) {
	s, _ := newTLSServer(t, tlsConfig("", `location "/r/" { error_page = { "497" = "https://$host:{{PORT}}$request_uri" } }`))
	s.start()
	c := s.dial()
	r := c.do(req("GET", "/x"))
	if r.status != 400 || !strings.Contains(string(r.body), "The plain HTTP request was sent to HTTPS port") || r.header("Connection") != "close" {
		t.Fatalf("plain request: %v %q", r, r.body)
	}
	c.expectClosed(5 * time.Second)
	if r := s.get(req("GET", "/r/a?b")); r.status != 302 || r.header("Location") != "https://localhost:"+strconv.Itoa(s.port)+"/r/a?b" {
		t.Fatalf("error_page 497: %v", r)
	}
	// Text that is no request gets the parser's 400; bytes that are
	// neither TLS nor text, a closed connection (nginx would try them as
	// a request too).
	c = s.dial()
	c.send("NOT A REQUEST\r\n\r\n")
	if r := c.read("GET"); r.status != 400 {
		t.Fatalf("text: %v", r)
	}
	c = s.dial()
	c.send("\x00\x01\x02 nothing\r\n\r\n")
	c.expectClosed(5 * time.Second)
}

// sniConfig has three servers on one TLS address: a.test (the default,
// its own certificate), b.test (another certificate) and c.test (a.test's
// certificate, another root), and reject.test, which refuses handshakes.
const sniConfig = `
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    server_name = ["a.test", "localhost"]
    root = "{{DIR}}/a"
    ssl_certificate = "{{DIR}}/certs/a.test.crt"
    ssl_certificate_key = "{{DIR}}/certs/a.test.key"
  }
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    server_name = ["b.test"]
    root = "{{DIR}}/b"
    ssl_certificate = "{{DIR}}/certs/b.test.crt"
    ssl_certificate_key = "{{DIR}}/certs/b.test.key"
  }
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    server_name = ["c.test"]
    root = "{{DIR}}/c"
    ssl_certificate = "{{DIR}}/certs/a.test.crt"
    ssl_certificate_key = "{{DIR}}/certs/a.test.key"
  }
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    server_name = ["reject.test"]
    ssl_reject_handshake = true
  }`

func newSNIServer(t *testing.T) (*server, *tlsCerts) {
	t.Helper()
	s, certs := newTLSServer(t, serversConfig(sniConfig))
	for _, n := range []string{"a", "b", "c"} {
		s.write(n+"/who", n+"\n")
	}
	return s.start(), certs
}

// TestTLSSNI: SNI picks the server and its certificate; without SNI the
// default server answers; ssl_reject_handshake ends the handshake with
// unrecognized_name.
func TestTLSSNI(t *testing.T) {
	s, certs := newSNIServer(t)
	for _, tt := range []struct{ sni, cert, who string }{
		{"a.test", "a.test", "a"},
		{"b.test", "b.test", "b"},
		{"c.test", "a.test", "c"},
	} {
		cfg := certs.config(tt.sni)
		cfg.InsecureSkipVerify = tt.cert != tt.sni // c.test has a.test's certificate
		c := s.dialTLS(cfg)
		if cn := c.c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName; cn != tt.cert {
			t.Errorf("SNI %s: certificate for %s", tt.sni, cn)
		}
		r := c.do("GET /who HTTP/1.1\r\nHost: " + tt.sni + "\r\n\r\n")
		if r.status != 200 || string(r.body) != tt.who+"\n" {
			t.Errorf("SNI %s: %v %q", tt.sni, r, r.body)
		}
	}
	// No SNI (an IP address): the default server's certificate.
	cfg := certs.config("")
	cfg.InsecureSkipVerify = true
	if c := s.dialTLS(cfg); c.c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName != "a.test" {
		t.Error("no SNI: not the default server's certificate")
	}
	if _, err := s.tryTLS(certs.config("reject.test")); err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("reject.test: %v, want an unrecognized_name alert", err)
	}
}

// TestTLS421: a request whose Host names a server with another
// certificate than the one SNI chose gets 421, also when SNI named no
// server and the default server made the handshake; one with the same
// certificate is served by its Host's server, and so is any Host on a
// connection without SNI, as nginx.
func TestTLS421(t *testing.T) {
	s, certs := newSNIServer(t)
	c := s.dialTLS(certs.config("a.test"))
	if r := c.do("GET /who HTTP/1.1\r\nHost: b.test\r\n\r\n"); r.status != 421 {
		t.Fatalf("Host b.test on a.test's connection: %v", r)
	}
	if r := c.do("GET /who HTTP/1.1\r\nHost: c.test\r\n\r\n"); r.status != 200 || string(r.body) != "c\n" {
		t.Fatalf("Host c.test (same certificate) on a.test's connection: %v %q", r, r.body)
	}
	unknown := certs.config("unknown.test")
	unknown.InsecureSkipVerify = true // the default server's a.test certificate
	c = s.dialTLS(unknown)
	if r := c.do("GET /who HTTP/1.1\r\nHost: b.test\r\n\r\n"); r.status != 421 {
		t.Fatalf("Host b.test with SNI unknown.test: %v", r)
	}
	noSNI := certs.config("")
	noSNI.InsecureSkipVerify = true
	c = s.dialTLS(noSNI)
	for _, host := range []string{"b.test", "a.test"} {
		if r := c.do("GET /who HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); r.status != 200 || string(r.body) != host[:1]+"\n" {
			t.Fatalf("Host %s without SNI: %v %q", host, r, r.body)
		}
	}
}

// TestTLSClientCertificates: ssl_verify_client on answers 400 to a
// client without a certificate or with one of another CA, and serves one
// with a good certificate; optional serves a client without one.
func TestTLSClientCertificates(t *testing.T) {
	s, certs := newTLSServer(t, tlsConfig("", `
    ssl_client_certificate = "{{DIR}}/certs/ca.pem"
    ssl_verify_client = "on"
    location "/optional/" { }`)+"\n")
	s.file("f", "secret\n")
	s.start()
	cases := []struct {
		cert   string
		status int
		text   string
	}{
		{"", 400, "No required SSL certificate was sent"},
		{"other-client", 400, "The SSL certificate error"},
		{"client", 200, "secret"},
	}
	for _, tt := range cases {
		cfg := certs.config("localhost")
		if tt.cert != "" {
			// Sent whatever CAs the server names (crypto/tls would keep
			// back a certificate of another CA).
			pair := certs.clientPair(t, tt.cert)
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		}
		c := s.dialTLS(cfg)
		r := c.do(req("GET", "/f"))
		if r.status != tt.status || !strings.Contains(string(r.body), tt.text) {
			t.Errorf("client certificate %q: %v %q", tt.cert, r, r.body)
		}
		if tt.status == 400 {
			c.expectClosed(5 * time.Second)
		}
	}
}

// TestTLSHandshakeTimeout: ssl_handshake_timeout closes a connection that
// sends nothing, or only part of its ClientHello.
func TestTLSHandshakeTimeout(t *testing.T) {
	s, _ := newTLSServer(t, tlsConfig(`ssl_handshake_timeout = "1s"`, ""))
	s.start()
	for _, sent := range []string{"", "\x16\x03\x01\x02\x00\x01"} {
		c := s.dial()
		if sent != "" {
			c.send(sent)
		}
		start := time.Now()
		c.expectClosed(10 * time.Second)
		if d := time.Since(start); d < 500*time.Millisecond || d > 8*time.Second {
			t.Errorf("sent %q: closed after %v, want about 1s", sent, d)
		}
	}
}

// TestTLSConfigTest: tern -t loads the certificates: a key that does not
// match is an error at its line, a certificate about to expire a warning.
func TestTLSConfigTest(t *testing.T) {
	s, _ := newTLSServer(t, tlsConfig("", ""))
	cfg := filepath.Join(s.dir, "tern.hcl")
	if code, _, errOut := runTern(t, s.dir, "-t", "-c", cfg); code != 0 || !strings.Contains(errOut, "test is successful") {
		t.Fatalf("-t: %d %s", code, errOut)
	}
	text, _ := os.ReadFile(cfg)
	bad := strings.Replace(string(text), "certs/localhost.key", "certs/a.test.key", 1)
	s.write("bad.hcl", bad)
	code, _, errOut := runTern(t, s.dir, "-t", "-c", filepath.Join(s.dir, "bad.hcl"))
	line := 1 + strings.Count(bad[:strings.Index(bad, "ssl_certificate_key")], "\n")
	want := regexp.MustCompile(`bad\.hcl:` + strconv.Itoa(line) + `,5: Invalid ssl_certificate_key: .*a\.test\.key does not go with .*localhost\.crt`)
	if code != 1 || !want.MatchString(errOut) {
		t.Fatalf("mismatched key: %d %s", code, errOut)
	}
}

// TestTLSStillServesDuringHandshakes: a client that opens connections and
// never finishes a handshake does not hold up a client that does.
func TestTLSStillServesDuringHandshakes(t *testing.T) {
	s, certs := newTLSServer(t, tlsConfig(`ssl_handshake_timeout = "30s"`, ""))
	s.file("f", "ok\n")
	s.start()
	var stuck []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x16, 3, 1})
		stuck = append(stuck, c)
	}
	defer func() {
		for _, c := range stuck {
			c.Close()
		}
	}()
	c := s.dialTLS(certs.config("localhost"))
	if r := c.do(req("GET", "/f")); r.status != 200 {
		t.Fatalf("%v", r)
	}
	io.WriteString(stuck[0], "")
}

// TestTLSVariables: the $ssl_ variables, in add_header, on a connection
// with a client certificate, then on a resumed one.
func TestTLSVariables(t *testing.T) {
	s, certs := newTLSServer(t, tlsConfig("", `
    ssl_client_certificate = "{{DIR}}/certs/ca.pem"
    ssl_verify_client = "optional"
    add_header = { "X-TLS" = "$ssl_protocol|$ssl_cipher|$ssl_server_name|$ssl_session_reused|$ssl_alpn_protocol|$scheme|$https",
                   "X-Client" = "$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|$ssl_client_serial",
                   "X-Legacy" = "$ssl_client_s_dn_legacy|$ssl_client_i_dn_legacy|$ssl_client_v_remain",
                   "X-Dates" = "$ssl_client_v_start|$ssl_client_v_end",
                   "X-Cert" = "$ssl_client_escaped_cert",
                   "X-Ciphers" = "$ssl_ciphers",
                   "X-Session" = "$ssl_session_id" }`))
	s.file("f", "x")
	s.start()
	cfg := certs.config("localhost")
	cfg.MaxVersion = tls.VersionTLS12
	cfg.NextProtos = []string{"http/1.1"}
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	pair := certs.clientPair(t, "client")
	cfg.Certificates = []tls.Certificate{pair}
	r := s.dialTLS(cfg).do(req("GET", "/f"))
	if got := r.header("X-TLS"); got != "TLSv1.2|ECDHE-ECDSA-AES128-GCM-SHA256|localhost|.|http/1.1|https|on" {
		t.Errorf("X-TLS: %q", got)
	}
	want := "SUCCESS|CN=client|CN=tern test CA|" + strings.ToUpper(pair.Leaf.SerialNumber.Text(16))
	if got := r.header("X-Client"); got != want {
		t.Errorf("X-Client: %q, want %q", got, want)
	}
	if got := r.header("X-Legacy"); got != "/CN=client|/CN=tern test CA|364" && got != "/CN=client|/CN=tern test CA|365" {
		t.Errorf("X-Legacy: %q", got)
	}
	dates := pair.Leaf.NotBefore.UTC().Format("Jan _2 15:04:05 2006 GMT") + "|" + pair.Leaf.NotAfter.UTC().Format("Jan _2 15:04:05 2006 GMT")
	if got := r.header("X-Dates"); got != dates {
		t.Errorf("X-Dates: %q, want %q", got, dates)
	}
	if got, _ := url.QueryUnescape(r.header("X-Cert")); !strings.HasPrefix(got, "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("X-Cert: %q", r.header("X-Cert"))
	}
	if got := r.header("X-Ciphers"); !strings.Contains(got, "ECDHE-ECDSA-AES128-GCM-SHA256") || !strings.Contains(got, ":") {
		t.Errorf("X-Ciphers: %q", got)
	}
	session := r.header("X-Session")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(session) {
		t.Errorf("X-Session: %q, want 64 hexadecimal digits", session)
	}
	r = s.dialTLS(cfg).do(req("GET", "/f"))
	if got := r.header("X-TLS"); !strings.Contains(got, "|localhost|r|") {
		t.Errorf("resumed: X-TLS %q", got)
	}
	if got := r.header("X-Session"); got != session {
		t.Errorf("resumed: X-Session %q, want the session's %q", got, session)
	}
	plain := certs.config("")
	plain.InsecureSkipVerify = true
	r = s.dialTLS(plain).do(req("GET", "/f"))
	if got := r.header("X-Client"); got != "NONE|||" {
		t.Errorf("no client certificate, no SNI: X-Client %q", got)
	}
	if got := r.header("X-Session"); got != "" {
		t.Errorf("a client that takes no ticket: X-Session %q", got)
	}
	other := certs.config("localhost")
	other.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	if got := s.dialTLS(other).do(req("GET", "/f")).header("X-Session"); len(got) != 64 || got == session {
		t.Errorf("another session (TLS 1.3): X-Session %q (the first %q)", got, session)
	}
}
