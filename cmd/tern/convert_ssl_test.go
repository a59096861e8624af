package main

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tern/conf"
	"tern/internal/testcert"
)

// TestConvertSSL converts a TLS server and loads the result with its
// certificates: every directive tern has arrives with its value (http2
// too, from the listen and from the directive), and the rest (session
// cache, dhparam) is reported.
func TestConvertSSL(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA("convert CA")
	ec := ca.Leaf(testcert.Options{}, "example.com")
	rsa := ca.Leaf(testcert.Options{Key: testcert.RSA}, "example.com")
	files := map[string][]byte{
		"ec.crt": ec.CertPEM, "ec.key": ec.KeyPEM, "rsa.crt": rsa.CertPEM, "rsa.key": rsa.KeyPEM,
		"ca.pem": ca.CertPEM, "ticket.key": bytes.Repeat([]byte{7}, 80),
		"nginx.conf": []byte(`events {}
http {
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ECDHE+AESGCM;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 10m;
  ssl_session_ticket_key ticket.key;
  server {
    listen 127.0.0.1:8443 ssl http2;
    http2 on;
    server_name example.com;
    ssl_certificate ec.crt;
    ssl_certificate_key ec.key;
    ssl_certificate rsa.crt;
    ssl_certificate_key rsa.key;
    ssl_client_certificate ca.pem;
    ssl_verify_client optional;
    ssl_verify_depth 2;
    ssl_handshake_timeout 5s;
    ssl_dhparam dh.pem;
  }
  server {
    listen 127.0.0.1:8444;
    ssl on;
    ssl_reject_handshake on;
  }
}
`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, warn bytes.Buffer
	if losses, ok := convertReport(filepath.Join(dir, "nginx.conf"), &out, &warn); !ok || losses != 0 {
		t.Fatalf("convert failed or lost something (%d): %s", losses, warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	if err := os.WriteFile(main, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(main, "")
	if err != nil {
		var b strings.Builder
		err.(*conf.Error).WriteText(&b)
		t.Fatalf("converted config does not load:\n%s\n%s", b.String(), out.String())
	}
	a, r := cfg.HTTP.Servers[0].Root.SSL, cfg.HTTP.Servers[1].Root.SSL
	checks := []struct {
		name string
		ok   bool
	}{
		{"listen ssl", cfg.HTTP.Addrs[0].SSL && cfg.HTTP.Addrs[0].Addr == "127.0.0.1:8443"},
		{"ssl on", cfg.HTTP.Addrs[1].SSL},
		{"certificates", len(a.Certificates) == 2 && a.Certificates[1].TLS.Leaf.PublicKeyAlgorithm.String() == "RSA"},
		{"protocols", a.MinVersion == tls.VersionTLS12 && a.MaxVersion == tls.VersionTLS13},
		{"ciphers", len(a.CipherSuites) == 4},
		{"session timeout", a.SessionTimeout.Minutes() == 10},
		{"ticket key", len(a.TicketKeys) == 1},
		{"client certificate", len(a.ClientCAs) == 1 && a.VerifyClient == conf.VerifyOptional && a.VerifyDepth == 2},
		{"handshake timeout", a.HandshakeTimeout.Seconds() == 5},
		{"reject", r.RejectHandshake},
		{"http2", cfg.HTTP.Servers[0].Root.HTTP2 && !cfg.HTTP.Servers[1].Root.HTTP2},
	}
	for i, c := range checks {
		if !c.ok {
			t.Errorf("%d: %s not converted right\n%s", i, c.name, out.String())
		}
	}
	for _, want := range []string{"note: ssl_session_cache not needed", "note: ssl_dhparam not needed", "note: ssl on: every listen"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("no warning %q in:\n%s", want, warn.String())
		}
	}
	if strings.Contains(warn.String(), "http2") {
		t.Errorf("a warning about http2 on a TLS address:\n%s", warn.String())
	}
}

// TestNginxVariableBraces: "${name}" inside a word is a variable, and "}"
// inside a word does not end it, as nginx's ngx_conf_read_token reads.
func TestNginxVariableBraces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "n.conf")
	os.WriteFile(p, []byte("http {\n  add_header X-V x$ssl_client_verify:${ssl_client_cert}x;\n  server { listen 80; location / { return 200 ok;} }\n}\n"), 0o600)
	var out, warn bytes.Buffer
	if !convertNginx(p, &out, &warn) {
		t.Fatalf("convert: %s", warn.String())
	}
	if !strings.Contains(out.String(), `"X-V" = "x$ssl_client_verify:$${ssl_client_cert}x"`) {
		t.Fatalf("got:\n%s", out.String())
	}
}
