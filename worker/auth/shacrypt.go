package auth

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt: "$5$" (SHA-256) and "$6$" (SHA-512), the hashes of glibc's
// crypt(3), which nginx's auth_basic_user_file accepts through it, and
// of `openssl passwd -5`/`-6` and `mkpasswd -m sha-512`. Ulrich
// Drepper's specification: https://www.akkadia.org/drepper/SHA-crypt.txt

const (
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
	shaSaltMax       = 16
)

// The byte order of the encoded digest: triplets, most significant
// first, each encoded as four characters (the last group is shorter).
var (
	sha256Order = [...][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
	sha512Order = [...][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
)

// shaCrypt appends the SHA-crypt of password with the magic, rounds and
// salt of setting ("$5$salt", "$6$rounds=N$salt$...") to dst.
func shaCrypt(dst []byte, setting string, password []byte) []byte {
	magic, newHash := setting[:3], sha256.New
	if magic == "$6$" {
		newHash = sha512.New
	}
	rest := setting[3:]
	rounds, custom := shaRoundsDefault, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		if i := strings.IndexByte(r, '$'); i > 0 {
			if n, err := strconv.ParseUint(r[:i], 10, 64); err == nil {
				rounds = int(min(max(n, shaRoundsMin), shaRoundsMax))
				custom, rest = true, r[i+1:]
			}
		}
	}
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > shaSaltMax {
		salt = salt[:shaSaltMax]
	}
	digest := shaRounds(newHash, []byte(salt), password, rounds)

	dst = append(dst, magic...)
	if custom {
		dst = append(dst, "rounds="...)
		dst = strconv.AppendInt(dst, int64(rounds), 10)
		dst = append(dst, '$')
	}
	dst = append(dst, salt...)
	dst = append(dst, '$')
	if magic == "$6$" {
		for _, g := range sha512Order {
			dst = to64(dst, uint32(digest[g[0]])<<16|uint32(digest[g[1]])<<8|uint32(digest[g[2]]), 4)
		}
		return to64(dst, uint32(digest[63]), 2)
	}
	for _, g := range sha256Order {
		dst = to64(dst, uint32(digest[g[0]])<<16|uint32(digest[g[1]])<<8|uint32(digest[g[2]]), 4)
	}
	return to64(dst, uint32(digest[31])<<8|uint32(digest[30]), 3)
}

// shaRounds is the digest of SHA-crypt's steps 1 to 21.
func shaRounds(newHash func() hash.Hash, salt, password []byte, rounds int) []byte {
	h := newHash()
	size := h.Size()
	// B: password, salt, password.
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	b := h.Sum(nil)

	// A: password, salt, B over the password's length, then for each
	// bit of the length B (1) or the password (0).
	h.Reset()
	h.Write(password)
	h.Write(salt)
	writeRepeated(h, b, len(password))
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(password)
		}
	}
	a := h.Sum(nil)

	// P: the digest of the password once per byte of it, over the
	// password's length; S: the digest of the salt 16 + A[0] times, over
	// the salt's length.
	h.Reset()
	for range password {
		h.Write(password)
	}
	p := repeatTo(h.Sum(nil), len(password))
	h.Reset()
	for i := 0; i < 16+int(a[0]); i++ {
		h.Write(salt)
	}
	s := repeatTo(h.Sum(nil), len(salt))

	c := a
	for i := 0; i < rounds; i++ {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	return c[:size]
}

// writeRepeated writes block to h over n bytes: whole, then a prefix.
func writeRepeated(h hash.Hash, block []byte, n int) {
	for ; n > len(block); n -= len(block) {
		h.Write(block)
	}
	h.Write(block[:n])
}

// repeatTo is digest repeated over n bytes.
func repeatTo(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, digest[:min(len(digest), n-len(out))]...)
	}
	return out
}
