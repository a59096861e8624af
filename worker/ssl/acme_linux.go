//go:build linux

package ssl

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"tern/event"
	"tern/internal/acmezone"
)

// ACMEStore is what the master's ACME client shares with the workers
// (master/acme, internal/acmezone): the certificates of the servers with
// acme_certificate, the tls-alpn-01 challenge certificates, and the
// pending http-01 answers. A handshake reads the stamp (a few words of
// shared memory) and decodes the certificates again only when it
// changed, so that a new certificate reaches every worker at its next
// handshake, without a reload.
type ACMEStore struct {
	stamp, challenges, certs event.Blob

	cur atomic.Pointer[acmeSnapshot]
	mu  sync.Mutex // held while decoding a new snapshot
}

// acmeSnapshot is the certificates as of one stamp.
type acmeSnapshot struct {
	stamp uint64
	certs map[string]*tls.Certificate
}

// NewACMEStore reads the ACME area of zone that starts at off.
func NewACMEStore(zone *event.Zone, off int) *ACMEStore {
	s := &ACMEStore{
		stamp:      zone.Blob(off+acmezone.StampOffset, acmezone.StampSize),
		challenges: zone.Blob(off+acmezone.ChallengesOffset, acmezone.ChallengesSize),
		certs:      zone.Blob(off+acmezone.CertificatesOffset, acmezone.CertificatesSize),
	}
	s.cur.Store(&acmeSnapshot{})
	return s
}

// Certificate returns the certificate published under id, or nil;
// called on handshake goroutines.
func (s *ACMEStore) Certificate(id string) *tls.Certificate {
	var buf [24]byte
	b := s.stamp.Load(buf[:0])
	var stamp uint64
	if len(b) >= 8 {
		stamp = binary.BigEndian.Uint64(b)
	}
	snap := s.cur.Load()
	if snap.stamp != stamp {
		snap = s.refresh(stamp)
	}
	return snap.certs[id]
}

// Orders returns how many orders of the master succeeded and failed.
func (s *ACMEStore) Orders() (ok, failed uint64) {
	var buf [24]byte
	if b := s.stamp.Load(buf[:0]); len(b) == 24 {
		ok, failed = binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:])
	}
	return ok, failed
}

// refresh decodes the certificates blob as of stamp (or later).
func (s *ACMEStore) refresh(stamp uint64) *acmeSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap := s.cur.Load(); snap.stamp == stamp {
		return snap
	}
	snap := &acmeSnapshot{stamp: stamp, certs: map[string]*tls.Certificate{}}
	list, err := acmezone.DecodeCertificates(s.certs.Load(nil))
	if err == nil {
		for _, c := range list {
			if tc := parseCertificate(c); tc != nil {
				snap.certs[c.ID] = tc
			}
		}
	}
	s.cur.Store(snap)
	return snap
}

func parseCertificate(c acmezone.Certificate) *tls.Certificate {
	key, err := x509.ParsePKCS8PrivateKey(c.Key)
	if err != nil || len(c.Chain) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Chain[0])
	if err != nil {
		return nil
	}
	return &tls.Certificate{Certificate: c.Chain, PrivateKey: key, Leaf: leaf}
}

// KeyAuthorization appends to dst the answer to the http-01 challenge
// token, and reports whether the token is pending; called on the event
// loop, it allocates only when dst is too small.
func (s *ACMEStore) KeyAuthorization(dst, token []byte) ([]byte, bool) {
	b := s.challenges.Load(dst[:0])
	ka := acmezone.FindChallenge(b, token)
	if ka == nil {
		return b[:0], false
	}
	// ka aliases b: move it to the front.
	n := copy(b, ka)
	return b[:n], true
}
