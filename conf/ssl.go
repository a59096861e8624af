package conf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// SSL is a server's TLS settings: nginx's ssl_* directives, valid at http
// and server level. A server that listens on a TLS address ("listen =
// ["443 ssl"]") has its certificates loaded and checked; the directives
// of other servers are kept but unused.
type SSL struct {
	// CertificateFiles are ssl_certificate: PEM files, each a certificate
	// followed by its chain, absolute paths in order. Several are for
	// several key types (ECDSA and RSA): a client gets the first it
	// supports.
	CertificateFiles []string
	// KeyFiles are ssl_certificate_key, the private keys of
	// CertificateFiles in the same order.
	KeyFiles []string
	// Certificates are the loaded pairs in that order: set for servers on
	// a TLS address, nil for the others. Servers that name the same files
	// share the same *Certificate.
	Certificates []*Certificate

	// MinVersion and MaxVersion bound the protocol versions
	// (tls.VersionTLS12 ...). ssl_protocols must name a contiguous range.
	// Default: TLSv1.2 and TLSv1.3.
	MinVersion, MaxVersion uint16
	// Ciphers is ssl_ciphers as written, an OpenSSL cipher list for TLS
	// 1.2; "" leaves the choice to Go (AES-GCM and ChaCha20-Poly1305 with
	// ECDHE, then ECDHE with AES-CBC). TLS 1.3 suites are not
	// configurable. Default: "".
	Ciphers string
	// CipherSuites are the TLS 1.2 suites Ciphers selects; nil for Go's
	// defaults.
	CipherSuites []uint16
	// PreferServerCiphers is ssl_prefer_server_ciphers. Go orders cipher
	// suites itself (AES-GCM first on CPUs with AES instructions,
	// ChaCha20 otherwise); tern accepts the directive and warns that it
	// has no effect when it is on. Default: false.
	PreferServerCiphers bool

	// SessionTickets enables resumption with session tickets. Default:
	// true.
	SessionTickets bool
	// TicketKeyFiles are ssl_session_ticket_key: files of 48 or 80 bytes
	// in nginx's format; the first key encrypts, all decrypt. Empty: the
	// master makes keys, shares them with every worker and rotates them.
	TicketKeyFiles []string
	// TicketKeys are the contents of TicketKeyFiles.
	TicketKeys [][]byte
	// SessionTimeout is how long a session may be resumed, and the
	// rotation period of the master's ticket keys. Default: 5m, as nginx.
	SessionTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake from the connection's
	// accept. Default: 60s.
	HandshakeTimeout time.Duration

	// StaplingFile is ssl_stapling_file: a DER OCSP response stapled to
	// the handshake of the certificate it is about; "" for none.
	StaplingFile string
	// Staple is the response, and StapleFor the index in Certificates of
	// the certificate it is for.
	Staple    []byte
	StapleFor int

	// ClientCertificate is ssl_client_certificate: PEM CA certificates
	// that client certificates must chain to; "" for none.
	ClientCertificate string
	// ClientCAs are its certificates.
	ClientCAs []*x509.Certificate
	// TrustedCertificate is ssl_trusted_certificate: more CA
	// certificates that client certificates may chain to, not named to
	// clients; "" for none.
	TrustedCertificate string
	// TrustedCAs are its certificates.
	TrustedCAs []*x509.Certificate
	// VerifyClient is ssl_verify_client. Default: off.
	VerifyClient VerifyClient
	// VerifyDepth bounds the CA certificates between a client
	// certificate and its trusted CA, as OpenSSL's verify depth. Default: 1.
	VerifyDepth int

	// RejectHandshake refuses handshakes that select this server (by SNI,
	// or as the default server without SNI) with an unrecognized_name
	// alert. Default: false.
	RejectHandshake bool
}

// Certificate is one loaded ssl_certificate / ssl_certificate_key pair.
type Certificate struct {
	// CertFile and KeyFile are the absolute paths it came from.
	CertFile, KeyFile string
	// TLS is the chain and key, with Leaf parsed.
	TLS tls.Certificate
}

// VerifyClient is ssl_verify_client.
type VerifyClient int8

const (
	// VerifyOff asks for no client certificate.
	VerifyOff VerifyClient = iota
	// VerifyOn requires a client certificate that chains to
	// ClientCertificate; a request without one gets 400.
	VerifyOn
	// VerifyOptional asks for one and checks it when given.
	VerifyOptional
	// VerifyOptionalNoCA asks for one and does not check it.
	VerifyOptionalNoCA
)

// verifyNames are ssl_verify_client's values, indexed by VerifyClient.
var verifyNames = [...]string{VerifyOff: "off", VerifyOn: "on", VerifyOptional: "optional", VerifyOptionalNoCA: "optional_no_ca"}

func (v VerifyClient) String() string { return verifyNames[v] }

// SSL defaults.
const (
	defaultSessionTimeout   = 5 * time.Minute
	defaultHandshakeTimeout = 60 * time.Second
	defaultVerifyDepth      = 1
	// maxVerifyDepth bounds ssl_verify_depth: chains are a few
	// certificates long, and the value ends up in an int.
	maxVerifyDepth = 100
)

func defaultSSL() SSL {
	return SSL{
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS13,
		SessionTickets:   true,
		SessionTimeout:   defaultSessionTimeout,
		HandshakeTimeout: defaultHandshakeTimeout,
		VerifyDepth:      defaultVerifyDepth,
	}
}

// inSSL is where the ssl_* directives may appear: nginx's http and server.
const inSSL = inHTTP | inServer

// sslDirectives are the ssl_* directives of the table.
var sslDirectives = noteWhere([]directive{
	{name: "ssl_certificate", ctx: inSSL, decode: decodeSSLFiles(func(s *SSL) *[]string { return &s.CertificateFiles }),
		show: func(s *Settings) string { return showList(s.SSL.CertificateFiles) }},
	{name: "ssl_certificate_key", ctx: inSSL, decode: decodeSSLFiles(func(s *SSL) *[]string { return &s.KeyFiles }),
		show: func(s *Settings) string { return showList(s.SSL.KeyFiles) }},
	{name: "ssl_protocols", ctx: inSSL, decode: decodeProtocols, show: showProtocols},
	{name: "ssl_ciphers", ctx: inSSL, decode: decodeCiphers, show: func(s *Settings) string {
		if s.SSL.Ciphers == "" {
			return ""
		}
		return hclQuote(s.SSL.Ciphers)
	}},
	sslFlag("ssl_prefer_server_ciphers", func(s *SSL) *bool { return &s.PreferServerCiphers }),
	sslFlag("ssl_session_tickets", func(s *SSL) *bool { return &s.SessionTickets }),
	{name: "ssl_session_ticket_key", ctx: inSSL, decode: decodeSSLFiles(func(s *SSL) *[]string { return &s.TicketKeyFiles }),
		show: func(s *Settings) string { return showList(s.SSL.TicketKeyFiles) }},
	sslTimeout("ssl_session_timeout", func(s *SSL) *time.Duration { return &s.SessionTimeout }),
	sslTimeout("ssl_handshake_timeout", func(s *SSL) *time.Duration { return &s.HandshakeTimeout }),
	{name: "ssl_stapling_file", ctx: inSSL, decode: decodeSSLFile(func(s *SSL) *string { return &s.StaplingFile }),
		show: func(s *Settings) string { return showPath(s.SSL.StaplingFile) }},
	{name: "ssl_client_certificate", ctx: inSSL, decode: decodeSSLFile(func(s *SSL) *string { return &s.ClientCertificate }),
		show: func(s *Settings) string { return showPath(s.SSL.ClientCertificate) }},
	// In http and server, CAs for client certificates; in an
	// acme_issuer, the roots of the ACME server's (acme.go).
	{name: "ssl_trusted_certificate", ctx: inSSL | inACMEIssuer, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if t.issuer != nil {
			decodeIssuerRoots(d, a, t)
			return
		}
		decodeSSLFile(func(s *SSL) *string { return &s.TrustedCertificate })(d, a, t)
	}, show: func(s *Settings) string { return showPath(s.SSL.TrustedCertificate) }},
	{name: "ssl_verify_client", ctx: inSSL, decode: decodeVerifyClient,
		show: func(s *Settings) string { return hclQuote(s.SSL.VerifyClient.String()) }},
	{name: "ssl_verify_depth", ctx: inSSL, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 0, maxVerifyDepth); ok {
			t.set.SSL.VerifyDepth = int(n)
		}
	}, show: func(s *Settings) string { return strconv.Itoa(s.SSL.VerifyDepth) }},
	sslFlag("ssl_reject_handshake", func(s *SSL) *bool { return &s.RejectHandshake }),
})

// noteWhere makes each directive note where a server sets it: the checks
// of loadSSL, made once every server is read, point there.
func noteWhere(dirs []directive) []directive {
	for i := range dirs {
		decode := dirs[i].decode
		dirs[i].decode = func(d *decoder, a *hcl.Attribute, t *target) {
			decode(d, a, t)
			if t.srv != nil {
				if t.srv.at == nil {
					t.srv.at = make(map[string]hcl.Range)
				}
				t.srv.at[a.Name] = a.Range
			}
		}
	}
	return dirs
}

func sslFlag(name string, field func(*SSL) *bool) directive {
	return directive{name: name, ctx: inSSL,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.boolean(a); ok {
				*field(&t.set.SSL) = v
			}
		},
		show: func(s *Settings) string { return strconv.FormatBool(*field(&s.SSL)) }}
}

// sslTimeout is an ssl_* duration of at least a millisecond.
func sslTimeout(name string, field func(*SSL) *time.Duration) directive {
	return directive{name: name, ctx: inSSL,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.duration(a, time.Millisecond); ok {
				*field(&t.set.SSL) = v
			}
		},
		show: func(s *Settings) string { return hclQuote(FormatDuration(*field(&s.SSL))) }}
}

// decodeSSLFiles reads a path or a list of paths; an empty list unsets
// what the level inherits.
func decodeSSLFiles(field func(*SSL) *[]string) func(*decoder, *hcl.Attribute, *target) {
	return func(d *decoder, a *hcl.Attribute, t *target) {
		list, ok := d.nonEmptyList(a)
		if !ok {
			return
		}
		for i, p := range list {
			list[i] = d.resolve(p)
		}
		*field(&t.set.SSL) = list
	}
}

// decodeSSLFile reads one path; "" unsets it.
func decodeSSLFile(field func(*SSL) *string) func(*decoder, *hcl.Attribute, *target) {
	return func(d *decoder, a *hcl.Attribute, t *target) {
		s, ok := d.str(a)
		if !ok {
			return
		}
		if s != "" {
			s = d.resolve(s)
		}
		*field(&t.set.SSL) = s
	}
}

func showList(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return hclList(list)
}

func showPath(p string) string {
	if p == "" {
		return ""
	}
	return hclQuote(p)
}

// protocolNames maps ssl_protocols' names to versions, oldest first.
var protocolNames = []struct {
	name    string
	version uint16
}{
	{"TLSv1", tls.VersionTLS10},
	{"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12},
	{"TLSv1.3", tls.VersionTLS13},
}

// decodeProtocols reads ssl_protocols. Go enables a contiguous range of
// versions, so a list with a gap (nginx allows "TLSv1 TLSv1.2") is
// refused; SSLv2 and SSLv3 are not implemented.
func decodeProtocols(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if len(list) == 0 {
		d.invalid(a.Name, a.Expr.Range(), "name at least one protocol, e.g. [\"TLSv1.2\", \"TLSv1.3\"]")
		return
	}
	var on [4]bool
	for i, name := range list {
		j := slices.IndexFunc(protocolNames, func(p struct {
			name    string
			version uint16
		}) bool {
			return p.name == name
		})
		switch {
		case j >= 0:
			on[j] = true
		case name == "SSLv2" || name == "SSLv3":
			d.invalid(a.Name, ranges[i], "%s is not supported (nor by nginx with OpenSSL 3)", name)
			ok = false
		default:
			d.invalid(a.Name, ranges[i], "%q is not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3", name)
			ok = false
		}
	}
	if !ok {
		return
	}
	lo, hi := slices.Index(on[:], true), len(on)-1-slices.Index(reversed(on[:]), true)
	for i := lo; i <= hi; i++ {
		if !on[i] {
			d.invalid(a.Name, a.Expr.Range(), "the versions must be contiguous: %s is missing between %s and %s",
				protocolNames[i].name, protocolNames[lo].name, protocolNames[hi].name)
			return
		}
	}
	t.set.SSL.MinVersion, t.set.SSL.MaxVersion = protocolNames[lo].version, protocolNames[hi].version
}

func reversed(b []bool) []bool {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

func showProtocols(s *Settings) string {
	var names []string
	for _, p := range protocolNames {
		if p.version >= s.SSL.MinVersion && p.version <= s.SSL.MaxVersion {
			names = append(names, p.name)
		}
	}
	return hclList(names)
}

// VersionName is the OpenSSL name of a protocol version, as nginx's
// $ssl_protocol: "TLSv1.3".
func VersionName(v uint16) string {
	for _, p := range protocolNames {
		if p.version == v {
			return p.name
		}
	}
	return fmt.Sprintf("0x%04x", v)
}

func decodeCiphers(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	suites, unknown, err := ParseCiphers(s)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%q: %v", s, err)
		return
	}
	for _, u := range unknown {
		d.warnf(a.Expr.Range(), "Unknown cipher in "+a.Name, "%q is not a cipher name or alias tern knows; ignored, as OpenSSL ignores it", u)
	}
	t.set.SSL.Ciphers, t.set.SSL.CipherSuites = s, suites
}

func decodeVerifyClient(d *decoder, a *hcl.Attribute, t *target) {
	if s, ok := d.keyword(a, verifyNames[:]...); ok {
		t.set.SSL.VerifyClient = VerifyClient(slices.Index(verifyNames[:], s))
	}
}
