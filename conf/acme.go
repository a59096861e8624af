package conf

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Automatic certificates (docs/acme.md), as nginx's ACME module: an
// acme_issuer block names an ACME server (RFC 8555) and where its state
// is kept; a server with acme_certificate gets a certificate for its
// exact names from that issuer, which the master orders and renews.

// ACMEIssuer is an acme_issuer block.
type ACMEIssuer struct {
	// Name is the block's label, which acme_certificate names.
	Name string
	// URI is the ACME server's directory URL (RFC 8555 §7.1.1), an
	// https URL. Required.
	URI string
	// Contact are the URLs the ACME server may use to reach the
	// account's owner; an address without a scheme gets "mailto:", as
	// nginx. Default: none.
	Contact []string
	// StatePath is the absolute directory where the master keeps the
	// account key, the certificates and their keys, the orders under way
	// and the lock that keeps two masters from ordering at once. The
	// master creates it (mode 0700). Default: PREFIX/acme_NAME, as nginx.
	StatePath string
	// AcceptTOS agrees to the ACME server's terms of service, which
	// account registration needs; it must be true. Default: false.
	AcceptTOS bool
	// TrustedCertificate is ssl_trusted_certificate: a PEM file of the
	// CA certificates the ACME server's own certificate must chain to;
	// "" trusts the system's roots. Default: "".
	TrustedCertificate string
	// Roots are the certificates of TrustedCertificate; nil for the
	// system's roots.
	Roots []*x509.Certificate
	// Challenge is how the ACME server checks that this server answers
	// for a name. Default: http-01.
	Challenge ACMEChallenge
	// RenewBefore is how long before a certificate expires it is
	// renewed; 0 renews when a third of its lifetime is left. Default: 0.
	RenewBefore time.Duration

	// rng is where the block is written, and used whether a server names
	// the issuer.
	rng  hcl.Range
	used bool
}

// ACMEChallenge is an issuer's challenge type.
type ACMEChallenge int8

const (
	// ChallengeHTTP01 is RFC 8555 §8.3: the ACME server fetches
	// http://NAME/.well-known/acme-challenge/TOKEN on port 80, which
	// every plain listener answers.
	ChallengeHTTP01 ACMEChallenge = iota
	// ChallengeTLSALPN01 is RFC 8737: the ACME server opens a TLS
	// connection to NAME on port 443 offering the ALPN protocol
	// "acme-tls/1", which every TLS listener answers with a certificate
	// made for the challenge.
	ChallengeTLSALPN01
)

// challengeNames are challenge's values, indexed by ACMEChallenge.
var challengeNames = [...]string{ChallengeHTTP01: "http-01", ChallengeTLSALPN01: "tls-alpn-01"}

func (c ACMEChallenge) String() string { return challengeNames[c] }

// ACMECertificate is a server's acme_certificate: the certificate the
// server's TLS handshakes present, ordered from Issuer for Names.
type ACMECertificate struct {
	// Issuer is the acme_issuer named.
	Issuer *ACMEIssuer
	// Names are the server's exact names, in server_name order, without
	// duplicates: what the certificate is ordered for. Wildcards,
	// regular expressions, IP addresses and names that are not DNS
	// names are left out, with a warning.
	Names []string
}

// ID names the certificate: servers with the same issuer and the same
// names share one certificate. The master keys its state by it, and the
// workers find the certificate the master publishes by it.
func (c *ACMECertificate) ID() string {
	names := slices.Sorted(slices.Values(c.Names))
	return c.Issuer.Name + " " + strings.Join(names, ",")
}

// Dir is the directory of the certificate under its issuer's
// StatePath: the first name, and a digest of the ID that tells apart
// certificates whose first name is the same.
func (c *ACMECertificate) Dir() string {
	sum := sha256.Sum256([]byte(c.ID()))
	return c.Names[0] + "_" + hex.EncodeToString(sum[:4])
}

// Bounds of the ACME settings.
const (
	// minRenewBefore: renewing a certificate more often than every few
	// seconds would be a loop against the ACME server.
	minRenewBefore = time.Second
	// maxDNSName is RFC 1035 §2.3.4's limit on a name.
	maxDNSName = 253
)

// acmeDirectives are the attributes of an acme_issuer block, and
// acme_certificate. ssl_trusted_certificate, which an issuer has too,
// is TLS's (ssl.go), whose decoder hands an issuer's to
// decodeIssuerRoots.
var acmeDirectives = []directive{
	{name: "uri", ctx: inACMEIssuer, decode: decodeIssuerURI},
	{name: "contact", ctx: inACMEIssuer, decode: decodeIssuerContact},
	{name: "state_path", ctx: inACMEIssuer, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if p, ok := d.path(a); ok {
			t.issuer.StatePath = p
		}
	}},
	{name: "accept_terms_of_service", ctx: inACMEIssuer, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.boolean(a); ok {
			t.issuer.AcceptTOS = v
		}
	}},
	{name: "challenge", ctx: inACMEIssuer, decode: decodeChallenge},
	{name: "renew_before", ctx: inACMEIssuer, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.duration(a, minRenewBefore); ok {
			t.issuer.RenewBefore = v
		}
	}},
	{name: "acme_certificate", ctx: inServer, decode: decodeACMECertificate},
}

// acmeIssuer decodes an acme_issuer block, in the main context or in
// http (where nginx has it).
func (d *decoder) acmeIssuer(b *hcl.Block) {
	name := b.Labels[0]
	content := d.content(b.Body, inACMEIssuer)
	if name == "" {
		d.errorf(b.LabelRanges[0], "Invalid acme_issuer", "the issuer needs a name")
		return
	}
	if prev := d.issuers[name]; prev != nil {
		d.errorf(b.LabelRanges[0], "Duplicate acme_issuer", "issuer %q is already defined at %s", name, at(prev.rng))
		return
	}
	is := &ACMEIssuer{Name: name, StatePath: d.resolve("acme_" + name), rng: b.LabelRanges[0]}
	d.apply(content.Attributes, &target{issuer: is})
	if content.Attributes["uri"] == nil {
		d.errorf(b.DefRange, "Invalid acme_issuer", "issuer %q needs uri: the ACME server's directory URL", name)
	}
	if !is.AcceptTOS {
		rng := b.DefRange
		if a := content.Attributes["accept_terms_of_service"]; a != nil {
			rng = a.Expr.Range()
		}
		d.errorf(rng, "Terms of service not accepted",
			"issuer %q: ACME servers register an account only for a client that agrees to their terms of service; "+
				"read them (the directory at uri links to them) and set accept_terms_of_service = true", name)
	}
	for _, other := range d.issuerOrder {
		if other.StatePath == is.StatePath {
			d.errorf(b.LabelRanges[0], "Shared state_path",
				"issuers %q and %q both keep their state in %s: each needs a directory of its own", other.Name, name, is.StatePath)
		}
	}
	if d.issuers == nil {
		d.issuers = make(map[string]*ACMEIssuer)
	}
	d.issuers[name] = is
	d.issuerOrder = append(d.issuerOrder, is)
}

func decodeIssuerURI(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		d.invalid(a.Name, a.Expr.Range(), "%q is not a URL: %v", s, err)
	case u.Scheme != "https":
		// RFC 8555 §6.1: ACME runs over HTTPS only.
		d.invalid(a.Name, a.Expr.Range(), "%q: an ACME directory URL starts with https:// (RFC 8555 §6.1)", s)
	case u.Host == "" || u.User != nil || u.Fragment != "":
		d.invalid(a.Name, a.Expr.Range(), "%q: want https://HOST[:PORT]/PATH, without user information or fragment", s)
	default:
		t.issuer.URI = s
	}
}

// decodeIssuerContact reads one URL or a list; an address without a
// scheme is an e-mail address, as nginx.
func decodeIssuerContact(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	var out []string
	for i, c := range list {
		if !strings.Contains(c, ":") {
			c = "mailto:" + c
		}
		u, err := url.Parse(c)
		switch {
		case err != nil:
			d.invalid(a.Name, ranges[i], "%q is not a URL: %v", list[i], err)
			continue
		case u.Scheme == "mailto" && !strings.Contains(u.Opaque, "@"):
			d.invalid(a.Name, ranges[i], "%q is not an e-mail address", list[i])
			continue
		}
		out = append(out, c)
	}
	t.issuer.Contact = out
}

// decodeIssuerRoots reads ssl_trusted_certificate: the roots the ACME
// server's certificate must chain to, read now so that -t checks them.
func decodeIssuerRoots(d *decoder, a *hcl.Attribute, t *target) {
	p, ok := d.path(a)
	if !ok {
		return
	}
	text, ok := d.readFile(p, a.Expr.Range())
	if !ok {
		return
	}
	roots, err := parseCertificates(text)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%s: %v", p, err)
		return
	}
	t.issuer.TrustedCertificate, t.issuer.Roots = p, roots
}

// decodeChallenge reads challenge; nginx's unversioned names are taken
// too.
func decodeChallenge(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.keyword(a, "http-01", "tls-alpn-01", "http", "tls-alpn")
	if !ok {
		return
	}
	t.issuer.Challenge = ChallengeHTTP01
	if strings.HasPrefix(s, "tls-alpn") {
		t.issuer.Challenge = ChallengeTLSALPN01
	}
}

// decodeACMECertificate reads acme_certificate = "ISSUER". The names
// are the server's, taken once the whole server is read (loadACME).
func decodeACMECertificate(d *decoder, a *hcl.Attribute, t *target) {
	name, ok := d.str(a)
	if !ok {
		return
	}
	is := d.issuers[name]
	if is == nil {
		known := "none is defined"
		if len(d.issuerOrder) > 0 {
			var names []string
			for _, i := range d.issuerOrder {
				names = append(names, fmt.Sprintf("%q", i.Name))
			}
			known = "defined: " + strings.Join(names, ", ")
		}
		d.invalid(a.Name, a.Expr.Range(), "no acme_issuer is named %q (%s)", name, known)
		return
	}
	is.used = true
	t.srv.srv.ACME = &ACMECertificate{Issuer: is}
	t.srv.acmeAt = a.Range
}

// loadACME checks the servers that have acme_certificate, once every
// server is read: their names, their listeners, and what acme_certificate
// replaces. It also warns about issuers no server names, and about an
// http-01 issuer with no plain listener to answer its challenges.
func (d *decoder) loadACME(h *httpDraft, addrs []*Addr, drafts []*serverDraft) {
	http01 := false
	for _, sd := range drafts {
		c := sd.srv.ACME
		if c == nil {
			continue
		}
		http01 = http01 || c.Issuer.Challenge == ChallengeHTTP01
		if sd.sslListen() == nil {
			d.errorf(sd.acmeAt, "acme_certificate without a TLS listener",
				"this server listens on no TLS address: add one (listen = [\"443 ssl\"]) for its certificate to be served")
		}
		if r, ok := sd.at["ssl_certificate"]; ok {
			d.errorf(r, "ssl_certificate and acme_certificate",
				"this server has acme_certificate at %s: its certificate comes from the issuer; remove ssl_certificate", at(sd.acmeAt))
		}
		if r, ok := sd.at["ssl_reject_handshake"]; ok && sd.srv.Root.SSL.RejectHandshake {
			d.errorf(r, "ssl_reject_handshake and acme_certificate",
				"a server that refuses every handshake needs no certificate: remove one of the two")
		}
		c.Names = d.acmeNames(sd)
		if len(c.Names) == 0 {
			d.errorf(sd.acmeAt, "acme_certificate without a name",
				"a certificate is ordered for the server's exact names (server_name), and this server has none")
		}
	}
	for _, is := range d.issuerOrder {
		if !is.used {
			d.warnf(is.rng, "Unused acme_issuer", "no server names issuer %q in acme_certificate: nothing is ordered from it", is.Name)
		}
	}
	if http01 && !slices.ContainsFunc(addrs, func(a *Addr) bool { return !a.SSL }) {
		d.warnf(d.httpRange(h), "No plain listener for http-01",
			"an http-01 challenge is a plain HTTP request to port 80 of each name, and no server listens without TLS: "+
				"add a server with listen = [\"80\"], or use challenge = \"tls-alpn-01\"")
	}
}

// httpRange is where the http block begins, for diagnostics about it
// as a whole.
func (d *decoder) httpRange(h *httpDraft) hcl.Range {
	if len(h.servers) > 0 {
		return h.servers[0].DefRange
	}
	return hcl.Range{Filename: d.reading[0]}
}

// acmeNames are the names of sd that a certificate can be ordered for,
// in order and without duplicates; the others are reported.
func (d *decoder) acmeNames(sd *serverDraft) []string {
	var names []string
	for i, n := range sd.names {
		written := sd.srv.Names[i]
		why := ""
		switch {
		case n.kind == nameRegex || n.kind == nameHead || n.kind == nameTail || n.kind == nameDot:
			why = "wildcards and regular expressions cannot be validated by http-01 or tls-alpn-01"
		case n.key == "":
			continue // server_name "": no name
		case isIPName(n.key):
			why = "certificates are ordered for DNS names only"
		case !isDNSName(n.key):
			why = "it is not a DNS name (letters, digits, hyphens and dots)"
		case slices.Contains(names, n.key):
			continue
		default:
			names = append(names, n.key)
			continue
		}
		d.warnf(sd.acmeAt, "Server name left out of the certificate", "%q: %s", written, why)
	}
	return names
}

func isIPName(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

// isDNSName reports whether s is a name a CA issues for: dot-separated
// labels of letters, digits and hyphens, none empty or longer than 63
// bytes, none starting or ending with a hyphen, at least two labels.
func isDNSName(s string) bool {
	if len(s) > maxDNSName || !strings.Contains(s, ".") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// writeIssuers writes the acme_issuer blocks for tern -T.
func writeIssuers(p *printer, issuers []*ACMEIssuer) {
	if len(issuers) == 0 {
		p.line(0, "")
		p.line(0, "# acme_issuer: none")
		for _, name := range []string{"uri", "accept_terms_of_service"} {
			p.line(0, "# %s: required in each acme_issuer", name)
		}
		p.line(0, "# contact: none")
		p.line(0, "# state_path: PREFIX/acme_NAME")
		p.line(0, "# ssl_trusted_certificate: the system's roots")
		p.line(0, "# challenge: \"http-01\"")
		p.line(0, "# renew_before: a third of the certificate's lifetime")
		return
	}
	for _, is := range issuers {
		p.line(0, "")
		p.line(0, "acme_issuer %s {", hclQuote(is.Name))
		p.attr(1, "uri", hclQuote(is.URI))
		p.attr(1, "contact", hclList(is.Contact))
		p.attr(1, "state_path", hclQuote(is.StatePath))
		p.attr(1, "accept_terms_of_service", fmt.Sprint(is.AcceptTOS))
		if is.TrustedCertificate != "" {
			p.attr(1, "ssl_trusted_certificate", hclQuote(is.TrustedCertificate))
		}
		p.attr(1, "challenge", hclQuote(is.Challenge.String()))
		if is.RenewBefore > 0 {
			p.attr(1, "renew_before", hclQuote(FormatDuration(is.RenewBefore)))
		}
		p.line(0, "}")
	}
}
