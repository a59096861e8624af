package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// nginx's TLS directives in tern convert. tern has nginx's names; what
// it lacks is a comment and a warning, as everywhere else in convert.

// sslPlain are the ssl_* directives tern spells and reads as nginx does.
var sslPlain = map[string]kind{
	"ssl_certificate": kList, "ssl_certificate_key": kList, "ssl_protocols": kList,
	"ssl_ciphers": kString, "ssl_prefer_server_ciphers": kBool, "ssl_session_tickets": kBool,
	"ssl_session_ticket_key": kList, "ssl_session_timeout": kDuration, "ssl_handshake_timeout": kDuration,
	"ssl_client_certificate": kString, "ssl_verify_client": kString, "ssl_verify_depth": kNumber,
	"ssl_reject_handshake": kBool, "ssl_stapling_file": kString, "ssl_trusted_certificate": kString,
}

// sslDropped are TLS directives tern does without, and why.
var sslDropped = map[string]string{
	"ssl_session_cache":      "tern resumes sessions with tickets, whose keys every worker shares; it keeps no session cache",
	"ssl_dhparam":            "Go offers no finite-field Diffie-Hellman: key exchange is ECDHE (X25519, P-256, ...)",
	"ssl_ecdh_curve":         "Go chooses the curves (X25519MLKEM768, X25519, P-256, P-384)",
	"ssl_buffer_size":        "tern sizes records itself (small first, then 16k)",
	"ssl_early_data":         "tern does not accept 0-RTT data",
	"ssl_stapling_verify":    "tern checks ssl_stapling_file when it loads it",
	"ssl_password_file":      "tern reads unencrypted keys only: decrypt the key (openssl pkey -in KEY -out KEY.plain)",
	"ssl_crl":                "tern does not check client certificates against a CRL",
	"ssl_conf_command":       "OpenSSL commands have no meaning for Go's TLS",
	"ssl_ocsp":               "tern does not check client certificates with OCSP",
	"ssl_ocsp_cache":         "tern does not check client certificates with OCSP",
	"ssl_ocsp_responder":     "tern does not check client certificates with OCSP",
	"ssl_stapling_responder": "tern does not fetch OCSP responses: use ssl_stapling_file",
	"ssl_engine":             "OpenSSL engines have no meaning for Go's TLS",
	"ssl_certificate_cache":  "tern loads certificates once per configuration",
}

// sslSecurity are the dropped directives that decide who may connect or
// whether tern can start: losses. The others are notes.
var sslSecurity = map[string]bool{
	"ssl_password_file": true, "ssl_crl": true, "ssl_conf_command": true,
	"ssl_ocsp": true, "ssl_ocsp_cache": true, "ssl_ocsp_responder": true,
}

// ssl converts the TLS directives; it reports false for a directive that
// is not one of them.
func (c *converter) ssl(body *hclwrite.Body, b *block, d *directive) bool {
	if k, ok := sslPlain[d.name]; ok {
		if (d.name == "ssl_certificate" || d.name == "ssl_certificate_key") && len(d.args) > 0 &&
			(strings.Contains(d.args[0], "$") || strings.HasPrefix(d.args[0], "data:")) {
			c.warn(d, "%s %s: certificates named by variables or given inline are not supported; left as a comment", d.name, d.args[0])
			comment(body, "nginx: "+line(d)+" (not supported by tern)")
			return true
		}
		c.plain(body, b, d, d.name, k)
		return true
	}
	if why, ok := sslDropped[d.name]; ok {
		if sslSecurity[d.name] {
			c.warn(d, "%s not converted: %s", d.name, why)
		} else {
			c.inform(d, "%s not needed: %s", d.name, why)
		}
		comment(body, "nginx: "+line(d)+" (not converted: "+why+")")
		return true
	}
	switch d.name {
	case "ssl":
		// nginx before 1.25.1: "ssl on" makes every listen of the server a
		// TLS one.
		if len(d.args) == 1 && d.args[0] == "on" {
			b.sslOn = true
			c.inform(d, "ssl on: every listen of this block becomes \"ssl\"")
		}
		comment(body, "nginx: "+line(d)+" (converted into \"ssl\" on the listen entries)")
	case "ssl_stapling":
		if len(d.args) == 1 && d.args[0] == "on" {
			c.inform(d, "ssl_stapling on: tern staples only the response ssl_stapling_file names, it does not fetch one")
		}
		comment(body, "nginx: "+line(d)+" (tern staples ssl_stapling_file when it is set)")
	default:
		return false
	}
	return true
}

// sslListens adds "ssl" to every listen entry of a block that said
// "ssl on".
func (b *block) sslListens() {
	list := b.lists["listen"]
	for i, v := range list {
		s := v.AsString()
		if !strings.Contains(" "+s+" ", " ssl ") {
			addr, rest, _ := strings.Cut(s, " ")
			list[i] = cty.StringVal(strings.TrimSpace(addr + " ssl " + rest))
		}
	}
}
