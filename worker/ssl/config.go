package ssl

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"tern/conf"
	"tern/internal/acmezone"
)

// What tern offers through ALPN: HTTP/2 first to a server with http2
// on (RFC 9113 §3.2), else HTTP/1.1 only.
var (
	alpnHTTP11 = []string{"http/1.1"}
	alpnH2     = []string{"h2", "http/1.1"}
)

// Configs are the tls.Configs of a configuration's TLS servers: one per
// server, and one per TLS address whose GetConfigForClient picks the
// server by SNI, as nginx's servername callback picks its SSL_CTX.
type Configs struct {
	byAddr   map[*conf.Addr]*tls.Config
	byServer map[*conf.Server]*serverTLS
	keys     TicketKeys
	// acme holds the certificates of the servers with acme_certificate
	// and the tls-alpn-01 answers; nil until SetACME (tests, tern
	// serve): those servers refuse handshakes.
	acme *ACMEStore
	// now is the clock of ticket ages; time.Now but in tests.
	now func() time.Time
	// current is the Conn whose handshake runs now, if any: handshakes
	// run one at a time, inside Conn.Poke on the loop, so the session
	// callbacks, which are not told the connection, find it here.
	current *Conn
}

// serverTLS is one server's TLS setup.
type serverTLS struct {
	cfg       *tls.Config // nil: the server refuses handshakes
	ssl       *conf.SSL
	clientCAs *x509.CertPool
	// acmeID is the server's acme_certificate ID (conf.ACMECertificate.ID);
	// "" for a server with certificate files.
	acmeID string
	// identity is a digest of what a session depends on: the
	// certificates and how client certificates are checked. Servers with
	// the same identity serve each other's Host names (else 421) and
	// resume each other's sessions.
	identity [8]byte
}

// NewConfigs builds the tls.Configs of cfg's TLS servers, with session
// tickets sealed by keys unless a server names key files of its own.
func NewConfigs(cfg *conf.Config, keys TicketKeys) *Configs {
	cs := &Configs{byAddr: map[*conf.Addr]*tls.Config{}, byServer: map[*conf.Server]*serverTLS{}, keys: keys, now: time.Now}
	if cfg.HTTP == nil {
		return cs
	}
	for _, a := range cfg.HTTP.Addrs {
		if !a.SSL {
			continue
		}
		for _, srv := range a.Servers {
			if cs.byServer[srv] == nil {
				cs.byServer[srv] = cs.newServerTLS(srv)
			}
		}
		cs.byAddr[a] = cs.addrConfig(a)
	}
	return cs
}

// refuse is the configuration of a server that refuses handshakes
// (ssl_reject_handshake): with no certificate, crypto/tls ends the
// handshake with an unrecognized_name alert, as nginx's
// ssl_reject_handshake does.
var refuse = &tls.Config{MinVersion: tls.VersionTLS10}

// addrConfig is the configuration a handshake on a starts with: it
// selects the server by the client's SNI.
func (cs *Configs) addrConfig(a *conf.Addr) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS10,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			srv := a.Default
			c, _ := hello.Conn.(*transport)
			if hello.ServerName != "" {
				srv = a.Server([]byte(strings.ToLower(hello.ServerName)))
			}
			if c != nil {
				conn := (*Conn)(c)
				conn.server, conn.sni = srv, hello.ServerName != ""
				conn.offered = append([]uint16(nil), hello.CipherSuites...)
			}
			if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmezone.ALPNProto {
				return cs.alpnChallenge(hello.ServerName), nil
			}
			if st := cs.byServer[srv]; cs.ready(st) {
				return st.cfg, nil
			}
			if srv.Root.SSL.RejectHandshake {
				return refuse, nil
			}
			// A server without certificates of its own (or whose ACME
			// certificate is not issued yet) goes on with the default
			// server's, as nginx keeps the SSL context it began with;
			// its requests still follow its own settings.
			if st := cs.byServer[a.Default]; cs.ready(st) {
				return st.cfg, nil
			}
			return refuse, nil
		},
	}
}

func (cs *Configs) newServerTLS(srv *conf.Server) *serverTLS {
	s := &srv.Root.SSL
	st := &serverTLS{ssl: s, identity: identity(s)}
	if srv.ACME != nil {
		st.acmeID = srv.ACME.ID()
		st.identity = acmeIdentity(st.acmeID, st.identity)
	}
	if s.RejectHandshake || (len(s.Certificates) == 0 && st.acmeID == "") {
		return st
	}
	certs := make([]tls.Certificate, len(s.Certificates))
	for i, c := range s.Certificates {
		certs[i] = c.TLS
		if s.Staple != nil && i == s.StapleFor {
			certs[i].OCSPStaple = s.Staple
		}
	}
	cfg := &tls.Config{
		Certificates:   certs,
		GetCertificate: cs.acmeCertificate(st.acmeID),
		MinVersion:     s.MinVersion,
		MaxVersion:     s.MaxVersion,
		CipherSuites:   s.CipherSuites,
		NextProtos:     alpnHTTP11,

		SessionTicketsDisabled: !s.SessionTickets,
	}
	if srv.Root.HTTP2 {
		// RFC 9113 §9.2 wants TLS 1.2 with an AEAD suite and ephemeral
		// keys under HTTP/2: Go's defaults are such. A configuration
		// that allows others still offers h2, as nginx does.
		cfg.NextProtos = alpnH2
	}
	if s.VerifyClient != conf.VerifyOff {
		// The handshake asks for a certificate and never fails for
		// it: the request gets nginx's 400 pages (495, 496) instead,
		// which say what is wrong. The check is verifyClient's.
		cfg.ClientAuth = tls.RequestClientCert
		if len(s.ClientCAs) > 0 {
			named := x509.NewCertPool()
			for _, ca := range s.ClientCAs {
				named.AddCert(ca)
			}
			cfg.ClientCAs = named // named in the CertificateRequest
		}
		if len(s.ClientCAs)+len(s.TrustedCAs) > 0 {
			st.clientCAs = x509.NewCertPool() // what verifies
			for _, ca := range append(append([]*x509.Certificate(nil), s.ClientCAs...), s.TrustedCAs...) {
				st.clientCAs.AddCert(ca)
			}
		}
	}
	// The master's keys, unless the server has key files of its own.
	keys := func() [][]byte { return cs.keys.Keys() }
	if len(s.TicketKeys) > 0 {
		keys = StaticKeys(s.TicketKeys).Keys
	}
	cfg.WrapSession = func(cstate tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		keys := keys()
		if len(keys) == 0 {
			return nil, errNoTicketKey
		}
		ss.Extra = append(ss.Extra, sessionExtra(cs.now(), st.identity))
		if c := cs.current; c != nil {
			ss.Extra = append(ss.Extra, sessionIDExtra(c.ticketSessionID(cstate.DidResume)))
		}
		state, err := ss.Bytes()
		if err != nil {
			return nil, err
		}
		return sealTicket(keys[0], state)
	}
	cfg.UnwrapSession = func(ticket []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
		state := openTicket(keys(), ticket)
		if state == nil {
			return nil, nil // not ours, or forged: a full handshake
		}
		ss, err := tls.ParseSessionState(state)
		if err != nil || !sessionValid(ss.Extra, cs.now(), st.identity, s.SessionTimeout) {
			return nil, nil
		}
		if c := cs.current; c != nil {
			c.offeredSessionID(ss.Extra)
		}
		return ss, nil
	}
	st.cfg = cfg
	return st
}

// ready reports whether st has a certificate to present: files, or an
// ACME certificate the master has published.
func (cs *Configs) ready(st *serverTLS) bool {
	switch {
	case st == nil || st.cfg == nil:
		return false
	case st.acmeID == "":
		return true
	}
	return cs.acme != nil && cs.acme.Certificate(st.acmeID) != nil
}

// acmeCertificate is the GetCertificate of a server with
// acme_certificate: the certificate the master published last, so that a
// renewal reaches the next handshake; nil for a server with files.
func (cs *Configs) acmeCertificate(id string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if id == "" {
		return nil
	}
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if cs.acme != nil {
			if c := cs.acme.Certificate(id); c != nil {
				return c, nil
			}
		}
		return nil, errNoACMECertificate
	}
}

// alpnChallenge is the configuration of a handshake that offers only
// acme-tls/1 (RFC 8737 §3): the challenge certificate for name, or a
// refusal when no challenge for it is pending.
func (cs *Configs) alpnChallenge(name string) *tls.Config {
	if cs.acme == nil || name == "" {
		return refuse
	}
	c := cs.acme.Certificate(acmezone.ALPNID(strings.ToLower(name)))
	if c == nil {
		return refuse
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*c},
		NextProtos:   []string{acmezone.ALPNProto},
		MinVersion:   tls.VersionTLS12,
	}
}

// acmeIdentity is a server's identity with its ACME certificate: the
// servers that share the certificate serve each other's names.
func acmeIdentity(id string, base [8]byte) [8]byte {
	h := sha256.New()
	h.Write(base[:])
	h.Write([]byte(id))
	return [8]byte(h.Sum(nil))
}

// identity digests the certificates and the client verification of s.
func identity(s *conf.SSL) [8]byte {
	h := sha256.New()
	for _, c := range s.Certificates {
		for _, der := range c.TLS.Certificate {
			h.Write(der)
		}
	}
	h.Write([]byte{0, byte(s.VerifyClient)})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.VerifyDepth)))
	for _, ca := range append(append([]*x509.Certificate(nil), s.ClientCAs...), s.TrustedCAs...) {
		h.Write(ca.Raw)
	}
	return [8]byte(h.Sum(nil))
}

// forAddr is the configuration handshakes on a start with.
func (cs *Configs) forAddr(a *conf.Addr) *tls.Config { return cs.byAddr[a] }

// Same reports whether servers a and b have the same certificates and
// client verification, so that a request on a connection made for a
// may be served by b.
func (cs *Configs) Same(a, b *conf.Server) bool {
	if a == b {
		return true
	}
	sa, sb := cs.byServer[a], cs.byServer[b]
	return sa != nil && sb != nil && sa.identity == sb.identity
}

// verifyClient checks the client's certificate chain against the
// server's ssl_client_certificate and ssl_verify_depth, and says why it
// failed.
func (cs *Configs) verifyClient(srv *conf.Server, chain []*x509.Certificate) (Verify, string) {
	st := cs.byServer[srv]
	if st == nil || st.ssl.VerifyClient == conf.VerifyOff || len(chain) == 0 {
		return VerifyNone, ""
	}
	if st.clientCAs == nil {
		// optional_no_ca without CAs: asked for, not checked.
		return VerifyFailed, "unable to get local issuer certificate"
	}
	opts := x509.VerifyOptions{
		Roots:         st.clientCAs,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   cs.now(),
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		return VerifyFailed, verifyReason(err)
	}
	for _, ch := range chains {
		// OpenSSL's verify depth: the certificates above the client's
		// own, the trusted one included.
		if len(ch)-1 <= st.ssl.VerifyDepth {
			return VerifySuccess, ""
		}
	}
	return VerifyFailed, "certificate chain too long"
}

// verifyReason names a verification failure as OpenSSL does, for
// $ssl_client_verify ("FAILED:REASON").
func verifyReason(err error) string {
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return "unable to get local issuer certificate"
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "certificate has expired"
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return "unsupported certificate purpose"
	}
	return err.Error()
}

// legacyDN writes a name as OpenSSL's X509_NAME_oneline does, for
// $ssl_client_s_dn_legacy: "/C=US/O=Example/CN=client".
func legacyDN(n pkix.Name) string {
	var b strings.Builder
	for _, rdn := range n.ToRDNSequence() {
		for _, atv := range rdn {
			b.WriteByte('/')
			b.WriteString(shortOID(atv.Type))
			b.WriteByte('=')
			fmt.Fprint(&b, atv.Value)
		}
	}
	return b.String()
}

// shortOID is OpenSSL's short name of an attribute type.
func shortOID(oid asn1.ObjectIdentifier) string {
	names := map[string]string{
		"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
		"2.5.4.11": "OU", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode",
		"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
	}
	if s, ok := names[oid.String()]; ok {
		return s
	}
	return oid.String()
}
