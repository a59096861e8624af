package conf

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The real client address behind a proxy or load balancer: nginx's realip
// module (set_real_ip_from, real_ip_header, real_ip_recursive).

// RealIPHeader is where real_ip_header takes the client address from.
type RealIPHeader struct {
	// Kind is X-Real-IP, X-Forwarded-For, the PROXY protocol header, or
	// another request header.
	Kind RealIPKind
	// Name is the header's name for RealIPOther, lower case with "_" for
	// "-" (as $http_NAME); for the others, the header's own.
	Name string
}

// RealIPKind is real_ip_header's source.
type RealIPKind int8

const (
	// RealIPXRealIP is the X-Real-IP header (the default).
	RealIPXRealIP RealIPKind = iota
	// RealIPXForwardedFor is X-Forwarded-For: a list, the client first,
	// each proxy appending the address it saw.
	RealIPXForwardedFor
	// RealIPProxyProtocol is the address of the PROXY protocol header
	// (listen ... proxy_protocol).
	RealIPProxyProtocol
	// RealIPOther is any other header.
	RealIPOther
)

// decodeRealIPFrom is set_real_ip_from: the addresses whose requests are
// believed about the client's address. As allow and deny: an address, a
// network, or "unix:"; a level that has it replaces what it inherits.
func decodeRealIPFrom(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	var out []AccessRule
	for i, s := range list {
		if s == "all" {
			d.invalid(a.Name, ranges[i], "\"all\" is not an address: write 0.0.0.0/0 and ::/0 to trust every client")
			ok = false
			continue
		}
		r, err := ParseAccessRule(s, false)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%v", err)
			ok = false
			continue
		}
		out = append(out, r)
	}
	if ok {
		t.set.RealIPFrom = out
	}
}

func showRealIPFrom(s *Settings) string {
	list := make([]string, len(s.RealIPFrom))
	for i := range s.RealIPFrom {
		list[i] = s.RealIPFrom[i].String()
	}
	return hclList(list)
}

// decodeRealIPHeader reads "X-Real-IP", "X-Forwarded-For",
// "proxy_protocol" or another header's name.
func decodeRealIPHeader(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	h, ok := ParseRealIPHeader(s)
	if !ok {
		d.invalid(a.Name, a.Expr.Range(), "%q is not a header name (or \"proxy_protocol\")", s)
		return
	}
	t.set.RealIPHeader = h
}

// ParseRealIPHeader reads a real_ip_header value. nginx compares the
// known names exactly; any other token names a header, in any case.
func ParseRealIPHeader(s string) (RealIPHeader, bool) {
	switch s {
	case "X-Real-IP":
		return RealIPHeader{Kind: RealIPXRealIP, Name: "x_real_ip"}, true
	case "X-Forwarded-For":
		return RealIPHeader{Kind: RealIPXForwardedFor, Name: "x_forwarded_for"}, true
	case "proxy_protocol":
		return RealIPHeader{Kind: RealIPProxyProtocol}, true
	}
	if !isToken(s) {
		return RealIPHeader{}, false
	}
	return RealIPHeader{Kind: RealIPOther, Name: strings.ReplaceAll(strings.ToLower(s), "-", "_")}, true
}

func showRealIPHeader(s *Settings) string {
	switch s.RealIPHeader.Kind {
	case RealIPXRealIP:
		return hclQuote("X-Real-IP")
	case RealIPXForwardedFor:
		return hclQuote("X-Forwarded-For")
	case RealIPProxyProtocol:
		return hclQuote("proxy_protocol")
	}
	return hclQuote(strings.ReplaceAll(s.RealIPHeader.Name, "_", "-"))
}
