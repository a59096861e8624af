package conf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tern/internal/testcert"
)

// tlsFiles returns snapshot files for a server: an ECDSA and an RSA
// certificate for localhost with their keys, under /etc/tern/certs.
func tlsFiles(t *testing.T) (*testcert.CA, []string) {
	t.Helper()
	ca := testcert.NewCA("conf test CA")
	ec := ca.Leaf(testcert.Options{}, "localhost")
	rsa := ca.Leaf(testcert.Options{Key: testcert.RSA}, "localhost")
	return ca, []string{
		"/etc/tern/certs/ec.crt", string(ec.CertPEM),
		"/etc/tern/certs/ec.key", string(ec.KeyPEM),
		"/etc/tern/certs/rsa.crt", string(rsa.CertPEM),
		"/etc/tern/certs/rsa.key", string(rsa.KeyPEM),
		"/etc/tern/ca.pem", string(ca.CertPEM),
	}
}

const tlsServer = `http {
  ssl_certificate     = ["certs/ec.crt", "certs/rsa.crt"]
  ssl_certificate_key = ["certs/ec.key", "certs/rsa.key"]
  server {
    listen = ["443 ssl", "8080"]
  }
}
`

func TestSSLLoad(t *testing.T) {
	_, files := tlsFiles(t)
	c := mustLoad(t, tlsServer, files...)
	a := c.HTTP.Addrs
	if len(a) != 2 || !a[0].SSL || a[1].SSL || a[0].Addr != "0.0.0.0:443" {
		t.Fatalf("addresses: %+v %+v", a[0], a[1])
	}
	s := c.HTTP.Servers[0].Root.SSL
	if len(s.Certificates) != 2 || s.Certificates[0].CertFile != "/etc/tern/certs/ec.crt" ||
		s.Certificates[1].KeyFile != "/etc/tern/certs/rsa.key" || s.Certificates[0].TLS.Leaf == nil {
		t.Fatalf("certificates: %+v", s.Certificates)
	}
	if c.Warnings != nil {
		t.Errorf("warnings: %v", c.Warnings)
	}
	// The files travel in the snapshot: a worker decodes the same.
	if _, ok := c.Sources["/etc/tern/certs/rsa.key"]; !ok {
		t.Error("the key is not in Sources")
	}
	snap, err := LoadSnapshot(c.File, c.Prefix, c.Sources)
	if err != nil {
		t.Fatalf("snapshot: %s", errText(err))
	}
	if !reflect.DeepEqual(snap.HTTP.Servers[0].Root.SSL, s) {
		t.Error("the snapshot decodes to other SSL settings")
	}
}

// TestSSLShared: servers that inherit the same files share the loaded
// pair, which is how the worker tells that two servers have the same
// certificate (421).
func TestSSLShared(t *testing.T) {
	_, files := tlsFiles(t)
	c := mustLoad(t, `http {
  ssl_certificate     = "certs/ec.crt"
  ssl_certificate_key = "certs/ec.key"
  server {
    listen = ["443 ssl"]
    server_name = ["a.test"]
  }
  server {
    listen = ["443"]
    server_name = ["b.test"]
  }
  server {
    listen = ["443"]
    server_name = ["c.test"]
    ssl_certificate     = "certs/rsa.crt"
    ssl_certificate_key = "certs/rsa.key"
  }
}
`, files...)
	srv := c.HTTP.Servers
	a, b, cc := srv[0].Root.SSL.Certificates, srv[1].Root.SSL.Certificates, srv[2].Root.SSL.Certificates
	if len(a) != 1 || len(b) != 1 || len(cc) != 1 || a[0] != b[0] || a[0] == cc[0] {
		t.Fatalf("a %v b %v c %v", a, b, cc)
	}
	if !c.HTTP.Addrs[0].SSL {
		t.Error("443 is not a TLS address although one server says ssl")
	}
}

func TestSSLDirectives(t *testing.T) {
	_, files := tlsFiles(t)
	files = append(files, "/etc/tern/keys/a.key", strings.Repeat("a", 80), "/etc/tern/keys/b.key", strings.Repeat("b", 48))
	c := mustLoad(t, `http {
  ssl_certificate        = "certs/ec.crt"
  ssl_certificate_key    = "certs/ec.key"
  ssl_protocols          = ["TLSv1.3"]
  ssl_ciphers            = "ECDHE+AESGCM:ECDHE+CHACHA20"
  ssl_session_tickets    = false
  ssl_session_ticket_key = ["keys/a.key", "keys/b.key"]
  ssl_session_timeout    = "1d"
  ssl_handshake_timeout  = "10s"
  ssl_client_certificate = "ca.pem"
  ssl_verify_client      = "optional"
  ssl_verify_depth       = 2
  server {
    listen = ["443 ssl"]
    ssl_protocols = ["TLSv1.2", "TLSv1.3"]
  }
  server {
    listen = ["444 ssl"]
    ssl_reject_handshake = true
    ssl_verify_client = "optional_no_ca"
  }
}
`, files...)
	s := c.HTTP.Servers[0].Root.SSL
	if s.MinVersion != tls.VersionTLS12 || s.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions %x-%x", s.MinVersion, s.MaxVersion)
	}
	wantSuites := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
	if !slices.Equal(s.CipherSuites, wantSuites) {
		t.Errorf("suites %x", s.CipherSuites)
	}
	if s.SessionTickets || len(s.TicketKeys) != 2 || len(s.TicketKeys[0]) != 80 || s.SessionTimeout != 24*time.Hour ||
		s.HandshakeTimeout != 10*time.Second || len(s.ClientCAs) != 1 || s.VerifyClient != VerifyOptional || s.VerifyDepth != 2 {
		t.Errorf("server 0: %+v", s)
	}
	r := c.HTTP.Servers[1].Root.SSL
	if !r.RejectHandshake || r.MinVersion != tls.VersionTLS13 || r.VerifyClient != VerifyOptionalNoCA {
		t.Errorf("server 1: %+v", r)
	}
}

func TestSSLDiagnostics(t *testing.T) {
	_, files := tlsFiles(t)
	files = append(files, "/etc/tern/keys/short.key", "0123456789", "/etc/tern/empty.pem", "")
	wrap := func(body string) string {
		return "http {\n  server {\n    listen = [\"443 ssl\"]\n" + body + "  }\n}\n"
	}
	pair := "    ssl_certificate = \"certs/ec.crt\"\n    ssl_certificate_key = \"certs/ec.key\"\n"
	tests := []struct {
		src  string
		want []string
	}{
		{wrap(""), []string{"3,15: No certificate for a TLS listener"}},
		{wrap("    ssl_reject_handshake = true\n"), nil},
		{wrap("    ssl_certificate = \"certs/ec.crt\"\n    ssl_certificate_key = \"certs/rsa.key\"\n"),
			[]string{"5,5: Invalid ssl_certificate_key"}},
		{wrap("    ssl_certificate = [\"certs/ec.crt\", \"certs/rsa.crt\"]\n    ssl_certificate_key = \"certs/ec.key\"\n"),
			[]string{"5,5: Invalid ssl_certificate_key"}},
		{wrap("    ssl_certificate = \"certs/none.crt\"\n    ssl_certificate_key = \"certs/ec.key\"\n"),
			[]string{"4,5: Cannot read file"}},
		{wrap("    ssl_certificate = \"certs/ec.key\"\n    ssl_certificate_key = \"certs/ec.key\"\n"),
			[]string{"4,5: Invalid ssl_certificate"}},
		{wrap(pair + "    ssl_protocols = [\"TLSv1\", \"TLSv1.2\"]\n"), []string{"6,21: Invalid ssl_protocols"}},
		{wrap(pair + "    ssl_protocols = [\"SSLv3\"]\n"), []string{"6,22: Invalid ssl_protocols"}},
		{wrap(pair + "    ssl_protocols = []\n"), []string{"6,21: Invalid ssl_protocols"}},
		{wrap(pair + "    ssl_ciphers = \"!ALL\"\n"), []string{"6,19: Invalid ssl_ciphers"}},
		{wrap(pair + "    ssl_ciphers = \"DHE-RSA-AES128-GCM-SHA256\"\n"), []string{"6,19: Invalid ssl_ciphers"}},
		{wrap(pair + "    ssl_session_ticket_key = \"keys/short.key\"\n"), []string{"6,5: Invalid ssl_session_ticket_key"}},
		{wrap(pair + "    ssl_verify_client = \"on\"\n"), []string{"6,5: Invalid ssl_verify_client"}},
		{wrap(pair + "    ssl_verify_client = \"maybe\"\n"), []string{"6,25: Invalid ssl_verify_client"}},
		{wrap(pair + "    ssl_client_certificate = \"empty.pem\"\n"), []string{"6,5: Invalid ssl_client_certificate"}},
		{wrap(pair + "    ssl_verify_depth = -1\n"), []string{"6,24: Invalid ssl_verify_depth"}},
		{wrap(pair + "    ssl_handshake_timeout = \"0s\"\n"), []string{"6,29: Invalid ssl_handshake_timeout"}},
		{wrap(pair + "    ssl_stapling_file = \"ca.pem\"\n"), []string{"6,5: Invalid ssl_stapling_file"}},
		{"http {\n  server {\n    location \"/\" {\n      ssl_protocols = [\"TLSv1.3\"]\n    }\n  }\n}\n",
			[]string{"4,7: ssl_protocols is not allowed here"}},
		// http-level files are reported where http sets them.
		{"http {\n  ssl_certificate = \"certs/ec.crt\"\n  ssl_certificate_key = \"certs/rsa.key\"\n  server {\n    listen = [\"443 ssl\"]\n  }\n}\n",
			[]string{"3,3: Invalid ssl_certificate_key"}},
		// Servers that are not on a TLS address load nothing.
		{"http {\n  ssl_certificate = \"certs/none.crt\"\n  ssl_certificate_key = \"certs/none.key\"\n  server {\n    listen = [\"80\"]\n  }\n}\n", nil},
	}
	for i, tt := range tests {
		_, err := loadText(tt.src, files...)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%d: unexpected error:\n%s", i, errText(err))
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error, want %v", i, tt.want)
			continue
		}
		if got := headlines(t, err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: got %q\nwant %q\n%s", i, got, tt.want, errText(err))
		}
	}
}

func TestSSLWarnings(t *testing.T) {
	ca := testcert.NewCA("warn CA")
	soon := ca.Leaf(testcert.Options{NotAfter: time.Now().Add(10 * 24 * time.Hour)}, "soon.test")
	c := mustLoad(t, "http {\n  server {\n    listen = [\"443 ssl\"]\n    ssl_certificate = \"s.crt\"\n    ssl_certificate_key = \"s.key\"\n    ssl_prefer_server_ciphers = true\n    ssl_ciphers = \"HIGH:!aNULL:!MD5:BOGUS\"\n  }\n}\n",
		"/etc/tern/s.crt", string(soon.CertPEM), "/etc/tern/s.key", string(soon.KeyPEM))
	if c.Warnings == nil {
		t.Fatal("no warnings")
	}
	got := headlines(t, c.Warnings)
	want := []string{"4,5: Warning: Certificate expires soon", "6,5: Warning: ssl_prefer_server_ciphers has no effect", "7,19: Warning: Unknown cipher in ssl_ciphers"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	var b strings.Builder
	c.Warnings.WriteText(&b)
	if !strings.Contains(b.String(), "s.crt (soon.test) expires in 9 days") && !strings.Contains(b.String(), "expires in 10 days") {
		t.Errorf("text:\n%s", b.String())
	}
	if len(c.HTTP.Servers[0].Root.SSL.CipherSuites) != 10 {
		t.Errorf("HIGH:!aNULL:!MD5 selects %d suites, want all 10", len(c.HTTP.Servers[0].Root.SSL.CipherSuites))
	}
}

func TestSSLStapling(t *testing.T) {
	ca := testcert.NewCA("ocsp CA")
	leaf := ca.Leaf(testcert.Options{}, "localhost")
	other := ca.Leaf(testcert.Options{}, "other")
	chain := string(leaf.CertPEM) + string(ca.CertPEM)
	resp := func(serial *big.Int, next time.Time) string {
		der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
			Status: ocsp.Good, SerialNumber: serial, ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next,
		}, ca.Key.(crypto.Signer))
		if err != nil {
			t.Fatal(err)
		}
		return string(der)
	}
	files := []string{
		"/etc/tern/l.crt", chain, "/etc/tern/l.key", string(leaf.KeyPEM),
		"/etc/tern/good.der", resp(leaf.Cert.SerialNumber, time.Now().Add(time.Hour)),
		"/etc/tern/stale.der", resp(leaf.Cert.SerialNumber, time.Now().Add(-time.Minute)),
		"/etc/tern/other.der", resp(other.Cert.SerialNumber, time.Now().Add(time.Hour)),
	}
	src := func(f string) string {
		return "http {\n  server {\n    listen = [\"443 ssl\"]\n    ssl_certificate = \"l.crt\"\n    ssl_certificate_key = \"l.key\"\n    ssl_stapling_file = \"" + f + "\"\n  }\n}\n"
	}
	c := mustLoad(t, src("good.der"), files...)
	s := c.HTTP.Servers[0].Root.SSL
	if !bytes.Equal(s.Staple, []byte(files[5])) || s.StapleFor != 0 || c.Warnings != nil {
		t.Errorf("good: staple %d bytes for %d, warnings %v", len(s.Staple), s.StapleFor, c.Warnings)
	}
	c = mustLoad(t, src("stale.der"), files...)
	if c.Warnings == nil || !reflect.DeepEqual(headlines(t, c.Warnings), []string{"6,5: Warning: Stale OCSP response"}) {
		t.Errorf("stale: warnings %v", c.Warnings)
	}
	_, err := loadText(src("other.der"), files...)
	if err == nil || !strings.Contains(err.Error(), "about none of the server's certificates") {
		t.Errorf("other: %v", err)
	}
}

func TestParseCiphers(t *testing.T) {
	const all = 10
	tests := []struct {
		in      string
		n       int
		unknown []string
		has     uint16
		err     bool
	}{
		{in: "HIGH:!aNULL:!MD5", n: all}, // nginx's default
		{in: "ECDHE-RSA-AES128-GCM-SHA256", n: 1, has: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{in: "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", n: 2},
		{in: "EECDH+AESGCM:EDH+AESGCM", n: 4},
		{in: "AES256+EECDH:AES256+EDH", n: 4},
		{in: "ALL:!CHACHA20:!SHA1", n: 4},
		{in: "ALL:-AES:CHACHA20", n: 2},
		{in: "ALL:!AES:AES128", n: 2}, // "!" is for good
		{in: "aECDSA+AESGCM", n: 2, has: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{in: "HIGH:@STRENGTH:+SHA1", n: all},
		{in: "HIGH,!SHA1 !SHA256", n: 4},
		{in: "HIGH:NOPE", n: all, unknown: []string{"NOPE"}},
		{in: "3DES:RC4", err: true},
		{in: "", err: true},
	}
	for i, tt := range tests {
		got, unknown, err := ParseCiphers(tt.in)
		if (err != nil) != tt.err || len(got) != tt.n || !slices.Equal(unknown, tt.unknown) ||
			tt.has != 0 && !slices.Contains(got, tt.has) {
			t.Errorf("%d: ParseCiphers(%q) = %x, %q, %v", i, tt.in, got, unknown, err)
		}
	}
	if CipherName(tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256) != "ECDHE-RSA-CHACHA20-POLY1305" ||
		CipherName(tls.TLS_AES_128_GCM_SHA256) != "TLS_AES_128_GCM_SHA256" {
		t.Error("CipherName")
	}
}

func TestSSLWriteHCLRoundTrip(t *testing.T) {
	_, files := tlsFiles(t)
	src := strings.Replace(tlsServer, "  server {", "  ssl_protocols = [\"TLSv1.2\"]\n  ssl_ciphers = \"ECDHE+AESGCM\"\n  server {\n    ssl_verify_client = \"optional_no_ca\"\n    ssl_session_timeout = \"1h\"", 1)
	c := mustLoad(t, src, files...)
	var out bytes.Buffer
	if err := c.WriteHCL(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`listen = ["0.0.0.0:443 ssl default_server backlog=511"`, `ssl_protocols = ["TLSv1.2"]`,
		`ssl_ciphers = "ECDHE+AESGCM"`, `ssl_verify_client = "optional_no_ca"`, `ssl_certificate = ["/etc/tern/certs/ec.crt", "/etc/tern/certs/rsa.crt"]`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-T lacks %s:\n%s", want, out.String())
		}
	}
	sources := map[string][]byte{testFile: out.Bytes()}
	for i := 0; i+1 < len(files); i += 2 {
		sources[files[i]] = []byte(files[i+1])
	}
	back, err := LoadSnapshot(testFile, "", sources)
	if err != nil {
		t.Fatalf("%s\n%s", errText(err), out.String())
	}
	if !reflect.DeepEqual(withoutSources(back), withoutSources(c)) {
		t.Errorf("the round trip changed the configuration:\n%s", out.String())
	}
}

// TestSSLStaplingOtherSigner: a response signed by another than the
// issuer (a responder the clients may trust) is stapled, with a warning.
func TestSSLStaplingOtherSigner(t *testing.T) {
	ca := testcert.NewCA("ocsp CA")
	other := testcert.NewCA("responder")
	leaf := ca.Leaf(testcert.Options{}, "localhost")
	der, err := ocsp.CreateResponse(ca.Cert, other.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: leaf.Cert.SerialNumber, ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
	}, other.Key)
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, "http {\n  server {\n    listen = [\"443 ssl\"]\n    ssl_certificate = \"l.crt\"\n    ssl_certificate_key = \"l.key\"\n    ssl_stapling_file = \"r.der\"\n  }\n}\n",
		"/etc/tern/l.crt", string(leaf.CertPEM)+string(ca.CertPEM), "/etc/tern/l.key", string(leaf.KeyPEM), "/etc/tern/r.der", string(der))
	if c.HTTP.Servers[0].Root.SSL.Staple == nil || c.Warnings == nil ||
		!reflect.DeepEqual(headlines(t, c.Warnings), []string{"6,5: Warning: OCSP response not signed by the issuer"}) {
		t.Fatalf("staple %d bytes, warnings %v", len(c.HTTP.Servers[0].Root.SSL.Staple), c.Warnings)
	}
}
