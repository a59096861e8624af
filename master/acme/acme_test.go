//go:build linux

package acme

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tern/conf"
	"tern/event"
	"tern/internal/acmezone"
	"tern/internal/testcert"
)

func testIssuer(t *testing.T) *conf.ACMEIssuer {
	return &conf.ACMEIssuer{Name: "test", URI: "https://127.0.0.1:1/dir", StatePath: filepath.Join(t.TempDir(), "state"), AcceptTOS: true}
}

// storeLeaf saves a certificate for names, valid from notBefore to
// notAfter, as c's, and returns its key in PKCS #8.
func storeLeaf(t *testing.T, c *conf.ACMECertificate, notAfter time.Time, names ...string) {
	t.Helper()
	ca := testcert.NewCA("test CA")
	p := ca.Leaf(testcert.Options{NotAfter: notAfter}, names...)
	key, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveCertificate(c, key, [][]byte{p.Cert.Raw, ca.Cert.Raw}); err != nil {
		t.Fatal(err)
	}
}

func TestStored(t *testing.T) {
	is := testIssuer(t)
	c := &conf.ACMECertificate{Issuer: is, Names: []string{"a.test", "b.test"}}
	if s, err := loadStored(c); s != nil || err != nil {
		t.Fatalf("nothing stored: %v %v", s, err)
	}
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	storeLeaf(t, c, notAfter, "a.test", "b.test")
	s, err := loadStored(c)
	if err != nil || s == nil {
		t.Fatalf("stored: %v %v", s, err)
	}
	if s.zc.ID != c.ID() || len(s.zc.Chain) != 2 || !s.leaf.NotAfter.Equal(notAfter) {
		t.Errorf("stored: %+v", s.zc)
	}
	// testcert's leaves begin an hour ago.
	lifetime := notAfter.Sub(s.leaf.NotBefore)
	if got, want := s.renewAt(0), notAfter.Add(-lifetime/3); !got.Equal(want) {
		t.Errorf("renewAt(0) %v, want %v", got, want)
	}
	if got, want := s.renewAt(30*24*time.Hour), notAfter.Add(-30*24*time.Hour); !got.Equal(want) {
		t.Errorf("renewAt(30d) %v, want %v", got, want)
	}
	path := filepath.Join(is.StatePath, c.Dir(), certFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", path, st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(is.StatePath, c.Dir())); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v", st.Mode(), err)
	}
	// Another directory URL's certificate, or one that misses a name,
	// is not used.
	other := *is
	other.URI = "https://other.example/dir"
	if s, err := loadStored(&conf.ACMECertificate{Issuer: &other, Names: c.Names}); s != nil || err != nil {
		t.Errorf("another issuer's: %v %v", s, err)
	}
	more := &conf.ACMECertificate{Issuer: is, Names: []string{"a.test", "b.test", "c.test"}}
	os.MkdirAll(filepath.Join(is.StatePath, more.Dir()), 0o700)
	os.Link(path, filepath.Join(is.StatePath, more.Dir(), certFile))
	if s, err := loadStored(more); s != nil || err != nil {
		t.Errorf("a certificate without c.test: %v %v", s, err)
	}
	// A damaged file is an error.
	os.WriteFile(path, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
	if _, err := loadStored(c); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("a damaged file: %v", err)
	}
}

func TestAccountKey(t *testing.T) {
	is := testIssuer(t)
	k1, made, err := accountKey(is)
	if err != nil || !made {
		t.Fatalf("first: %v %v", made, err)
	}
	k2, made, err := accountKey(is)
	if err != nil || made {
		t.Fatalf("second: %v %v", made, err)
	}
	if !k1.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k2.Public()) {
		t.Error("the stored key is not the one made")
	}
	if st, err := os.Stat(filepath.Join(is.StatePath, accountFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("account key file: %v %v", st.Mode(), err)
	}
}

// TestLockState: a second master waits for the first one's order.
func TestLockState(t *testing.T) {
	is := testIssuer(t)
	unlock, err := lockState(context.Background(), is)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := lockState(ctx, is); err == nil {
		t.Fatal("the lock was taken twice")
	}
	got := make(chan error, 1)
	go func() {
		u, err := lockState(context.Background(), is)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lock was not handed on")
	}
}

// TestPublish: what the manager serves and the pending challenges reach
// the blobs, with a new stamp for each change of the certificates.
func TestPublish(t *testing.T) {
	z, err := event.NewZone("test", acmezone.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	m := New(z, 0, zerolog.Nop(), 0)
	stamp := func() uint64 {
		b := z.Blob(acmezone.StampOffset, acmezone.StampSize).Load(nil)
		if len(b) != 24 {
			t.Fatalf("stamp: %d bytes", len(b))
		}
		return binary.BigEndian.Uint64(b)
	}
	certs := func() []acmezone.Certificate {
		list, err := acmezone.DecodeCertificates(z.Blob(acmezone.CertificatesOffset, acmezone.CertificatesSize).Load(nil))
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.serve(ctx, acmezone.Certificate{ID: "x a.test", Chain: [][]byte{[]byte("leaf")}, Key: []byte("key")})
	if s, l := stamp(), certs(); s != 1 || len(l) != 1 || l[0].ID != "x a.test" {
		t.Fatalf("after serve: stamp %d, %+v", s, l)
	}
	withdraw := m.addHTTP01("tok", "tok.thumb")
	chs := z.Blob(acmezone.ChallengesOffset, acmezone.ChallengesSize)
	if got := string(acmezone.FindChallenge(chs.Load(nil), []byte("tok"))); got != "tok.thumb" {
		t.Errorf("pending: %q", got)
	}
	withdraw()
	if got := acmezone.FindChallenge(chs.Load(nil), []byte("tok")); got != nil {
		t.Errorf("withdrawn: %q", got)
	}
	// A stopped keeper publishes nothing more.
	cancel()
	m.serve(ctx, acmezone.Certificate{ID: "x b.test", Chain: [][]byte{[]byte("leaf")}, Key: []byte("key")})
	if s, l := stamp(), certs(); s != 1 || len(l) != 1 {
		t.Errorf("a stopped keeper published: stamp %d, %+v", s, l)
	}
	m.unserve("x a.test")
	if s, l := stamp(), certs(); s != 2 || len(l) != 0 {
		t.Errorf("after unserve: stamp %d, %+v", s, l)
	}
	// The order counts follow the stamp, for the metrics.
	m.counted(true)
	m.counted(false)
	m.counted(false)
	b := z.Blob(acmezone.StampOffset, acmezone.StampSize).Load(nil)
	if s, ok, failed := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:]); s != 2 || ok != 1 || failed != 2 {
		t.Errorf("stamp %d, orders ok %d, failed %d", s, ok, failed)
	}
}

// TestConfigure: a keeper serves the stored certificate at once; a
// reload with the same settings keeps it, one that drops the server
// withdraws the certificate; Stop ends every keeper.
func TestConfigure(t *testing.T) {
	z, err := event.NewZone("test", acmezone.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	m := New(z, 0, zerolog.Nop(), time.Hour)
	is := testIssuer(t)
	c := &conf.ACMECertificate{Issuer: is, Names: []string{"a.test"}}
	storeLeaf(t, c, time.Now().Add(90*24*time.Hour), "a.test")
	cfg := func(certs ...*conf.ACMECertificate) *conf.Config {
		h := &conf.HTTP{}
		for _, c := range certs {
			h.Servers = append(h.Servers, &conf.Server{ACME: c})
		}
		return &conf.Config{HTTP: h}
	}
	served := func() int {
		list, _ := acmezone.DecodeCertificates(z.Blob(acmezone.CertificatesOffset, acmezone.CertificatesSize).Load(nil))
		return len(list)
	}
	m.Configure(cfg(c, c)) // two servers, one certificate
	if len(m.keepers) != 1 {
		t.Fatalf("%d keepers", len(m.keepers))
	}
	deadline := time.Now().Add(5 * time.Second)
	for served() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stored certificate was not served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var k *keeper
	for _, k = range m.keepers {
	}
	m.Configure(cfg(&conf.ACMECertificate{Issuer: is, Names: []string{"a.test"}}))
	for _, k2 := range m.keepers {
		if k2 != k {
			t.Error("a reload with the same settings replaced the keeper")
		}
	}
	m.Configure(cfg())
	if len(m.keepers) != 0 || served() != 0 {
		t.Errorf("after the server went: %d keepers, %d served", len(m.keepers), served())
	}
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the keeper did not stop")
	}
	m.Configure(cfg(c))
	m.Stop(5 * time.Second)
	if len(m.keepers) != 0 {
		t.Error("Stop left keepers")
	}
}
