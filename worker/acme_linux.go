//go:build linux

package worker

import (
	"bytes"

	"tern/filters"
	"tern/worker/ssl"
)

// acmeChallengePath is where an ACME server asks for the answer to an
// http-01 challenge (RFC 8555 §8.3), followed by the token.
var acmeChallengePath = []byte("/.well-known/acme-challenge/")

// UseACME makes store the source of the certificates of the servers
// with acme_certificate and of the answers to the master's pending
// challenges. Call it before Run.
func (w *Worker) UseACME(store *ssl.ACMEStore) {
	w.acme = store
	if w.ssl != nil {
		w.ssl.SetACME(store)
	}
}

// serveACMEChallenge answers GET /.well-known/acme-challenge/TOKEN when
// the master's ACME client waits for the token to be fetched, for any
// server, before its statements and locations (a server that redirects
// everything to https still answers): 200, text/plain, the key
// authorization. It reports false for any other request, which goes on
// as usual.
func (w *Worker) serveACMEChallenge(rq *request) (int, bool) {
	path := rq.Req.Path
	if w.acme == nil || rq.redirects > 0 || !bytes.HasPrefix(path, acmeChallengePath) {
		return 0, false
	}
	if m := rq.Req.Method; m != filters.MethodGET && m != filters.MethodHEAD {
		return 0, false
	}
	token := path[len(acmeChallengePath):]
	if len(token) == 0 || bytes.IndexByte(token, '/') >= 0 {
		return 0, false
	}
	var ok bool
	w.acmeBuf, ok = w.acme.KeyAuthorization(w.acmeBuf, token)
	if !ok {
		return 0, false
	}
	// The body outlives the loop's scratch buffer: a copy, for the
	// few requests an order makes.
	body := bytes.Clone(w.acmeBuf)
	resp := &rq.Resp
	resp.Status, resp.ContentType = 200, "text/plain"
	resp.ContentLength = int64(len(body))
	resp.Body.AddMem(body)
	return 0, true
}
