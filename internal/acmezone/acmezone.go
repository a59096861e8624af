// Package acmezone is the layout of what the master's ACME client
// shares with the workers (docs/acme.md): the certificates it obtained,
// with their keys, and the pending http-01 answers. The master writes,
// the workers read, through seqlocked event.Blobs in the master's zone
// of shared memory; this package only encodes and decodes their bytes,
// so that both sides agree on them.
package acmezone

import (
	"encoding/binary"
	"errors"
)

// Sizes of the three blobs, headers included (event.Blob's 16 bytes).
const (
	// StampSize holds the certificates' stamp: a counter the master
	// bumps after each change of the certificates blob, which a worker
	// compares with the one it decoded last, so that a handshake reads
	// a few words and not every certificate; then the count of orders
	// that succeeded and of those that failed (8 bytes each,
	// big-endian), for the metrics.
	StampSize = 64
	// ChallengesSize holds the pending http-01 answers: a few hundred
	// bytes each, and an order has one per name.
	ChallengesSize = 64 << 10
	// CertificatesSize holds every ACME certificate with its chain and
	// key: a few KiB each. The zone is a memfd, so the pages a smaller
	// set does not touch cost nothing.
	CertificatesSize = 4 << 20
	// Size is the three together.
	Size = StampSize + ChallengesSize + CertificatesSize
)

// Offsets of the blobs from the start of the ACME area.
const (
	StampOffset        = 0
	ChallengesOffset   = StampSize
	CertificatesOffset = StampSize + ChallengesSize
)

// Certificate is one certificate as the workers serve it.
type Certificate struct {
	// ID is conf.ACMECertificate.ID: which servers serve it.
	ID string
	// Chain is the certificate then its issuers, DER.
	Chain [][]byte
	// Key is the private key, PKCS #8 DER.
	Key []byte
}

// Challenge is one pending http-01 answer: the body of
// /.well-known/acme-challenge/TOKEN (RFC 8555 §8.3).
type Challenge struct {
	Token, KeyAuth string
}

var errLayout = errors.New("acmezone: bad layout")

// EncodeCertificates is the certificates blob's value.
func EncodeCertificates(certs []Certificate) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(certs)))
	for _, c := range certs {
		b = appendBytes(b, []byte(c.ID))
		b = binary.AppendUvarint(b, uint64(len(c.Chain)))
		for _, der := range c.Chain {
			b = appendBytes(b, der)
		}
		b = appendBytes(b, c.Key)
	}
	return b
}

// DecodeCertificates reads EncodeCertificates' bytes; the slices it
// returns alias b.
func DecodeCertificates(b []byte) ([]Certificate, error) {
	r := reader{b: b}
	n := r.count()
	var out []Certificate
	for i := uint64(0); i < n && r.err == nil; i++ {
		c := Certificate{ID: string(r.bytes())}
		links := r.count()
		for j := uint64(0); j < links && r.err == nil; j++ {
			c.Chain = append(c.Chain, r.bytes())
		}
		c.Key = r.bytes()
		out = append(out, c)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errLayout
	}
	return out, r.err
}

// EncodeChallenges is the challenges blob's value.
func EncodeChallenges(chs []Challenge) []byte {
	var b []byte
	for _, c := range chs {
		b = appendBytes(b, []byte(c.Token))
		b = appendBytes(b, []byte(c.KeyAuth))
	}
	return b
}

// FindChallenge returns the key authorization for token in the bytes
// of EncodeChallenges, aliasing b, or nil. It does not allocate: a
// worker calls it on its event loop.
func FindChallenge(b, token []byte) []byte {
	r := reader{b: b}
	for len(r.b) > 0 && r.err == nil {
		t, ka := r.bytes(), r.bytes()
		if r.err == nil && string(t) == string(token) {
			return ka
		}
	}
	return nil
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// reader takes length-prefixed values off b, and remembers the first
// error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) count() uint64 {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		r.err = errLayout
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errLayout
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// ALPNProto is the ALPN protocol of tls-alpn-01 (RFC 8737 §6.2).
const ALPNProto = "acme-tls/1"

// ALPNID is the ID under which the certificate answering a tls-alpn-01
// challenge for name is published: the workers present it to a
// ClientHello that offers ALPNProto alone and names name (RFC 8737 §3).
func ALPNID(name string) string { return ALPNProto + " " + name }
