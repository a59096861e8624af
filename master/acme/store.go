//go:build linux

package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/internal/acmezone"
)

// The layout of an issuer's state_path (docs/acme.md#state):
//
//	account.key        the account's ECDSA P-256 key (PEM, EC PRIVATE KEY)
//	lock               flock(2)ed by the master that orders
//	DIR/certificate.pem  the certificate's key (PEM, PRIVATE KEY, with the
//	                   header ACME-Directory: the issuer's uri), then its
//	                   chain (PEM, CERTIFICATE): one file, replaced by a
//	                   rename, so that key and chain always match
//
// where DIR is conf.ACMECertificate.Dir. Directories are 0700 and files
// 0600: they hold private keys.
const (
	accountFile = "account.key"
	lockFile    = "lock"
	certFile    = "certificate.pem"
	// directoryHeader names the issuer a stored certificate came from.
	directoryHeader = "ACME-Directory"
)

// stored is a certificate read from the state directory.
type stored struct {
	zc   acmezone.Certificate
	leaf *x509.Certificate
}

// loadStored reads the certificate of c from the state directory: nil,
// nil when there is none; an error when there is one tern cannot use.
// A certificate of another directory URL, or that does not cover every
// name, is not used.
func loadStored(c *conf.ACMECertificate) (*stored, error) {
	path := filepath.Join(c.Issuer.StatePath, c.Dir(), certFile)
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := &stored{zc: acmezone.Certificate{ID: c.ID()}}
	dir := ""
	for {
		var b *pem.Block
		if b, text = pem.Decode(text); b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			s.zc.Key, dir = b.Bytes, b.Headers[directoryHeader]
		case "CERTIFICATE":
			s.zc.Chain = append(s.zc.Chain, b.Bytes)
		}
	}
	if len(s.zc.Key) == 0 || len(s.zc.Chain) == 0 {
		return nil, fmt.Errorf("%s: want a PRIVATE KEY and CERTIFICATE blocks", path)
	}
	if s.leaf, err = x509.ParseCertificate(s.zc.Chain[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(s.zc.Key); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dir != c.Issuer.URI {
		return nil, nil // another issuer's: order anew
	}
	for _, n := range c.Names {
		if s.leaf.VerifyHostname(n) != nil {
			return nil, nil // the names changed
		}
	}
	return s, nil
}

// renewAt is when s is due for renewal: renewBefore before it expires,
// or once a third of its lifetime is left.
func (s *stored) renewAt(renewBefore time.Duration) time.Time {
	if renewBefore <= 0 {
		renewBefore = s.leaf.NotAfter.Sub(s.leaf.NotBefore) / 3
	}
	return s.leaf.NotAfter.Add(-renewBefore)
}

// saveCertificate writes key and chain as c's certificate.pem, by a
// rename.
func saveCertificate(c *conf.ACMECertificate, key []byte, chain [][]byte) error {
	dir := filepath.Join(c.Issuer.StatePath, c.Dir())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{directoryHeader: c.Issuer.URI}, Bytes: key})
	for _, der := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return writeAtomic(filepath.Join(dir, certFile), out)
}

// writeAtomic writes data to path through a temporary file in the same
// directory, synced, then renamed over path: a reader sees the old
// file or the new one, and a crash leaves one of them.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// accountKey reads the issuer's account key, making and storing one
// the first time.
func accountKey(is *conf.ACMEIssuer) (crypto.Signer, bool, error) {
	if err := os.MkdirAll(is.StatePath, 0o700); err != nil {
		return nil, false, err
	}
	path := filepath.Join(is.StatePath, accountFile)
	text, err := os.ReadFile(path)
	if err == nil {
		b, _ := pem.Decode(text)
		if b == nil || b.Type != "EC PRIVATE KEY" {
			return nil, false, fmt.Errorf("%s: want an EC PRIVATE KEY block", path)
		}
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, false, err
	}
	if err := writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

func marshalKey(k crypto.PrivateKey) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }

// lockState takes the issuer's lock file, so that two masters (the old
// and the new one of a binary upgrade) never order at the same time;
// it polls, so that ctx can end the wait. The returned func releases it.
func lockState(ctx context.Context, is *conf.ACMEIssuer) (func(), error) {
	if err := os.MkdirAll(is.StatePath, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(is.StatePath, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases it
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, os.NewSyscallError("flock", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
