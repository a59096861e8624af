//go:build linux

package ssl

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"testing"

	"tern/event"
	"tern/internal/acmezone"
	"tern/internal/testcert"
)

const acmeServers = `acme_issuer "le" {
  uri                     = "https://acme.test/dir"
  state_path              = "/t/acme"
  accept_terms_of_service = true
}
http {
  server {
    listen           = ["127.0.0.1:443 ssl"]
    server_name      = ["a.test"]
    acme_certificate = "le"
  }
  server {
    listen              = ["127.0.0.1:443 ssl"]
    server_name         = ["b.test"]
    ssl_certificate     = "b.crt"
    ssl_certificate_key = "b.key"
  }
}
`

// publisher writes the ACME area as the master does.
type publisher struct {
	zone  *event.Zone
	stamp uint64
}

func (p *publisher) certs(t *testing.T, pairs map[string]testcert.Pair) {
	t.Helper()
	var list []acmezone.Certificate
	for id, pair := range pairs {
		key, err := x509.MarshalPKCS8PrivateKey(pair.Key)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, acmezone.Certificate{ID: id, Chain: [][]byte{pair.Cert.Raw}, Key: key})
	}
	p.zone.Blob(acmezone.CertificatesOffset, acmezone.CertificatesSize).Store(acmezone.EncodeCertificates(list))
	p.stamp++
	p.zone.Blob(acmezone.StampOffset, acmezone.StampSize).Store(binary.BigEndian.AppendUint64(nil, p.stamp))
}

// TestConfigsACME: a server with acme_certificate refuses handshakes
// until the master publishes its certificate, then serves each new one
// at the next handshake; tls-alpn-01 gets the challenge certificate for
// acme-tls/1 alone.
func TestConfigsACME(t *testing.T) {
	f := loadConf(t, acmeServers)
	zone, err := event.NewZone("test", acmezone.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer zone.Close()
	cs := NewConfigs(f.cfg, StaticKeys{NewKey()})
	cs.acme = NewACMEStore(zone, 0)
	addr := f.cfg.HTTP.Addrs[0]
	id := f.cfg.HTTP.Servers[0].ACME.ID()
	if _, err := shake(t, cs, addr, f.clientConfig("a.test")); err == nil {
		t.Fatal("a handshake succeeded before the certificate was issued")
	}
	if st, err := shake(t, cs, addr, f.clientConfig("b.test")); err != nil || st.PeerCertificates[0].DNSNames[0] != "b.test" {
		t.Fatalf("b.test: %v", err)
	}
	p := &publisher{zone: zone}
	for range 2 {
		leaf := f.ca.Leaf(testcert.Options{}, "a.test")
		p.certs(t, map[string]testcert.Pair{id: leaf})
		st, err := shake(t, cs, addr, f.clientConfig("a.test"))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.PeerCertificates[0].SerialNumber; got.Cmp(leaf.Cert.SerialNumber) != 0 {
			t.Errorf("serial %v, want the published %v", got, leaf.Cert.SerialNumber)
		}
	}
	// tls-alpn-01: refused while no challenge is pending for the name.
	alpn := func() *tls.Config {
		c := f.clientConfig("a.test")
		c.NextProtos, c.InsecureSkipVerify = []string{acmezone.ALPNProto}, true
		return c
	}
	if _, err := shake(t, cs, addr, alpn()); err == nil {
		t.Fatal("acme-tls/1 without a pending challenge succeeded")
	}
	challenge := f.ca.Leaf(testcert.Options{}, "a.test")
	p.certs(t, map[string]testcert.Pair{id: f.ca.Leaf(testcert.Options{}, "a.test"), acmezone.ALPNID("a.test"): challenge})
	st, err := shake(t, cs, addr, alpn())
	if err != nil {
		t.Fatal(err)
	}
	if st.NegotiatedProtocol != acmezone.ALPNProto || st.PeerCertificates[0].SerialNumber.Cmp(challenge.Cert.SerialNumber) != 0 {
		t.Errorf("acme-tls/1: protocol %q, serial %v", st.NegotiatedProtocol, st.PeerCertificates[0].SerialNumber)
	}
}

// TestKeyAuthorization: the loop's lookup of an http-01 answer.
func TestKeyAuthorization(t *testing.T) {
	zone, err := event.NewZone("test", acmezone.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer zone.Close()
	s := NewACMEStore(zone, 0)
	zone.Blob(acmezone.ChallengesOffset, acmezone.ChallengesSize).Store(
		acmezone.EncodeChallenges([]acmezone.Challenge{{Token: "t1", KeyAuth: "t1.k"}, {Token: "t2", KeyAuth: "t2.key"}}))
	buf := make([]byte, 0, 256)
	for _, c := range []struct{ token, want string }{{"t1", "t1.k"}, {"t2", "t2.key"}, {"t3", ""}} {
		var ok bool
		buf, ok = s.KeyAuthorization(buf, []byte(c.token))
		if ok != (c.want != "") || string(buf) != c.want {
			t.Errorf("%s: %q %v", c.token, buf, ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = s.KeyAuthorization(buf, []byte("t2")) }); n != 0 {
		t.Errorf("KeyAuthorization allocates %v times", n)
	}
}
