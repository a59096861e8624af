package auth

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Check reports whether password matches hash. Every comparison takes
// the same time whatever the bytes compared, so that a client cannot
// learn a hash a byte at a time; bcrypt compares in constant time itself.
// A hash of an unknown scheme matches nothing (the caller reports it).
func Check(hash string, password []byte) bool {
	switch SchemeOf(hash) {
	case SchemePlain:
		return subtle.ConstantTimeCompare([]byte(hash[len("{PLAIN}"):]), password) == 1
	case SchemeSHA:
		return checkSHA(hash[len("{SHA}"):], password)
	case SchemeSSHA:
		return checkSSHA(hash[len("{SSHA}"):], password)
	case SchemeMD5:
		var buf [64]byte
		return subtle.ConstantTimeCompare(md5Crypt(buf[:0], hash, password), []byte(hash)) == 1
	case SchemeBcrypt:
		return bcrypt.CompareHashAndPassword([]byte(hash), password) == nil
	case SchemeSHACrypt:
		var buf [128]byte
		return subtle.ConstantTimeCompare(shaCrypt(buf[:0], hash, password), []byte(hash)) == 1
	}
	return false
}

// checkSHA compares base64(SHA-1(password)) with encoded.
func checkSHA(encoded string, password []byte) bool {
	sum := sha1.Sum(password)
	var out [28]byte
	base64.StdEncoding.Encode(out[:], sum[:])
	return subtle.ConstantTimeCompare(out[:], []byte(encoded)) == 1
}

// checkSSHA: encoded is base64 of SHA-1(password salt) followed by the
// salt, of any length.
func checkSSHA(encoded string, password []byte) bool {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw) < sha1.Size {
		return false
	}
	h := sha1.New()
	h.Write(password)
	h.Write(raw[sha1.Size:])
	return subtle.ConstantTimeCompare(h.Sum(nil), raw[:sha1.Size]) == 1
}

// crypt64 is the alphabet of crypt(3)'s base-64 encoding.
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// md5Crypt appends the MD5 crypt of password with the magic ("$apr1$" or
// "$1$") and salt of setting to dst: Poul-Henning Kamp's algorithm, which
// Apache's apr1 uses with its own magic (FreeBSD's crypt(3), Apache's
// apr_md5.c).
func md5Crypt(dst []byte, setting string, password []byte) []byte {
	magic := "$1$"
	if strings.HasPrefix(setting, "$apr1$") {
		magic = "$apr1$"
	}
	salt := setting[len(magic):]
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}

	alt := md5.New()
	alt.Write(password)
	alt.Write([]byte(salt))
	alt.Write(password)
	var final [md5.Size]byte
	alt.Sum(final[:0])

	h := md5.New()
	h.Write(password)
	h.Write([]byte(magic))
	h.Write([]byte(salt))
	for n := len(password); n > 0; n -= md5.Size {
		h.Write(final[:min(n, md5.Size)])
	}
	// The algorithm's odd step: for each bit of the length, a zero byte
	// or the password's first byte.
	var zero [1]byte
	for i := len(password); i > 0; i >>= 1 {
		if i&1 != 0 {
			h.Write(zero[:])
		} else {
			h.Write(password[:1])
		}
	}
	h.Sum(final[:0])

	// A thousand rounds, to make it slow (for 1994).
	for i := 0; i < 1000; i++ {
		r := md5.New()
		if i&1 != 0 {
			r.Write(password)
		} else {
			r.Write(final[:])
		}
		if i%3 != 0 {
			r.Write([]byte(salt))
		}
		if i%7 != 0 {
			r.Write(password)
		}
		if i&1 != 0 {
			r.Write(final[:])
		} else {
			r.Write(password)
		}
		r.Sum(final[:0])
	}

	dst = append(dst, magic...)
	dst = append(dst, salt...)
	dst = append(dst, '$')
	f := final[:]
	for _, g := range [5][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		dst = to64(dst, uint32(f[g[0]])<<16|uint32(f[g[1]])<<8|uint32(f[g[2]]), 4)
	}
	return to64(dst, uint32(f[11]), 2)
}

// to64 appends the n low sextets of v, least significant first.
func to64(dst []byte, v uint32, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, crypt64[v&0x3f])
		v >>= 6
	}
	return dst
}
