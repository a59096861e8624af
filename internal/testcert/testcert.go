// Package testcert makes certificates and keys for tests: a certificate
// authority and leaf certificates it signs, with ECDSA P-256 or RSA keys,
// PEM-encoded as nginx and tern read them. Nothing here is meant for
// production use: keys are made on the fly, lifetimes are short, and
// errors panic.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// KeyType is the kind of key a certificate gets.
type KeyType int

const (
	// ECDSA is a P-256 key.
	ECDSA KeyType = iota
	// RSA is a 2048-bit key.
	RSA
)

// CA is a certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Pair is a certificate and its key, PEM-encoded; CertPEM holds the leaf
// followed by the chain that was asked for.
type Pair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// TLS returns the pair as a tls.Certificate.
func (p Pair) TLS() tls.Certificate {
	c, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		panic(err)
	}
	return c
}

var serial atomic.Int64

func init() { serial.Store(time.Now().UnixNano()) }

// rsaKey is made once per process: an RSA key takes a good part of a
// second to generate, and tests need many certificates, not many keys.
var rsaKey = sync.OnceValue(func() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newKey(kt KeyType) crypto.Signer {
	if kt == RSA {
		return rsaKey()
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// KeyPEM encodes k as PKCS #8, as openssl genpkey writes it.
func KeyPEM(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CertPEM encodes c.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// NewCA makes a self-signed CA valid from an hour ago for a year.
func NewCA(name string) *CA {
	key := newKey(ECDSA)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	cert := sign(tmpl, tmpl, key.Public(), key)
	return &CA{Cert: cert, Key: key, CertPEM: CertPEM(cert)}
}

// Options shape a leaf certificate.
type Options struct {
	// Key is the key type; ECDSA by default. Every RSA certificate of a
	// process shares one key.
	Key KeyType
	// NotAfter is the end of validity; a year from now when zero.
	NotAfter time.Time
	// Client makes a client certificate (ExtKeyUsageClientAuth) instead
	// of a server one.
	Client bool
	// Intermediate makes a CA certificate that can sign leaves.
	Intermediate bool
}

// Leaf makes a certificate for names (DNS names or IP addresses; the
// first is the common name) signed by ca. CertPEM holds the leaf and,
// when ca is an intermediate made by Intermediate, nothing else: append
// the chain yourself.
func (ca *CA) Leaf(opt Options, names ...string) Pair {
	key := newKey(opt.Key)
	notAfter := opt.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if opt.Key == RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if opt.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if opt.Intermediate {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert := sign(tmpl, ca.Cert, key.Public(), ca.Key)
	return Pair{Cert: cert, Key: key, CertPEM: CertPEM(cert), KeyPEM: KeyPEM(key)}
}

// AsCA turns an intermediate pair into a CA that signs further leaves.
func (p Pair) AsCA() *CA {
	return &CA{Cert: p.Cert, Key: p.Key, CertPEM: p.CertPEM}
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}
