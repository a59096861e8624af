package filters

import (
	"strings"

	"tern/conf"
)

// GzipFilter compresses responses on the fly (gzip = true), as nginx's
// gzip filter: for a 200, 403 or 404 whose type is in gzip_types (text/html
// always, as nginx), whose length is unknown or at least gzip_min_length,
// that is not encoded already, for a client whose Accept-Encoding allows
// gzip. It adds Content-Encoding and Vary, drops Content-Length and
// Accept-Ranges (so the range filter, which runs next, leaves it whole),
// weakens the ETag (RFC 9110 §8.8.1: the bytes differ from the file's),
// and hands the body to a producer that compresses it piece by piece.
//
// Where tern differs from nginx:
//   - HTTP/1.0 requests get the identity body (docs/reference.md#gzip; nginx's
//     gzip_http_version defaults to 1.1 too, but can be lowered).
//   - Vary is always sent on a response that could be compressed, whether
//     or not this client gets it (nginx needs gzip_vary on).
//   - A HEAD gets the head a GET would get (RFC 9110 §9.3.2), without
//     compressing anything; nginx sends the identity head to a HEAD.
//   - A 304 made from such a response carries the Vary and the weak ETag
//     the 200 would have had (RFC 9110 §15.4.5); nginx sends neither.
//   - Accept-Encoding is read as RFC 9110 §12.5.3 says: "*" counts for
//     gzip when gzip is not named, and "x-gzip" is gzip (§8.4.1.3).
type GzipFilter struct{}

var _ Filter = GzipFilter{}

// Header decides whether the response is compressed and sets it up.
func (GzipFilter) Header(t *Txn) Result {
	r := &t.Resp
	loc := t.Loc
	if loc == nil || !loc.Gzip || t.recode != nil || !gzipStatus(r.Status, t.notModified) || r.ContentEncoding != "" ||
		r.ContentLength >= 0 && r.ContentLength < loc.GzipMinLength || !gzipType(loc, r.ContentType) {
		return OK
	}
	r.Vary = true
	if t.Req.Version < HTTP11 || !AcceptsGzip(t.Req.AcceptEncoding) {
		return OK
	}
	r.ETag = t.weakETag(r.ETag)
	if r.Status == 304 {
		return OK
	}
	r.ContentEncoding = "gzip"
	r.ContentLength = -1
	r.AcceptRanges = false
	if r.HeaderOnly {
		return OK
	}
	g := t.Env.gzipBody(loc.GzipCompLevel)
	g.start(r.Body.Segs)
	clear(r.Body.Segs)
	r.Body.Segs = r.Body.Segs[:0]
	r.Body.Producer = g
	return OK
}

// gzipStatus: nginx compresses 200, 403 and 404; a 304 made from a 200
// gets the 200's headers.
func gzipStatus(code int, notModified bool) bool {
	return code == 200 || code == 403 || code == 404 || code == 304 && notModified
}

// gzipType reports whether media type ct (parameters ignored) is one
// gzip_types lists. text/html always is, as nginx; "*" is every type,
// even none.
func gzipType(loc *conf.Location, ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for _, g := range loc.GzipTypes {
		if g == "*" {
			return true
		}
	}
	if ct == "" {
		return false
	}
	if strings.EqualFold(ct, "text/html") {
		return true
	}
	for _, g := range loc.GzipTypes {
		if strings.EqualFold(g, ct) {
			return true
		}
	}
	return false
}

// weakETag returns etag made weak (nginx's ngx_http_weak_etag): W/ in
// front of a strong tag, a weak one as is, and nil for a value that is no
// entity-tag.
func (t *Txn) weakETag(etag []byte) []byte {
	switch {
	case len(etag) == 0 || isWeak(etag):
		return etag
	case etag[0] != '"':
		return nil
	}
	start := len(t.vals)
	t.vals = append(append(t.vals, "W/"...), etag...)
	return t.valsFrom(start)
}

// qOne is the weight of a coding without "q=", in thousandths.
const qOne = 1000

// AcceptsGzip reports whether an Accept-Encoding value allows gzip (RFC
// 9110 §12.5.3): the weight of "gzip" (or "x-gzip"), else that of "*", is
// above zero. A missing header allows only identity here: tern, like
// nginx, does not compress for a client that did not ask. An invalid
// weight counts as 0, as nginx. Exported so that gzip_static can decide
// as the gzip filter does.
func AcceptsGzip(ae []byte) bool {
	gzipQ, anyQ := -1, -1
	for len(ae) > 0 {
		var member []byte
		member, ae = cut(ae, ',')
		coding, params := cut(member, ';')
		coding = trimOWS(coding)
		switch {
		case equalFold(coding, "gzip") || equalFold(coding, "x-gzip"):
			gzipQ = max(gzipQ, weight(params))
		case string(coding) == "*":
			anyQ = max(anyQ, weight(params))
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// weight reads the "q" parameter of a coding's parameters (what follows
// its first ";"): qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
// in thousandths.
func weight(params []byte) int {
	for len(params) > 0 {
		var p []byte
		p, params = cut(params, ';')
		p = trimOWS(p)
		if len(p) < 2 || p[0]|0x20 != 'q' || p[1] != '=' {
			continue
		}
		return qvalue(p[2:])
	}
	return qOne
}

func qvalue(v []byte) int {
	if len(v) == 0 || v[0] != '0' && v[0] != '1' {
		return 0
	}
	q := int(v[0]-'0') * qOne
	if len(v) == 1 {
		return q
	}
	if v[1] != '.' || len(v) > 5 {
		return 0
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > qOne {
		return 0
	}
	return q
}
