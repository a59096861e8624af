package auth

import (
	"bytes"
	"encoding/base64"
)

// ParseBasic reads the credentials of an Authorization header value of
// the Basic scheme (RFC 7617): "Basic " (any case) then base64 of
// "user:password". The decoded bytes go into buf, grown when too small,
// and user and password point into it. ok is false for any other scheme,
// bad base64, no colon or an empty user, as nginx's
// ngx_http_auth_basic_user; like nginx, it reads the base64 up to a "="
// and ignores what follows.
func ParseBasic(value, buf []byte) (user, password, out []byte, ok bool) {
	const scheme = "basic "
	if len(value) < len(scheme) || !equalFold(value[:len(scheme)], scheme) {
		return nil, nil, buf, false
	}
	enc := bytes.TrimLeft(value[len(scheme):], " ")
	if i := bytes.IndexByte(enc, '='); i >= 0 {
		enc = enc[:i]
	}
	if len(enc) == 0 {
		return nil, nil, buf, false
	}
	n := base64.RawStdEncoding.DecodedLen(len(enc))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	n, err := base64.RawStdEncoding.Decode(buf, enc)
	if err != nil {
		return nil, nil, buf[:0], false
	}
	dec := buf[:n]
	user, password, found := bytes.Cut(dec, []byte{':'})
	if !found || len(user) == 0 {
		return nil, nil, buf[:0], false
	}
	return user, password, buf[:0], true
}

// equalFold compares ASCII b with lower-case s, ignoring case.
func equalFold(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
