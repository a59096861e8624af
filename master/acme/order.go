//go:build linux

package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	xacme "golang.org/x/crypto/acme"

	"tern/conf"
)

// userAgent names tern to the ACME server (RFC 8555 §6.1).
const userAgent = "tern"

// client is an ACME client for is, with its account key.
func client(is *conf.ACMEIssuer) (*xacme.Client, bool, error) {
	key, made, err := accountKey(is)
	if err != nil {
		return nil, false, fmt.Errorf("account key: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(is.Roots) > 0 {
		tc.RootCAs = x509.NewCertPool()
		for _, r := range is.Roots {
			tc.RootCAs.AddCert(r)
		}
	}
	hc := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second},
		Timeout:   30 * time.Second,
	}
	return &xacme.Client{Key: key, DirectoryURL: is.URI, HTTPClient: hc, UserAgent: userAgent}, made, nil
}

// order obtains a certificate for k's names and stores it: account,
// order, one challenge per authorization, finalisation with a new
// ECDSA P-256 key, the chain (RFC 8555 §7).
func (k *keeper) order(ctx context.Context) error {
	log := k.m.logger()
	c, made, err := client(k.is)
	if err != nil {
		return err
	}
	if made {
		log.Info().Str("issuer", k.is.Name).Str("state_path", k.is.StatePath).Msg("new ACME account key")
	}
	acct := &xacme.Account{Contact: k.is.Contact}
	if _, err := c.Register(ctx, acct, xacme.AcceptTOS); err != nil && !errors.Is(err, xacme.ErrAccountAlreadyExists) {
		return fmt.Errorf("registering the account: %w", problem(err))
	}
	log.Info().Str("certificate", k.id).Strs("names", k.cert.Names).Str("challenge", k.is.Challenge.String()).Msg("ordering a certificate")
	o, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(k.cert.Names...))
	if err != nil {
		return fmt.Errorf("new order: %w", problem(err))
	}
	for _, u := range o.AuthzURLs {
		if err := k.authorize(ctx, c, u); err != nil {
			return err
		}
	}
	if o, err = c.WaitOrder(ctx, o.URI); err != nil {
		return fmt.Errorf("waiting for the order: %w", problem(err))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: k.cert.Names}, key)
	if err != nil {
		return err
	}
	chain, _, err := c.CreateCertFromOrder(ctx, o, csr, true)
	if err != nil {
		return fmt.Errorf("finalizing the order: %w", problem(err))
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return fmt.Errorf("the issued certificate: %w", err)
	}
	der, err := marshalKey(key)
	if err != nil {
		return err
	}
	if err := saveCertificate(k.cert, der, chain); err != nil {
		return fmt.Errorf("storing the certificate: %w", err)
	}
	log.Info().Str("certificate", k.id).Str("serial", leaf.SerialNumber.Text(16)).Time("not_after", leaf.NotAfter).
		Msg("certificate issued")
	return nil
}

// authorize answers the authorization at url with the issuer's
// challenge type, and waits for it to be valid.
func (k *keeper) authorize(ctx context.Context, c *xacme.Client, url string) error {
	z, err := c.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("authorization %s: %w", url, problem(err))
	}
	if z.Status == xacme.StatusValid {
		return nil
	}
	want := k.is.Challenge.String()
	var chal *xacme.Challenge
	for _, ch := range z.Challenges {
		if ch.Type == want {
			chal = ch
		}
	}
	name := z.Identifier.Value
	if chal == nil {
		return fmt.Errorf("the ACME server offers no %s challenge for %s", want, name)
	}
	var withdraw func()
	switch k.is.Challenge {
	case conf.ChallengeTLSALPN01:
		cert, err := c.TLSALPN01ChallengeCert(chal.Token, name)
		if err == nil {
			withdraw, err = k.m.addALPN(name, cert)
		}
		if err != nil {
			return fmt.Errorf("tls-alpn-01 certificate for %s: %w", name, err)
		}
	default:
		ka, err := c.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		withdraw = k.m.addHTTP01(chal.Token, ka)
	}
	defer withdraw()
	k.m.logger().Info().Str("name", name).Str("challenge", want).Msg("answering the challenge")
	if _, err := c.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accepting the %s challenge for %s: %w", want, name, problem(err))
	}
	if _, err := c.WaitAuthorization(ctx, url); err != nil {
		return fmt.Errorf("authorization of %s: %w", name, problem(err))
	}
	return nil
}

// problem spells out an ACME error with its problem document (RFC 8555
// §6.7): the type, the detail, and the subproblems per name.
func problem(err error) error {
	var ae *xacme.Error
	if !errors.As(err, &ae) {
		var oe *xacme.OrderError
		if errors.As(err, &oe) {
			return fmt.Errorf("order %s is %s", oe.OrderURL, oe.Status)
		}
		var ze *xacme.AuthorizationError
		if errors.As(err, &ze) {
			return fmt.Errorf("authorization %s failed: %v", ze.URI, ze.Errors)
		}
		return err
	}
	s := fmt.Sprintf("%d %s: %s", ae.StatusCode, ae.ProblemType, ae.Detail)
	for _, sp := range ae.Subproblems {
		s += fmt.Sprintf("; %s %s: %s", sp.Identifier.Value, sp.Type, sp.Detail)
	}
	return errors.New(s)
}
