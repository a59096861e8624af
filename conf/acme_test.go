package conf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tern/internal/testcert"
)

// acmeSite is an issuer in the main context and a site that names it,
// with a plain server for http-01.
const acmeSite = `acme_issuer "le" {
  uri                     = "https://acme.example/directory"
  contact                 = ["ops@example.com", "mailto:sec@example.com"]
  accept_terms_of_service = true
  renew_before            = "20d"
}

http {
  server {
    listen           = ["443 ssl"]
    server_name      = ["example.com", "www.example.com", "*.example.com", "~^x\\d+$", "example.com", "10.0.0.1", "_"]
    acme_certificate = "le"
  }
  server {
    listen = ["80"]
  }
}
`

func TestACMELoad(t *testing.T) {
	c := mustLoad(t, acmeSite)
	if len(c.ACMEIssuers) != 1 {
		t.Fatalf("issuers: %+v", c.ACMEIssuers)
	}
	is := c.ACMEIssuers[0]
	want := ACMEIssuer{Name: "le", URI: "https://acme.example/directory",
		Contact: []string{"mailto:ops@example.com", "mailto:sec@example.com"}, StatePath: "/etc/tern/acme_le",
		AcceptTOS: true, Challenge: ChallengeHTTP01, RenewBefore: 20 * 24 * time.Hour}
	got := *is
	got.rng, got.used = want.rng, false
	if !reflect.DeepEqual(got, want) {
		t.Errorf("issuer:\n got %+v\nwant %+v", got, want)
	}
	srv := c.HTTP.Servers[0]
	if srv.ACME == nil || srv.ACME.Issuer != is || !reflect.DeepEqual(srv.ACME.Names, []string{"example.com", "www.example.com"}) {
		t.Fatalf("acme_certificate: %+v", srv.ACME)
	}
	if id := srv.ACME.ID(); id != "le example.com,www.example.com" {
		t.Errorf("ID %q", id)
	}
	if dir := srv.ACME.Dir(); !strings.HasPrefix(dir, "example.com_") || len(dir) != len("example.com_")+8 {
		t.Errorf("Dir %q", dir)
	}
	if c.HTTP.Servers[1].ACME != nil {
		t.Error("the plain server has acme_certificate")
	}
	// The names left out are warnings, at acme_certificate.
	got2 := headlines(t, c.Warnings)
	want2 := []string{
		"12,5: Warning: Server name left out of the certificate",
		"12,5: Warning: Server name left out of the certificate",
		"12,5: Warning: Server name left out of the certificate",
		"12,5: Warning: Server name left out of the certificate",
	}
	if !reflect.DeepEqual(got2, want2) {
		t.Errorf("warnings %q", got2)
	}
	var b strings.Builder
	c.Warnings.WriteText(&b)
	for _, want := range []string{`"*.example.com": wildcards`, `"~^x\\d+$": wildcards`, `"10.0.0.1": certificates are ordered for DNS names only`, `"_": it is not a DNS name`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the warnings lack %q:\n%s", want, b.String())
		}
	}
}

// An issuer may be written in http too, where nginx has it; the same
// name space and checks apply.
func TestACMEInHTTP(t *testing.T) {
	c := mustLoad(t, `http {
  acme_issuer "a" {
    uri                     = "https://a.example/dir"
    accept_terms_of_service = true
    challenge               = "tls-alpn"
    state_path              = "/var/lib/tern/a"
  }
  server {
    listen           = ["443 ssl"]
    server_name      = ["a.example.com"]
    acme_certificate = "a"
  }
}
`)
	is := c.ACMEIssuers[0]
	if is.Challenge != ChallengeTLSALPN01 || is.StatePath != "/var/lib/tern/a" || c.HTTP.Servers[0].ACME.Issuer != is {
		t.Errorf("issuer %+v", is)
	}
	if c.Warnings != nil {
		t.Errorf("tls-alpn-01 needs no plain listener: %s", errText(c.Warnings))
	}
}

func TestACMEDiagnostics(t *testing.T) {
	const okIssuer = "acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n}\n"
	for i, c := range []struct {
		src  string
		want []string
	}{
		{"acme_issuer \"le\" {\n  accept_terms_of_service = true\n}\n", []string{"1,1: Invalid acme_issuer"}},
		{"acme_issuer \"le\" {\n  uri = \"http://a.example/d\"\n  accept_terms_of_service = true\n}\n", []string{"2,9: Invalid uri"}},
		{"acme_issuer \"le\" {\n  uri = \"https:///d\"\n  accept_terms_of_service = true\n}\n", []string{"2,9: Invalid uri"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n}\n", []string{"1,1: Terms of service not accepted"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = false\n}\n", []string{"3,29: Terms of service not accepted"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  contact = [\"mailto:nobody\"]\n}\n", []string{"4,14: Invalid contact"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  challenge = \"dns-01\"\n}\n", []string{"4,15: Invalid challenge"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  renew_before = \"10ms\"\n}\n", []string{"4,18: Invalid renew_before"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  ssl_trusted_certificate = \"none.pem\"\n}\n", []string{"4,29: Cannot read file"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  account_key = \"rsa:2048\"\n}\n", []string{"4,3: Unsupported argument"}},
		{okIssuer + okIssuer, []string{"5,13: Duplicate acme_issuer"}},
		{okIssuer + strings.Replace(okIssuer, `"le"`, `"b"`, 1) + "", nil},
		{okIssuer + "acme_issuer \"b\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  state_path = \"acme_le\"\n}\n",
			[]string{"5,13: Shared state_path"}},
		{"http {\n  server {\n    acme_certificate = \"le\"\n  }\n}\n", []string{"3,24: Invalid acme_certificate"}},
		{okIssuer + "http {\n  server {\n    listen = [\"80\"]\n    server_name = [\"a.example\"]\n    acme_certificate = \"le\"\n  }\n}\n",
			[]string{"9,5: acme_certificate without a TLS listener"}},
		{okIssuer + "http {\n  server {\n    listen = [\"443 ssl\"]\n    server_name = [\"*.a.example\"]\n    acme_certificate = \"le\"\n  }\n  server {\n    listen = [\"80\"]\n  }\n}\n",
			[]string{"9,5: acme_certificate without a name"}},
		{okIssuer + "http {\n  server {\n    listen = [\"443 ssl\"]\n    server_name = [\"a.example\"]\n    acme_certificate = \"le\"\n    ssl_certificate = \"x.crt\"\n  }\n}\n",
			[]string{"10,5: ssl_certificate and acme_certificate"}},
		{okIssuer + "http {\n  server {\n    listen = [\"443 ssl\"]\n    server_name = [\"a.example\"]\n    acme_certificate = \"le\"\n    ssl_reject_handshake = true\n  }\n}\n",
			[]string{"10,5: ssl_reject_handshake and acme_certificate"}},
		{okIssuer + "http {\n  server {\n    location \"/\" {\n      acme_certificate = \"le\"\n    }\n  }\n}\n",
			[]string{"8,7: acme_certificate is not allowed here"}},
		{"acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  uri = \"https://b.example/d\"\n}\n", []string{"4,3: Attribute redefined"}},
	} {
		_, err := loadText(c.src)
		if c.want == nil {
			if err != nil {
				t.Errorf("%d: %s", i, errText(err))
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error, want %q", i, c.want)
			continue
		}
		if got := headlines(t, err); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%d: got %q\nwant %q\n%s", i, got, c.want, errText(err))
		}
	}
}

func TestACMEWarnings(t *testing.T) {
	c := mustLoad(t, `acme_issuer "le" {
  uri                     = "https://a.example/d"
  accept_terms_of_service = true
}
acme_issuer "spare" {
  uri                     = "https://b.example/d"
  accept_terms_of_service = true
}
http {
  server {
    listen           = ["443 ssl"]
    server_name      = ["a.example"]
    acme_certificate = "le"
  }
}
`)
	got := headlines(t, c.Warnings)
	want := []string{"5,13: Warning: Unused acme_issuer", "10,3: Warning: No plain listener for http-01"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// A default TLS server may have acme_certificate instead of a
// certificate, and an http-level ssl_certificate is not loaded for it.
func TestACMEDefaultServer(t *testing.T) {
	c := mustLoad(t, `acme_issuer "le" {
  uri                     = "https://a.example/d"
  accept_terms_of_service = true
}
http {
  ssl_certificate     = "missing.crt"
  ssl_certificate_key = "missing.key"
  server {
    listen           = ["443 ssl", "80"]
    server_name      = ["a.example"]
    acme_certificate = "le"
  }
}
`)
	if s := c.HTTP.Servers[0]; s.Root.SSL.Certificates != nil || s.ACME == nil {
		t.Errorf("server: %+v", s.Root.SSL.Certificates)
	}
}

func TestACMETrustedCertificate(t *testing.T) {
	ca := testcert.NewCA("acme roots")
	src := "acme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  ssl_trusted_certificate = \"roots.pem\"\n}\n"
	c := mustLoad(t, src, "/etc/tern/roots.pem", string(ca.CertPEM))
	is := c.ACMEIssuers[0]
	if is.TrustedCertificate != "/etc/tern/roots.pem" || len(is.Roots) != 1 || !is.Roots[0].Equal(ca.Cert) {
		t.Errorf("roots: %q %v", is.TrustedCertificate, is.Roots)
	}
	_, err := loadText(src, "/etc/tern/roots.pem", "not PEM")
	if got := headlines(t, err); !reflect.DeepEqual(got, []string{"4,29: Invalid ssl_trusted_certificate"}) {
		t.Errorf("got %q", got)
	}
}

func TestACMEWriteHCLRoundTrip(t *testing.T) {
	ca := testcert.NewCA("acme roots")
	files := []string{"/etc/tern/roots.pem", string(ca.CertPEM)}
	src := strings.Replace(acmeSite, "renew_before", "ssl_trusted_certificate = \"roots.pem\"\n  challenge = \"tls-alpn-01\"\n  renew_before", 1)
	c := mustLoad(t, src, files...)
	var first bytes.Buffer
	if err := c.WriteHCL(&first); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"acme_issuer \"le\" {\n  uri = \"https://acme.example/directory\"\n  contact = [\"mailto:ops@example.com\", \"mailto:sec@example.com\"]\n" +
			"  state_path = \"/etc/tern/acme_le\"\n  accept_terms_of_service = true\n  ssl_trusted_certificate = \"/etc/tern/roots.pem\"\n" +
			"  challenge = \"tls-alpn-01\"\n  renew_before = \"20d\"\n}",
		`    acme_certificate = "le"`,
	} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("tern -T lacks %s:\n%s", want, first.String())
		}
	}
	back, err := LoadSnapshot(testFile, c.Prefix, map[string][]byte{testFile: first.Bytes(), "/etc/tern/roots.pem": ca.CertPEM})
	if err != nil {
		t.Fatalf("%s\n%s", errText(err), first.String())
	}
	a, b := back.ACMEIssuers[0], c.ACMEIssuers[0]
	a.rng = b.rng
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(back.HTTP.Servers[0].ACME.Names, c.HTTP.Servers[0].ACME.Names) {
		t.Errorf("the round trip changed the issuer:\n%+v\n%+v", a, b)
	}
}

func TestCheckStatePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	for i, c := range []struct {
		path, want string
		skipRoot   bool
	}{
		{dir, "", false},
		{filepath.Join(dir, "new", "deeper"), "", false},
		{file, "exists and is not a directory", false},
		{filepath.Join(file, "sub"), "is not a directory", false},
		{locked, "may not write in", true},
		{filepath.Join(locked, "new"), "may not create it in", true},
	} {
		if c.skipRoot && root {
			continue // root may write anywhere
		}
		src := "pid = \"off\"\nerror_log = \"stderr\"\nacme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n  state_path = \"" + c.path + "\"\n}\n"
		cfg := mustLoad(t, src)
		err := cfg.CheckPaths()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%d: %s", i, errText(err))
		case c.want != "" && err == nil:
			t.Errorf("%d: no error, want %q", i, c.want)
		case c.want != "":
			if got := headlines(t, err); len(got) != 1 || got[0] != "6,16: Cannot use state_path "+c.path || !strings.Contains(errText(err), c.want) {
				t.Errorf("%d: got %q\n%s", i, got, errText(err))
			}
		}
	}
	// The default state_path is reported at the block.
	cfg := mustLoad(t, "pid = \"off\"\nerror_log = \"stderr\"\nacme_issuer \"le\" {\n  uri = \"https://a.example/d\"\n  accept_terms_of_service = true\n}\n")
	cfg.ACMEIssuers[0].StatePath = filepath.Join(file, "acme_le")
	if got := headlines(t, cfg.CheckPaths()); len(got) != 1 || !strings.HasPrefix(got[0], "3,13: Cannot use state_path") {
		t.Errorf("default: %q", got)
	}
}
