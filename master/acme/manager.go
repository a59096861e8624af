//go:build linux

// Package acme is the master's ACME client (RFC 8555, through
// golang.org/x/crypto/acme): for every certificate of the configuration
// (conf.ACMECertificate) a keeper goroutine serves the one stored under
// the issuer's state_path, orders a new one when there is none or it is
// due for renewal, and publishes certificates and pending challenge
// answers to the workers in shared memory (internal/acmezone). Only the
// master talks to the ACME server; docs/acme.md tells the whole story.
package acme

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tern/conf"
	"tern/event"
	"tern/internal/acmezone"
)

// Manager runs the keepers of a master's configuration and publishes
// what they obtain. Its methods are called by the master's goroutine;
// the keepers run on their own.
type Manager struct {
	log atomic.Pointer[zerolog.Logger]

	// mu guards what is published and the blobs, which have one
	// writer: whoever holds mu.
	mu         sync.Mutex
	stamp      event.Blob
	challenges event.Blob
	certs      event.Blob
	nstamp     uint64
	// ordersOK and ordersFailed count the orders by outcome, for the
	// workers' metrics (published with the stamp).
	ordersOK, ordersFailed uint64
	// closed: Stop was called, the zone may be unmapped.
	closed  bool
	served  map[string]acmezone.Certificate
	pending map[string]string // http-01: token → key authorization
	alpn    map[string]acmezone.Certificate

	// keepers by keeperKey; only the master's goroutine touches it.
	keepers map[string]*keeper
	// retry is the first back-off after a failure; tests shorten it.
	retry time.Duration
}

// RetryEnv, when set to a duration, replaces the first back-off after
// a failed order (a minute): the end-to-end tests' knob, so that they
// see a retry in seconds.
const RetryEnv = "TERN_ACME_RETRY"

// New makes a manager that publishes in zone's ACME area, which starts
// at off and spans acmezone.Size bytes.
func New(zone *event.Zone, off int, log zerolog.Logger, retry time.Duration) *Manager {
	m := &Manager{
		stamp:      zone.Blob(off+acmezone.StampOffset, acmezone.StampSize),
		challenges: zone.Blob(off+acmezone.ChallengesOffset, acmezone.ChallengesSize),
		certs:      zone.Blob(off+acmezone.CertificatesOffset, acmezone.CertificatesSize),
		served:     map[string]acmezone.Certificate{},
		pending:    map[string]string{},
		alpn:       map[string]acmezone.Certificate{},
		keepers:    map[string]*keeper{},
		retry:      retry,
	}
	m.SetLogger(log)
	return m
}

// SetLogger makes log the keepers' logger (the master's, after a
// reload or a reopen changed it).
func (m *Manager) SetLogger(log zerolog.Logger) {
	l := log.With().Str("module", "acme").Logger()
	m.log.Store(&l)
}

func (m *Manager) logger() *zerolog.Logger { return m.log.Load() }

// Configure starts a keeper for every certificate of cfg that has none,
// and stops those cfg no longer has. A keeper whose issuer settings are
// unchanged goes on (a reload does not order again, nor interrupt an
// order).
func (m *Manager) Configure(cfg *conf.Config) {
	want := map[string]*keeper{}
	if cfg.HTTP != nil {
		for _, srv := range cfg.HTTP.Servers {
			if c := srv.ACME; c != nil && len(c.Names) > 0 {
				k := keeperKey(c)
				if want[k] == nil {
					want[k] = &keeper{m: m, is: c.Issuer, cert: c, id: c.ID()}
				}
			}
		}
	}
	ids := map[string]bool{}
	for _, k := range want {
		ids[k.id] = true
	}
	for key, k := range m.keepers {
		if want[key] == nil {
			k.stop()
			delete(m.keepers, key)
			if !ids[k.id] {
				// Gone from the configuration; a certificate whose
				// issuer settings changed serves on until its new
				// keeper serves it again.
				m.unserve(k.id)
			}
		}
	}
	for key, k := range want {
		if m.keepers[key] == nil {
			m.keepers[key] = k
			k.start()
		}
	}
}

// Stop stops every keeper and waits for them, at most d: an order in
// flight is abandoned (the ACME server lets it expire).
func (m *Manager) Stop(d time.Duration) {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	for _, k := range m.keepers {
		k.cancel()
	}
	deadline := time.After(d)
	for key, k := range m.keepers {
		select {
		case <-k.done:
		case <-deadline:
		}
		delete(m.keepers, key)
	}
}

// keeperKey is what a keeper depends on: the certificate and every
// issuer setting used to obtain it.
func keeperKey(c *conf.ACMECertificate) string {
	is := c.Issuer
	return fmt.Sprintf("%s\x00%s\x00%s\x00%q\x00%s\x00%d\x00%v\x00%v", c.ID(), is.URI, is.StatePath, is.Contact,
		is.TrustedCertificate, is.Challenge, is.RenewBefore, is.AcceptTOS)
}

// serve publishes c as the certificate of its ID, unless ctx (the
// keeper's) ended: a stopped keeper never publishes again.
func (m *Manager) serve(ctx context.Context, c acmezone.Certificate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	m.served[c.ID] = c
	m.publishCerts()
}

func (m *Manager) unserve(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.served, id)
	m.publishCerts()
}

// addHTTP01 publishes the answer to an http-01 challenge; the returned
// func withdraws it.
func (m *Manager) addHTTP01(token, keyAuth string) func() {
	m.mu.Lock()
	m.pending[token] = keyAuth
	m.publishChallenges()
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.pending, token)
		m.publishChallenges()
		m.mu.Unlock()
	}
}

// addALPN publishes a tls-alpn-01 certificate for name; the returned
// func withdraws it.
func (m *Manager) addALPN(name string, cert tls.Certificate) (func(), error) {
	key, err := marshalKey(cert.PrivateKey)
	if err != nil {
		return nil, err
	}
	id := acmezone.ALPNID(name)
	m.mu.Lock()
	m.alpn[id] = acmezone.Certificate{ID: id, Chain: cert.Certificate, Key: key}
	m.publishCerts()
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.alpn, id)
		m.publishCerts()
		m.mu.Unlock()
	}, nil
}

// publishCerts writes every certificate, then the new stamp. Called
// with mu held.
func (m *Manager) publishCerts() {
	if m.closed {
		return
	}
	var list []acmezone.Certificate
	for _, c := range m.served {
		list = append(list, c)
	}
	for _, c := range m.alpn {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b acmezone.Certificate) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	b := acmezone.EncodeCertificates(list)
	if len(b) > m.certs.Cap() {
		m.logger().Error().Int("bytes", len(b)).Int("room", m.certs.Cap()).
			Msg("the ACME certificates do not fit in the shared memory: the workers keep the ones they have")
		return
	}
	m.certs.Store(b)
	m.nstamp++
	m.publishStamp()
}

// publishStamp writes the stamp and the order counts. Called with mu
// held.
func (m *Manager) publishStamp() {
	b := binary.BigEndian.AppendUint64(nil, m.nstamp)
	b = binary.BigEndian.AppendUint64(b, m.ordersOK)
	b = binary.BigEndian.AppendUint64(b, m.ordersFailed)
	m.stamp.Store(b)
}

// counted records the outcome of an order.
func (m *Manager) counted(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok {
		m.ordersOK++
	} else {
		m.ordersFailed++
	}
	if !m.closed {
		m.publishStamp()
	}
}

// publishChallenges writes the pending http-01 answers. Called with mu
// held.
func (m *Manager) publishChallenges() {
	if m.closed {
		return
	}
	var list []acmezone.Challenge
	for t, ka := range m.pending {
		list = append(list, acmezone.Challenge{Token: t, KeyAuth: ka})
	}
	b := acmezone.EncodeChallenges(list)
	if len(b) > m.challenges.Cap() {
		m.logger().Error().Int("pending", len(list)).Msg("too many pending http-01 challenges for the shared memory")
		return
	}
	m.challenges.Store(b)
}
