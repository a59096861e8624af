package conf

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
)

// ssl_ciphers is an OpenSSL cipher list (openssl-ciphers(1)): names and
// aliases separated by ":" (or "," or spaces), an alias being several
// joined by "+" to take the suites that match all of them, each item
// optionally prefixed by "!" (remove the suites for good), "-" (remove
// them, later items may add them back) or "+" (move them to the end).
// tern reads it over the TLS 1.2 suites Go implements without known
// weaknesses: ECDHE key exchange with ECDSA or RSA certificates, AES-GCM,
// ChaCha20-Poly1305 or AES-CBC with SHA-1. Names and aliases OpenSSL
// knows that select none of these (DHE, RSA key exchange, CAMELLIA, 3DES,
// RC4, PSK...) select nothing, as they would on an OpenSSL built without
// them. The order is not kept: Go orders suites itself.

// suiteInfo is a TLS 1.2 suite with its OpenSSL name and the aliases it
// belongs to.
type suiteInfo struct {
	id      uint16
	name    string
	aliases []string
}

// The aliases every suite of the table belongs to.
var commonAliases = []string{"ALL", "DEFAULT", "HIGH", "kECDHE", "ECDHE", "EECDH", "kEECDH", "FIPS"}

var suiteTable = []suiteInfo{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", []string{"aECDSA", "ECDSA", "AES", "AES128", "AESGCM", "SHA256", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", []string{"aRSA", "AES", "AES128", "AESGCM", "SHA256", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", []string{"aECDSA", "ECDSA", "AES", "AES256", "AESGCM", "SHA384", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", []string{"aRSA", "AES", "AES256", "AESGCM", "SHA384", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", []string{"aECDSA", "ECDSA", "CHACHA20", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", []string{"aRSA", "CHACHA20", "AEAD", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", []string{"aECDSA", "ECDSA", "AES", "AES128", "SHA1", "SHA", "TLSv1", "SSLv3"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", []string{"aRSA", "AES", "AES128", "SHA1", "SHA", "TLSv1", "SSLv3"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", []string{"aECDSA", "ECDSA", "AES", "AES256", "SHA1", "SHA", "TLSv1", "SSLv3"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", []string{"aRSA", "AES", "AES256", "SHA1", "SHA", "TLSv1", "SSLv3"}},
}

// emptyAliases are OpenSSL names that select no suite tern offers.
var emptyAliases = []string{
	"COMPLEMENTOFALL", "COMPLEMENTOFDEFAULT", "MEDIUM", "LOW", "EXP", "EXPORT", "EXPORT40", "EXPORT56",
	"eNULL", "NULL", "aNULL", "kRSA", "RSA", "kDHE", "kEDH", "DH", "DHE", "EDH", "ADH", "AECDH", "kDHr", "kDHd",
	"kDH", "aDSS", "DSS", "aDH", "PSK", "kPSK", "kECDHEPSK", "kDHEPSK", "kRSAPSK", "aPSK", "SRP", "kSRP", "aSRP",
	"3DES", "DES", "RC4", "RC2", "IDEA", "SEED", "MD5", "CAMELLIA", "CAMELLIA128", "CAMELLIA256", "ARIA",
	"ARIA128", "ARIA256", "AESCCM", "AESCCM8", "GOST94", "GOST89MAC", "kGOST", "aGOST", "aGOST01", "SUITEB128",
	"SUITEB128ONLY", "SUITEB192", "CBC", "kRSAPSK", "ECDHEPSK", "DHEPSK", "RSAPSK", "ECCDHE",
}

var errNoCiphers = errors.New("it selects no TLS 1.2 cipher suite that tern offers (ECDHE with AES-GCM, ChaCha20-Poly1305 or AES-CBC)")

// ParseCiphers reads an OpenSSL cipher list into the TLS 1.2 suites it
// selects, in table order. Items OpenSSL would accept that tern does not
// know are returned in unknown (OpenSSL ignores unknown names too). A
// list that selects no suite is an error.
func ParseCiphers(s string) (suites []uint16, unknown []string, err error) {
	var list []int
	var gone [len64]bool
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		op := byte(0)
		if c := item[0]; c == '!' || c == '-' || c == '+' {
			op, item = c, item[1:]
		}
		if strings.HasPrefix(item, "@") {
			continue // @STRENGTH, @SECLEVEL=n: ordering and levels Go decides
		}
		match, known := matchCiphers(item)
		if !known {
			unknown = append(unknown, item)
			continue
		}
		switch op {
		case '!':
			for _, i := range match {
				gone[i] = true
			}
			list = slices.DeleteFunc(list, func(i int) bool { return gone[i] })
		case '-':
			list = slices.DeleteFunc(list, func(i int) bool { return slices.Contains(match, i) })
		case '+':
			moved := slices.DeleteFunc(slices.Clone(list), func(i int) bool { return !slices.Contains(match, i) })
			list = append(slices.DeleteFunc(list, func(i int) bool { return slices.Contains(match, i) }), moved...)
		default:
			for _, i := range match {
				if !gone[i] && !slices.Contains(list, i) {
					list = append(list, i)
				}
			}
		}
	}
	if len(list) == 0 {
		return nil, unknown, errNoCiphers
	}
	slices.Sort(list)
	for _, i := range list {
		suites = append(suites, suiteTable[i].id)
	}
	return suites, unknown, nil
}

// len64 bounds the suite table, for the removed set.
const len64 = 64

// matchCiphers returns the indexes in suiteTable of the suites item
// selects (a name, or aliases joined by "+"), and whether every part of
// it is a name or alias OpenSSL knows.
func matchCiphers(item string) ([]int, bool) {
	for i, s := range suiteTable {
		if s.name == item {
			return []int{i}, true
		}
	}
	var match []int
	parts := strings.Split(item, "+")
	for i, s := range suiteTable {
		all := true
		for _, p := range parts {
			if !slices.Contains(s.aliases, p) && !slices.Contains(commonAliases, p) {
				all = false
			}
		}
		if all {
			match = append(match, i)
		}
	}
	for _, p := range parts {
		if !knownAlias(p) {
			return nil, false
		}
	}
	return match, true
}

func knownAlias(p string) bool {
	if slices.Contains(commonAliases, p) || slices.Contains(emptyAliases, p) {
		return true
	}
	for _, s := range suiteTable {
		if slices.Contains(s.aliases, p) {
			return true
		}
	}
	return isOpenSSLName(p)
}

// isOpenSSLName recognises full OpenSSL suite names tern does not offer
// (DHE-RSA-AES128-GCM-SHA256, AES256-SHA, ...): dash-separated words of
// capitals and digits.
func isOpenSSLName(p string) bool {
	if !strings.Contains(p, "-") {
		return false
	}
	for _, r := range p {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// CipherName is the OpenSSL name of a cipher suite, as nginx's
// $ssl_cipher: "ECDHE-RSA-AES128-GCM-SHA256"; TLS 1.3 suites keep their
// standard names ("TLS_AES_128_GCM_SHA256"), as OpenSSL names them.
func CipherName(id uint16) string {
	for _, s := range suiteTable {
		if s.id == id {
			return s.name
		}
	}
	return tls.CipherSuiteName(id)
}
