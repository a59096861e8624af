package conf

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The access phase: allow and deny (nginx's access module), auth_basic
// (auth_basic module), satisfy and internal (core module).

// AccessRule is one allow or deny entry.
type AccessRule struct {
	// Deny is set for deny, clear for allow.
	Deny bool
	// Kind says what the rule matches: an address prefix, every client,
	// or clients on UNIX-domain sockets.
	Kind AccessKind
	// Net is the network of an AccessNet rule, its host bits zero; an
	// address alone is a /32 or /128.
	Net netip.Prefix
}

// AccessKind is what an AccessRule matches.
type AccessKind int8

const (
	// AccessNet matches the clients whose address is in Net.
	AccessNet AccessKind = iota
	// AccessAll ("all") matches every client.
	AccessAll
	// AccessUnix ("unix:") matches clients on UNIX-domain sockets.
	AccessUnix
)

// Matches reports whether the rule applies to a client at addr; unix is
// set for a client on a UNIX-domain socket (addr is then invalid). An
// IPv4-mapped IPv6 address is taken as the IPv4 address, as nginx.
func (r *AccessRule) Matches(addr netip.Addr, unix bool) bool {
	switch r.Kind {
	case AccessAll:
		return true
	case AccessUnix:
		return unix
	}
	return !unix && r.Net.Contains(addr.Unmap())
}

// String is the rule's value as written: "10.0.0.0/8", "all", "unix:".
func (r *AccessRule) String() string {
	switch r.Kind {
	case AccessAll:
		return "all"
	case AccessUnix:
		return "unix:"
	}
	if r.Net.IsSingleIP() {
		return r.Net.Addr().String()
	}
	return r.Net.String()
}

// Satisfy is the satisfy directive.
type Satisfy int8

const (
	// SatisfyAll needs every access check to pass.
	SatisfyAll Satisfy = iota
	// SatisfyAny needs one: a client allowed by address needs no
	// password, and one with a password needs no allowed address.
	SatisfyAny
)

// satisfyNames are satisfy's values, indexed by Satisfy.
var satisfyNames = [...]string{SatisfyAll: "all", SatisfyAny: "any"}

// ParseAccessRule reads one allow or deny value: "all", "unix:", an
// address, or a network in CIDR notation. Unlike nginx, which only warns,
// a network with host bits set ("10.1.2.3/8") is an error: it is almost
// always a typo for another network.
func ParseAccessRule(s string, deny bool) (AccessRule, error) {
	r := AccessRule{Deny: deny}
	switch {
	case s == "all":
		r.Kind = AccessAll
		return r, nil
	case s == "unix:":
		r.Kind = AccessUnix
		return r, nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return r, fmt.Errorf("%q is not an address, a network such as \"10.0.0.0/8\", \"all\" or \"unix:\"", s)
		}
		if p.Addr().Zone() != "" {
			return r, fmt.Errorf("%q: an address with a zone cannot match a client", s)
		}
		if m := p.Masked(); m != p {
			return r, fmt.Errorf("%q has host bits set: did you mean %q?", s, m.String())
		}
		r.Net = unmapPrefix(p)
		return r, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return r, fmt.Errorf("%q is not an address, a network such as \"10.0.0.0/8\", \"all\" or \"unix:\"", s)
	}
	r.Net = unmapPrefix(netip.PrefixFrom(a, a.BitLen()))
	return r, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104)
// into the IPv4 one, since clients' addresses are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if !a.Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
}

// decodeAccess is allow and deny: a string or a list. The rules of a
// level run in the order written, first match wins (nginx); the first
// allow or deny of a server or location replaces what it inherits, and
// an empty list clears it.
func decodeAccess(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if !t.ownAccess {
		t.ownAccess = true
		if t.http == nil {
			t.set.Access = nil
		}
	}
	deny := a.Name == "deny"
	for i, s := range list {
		r, err := ParseAccessRule(s, deny)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%v", err)
			continue
		}
		t.set.Access = append(t.set.Access, r)
	}
}

// showAccess writes the rules as runs of allow and deny, in order.
func showAccess(s *Settings) []attrPair {
	if len(s.Access) == 0 {
		return []attrPair{{"allow", "[]"}, {"deny", "[]"}}
	}
	var out []attrPair
	var run []string
	for i, r := range s.Access {
		run = append(run, r.String())
		if i+1 == len(s.Access) || s.Access[i+1].Deny != r.Deny {
			name := "allow"
			if r.Deny {
				name = "deny"
			}
			out = append(out, attrPair{name, hclList(run)})
			run = nil
		}
	}
	return out
}

func decodeSatisfy(d *decoder, a *hcl.Attribute, t *target) {
	if s, ok := d.keyword(a, satisfyNames[:]...); ok {
		t.set.Satisfy = Satisfy(slices.Index(satisfyNames[:], s))
	}
}

func showSatisfy(s *Settings) string { return hclQuote(satisfyNames[s.Satisfy]) }

// decodeAuthBasic reads the realm, or "off". The realm goes into
// WWW-Authenticate as a quoted string, so it may not hold a quote, a
// backslash or a control character.
func decodeAuthBasic(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	switch {
	case !ok:
		return
	case s == "off":
		t.set.AuthBasic = ""
		delete(d.authAt, t.set)
		return
	case s == "":
		d.invalid(a.Name, a.Expr.Range(), "the realm must not be empty; \"off\" turns authentication off")
		return
	case strings.ContainsAny(s, "\"\\") || !validHeaderValue(s):
		d.invalid(a.Name, a.Expr.Range(), "%q: a realm may not hold a quote, a backslash or a control character", s)
		return
	}
	t.set.AuthBasic = s
	d.authAt[t.set] = a.NameRange
}

func showAuthBasic(s *Settings) string {
	if s.AuthBasic == "" {
		return hclQuote("off")
	}
	return hclQuote(s.AuthBasic)
}

// decodeAuthBasicUserFile reads a path, resolved against the prefix, or
// a path with variables, expanded per request (a relative result then
// taken from the prefix, as nginx's).
func decodeAuthBasicUserFile(d *decoder, a *hcl.Attribute, t *target) {
	if p, vars, ok := d.pathTemplate(a, false); ok {
		t.set.AuthBasicUserFile, t.set.AuthBasicUserFileVars = p, vars
	}
}

func showAuthBasicUserFile(s *Settings) string {
	if s.AuthBasicUserFile == "" {
		return ""
	}
	return hclQuote(s.AuthBasicUserFile)
}

// checkAccess finishes a location's access settings once inheritance is
// resolved: auth_basic without a user file is an error (nginx would
// silently not authenticate), and Guard is set when the access phase has
// anything to do (with the preaccess phase: limit_req, limit_conn). levels are the Settings l inherits from, innermost
// first, after its own.
func (d *decoder) checkAccess(l *Location, levels ...*Settings) {
	s := &l.Settings
	if s.AuthBasic != "" && s.AuthBasicUserFile == "" {
		for _, lv := range append([]*Settings{s}, levels...) {
			at, ok := d.authAt[lv]
			if !ok {
				continue
			}
			if !d.reported[at] {
				// Once, not again for each location that inherits it.
				d.reported[at] = true
				d.errorf(at, "Invalid auth_basic",
					"auth_basic needs auth_basic_user_file in the same block or one that encloses it")
			}
			break
		}
	}
	d.checkSecureLink(l, levels...)
	if s.ValidReferers.Set() && s.ValidReferers.ServerNames {
		s.ValidReferers = d.referersFor(s.ValidReferers, l.Server)
	}
	l.Guard = len(s.Access) > 0 || s.AuthBasic != "" || s.Internal || len(s.LimitReq) > 0 || len(s.LimitConn) > 0 ||
		len(s.RealIPFrom) > 0
}

// referersFor is r with srv's names, made once per server and r.
func (d *decoder) referersFor(r *Referers, srv *Server) *Referers {
	key := refererKey{r, srv}
	if out, ok := d.referers[key]; ok {
		return out
	}
	out := r.withServerNames(srv)
	d.referers[key] = out
	return out
}

type refererKey struct {
	r   *Referers
	srv *Server
}
