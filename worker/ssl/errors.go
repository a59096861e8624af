package ssl

import "errors"

// errWouldBlock is what the transport answers crypto/tls when the loop has
// no more ciphertext for it: a net.Error whose Temporary() is true. After
// the handshake, crypto/tls keeps a partial record and stays usable when
// its transport fails with such an error (readRecordOrCCS checks
// net.Error.Temporary before it records an error for good); any other
// error poisons the connection. TestReadSurvivesTemporaryError pins this.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls transport: would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// errCanceled ends a handshake whose goroutine the loop called back:
// ssl_handshake_timeout expired, or the worker is stopping.
var errCanceled = errors.New("tls handshake canceled")

// errNoACMECertificate fails a handshake for a server with
// acme_certificate whose certificate the master has not published
// (between the stamp check and the certificate's pick, a withdrawal).
var errNoACMECertificate = errors.New("no ACME certificate yet")
