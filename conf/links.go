package conf

import (
	"bytes"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// secure_link, secure_link_md5 and secure_link_secret (nginx's
// secure_link module), and valid_referers (its referer module): they set
// the variables $secure_link, $secure_link_expires and $invalid_referer,
// which if and return act on, as in nginx.

// As nginx's merge: a level that sets secure_link or secure_link_md5
// does not inherit secure_link_secret, and one that sets the secret
// inherits neither of the others; one level setting both kinds is an
// error.

func decodeSecureLink(d *decoder, a *hcl.Attribute, t *target) {
	if tpl, ok := d.template(a.Name, a.Expr); ok {
		t.set.SecureLink = tpl
		d.ownLink(a, t, false)
	}
}

func decodeSecureLinkMD5(d *decoder, a *hcl.Attribute, t *target) {
	if tpl, ok := d.template(a.Name, a.Expr); ok {
		t.set.SecureLinkMD5 = tpl
		d.ownLink(a, t, false)
	}
}

func decodeSecureLinkSecret(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok || !d.noVars(a, s) {
		return
	}
	t.set.SecureLinkSecret = s
	d.ownLink(a, t, true)
}

// ownLink notes that the level t decodes sets a secure_link directive of
// the old (secret) or the new kind, and drops what it inherits of the
// other kind.
func (d *decoder) ownLink(a *hcl.Attribute, t *target, secret bool) {
	if secret {
		t.linkSecret = true
	} else {
		t.linkMD5 = true
		d.linkAt[t.set] = a.NameRange
	}
	switch {
	case t.linkSecret && t.linkMD5:
		d.errorf(a.NameRange, "Invalid "+a.Name, "secure_link_secret cannot be mixed with secure_link and secure_link_md5 in one block")
	case secret:
		t.set.SecureLink, t.set.SecureLinkMD5 = Template{}, Template{}
	default:
		t.set.SecureLinkSecret = ""
	}
}

func showTemplate(field func(*Settings) *Template) func(*Settings) string {
	return func(s *Settings) string {
		t := field(s)
		if t.IsZero() {
			return ""
		}
		return hclQuote(t.String())
	}
}

// checkSecureLink refuses secure_link without secure_link_md5 or the
// reverse, once inheritance is resolved (nginx's $secure_link is then
// silently empty). levels are the Settings l inherits from.
func (d *decoder) checkSecureLink(l *Location, levels ...*Settings) {
	s := &l.Settings
	if s.SecureLink.IsZero() == s.SecureLinkMD5.IsZero() {
		return
	}
	for _, lv := range append([]*Settings{s}, levels...) {
		at, ok := d.linkAt[lv]
		if !ok {
			continue
		}
		if !d.reported[at] {
			d.reported[at] = true
			d.errorf(at, "Invalid secure_link", "secure_link and secure_link_md5 go together, in the same block or one that encloses it")
		}
		return
	}
}

// Referers is valid_referers: the Referer values that make
// $invalid_referer empty.
type Referers struct {
	// None accepts a request without Referer; Blocked one whose Referer
	// does not start with "http://" or "https://" (a proxy or a
	// firewall removed it).
	None, Blocked bool
	// ServerNames adds the server's own names.
	ServerNames bool
	// hosts maps host names (exact and wildcards) to the URI prefix
	// that must follow them, "" for any.
	hosts hostTable[string]
	// hostRegex are the server's names that are regular expressions,
	// matched against the host; regex are the "~" entries, matched
	// against what follows the scheme.
	hostRegex []*Regex
	regex     []*Regex
	// entries are the values as written, for WriteHCL.
	entries []string
}

// Set reports whether valid_referers was given.
func (r *Referers) Set() bool { return r != nil && len(r.entries) > 0 }

// Valid reports whether a request with this Referer (nil when it has
// none) passes, as nginx's ngx_http_referer_variable.
func (r *Referers) Valid(referer []byte) bool {
	if !r.Set() || len(r.hosts.exact)+len(r.hosts.head)+len(r.hosts.tail)+len(r.hostRegex)+len(r.regex) == 0 {
		return true // none, blocked and server_names of no name: everything
	}
	if referer == nil {
		return r.None
	}
	ref, ok := cutScheme(referer)
	if !ok {
		return r.Blocked
	}
	// The host, up to "/" or ":", lower-cased (a copy only when it has
	// capitals); one longer than nginx's 256 bytes is invalid.
	n := 0
	upper := false
	for n < len(ref) && ref[n] != '/' && ref[n] != ':' {
		upper = upper || 'A' <= ref[n] && ref[n] <= 'Z'
		n++
	}
	if n > 256 {
		return false
	}
	host := ref[:n]
	if upper {
		host = bytes.ToLower(host)
	}
	if uri, ok := r.hosts.find(host); ok {
		if uri == "" {
			return true
		}
		rest := ref[n:]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			rest = rest[i:]
		} else {
			rest = nil
		}
		return len(rest) >= len(uri) && string(rest[:len(uri)]) == uri
	}
	for _, re := range r.hostRegex {
		if re.Regexp.Match(host) {
			return true
		}
	}
	for _, re := range r.regex {
		if re.Regexp.Match(ref) {
			return true
		}
	}
	return false
}

// cutScheme drops "http://" or "https://" (any case) from a Referer that
// is at least as long as nginx's shortest, "http://i.ru".
func cutScheme(ref []byte) ([]byte, bool) {
	if len(ref) < len("http://i.ru") {
		return nil, false
	}
	if hasPrefixFold(ref, "http://") {
		return ref[len("http://"):], true
	}
	if hasPrefixFold(ref, "https://") {
		return ref[len("https://"):], true
	}
	return nil, false
}

// hasPrefixFold reports whether b starts with the lower-case ASCII
// prefix, in any case.
func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// decodeValidReferers reads the list: "none", "blocked", "server_names",
// host names with wildcards and an optional URI prefix
// ("*.example.com/galleries/"), and "~" regular expressions, which nginx
// matches without regard to case against what follows the scheme.
func decodeValidReferers(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	r := &Referers{}
	for i, s := range list {
		if !d.refererEntry(r, a.Name, s, ranges[i]) {
			ok = false
		}
	}
	if !ok {
		return
	}
	r.entries = list
	if len(list) == 0 {
		r = nil
	}
	t.set.ValidReferers = r
}

func (d *decoder) refererEntry(r *Referers, name, s string, rng hcl.Range) bool {
	switch {
	case s == "":
		d.invalid(name, rng, "an entry must not be empty")
		return false
	case s == "none":
		r.None = true
	case s == "blocked":
		r.Blocked = true
	case s == "server_names":
		r.ServerNames = true
	case strings.HasPrefix(s, "~"):
		if len(s) == 1 {
			d.invalid(name, rng, "an empty regular expression")
			return false
		}
		re, ok := d.regex(name, s, 1, s[1:], true, rng)
		if !ok {
			return false
		}
		r.regex = append(r.regex, re)
	default:
		host, uri := s, ""
		if i := strings.IndexByte(s, '/'); i >= 0 {
			host, uri = s[:i], s[i:]
		}
		sn, err := parseServerName(host)
		if err != nil || sn.kind == nameRegex {
			d.invalid(name, rng, "%q is not a host name, a wildcard such as \"*.example.com\", \"none\", \"blocked\", \"server_names\" or \"~regex\"", s)
			return false
		}
		r.hosts.add(sn, uri)
	}
	return true
}

func showValidReferers(s *Settings) string {
	if !s.ValidReferers.Set() {
		return "[]"
	}
	return hclList(s.ValidReferers.entries)
}

// withServerNames returns r with srv's names added, for server_names.
func (r *Referers) withServerNames(srv *Server) *Referers {
	out := &Referers{None: r.None, Blocked: r.Blocked, ServerNames: true,
		hostRegex: slices.Clone(r.hostRegex), regex: r.regex, entries: r.entries}
	out.hosts = hostTable[string]{exact: maps.Clone(r.hosts.exact), head: maps.Clone(r.hosts.head),
		dot: maps.Clone(r.hosts.dot), tail: maps.Clone(r.hosts.tail)}
	for _, n := range srv.Names {
		sn, err := parseServerName(n)
		if err != nil {
			continue
		}
		if sn.kind == nameRegex {
			if re, err := compileRegex(n[1:], true); err == nil {
				out.hostRegex = append(out.hostRegex, re)
			}
			continue
		}
		out.hosts.add(sn, "")
	}
	return out
}
