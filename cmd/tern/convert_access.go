package main

import (
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"tern/conf"
)

// allow and deny: nginx's rules run in the order written, first match
// wins. In HCL an attribute is written once per block, so tern reads the
// allow and deny attributes in the order they appear: two runs at most.
// Rules that alternate more often are rewritten into the same access
// control in two runs (the addresses admitted, then "deny all", or the
// addresses refused alone), with a warning.

// accessRule is an allow or deny as written.
type accessRule struct {
	rule conf.AccessRule
	d    *directive
}

// accessRule collects one allow or deny of a block.
func (c *converter) accessRule(b *block, d *directive) {
	if len(d.args) != 1 {
		c.warn(d, "%s needs one address: skipped", d.name)
		return
	}
	arg := d.args[0]
	r, err := conf.ParseAccessRule(arg, d.name == "deny")
	if err != nil && strings.Contains(arg, "/") {
		// nginx only warns about host bits; tern refuses them.
		if p, perr := netip.ParsePrefix(arg); perr == nil {
			c.inform(d, "%s %s: the host bits are dropped (%s), as nginx does", d.name, arg, p.Masked())
			r, err = conf.ParseAccessRule(p.Masked().String(), d.name == "deny")
		}
	}
	if err != nil {
		c.warn(d, "%s: %v: skipped", d.name, err)
		return
	}
	b.access = append(b.access, accessRule{rule: r, d: d})
}

// writeAccess writes a block's rules as allow and deny attributes.
func (c *converter) writeAccess(body *hclwrite.Body, rules []accessRule) {
	if len(rules) == 0 {
		return
	}
	list := make([]conf.AccessRule, len(rules))
	for i, r := range rules {
		list[i] = r.rule
	}
	if runs := accessRuns(list); len(runs) > 2 {
		var lines []string
		for _, r := range rules {
			lines = append(lines, line(r.d))
		}
		comment(body, "nginx: "+strings.Join(lines, "; "))
		c.inform(rules[0].d, "allow and deny alternate more than once: rewritten as the same rules in two runs")
		list = twoRuns(list)
	}
	for _, run := range accessRuns(list) {
		vals := make([]cty.Value, len(run))
		for i, r := range run {
			vals[i] = cty.StringVal(r.String())
		}
		name := "allow"
		if run[0].Deny {
			name = "deny"
		}
		body.SetAttributeValue(name, cty.ListVal(vals))
	}
}

// accessRuns splits rules into runs of the same verb.
func accessRuns(rules []conf.AccessRule) [][]conf.AccessRule {
	var runs [][]conf.AccessRule
	for i, r := range rules {
		if i == 0 || r.Deny != rules[i-1].Deny {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], r)
	}
	return runs
}

// twoRuns returns rules equivalent to rules, first match wins and no
// match allowing, as one deny run, or an allow run followed by "deny
// all", whichever is shorter. It works out, for each address family,
// which networks the rules admit, splitting networks until one rule
// decides each piece.
func twoRuns(rules []conf.AccessRule) []conf.AccessRule {
	var admitted, refused []netip.Prefix
	for _, all := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
		admitted = append(admitted, decide(rules, all, false)...)
		refused = append(refused, decide(rules, all, true)...)
	}
	unixDenied := false
	for _, r := range rules {
		if r.Kind != conf.AccessNet {
			unixDenied = r.Deny
			break
		}
	}
	var out []conf.AccessRule
	if len(refused) <= len(admitted) {
		for _, p := range refused {
			out = append(out, conf.AccessRule{Deny: true, Net: p})
		}
		if unixDenied {
			out = append(out, conf.AccessRule{Deny: true, Kind: conf.AccessUnix})
		}
		return out
	}
	for _, p := range admitted {
		out = append(out, conf.AccessRule{Net: p})
	}
	if !unixDenied {
		out = append(out, conf.AccessRule{Kind: conf.AccessUnix})
	}
	return append(out, conf.AccessRule{Deny: true, Kind: conf.AccessAll})
}

// decide returns the networks within p that the rules refuse (deny set)
// or admit (deny clear), as few as the splitting allows.
func decide(rules []conf.AccessRule, p netip.Prefix, deny bool) []netip.Prefix {
	for _, r := range rules {
		if r.Kind == conf.AccessUnix {
			continue
		}
		net := r.Net
		if r.Kind == conf.AccessAll {
			net = netip.PrefixFrom(p.Addr(), 0)
		} else if net.Addr().Is4() != p.Addr().Is4() || !net.Overlaps(p) {
			continue
		}
		if net.Bits() <= p.Bits() {
			// The first rule that touches p covers it: it decides.
			if r.Deny == deny {
				return []netip.Prefix{p}
			}
			return nil
		}
		// A smaller network inside p decides part of it: split.
		lo, hi := halves(p)
		l, h := decide(rules, lo, deny), decide(rules, hi, deny)
		if len(l) == 1 && l[0] == lo && len(h) == 1 && h[0] == hi {
			return []netip.Prefix{p}
		}
		return append(l, h...)
	}
	// No rule: allowed.
	if !deny {
		return []netip.Prefix{p}
	}
	return nil
}

// halves splits p into its two halves.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	lo := netip.PrefixFrom(p.Addr(), bits)
	b := p.Addr().AsSlice()
	i := p.Bits()
	b[i/8] |= 0x80 >> (i % 8)
	hi, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(hi, bits)
}
