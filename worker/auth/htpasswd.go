// Package auth is HTTP Basic authentication against htpasswd files, as
// nginx's auth_basic module: the file's format, the password hashes it
// accepts, and the Authorization header. It does no I/O; the worker reads
// files and runs slow checks on its thread pool.
package auth

import (
	"bytes"
	"errors"
	"strings"
)

// Table is a parsed htpasswd file: user names and their password hashes.
// It is immutable once made, so that the loop can hand it around while a
// pool thread builds the next one.
type Table struct {
	users map[string]string
	// Unknown lists the users whose hash is in no scheme tern knows:
	// their logins fail with a 500, as nginx's when crypt() fails.
	Unknown []string
}

// MaxFileSize bounds an htpasswd file: it is held in memory whole.
const MaxFileSize = 16 << 20

// ErrTooLarge is the error of a file over MaxFileSize.
var ErrTooLarge = errors.New("htpasswd file larger than 16 MiB")

// Parse reads an htpasswd file as nginx does: one "user:hash" per line,
// anything after a second colon ignored (a comment field); lines that
// start with "#" or are empty are skipped; a line ends at LF, and a CR
// before it is dropped. The first line of a user wins, as nginx's scan
// stops there.
func Parse(b []byte) (*Table, error) {
	if len(b) > MaxFileSize {
		return nil, ErrTooLarge
	}
	t := &Table{users: make(map[string]string)}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		// nginx skips a line that starts with CR; one that ends with
		// it ends its hash there.
		if len(line) == 0 || line[0] == '#' || line[0] == '\r' {
			continue
		}
		user, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		if i := bytes.IndexAny(rest, ":\r"); i >= 0 {
			rest = rest[:i]
		}
		name := string(user)
		if _, dup := t.users[name]; dup {
			continue
		}
		hash := string(rest)
		t.users[name] = hash
		if SchemeOf(hash) == SchemeUnknown {
			t.Unknown = append(t.Unknown, name)
		}
	}
	return t, nil
}

// Lookup returns user's hash. It does not allocate.
func (t *Table) Lookup(user []byte) (string, bool) {
	h, ok := t.users[string(user)]
	return h, ok
}

// Len is the number of users.
func (t *Table) Len() int { return len(t.users) }

// Scheme is the kind of a password hash.
type Scheme int8

const (
	// SchemeUnknown is a hash tern cannot check (DES crypt, SHA-crypt).
	SchemeUnknown Scheme = iota
	// SchemePlain is "{PLAIN}password".
	SchemePlain
	// SchemeSHA is "{SHA}base64(SHA-1(password))".
	SchemeSHA
	// SchemeSSHA is "{SSHA}base64(SHA-1(password salt) salt)".
	SchemeSSHA
	// SchemeMD5 is the MD5 crypt of Poul-Henning Kamp: "$apr1$" (Apache's
	// htpasswd -m) and "$1$".
	SchemeMD5
	// SchemeBcrypt is bcrypt: "$2a$", "$2b$", "$2y$" (htpasswd -B).
	SchemeBcrypt
	// SchemeSHACrypt is glibc's SHA-crypt: "$5$" (SHA-256) and "$6$"
	// (SHA-512), as openssl passwd -5 and -6 write them.
	SchemeSHACrypt
)

// SchemeOf returns the scheme of hash by its prefix, as nginx's ngx_crypt.
func SchemeOf(hash string) Scheme {
	switch {
	case strings.HasPrefix(hash, "{PLAIN}"):
		return SchemePlain
	case strings.HasPrefix(hash, "{SSHA}"):
		return SchemeSSHA
	case strings.HasPrefix(hash, "{SHA}"):
		return SchemeSHA
	case strings.HasPrefix(hash, "$apr1$"), strings.HasPrefix(hash, "$1$"):
		return SchemeMD5
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return SchemeBcrypt
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return SchemeSHACrypt
	}
	return SchemeUnknown
}

// Slow reports whether checking a password against a hash of scheme s
// takes long enough (MD5 crypt: a thousand rounds; SHA-crypt: five
// thousand by default; bcrypt: tens of milliseconds) to belong on a pool
// thread rather than the event loop.
func (s Scheme) Slow() bool { return s == SchemeMD5 || s == SchemeBcrypt || s == SchemeSHACrypt }
