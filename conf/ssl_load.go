package conf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ocsp"
)

// expiryWarning is how far ahead -t warns that a certificate expires.
const expiryWarning = 30 * 24 * time.Hour

// nginx's ticket key file sizes: a 16-byte name, then the HMAC and AES
// keys, 16 bytes each (AES-128) or 32 bytes each (AES-256).
const (
	TicketKeySize128 = 48
	TicketKeySize256 = 80
)

// loadSSL loads and checks the files of every server that listens on a
// TLS address: each certificate with its key (which must match), the
// ticket keys, the stapled OCSP response and the client CAs. Problems
// are reported at the directive that named the file — in the server, or
// in http when the server inherits it — and a certificate that expires
// within 30 days is a warning.
func (d *decoder) loadSSL(h *httpDraft, drafts []*serverDraft) {
	for _, sd := range drafts {
		e := sd.sslListen()
		if e == nil {
			continue
		}
		at := func(name string) hcl.Range {
			if r, ok := sd.at[name]; ok {
				return r
			}
			if r, ok := h.setAt[name]; ok {
				return r
			}
			return e.rng
		}
		s := &sd.srv.Root.SSL
		if s.PreferServerCiphers {
			d.warnf(at("ssl_prefer_server_ciphers"), "ssl_prefer_server_ciphers has no effect",
				"Go orders the cipher suites itself: AES-GCM first on CPUs with AES instructions, ChaCha20-Poly1305 otherwise")
		}
		d.loadCertificates(sd, s, e, at)
		d.loadTicketKeys(s, at("ssl_session_ticket_key"))
		d.loadStaple(s, at("ssl_stapling_file"))
		d.loadClientCAs(s, at)
	}
}

// sslListen returns the server's first listen entry on a TLS address, or
// nil when it has none.
func (sd *serverDraft) sslListen() *listenEntry {
	for i := range sd.listens {
		e := &sd.listens[i]
		for _, a := range sd.srv.Addrs {
			if a.Addr == e.addr && a.SSL {
				return e
			}
		}
	}
	return nil
}

// isDefaultTLS reports whether the server is the default server of one
// of its TLS addresses.
func (sd *serverDraft) isDefaultTLS() bool {
	for _, a := range sd.srv.Addrs {
		if a.SSL && a.Default == sd.srv {
			return true
		}
	}
	return false
}

// loadCertificates fills s.Certificates.
func (d *decoder) loadCertificates(sd *serverDraft, s *SSL, e *listenEntry, at func(string) hcl.Range) {
	if sd.srv.ACME != nil {
		// The master orders its certificate; the files an http-level
		// ssl_certificate names are not this server's.
		s.Certificates = nil
		return
	}
	if len(s.CertificateFiles) == 0 {
		switch {
		case s.RejectHandshake:
		case sd.isDefaultTLS():
			// As nginx: the server that answers handshakes without SNI
			// must have a certificate.
			d.errorf(e.rng, "No certificate for a TLS listener",
				"%s is a TLS listener (\"ssl\"): its default server needs ssl_certificate and ssl_certificate_key, acme_certificate, or ssl_reject_handshake = true", e.addr)
		default:
			d.warnf(e.rng, "No certificate for a TLS listener",
				"this server has no ssl_certificate nor acme_certificate: handshakes that name it get the default server's certificate, as with nginx (ssl_reject_handshake = true refuses them)")
		}
		return
	}
	if len(s.KeyFiles) != len(s.CertificateFiles) {
		d.errorf(at("ssl_certificate_key"), "Invalid ssl_certificate_key",
			"%d certificates need %d keys, in the same order; %d given", len(s.CertificateFiles), len(s.CertificateFiles), len(s.KeyFiles))
		return
	}
	s.Certificates = nil
	for i, cf := range s.CertificateFiles {
		c := d.loadPair(cf, s.KeyFiles[i], at("ssl_certificate"), at("ssl_certificate_key"))
		if c == nil {
			s.Certificates = nil
			return
		}
		s.Certificates = append(s.Certificates, c)
	}
}

// loadPair loads one certificate and its key, once per pair of files.
func (d *decoder) loadPair(certFile, keyFile string, certAt, keyAt hcl.Range) *Certificate {
	key := certFile + "\x00" + keyFile
	if c, ok := d.certs[key]; ok {
		return c
	}
	d.certs[key] = nil // a failure is reported once
	certPEM, ok := d.readFile(certFile, certAt)
	if !ok {
		return nil
	}
	keyPEM, ok := d.readFile(keyFile, keyAt)
	if !ok {
		return nil
	}
	if _, err := parseCertificates(certPEM); err != nil {
		d.errorf(certAt, "Invalid ssl_certificate", "%s: %v", certFile, err)
		return nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		d.errorf(keyAt, "Invalid ssl_certificate_key", "%s does not go with %s: %v", keyFile, certFile, err)
		return nil
	}
	c := &Certificate{CertFile: certFile, KeyFile: keyFile, TLS: pair}
	d.certs[key] = c
	d.checkExpiry(c.TLS.Leaf, certFile, certAt)
	return c
}

// checkExpiry warns about a certificate that is not valid yet, expired,
// or expires within expiryWarning.
func (d *decoder) checkExpiry(leaf *x509.Certificate, file string, rng hcl.Range) {
	now := time.Now()
	switch left := leaf.NotAfter.Sub(now); {
	case left <= 0:
		d.warnf(rng, "Certificate expired", "%s (%s) expired on %s", file, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < expiryWarning:
		d.warnf(rng, "Certificate expires soon", "%s (%s) expires in %d days, on %s", file, leaf.Subject.CommonName,
			int(left.Hours()/24), leaf.NotAfter.UTC().Format(time.DateOnly))
	case leaf.NotBefore.After(now):
		d.warnf(rng, "Certificate not valid yet", "%s (%s) is valid from %s", file, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.DateTime))
	}
}

// parseCertificates returns every CERTIFICATE block of a PEM text; other
// blocks are refused, and there must be at least one.
func parseCertificates(text []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, text = pem.Decode(text)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q PEM block where certificates are expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(text)) > 0 {
		return nil, errors.New("text after the last PEM block")
	}
	return certs, nil
}

// loadTicketKeys reads ssl_session_ticket_key files.
func (d *decoder) loadTicketKeys(s *SSL, rng hcl.Range) {
	s.TicketKeys = nil
	for _, f := range s.TicketKeyFiles {
		b, ok := d.readFile(f, rng)
		if !ok {
			continue
		}
		if len(b) != TicketKeySize128 && len(b) != TicketKeySize256 {
			d.errorf(rng, "Invalid ssl_session_ticket_key", "%s has %d bytes: a key file has %d or %d (openssl rand %d > FILE)",
				f, len(b), TicketKeySize128, TicketKeySize256, TicketKeySize256)
			continue
		}
		s.TicketKeys = append(s.TicketKeys, b)
	}
}

// loadStaple reads ssl_stapling_file: an OCSP response for one of the
// certificates, signed by its issuer when the chain holds the issuer.
func (d *decoder) loadStaple(s *SSL, rng hcl.Range) {
	s.Staple, s.StapleFor = nil, 0
	if s.StaplingFile == "" || len(s.Certificates) == 0 {
		return
	}
	der, ok := d.readFile(s.StaplingFile, rng)
	if !ok {
		return
	}
	resp, err := ocsp.ParseResponse(der, nil)
	if err != nil {
		d.errorf(rng, "Invalid ssl_stapling_file", "%s is not a valid OCSP response: %v", s.StaplingFile, err)
		return
	}
	for i, c := range s.Certificates {
		if resp.SerialNumber.Cmp(c.TLS.Leaf.SerialNumber) != 0 {
			continue
		}
		if len(c.TLS.Certificate) > 1 {
			// The chain holds the issuer: the response should be signed
			// by it, or by a responder it delegated to. Another signer
			// may be one the clients trust (nginx checks nothing), so
			// this is a warning.
			issuer, err := x509.ParseCertificate(c.TLS.Certificate[1])
			if err == nil {
				if _, err := ocsp.ParseResponseForCert(der, c.TLS.Leaf, issuer); err != nil {
					d.warnf(rng, "OCSP response not signed by the issuer", "%s is not signed by the issuer of %s, nor by a responder it delegated to (%v): clients may reject it",
						s.StaplingFile, c.CertFile, err)
				}
			}
		}
		switch {
		case resp.Status == ocsp.Revoked:
			d.warnf(rng, "Revoked certificate", "%s says that %s is revoked", s.StaplingFile, c.CertFile)
		case !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(time.Now()):
			d.warnf(rng, "Stale OCSP response", "%s was due for an update on %s: clients may reject it", s.StaplingFile, resp.NextUpdate.UTC().Format(time.DateTime))
		}
		s.Staple, s.StapleFor = der, i
		return
	}
	d.errorf(rng, "Invalid ssl_stapling_file", "%s is about none of the server's certificates", s.StaplingFile)
}

// loadClientCAs reads ssl_client_certificate and ssl_trusted_certificate,
// one of which ssl_verify_client on and optional need.
func (d *decoder) loadClientCAs(s *SSL, at func(string) hcl.Range) {
	s.ClientCAs, s.TrustedCAs = d.loadCAs(s.ClientCertificate, "ssl_client_certificate", at), d.loadCAs(s.TrustedCertificate, "ssl_trusted_certificate", at)
	// A server without certificates of its own makes no handshakes
	// with its settings (nginx checks only servers with one).
	if s.ClientCertificate == "" && s.TrustedCertificate == "" && len(s.CertificateFiles) > 0 &&
		(s.VerifyClient == VerifyOn || s.VerifyClient == VerifyOptional) {
		d.errorf(at("ssl_verify_client"), "Invalid ssl_verify_client",
			"ssl_verify_client %q needs ssl_client_certificate (or ssl_trusted_certificate): the CAs that client certificates must chain to", s.VerifyClient)
	}
}

// loadCAs reads a file of PEM CA certificates the directive name names.
func (d *decoder) loadCAs(path, name string, at func(string) hcl.Range) []*x509.Certificate {
	if path == "" {
		return nil
	}
	rng := at(name)
	text, ok := d.readFile(path, rng)
	if !ok {
		return nil
	}
	cas, err := parseCertificates(text)
	if err != nil {
		d.errorf(rng, "Invalid "+name, "%s: %v", path, err)
		return nil
	}
	return cas
}

// readFile reads a file a directive at rng names, through the decoder's
// reader: from disk for Load, from the snapshot for LoadSnapshot. Its text
// joins Sources, so that workers get the very bytes -t checked.
func (d *decoder) readFile(path string, rng hcl.Range) ([]byte, bool) {
	if b, ok := d.sources[path]; ok {
		return b, true
	}
	b, err := d.read(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.errorf(rng, "Cannot read file", "%s: %v", path, err)
		return nil, false
	}
	d.sources[path] = b
	return b, true
}

// warnf records a warning: -t prints it, and the configuration loads.
// Its summary starts with "Warning: ", as CheckPaths' do.
func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	d.warnings = append(d.warnings, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "Warning: " + summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}
