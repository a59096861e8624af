package worker

import "tern/filters"

// gzipOK reports whether a precompressed body may go to this client, as
// nginx's ngx_http_gzip_ok with its defaults: Accept-Encoding accepts
// gzip, and the request is HTTP/1.1 (gzip_http_version 1.1: an HTTP/1.0
// proxy could cache the compressed body for clients that cannot take
// it). nginx also refuses with a Via header (gzip_proxied off) and for
// MSIE 6 (gzip_disable "msie6"); tern has neither setting and does not.
func gzipOK(r *filters.Request) bool {
	return r.Version >= filters.HTTP11 && acceptsGzip(r.AcceptEncoding)
}

// acceptsGzip reports whether an Accept-Encoding value lists the gzip
// coding with a non-zero weight (RFC 9110 §12.5.3). As nginx, "*" does
// not count (nginx looks for "gzip" only), and a malformed weight is a
// refusal.
func acceptsGzip(v []byte) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v = cutByte(v, ',')
		name, params := cutByte(elem, ';')
		if !asciiEqualFold(trimOWS(name), "gzip") {
			continue
		}
		return weightNonZero(params)
	}
	return false
}

// weightNonZero reads the parameters after a coding, ";q=0.5" or none,
// and reports whether the weight is above zero.
func weightNonZero(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		p, params = cutByte(params, ';')
		p = trimOWS(p)
		if len(p) < 2 || lower(p[0]) != 'q' || p[1] != '=' {
			continue // another parameter: not a weight
		}
		q, ok := parseQ(trimOWS(p[2:]))
		return ok && q > 0
	}
	return true
}

// parseQ parses an RFC 9110 §12.4.2 qvalue ("0", "0.5", "1.000") into
// thousandths.
func parseQ(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	q := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return q, true
	}
	if b[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, q <= 1000
}

// cutByte splits b around the first sep.
func cutByte(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
