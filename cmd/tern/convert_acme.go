package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// nginx's ACME module (ngx_http_acme_module) in tern convert: the
// acme_issuer block, acme_certificate, and the ssl_certificate
// $acme_certificate pair that nginx needs and tern does not. What tern
// lacks (external account binding, profiles, other key types) is a
// comment and a warning, as everywhere else in convert.

// issuerPlain are the directives of an acme_issuer block that tern
// spells and reads as nginx does.
var issuerPlain = map[string]kind{
	"uri": kString, "contact": kList, "ssl_trusted_certificate": kString,
}

// issuerUnsupported are acme_issuer directives tern does not have, and
// why.
var issuerUnsupported = map[string]string{
	"external_account_key": "tern does not do external account binding (RFC 8555 §7.3.4)",
	"preferred_chain":      "tern stores the chain the ACME server sends by default",
	"profile":              "tern does not ask for certificate profiles",
}

// acmeVariables are nginx's variables for the certificate acme_certificate
// makes: tern's server serves it without them.
var acmeVariables = map[string]bool{"$acme_certificate": true, "$acme_certificate_key": true}

// acmeIssuer converts "acme_issuer NAME { ... }" into a block of the
// same name.
func (c *converter) acmeIssuer(body *hclwrite.Body, d *directive) {
	if len(d.args) != 1 || d.block == nil {
		c.unsupported(body, d)
		return
	}
	body.AppendNewline()
	nb := body.AppendNewBlock("acme_issuer", d.args)
	inner := nb.Body()
	b := &block{seen: map[string]bool{}, lists: map[string][]cty.Value{}, maps: map[string]map[string]cty.Value{}}
	accepted := false
	for _, id := range d.block {
		if k, ok := issuerPlain[id.name]; ok {
			c.plain(inner, b, id, id.name, k)
			continue
		}
		if why, ok := issuerUnsupported[id.name]; ok {
			c.warn(id, "%s is not supported: %s; left as a comment", id.name, why)
			comment(inner, "nginx: "+line(id)+" (not supported by tern)")
			continue
		}
		switch id.name {
		case "accept_terms_of_service":
			accepted = true
			inner.SetAttributeValue("accept_terms_of_service", cty.True)
		case "state_path":
			c.issuerStatePath(inner, b, id)
		case "challenge":
			c.plain(inner, b, id, "challenge", kString)
		case "account_key":
			c.accountKey(inner, id)
		case "ssl_verify":
			c.issuerVerify(inner, id)
		case "common_name_in_csr":
			if len(id.args) == 1 && id.args[0] == "on" {
				c.warn(id, "common_name_in_csr on: tern's certificate requests name no common name; left as a comment")
			}
			comment(inner, "nginx: "+line(id)+" (tern's requests carry the names as subject alternative names only)")
		default:
			c.unsupported(inner, id)
		}
	}
	for _, name := range b.order {
		inner.SetAttributeValue(name, cty.ListVal(b.lists[name]))
	}
	if !accepted {
		// nginx registers without it when the server has no terms;
		// tern wants the operator to say so, and -t says why.
		c.warn(d, "acme_issuer %s: tern needs accept_terms_of_service = true; written as false: read the ACME server's terms, then set it", d.args[0])
		inner.SetAttributeValue("accept_terms_of_service", cty.False)
	}
}

// issuerStatePath converts state_path; nginx's "off" keeps nothing on
// disk, which tern does not do.
func (c *converter) issuerStatePath(body *hclwrite.Body, b *block, d *directive) {
	if len(d.args) == 1 && d.args[0] == "off" {
		c.warn(d, "state_path off: tern always keeps the account and certificates on disk; the default directory is used")
		comment(body, "nginx: "+line(d)+" (not converted: tern keeps its ACME state on disk)")
		return
	}
	c.plain(body, b, d, "state_path", kString)
}

// accountKey converts account_key: tern's account key is ECDSA P-256,
// made by tern and kept in state_path.
func (c *converter) accountKey(body *hclwrite.Body, d *directive) {
	if len(d.args) == 1 && (d.args[0] == "ecdsa" || d.args[0] == "ecdsa:256") {
		comment(body, "nginx: "+line(d)+" (tern's account key is ECDSA P-256)")
		return
	}
	c.warn(d, "account_key %s is not supported: tern makes an ECDSA P-256 account key and keeps it in state_path; left as a comment", strings.Join(d.args, " "))
	comment(body, "nginx: "+line(d)+" (not supported by tern)")
}

// issuerVerify converts ssl_verify: tern always verifies the ACME
// server's certificate.
func (c *converter) issuerVerify(body *hclwrite.Body, d *directive) {
	if len(d.args) == 1 && d.args[0] == "off" {
		c.warn(d, "ssl_verify off is not supported: tern always verifies the ACME server; name its CA in ssl_trusted_certificate")
		comment(body, "nginx: "+line(d)+" (not supported by tern)")
		return
	}
	comment(body, "nginx: "+line(d)+" (tern always verifies the ACME server's certificate)")
}

// acmeCertificate converts "acme_certificate ISSUER [IDENTIFIER ...]
// [key=ALG[:SIZE]]": tern orders for the server's names, with an ECDSA
// P-256 key.
func (c *converter) acmeCertificate(body *hclwrite.Body, d *directive) {
	if len(d.args) == 0 {
		c.warn(d, "acme_certificate without an issuer: skipped")
		return
	}
	body.SetAttributeValue("acme_certificate", cty.StringVal(d.args[0]))
	var ids []string
	for _, a := range d.args[1:] {
		if k, v, ok := strings.Cut(a, "="); ok && k == "key" {
			if v != "ecdsa" && v != "ecdsa:256" {
				c.warn(d, "acme_certificate key=%s is not supported: tern's certificate keys are ECDSA P-256", v)
			}
			continue
		}
		ids = append(ids, a)
	}
	if len(ids) > 0 {
		c.warn(d, "acme_certificate identifiers %s: tern orders the certificate for the server's server_name; list them there", strings.Join(ids, " "))
		comment(body, "nginx: "+line(d)+" (tern orders for the names of server_name)")
	}
}

// acmeSSLVariable reports whether d is ssl_certificate or
// ssl_certificate_key naming acme_certificate's certificate, which tern
// serves without them.
func (c *converter) acmeSSLVariable(body *hclwrite.Body, d *directive) bool {
	if (d.name != "ssl_certificate" && d.name != "ssl_certificate_key") || len(d.args) != 1 || !acmeVariables[d.args[0]] {
		return false
	}
	comment(body, "nginx: "+line(d)+" (not needed: acme_certificate serves its certificate)")
	return true
}
