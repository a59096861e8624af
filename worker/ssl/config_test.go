package ssl

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"
	"time"

	"tern/conf"
	"tern/internal/testcert"
)

// confFixture is a configuration with TLS servers and the CA of their
// certificates.
type confFixture struct {
	cfg    *conf.Config
	ca     *testcert.CA
	client testcert.Pair // signed by ca, for client authentication
}

// loadConf decodes src with PEM files: a.crt/a.key (ECDSA, a.test),
// a.rsa.crt/a.rsa.key (RSA, a.test), b.crt/b.key (b.test), ca.pem,
// other-ca.pem, and two ticket keys k48 and k80.
func loadConf(t *testing.T, src string) *confFixture {
	t.Helper()
	ca := testcert.NewCA("ssl test CA")
	other := testcert.NewCA("other CA")
	a := ca.Leaf(testcert.Options{}, "a.test")
	ar := ca.Leaf(testcert.Options{Key: testcert.RSA}, "a.test")
	b := ca.Leaf(testcert.Options{}, "b.test")
	files := map[string][]byte{
		"/t/a.crt": a.CertPEM, "/t/a.key": a.KeyPEM, "/t/a.rsa.crt": ar.CertPEM, "/t/a.rsa.key": ar.KeyPEM,
		"/t/b.crt": b.CertPEM, "/t/b.key": b.KeyPEM, "/t/ca.pem": ca.CertPEM, "/t/other-ca.pem": other.CertPEM,
		"/t/k48": bytes.Repeat([]byte{1}, 48), "/t/k80": bytes.Repeat([]byte{2}, 80),
		"/t/tern.hcl": []byte(src),
	}
	cfg, err := conf.LoadSnapshot("/t/tern.hcl", "/t", files)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return &confFixture{cfg: cfg, ca: ca, client: ca.Leaf(testcert.Options{Client: true}, "client")}
}

const twoServers = `http {
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["a.test"]
    ssl_certificate = ["a.crt", "a.rsa.crt"]
    ssl_certificate_key = ["a.key", "a.rsa.key"]
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["b.test"]
    ssl_certificate = "b.crt"
    ssl_certificate_key = "b.key"
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["reject.test"]
    ssl_reject_handshake = true
  }
}
`

// shake runs a handshake between cfg's address and a client; it returns
// the client's connection state and error.
func shake(t *testing.T, cs *Configs, addr *conf.Addr, cli *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	se, ce := newPipe()
	server := tls.Server(se, cs.forAddr(addr))
	client := tls.Client(ce, cli)
	done := make(chan error, 1)
	go func() {
		err := server.Handshake()
		if err == nil {
			_, err = server.Write([]byte("ok"))
		}
		done <- err
	}()
	err := client.Handshake()
	if err == nil {
		// The server's first data comes after its TLS 1.3 tickets,
		// which the client takes as it reads.
		_, err = io.ReadFull(client, make([]byte, 2))
	}
	if err == nil {
		err = <-done
	}
	return client.ConnectionState(), err
}

func (f *confFixture) clientConfig(name string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Cert)
	return &tls.Config{RootCAs: pool, ServerName: name}
}

func TestConfigsSNI(t *testing.T) {
	f := loadConf(t, twoServers)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	addr := f.cfg.HTTP.Addrs[0]
	tests := []struct {
		sni, want string
		rsa       bool // the client supports RSA only
	}{
		{"a.test", "a.test", false},
		{"b.test", "b.test", false},
		{"A.TEST", "a.test", false},
		{"unknown.test", "a.test", false}, // the default server
		{"a.test", "a.test", true},
	}
	for i, tt := range tests {
		cli := f.clientConfig(tt.sni)
		cli.ServerName = tt.sni
		cli.InsecureSkipVerify = true // "unknown.test" gets a.test's certificate
		if tt.rsa {
			cli.MaxVersion = tls.VersionTLS12
			cli.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		}
		st, err := shake(t, cs, addr, cli)
		if err != nil {
			t.Errorf("%d: handshake: %v", i, err)
			continue
		}
		leaf := st.PeerCertificates[0]
		if leaf.Subject.CommonName != tt.want {
			t.Errorf("%d: SNI %q got a certificate for %s", i, tt.sni, leaf.Subject.CommonName)
		}
		if wantRSA := tt.rsa; (leaf.PublicKeyAlgorithm == x509.RSA) != wantRSA {
			t.Errorf("%d: %v key, want RSA %v", i, leaf.PublicKeyAlgorithm, wantRSA)
		}
		if st.NegotiatedProtocol != "" {
			t.Errorf("%d: ALPN %q without the client asking", i, st.NegotiatedProtocol)
		}
	}
}

// TestConfigsReject: ssl_reject_handshake ends the handshake with an
// unrecognized_name alert, as nginx's.
func TestConfigsReject(t *testing.T) {
	f := loadConf(t, twoServers)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	_, err := shake(t, cs, f.cfg.HTTP.Addrs[0], f.clientConfig("reject.test"))
	// The alert of RFC 6066 §3, which the client reports as a remote
	// error.
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("got %v, want the unrecognized_name alert", err)
	}
}

func TestConfigsALPN(t *testing.T) {
	f := loadConf(t, twoServers)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	cli := f.clientConfig("a.test")
	cli.NextProtos = []string{"h2", "http/1.1"}
	st, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli)
	if err != nil || st.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("h2, http/1.1: %q, %v", st.NegotiatedProtocol, err)
	}
	cli.NextProtos = []string{"h2"}
	if _, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli); err == nil || !strings.Contains(err.Error(), "no application protocol") {
		t.Fatalf("h2 only: %v, want no_application_protocol", err)
	}
}

func TestConfigsProtocols(t *testing.T) {
	f := loadConf(t, strings.Replace(twoServers, `server_name = ["b.test"]`,
		`server_name = ["b.test"]
    ssl_protocols = ["TLSv1.2"]
    ssl_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"`, 1))
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	addr := f.cfg.HTTP.Addrs[0]
	st, err := shake(t, cs, addr, f.clientConfig("b.test"))
	if err != nil || st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Fatalf("b.test: %x %x %v", st.Version, st.CipherSuite, err)
	}
	cli := f.clientConfig("b.test")
	cli.MinVersion = tls.VersionTLS13
	if _, err := shake(t, cs, addr, cli); err == nil {
		t.Fatal("a TLS 1.3-only client got through to a TLS 1.2 server")
	}
	if st, err := shake(t, cs, addr, f.clientConfig("a.test")); err != nil || st.Version != tls.VersionTLS13 {
		t.Fatalf("a.test: %x %v", st.Version, err)
	}
}

// resumes runs two handshakes with one client session cache, the second
// with the Configs second returns (cs when nil), and reports whether it
// resumed.
func resumes(t *testing.T, cs *Configs, addr *conf.Addr, cli *tls.Config, second func() *Configs) bool {
	t.Helper()
	cli.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	if _, err := shake(t, cs, addr, cli); err != nil {
		t.Fatal(err)
	}
	if second != nil {
		cs = second()
	}
	st, err := shake(t, cs, addr, cli)
	if err != nil {
		t.Fatal(err)
	}
	return st.DidResume
}

func TestConfigsTickets(t *testing.T) {
	f := loadConf(t, twoServers)
	keys := StaticKeys{NewKey()}
	cs := NewConfigs(f.cfg, keys)
	addr := f.cfg.HTTP.Addrs[0]
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cli := f.clientConfig("a.test")
		cli.MaxVersion = v
		if !resumes(t, cs, addr, cli, nil) {
			t.Errorf("v%x: no resumption", v)
		}
		// Another worker (another Configs) with the same keys resumes.
		cli = f.clientConfig("a.test")
		cli.MaxVersion = v
		if !resumes(t, cs, addr, cli, func() *Configs { return NewConfigs(f.cfg, keys) }) {
			t.Errorf("v%x: no resumption with the same keys elsewhere", v)
		}
		// New keys: the old tickets are worthless.
		if resumes(t, cs, addr, cli, func() *Configs { return NewConfigs(f.cfg, StaticKeys{NewKey()}) }) {
			t.Errorf("v%x: resumed with a ticket of other keys", v)
		}
		// Older than ssl_session_timeout (5m by default): a full handshake.
		if resumes(t, cs, addr, cli, func() *Configs {
			later := NewConfigs(f.cfg, keys)
			later.now = func() time.Time { return time.Now().Add(6 * time.Minute) }
			return later
		}) {
			t.Errorf("v%x: resumed a session older than ssl_session_timeout", v)
		}
	}
}

// TestConfigsTicketIdentity: a session made for one server does not
// resume on a server with other certificates, even with the same keys.
func TestConfigsTicketIdentity(t *testing.T) {
	f := loadConf(t, twoServers)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	addr := f.cfg.HTTP.Addrs[0]
	cli := f.clientConfig("a.test")
	cli.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	if _, err := shake(t, cs, addr, cli); err != nil {
		t.Fatal(err)
	}
	// Present a.test's session to b.test: move it in the cache.
	sess, ok := cli.ClientSessionCache.Get("a.test")
	if !ok {
		t.Fatal("no session")
	}
	cli.ClientSessionCache.Put("b.test", sess)
	cli.ServerName = "b.test"
	if st, err := shake(t, cs, addr, cli); err != nil || st.DidResume {
		t.Fatalf("b.test resumed a.test's session: %v %v", st.DidResume, err)
	}
}

// TestConfigsTicketKeyFiles: with ssl_session_ticket_key, tickets carry
// the file's first 16 bytes as their key name, as nginx's, and the
// first file encrypts.
func TestConfigsTicketKeyFiles(t *testing.T) {
	for _, files := range []string{`["k48", "k80"]`, `["k80", "k48"]`} {
		f := loadConf(t, strings.Replace(twoServers, `server_name = ["a.test"]`,
			`server_name = ["a.test"]
    ssl_session_ticket_key = `+files, 1))
		cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
		cli := f.clientConfig("a.test")
		cli.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		if _, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli); err != nil {
			t.Fatal(err)
		}
		sess, _ := cli.ClientSessionCache.Get("a.test")
		ticket, _, err := sess.ResumptionState()
		if err != nil {
			t.Fatal(err)
		}
		want := byte(1)
		if strings.HasPrefix(files, `["k80"`) {
			want = 2
		}
		if !bytes.Equal(ticket[:16], bytes.Repeat([]byte{want}, 16)) {
			t.Errorf("%s: ticket key name %x", files, ticket[:16])
		}
		if !resumes(t, cs, f.cfg.HTTP.Addrs[0], cli, nil) {
			t.Errorf("%s: no resumption", files)
		}
	}
}

func TestOpenTicket(t *testing.T) {
	k48, k80 := bytes.Repeat([]byte{1}, 48), NewKey()
	for _, key := range [][]byte{k48, k80} {
		state := []byte("session state of some length")
		tk, err := sealTicket(key, state)
		if err != nil {
			t.Fatal(err)
		}
		if got := openTicket([][]byte{NewKey(), key}, tk); !bytes.Equal(got, state) {
			t.Errorf("%d-byte key: opened %q", len(key), got)
		}
		for i := range tk {
			bad := bytes.Clone(tk)
			bad[i] ^= 1
			if openTicket([][]byte{key}, bad) != nil {
				t.Fatalf("%d-byte key: a ticket with byte %d flipped opened", len(key), i)
			}
		}
		if openTicket([][]byte{key}, tk[:len(tk)-1]) != nil || openTicket([][]byte{NewKey()}, tk) != nil {
			t.Errorf("%d-byte key: a short ticket or one of another key opened", len(key))
		}
	}
}

func TestVerifyClient(t *testing.T) {
	f := loadConf(t, `http {
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["on"]
    ssl_certificate = "a.crt"
    ssl_certificate_key = "a.key"
    ssl_verify_client = "on"
    ssl_client_certificate = "ca.pem"
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["other"]
    ssl_certificate = "a.crt"
    ssl_certificate_key = "a.key"
    ssl_verify_client = "optional"
    ssl_client_certificate = "other-ca.pem"
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["noca"]
    ssl_certificate = "a.crt"
    ssl_certificate_key = "a.key"
    ssl_verify_client = "optional_no_ca"
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["deep"]
    ssl_certificate = "a.crt"
    ssl_certificate_key = "a.key"
    ssl_verify_client = "on"
    ssl_client_certificate = "ca.pem"
    ssl_verify_depth = 2
  }
}
`)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	srv := f.cfg.HTTP.Servers
	inter := f.ca.Leaf(testcert.Options{Intermediate: true}, "intermediate")
	viaInter := inter.AsCA().Leaf(testcert.Options{Client: true}, "deep client")
	serverCert := f.ca.Leaf(testcert.Options{}, "not a client")
	tests := []struct {
		srv   int
		chain []*x509.Certificate
		want  Verify
	}{
		{0, nil, VerifyNone},
		{0, []*x509.Certificate{f.client.Cert}, VerifySuccess},
		{0, []*x509.Certificate{serverCert.Cert}, VerifyFailed}, // no clientAuth usage
		{0, []*x509.Certificate{viaInter.Cert, inter.Cert}, VerifyFailed},
		{3, []*x509.Certificate{viaInter.Cert, inter.Cert}, VerifySuccess},
		{1, []*x509.Certificate{f.client.Cert}, VerifyFailed},
		{2, []*x509.Certificate{f.client.Cert}, VerifyFailed},
	}
	for i, tt := range tests {
		if got, _ := cs.verifyClient(srv[tt.srv], tt.chain); got != tt.want {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
	// The handshake asks for a certificate, names the CA, and does not
	// fail without one: the request gets 496 instead.
	var named [][]byte
	cli := f.clientConfig("on")
	cli.InsecureSkipVerify = true // a.test's certificate for "on"
	cli.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		named = cri.AcceptableCAs
		return &tls.Certificate{}, nil
	}
	if _, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli); err != nil {
		t.Fatalf("a handshake without a client certificate failed: %v", err)
	}
	if len(named) != 1 || !bytes.Equal(named[0], f.ca.Cert.RawSubject) {
		t.Errorf("the CertificateRequest names %q", named)
	}
}

func TestSame(t *testing.T) {
	f := loadConf(t, strings.Replace(twoServers, `  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["reject.test"]`, `  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["a2.test"]
    ssl_certificate = ["a.crt", "a.rsa.crt"]
    ssl_certificate_key = ["a.key", "a.rsa.key"]
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["reject.test"]`, 1))
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	s := f.cfg.HTTP.Servers
	if !cs.Same(s[0], s[0]) || !cs.Same(s[0], s[2]) || cs.Same(s[0], s[1]) || cs.Same(s[1], s[3]) {
		t.Error("Same")
	}
}

// TestConfigsNoCertificate: a server without certificates of its own is
// served with the default server's, as nginx; ssl_reject_handshake
// refuses instead.
func TestConfigsNoCertificate(t *testing.T) {
	f := loadConf(t, strings.Replace(twoServers, `  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["reject.test"]`, `  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["bare.test"]
  }
  server {
    listen = ["127.0.0.1:443 ssl"]
    server_name = ["reject.test"]`, 1))
	if f.cfg.Warnings == nil || !strings.Contains(f.cfg.Warnings.Error(), "get the default server's certificate") {
		t.Errorf("warnings: %v", f.cfg.Warnings)
	}
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	cli := f.clientConfig("bare.test")
	cli.InsecureSkipVerify = true
	st, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli)
	if err != nil || st.PeerCertificates[0].Subject.CommonName != "a.test" {
		t.Fatalf("bare.test: %v", err)
	}
}

// TestVerifyTrusted: ssl_trusted_certificate verifies client
// certificates without naming its CAs to clients.
func TestVerifyTrusted(t *testing.T) {
	f := loadConf(t, `http {
  server {
    listen = ["127.0.0.1:443 ssl"]
    ssl_certificate = "a.crt"
    ssl_certificate_key = "a.key"
    ssl_verify_client = "on"
    ssl_client_certificate = "other-ca.pem"
    ssl_trusted_certificate = "ca.pem"
  }
}
`)
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	if v, why := cs.verifyClient(f.cfg.HTTP.Servers[0], []*x509.Certificate{f.client.Cert}); v != VerifySuccess {
		t.Fatalf("a certificate of a trusted CA: %v %s", v, why)
	}
	var named [][]byte
	cli := f.clientConfig("a.test")
	cli.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		named = cri.AcceptableCAs
		return &tls.Certificate{}, nil
	}
	if _, err := shake(t, cs, f.cfg.HTTP.Addrs[0], cli); err != nil {
		t.Fatal(err)
	}
	if len(named) != 1 || bytes.Contains(named[0], []byte("ssl test CA")) {
		t.Errorf("the trusted CA was named: %q", named)
	}
}
