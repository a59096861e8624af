package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tern/conf"
)

// TestConvertACME converts nginx's ACME example (ngx_http_acme_module's
// documentation) with every directive of the module: what tern has
// arrives, what it lacks is a comment and a warning, and the result
// loads.
func TestConvertACME(t *testing.T) {
	dir := t.TempDir()
	src := `events {}
http {
  resolver 127.0.0.1:53;
  acme_issuer example {
    uri         https://acme.example.com/directory;
    contact     admin@example.test;
    contact     mailto:sec@example.test;
    state_path  /var/cache/nginx/acme-example;
    accept_terms_of_service;
    challenge   tls-alpn-01;
    account_key ecdsa:256;
    ssl_verify  on;
    profile     shortlived;
  }
  acme_issuer staging {
    uri                  https://staging.example.com/directory;
    state_path           off;
    account_key          rsa:2048;
    ssl_verify           off;
    external_account_key kid data:c2VjcmV0;
    preferred_chain      "ISRG Root X1";
    common_name_in_csr   on;
  }
  acme_shared_zone zone=ngx_acme_shared:1M;
  server {
    listen 127.0.0.1:8443 ssl;
    server_name example.test www.example.test;
    acme_certificate example;
    ssl_certificate       $acme_certificate;
    ssl_certificate_key   $acme_certificate_key;
  }
  server {
    listen 127.0.0.1:8444 ssl;
    server_name other.example.test;
    acme_certificate staging other.example.test extra.example.test key=rsa:2048;
  }
}
`
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	if !convertNginx(path, &out, &warn) {
		t.Fatalf("convert failed: %s", warn.String())
	}
	for _, want := range []string{
		"staging: tern needs accept_terms_of_service = true",
		"state_path off: tern always keeps",
		"account_key rsa:2048 is not supported",
		"ssl_verify off is not supported",
		"external_account_key is not supported",
		"preferred_chain is not supported",
		"profile is not supported",
		"common_name_in_csr on:",
		"acme_certificate key=rsa:2048 is not supported",
		"acme_certificate identifiers other.example.test extra.example.test",
	} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("no warning %q in:\n%s", want, warn.String())
		}
	}
	if strings.Contains(warn.String(), "$acme_certificate") {
		t.Errorf("ssl_certificate $acme_certificate is warned about:\n%s", warn.String())
	}
	for _, want := range []string{
		"# nginx: ssl_certificate $acme_certificate (not needed: acme_certificate serves its certificate)",
		"# nginx: acme_shared_zone zone=ngx_acme_shared:1M (not needed: tern sizes the memory",
		"# nginx: account_key ecdsa:256 (tern's account key is ECDSA P-256)",
		"accept_terms_of_service = false",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	// With the terms accepted, the output loads.
	fixed := strings.Replace(out.String(), "accept_terms_of_service = false", "accept_terms_of_service = true", 1)
	main := filepath.Join(dir, "tern.hcl")
	if err := os.WriteFile(main, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(main, "")
	if err != nil {
		var b strings.Builder
		err.(*conf.Error).WriteText(&b)
		t.Fatalf("converted config does not load:\n%s\n%s", b.String(), fixed)
	}
	if len(cfg.ACMEIssuers) != 2 {
		t.Fatalf("issuers: %+v", cfg.ACMEIssuers)
	}
	ex, st := cfg.ACMEIssuers[0], cfg.ACMEIssuers[1]
	if ex.URI != "https://acme.example.com/directory" || ex.StatePath != "/var/cache/nginx/acme-example" ||
		ex.Challenge != conf.ChallengeTLSALPN01 || !ex.AcceptTOS ||
		!reflect.DeepEqual(ex.Contact, []string{"mailto:admin@example.test", "mailto:sec@example.test"}) {
		t.Errorf("example: %+v", ex)
	}
	if st.StatePath != filepath.Join(dir, "acme_staging") {
		t.Errorf("staging's state_path: %s", st.StatePath)
	}
	s0, s1 := cfg.HTTP.Servers[0], cfg.HTTP.Servers[1]
	if s0.ACME == nil || s0.ACME.Issuer != ex || !reflect.DeepEqual(s0.ACME.Names, []string{"example.test", "www.example.test"}) {
		t.Errorf("server 0: %+v", s0.ACME)
	}
	if s1.ACME == nil || s1.ACME.Issuer != st {
		t.Errorf("server 1: %+v", s1.ACME)
	}
}
