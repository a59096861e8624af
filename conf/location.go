package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeLocation decodes a location block: its match from the label, then
// its settings over the server's. It returns nil when the label is bad.
func (d *decoder) decodeLocation(b *hcl.Block, srv *Server) *Location {
	label := b.Labels[0]
	loc := &Location{Name: label, Server: srv, Settings: srv.Root.Settings}
	content := d.content(b.Body, inLocation)
	mod, path, err := parseLocationLabel(label)
	if err != nil {
		d.errorf(b.LabelRanges[0], "Invalid location", "%q: %v", label, err)
		return nil
	}
	loc.Modifier, loc.Path = mod, path
	if mod == ModRegex || mod == ModRegexCaseless {
		re, ok := d.regex("location", label, len(label)-len(path), path, mod == ModRegexCaseless, b.LabelRanges[0])
		if !ok {
			return nil
		}
		loc.Regex = re
	}
	d.apply(content.Attributes, &target{set: &loc.Settings})
	if a := content.Attributes["alias"]; a != nil && content.Attributes["root"] != nil {
		d.errorf(a.NameRange, "Invalid alias", "a location has root or alias, not both")
	}
	return loc
}

// parseLocationLabel splits a location label into its modifier and path
// (or regular expression). The modifier may be followed by spaces or not,
// as nginx accepts both "= /x" and "=/x". nginx's named locations (@name)
// are not supported.
func parseLocationLabel(label string) (Modifier, string, error) {
	mod := ModPrefix
	rest := label
	for _, m := range []struct {
		text string
		mod  Modifier
	}{{"=", ModExact}, {"^~", ModPrefixNoRegex}, {"~*", ModRegexCaseless}, {"~", ModRegex}} {
		if r, ok := strings.CutPrefix(label, m.text); ok {
			mod, rest = m.mod, strings.TrimLeft(r, " ")
			break
		}
	}
	switch {
	case strings.HasPrefix(label, "@"):
		return 0, "", fmt.Errorf("named locations are not supported")
	case rest == "" && (mod == ModRegex || mod == ModRegexCaseless):
		return 0, "", fmt.Errorf("the regular expression is missing")
	case mod == ModRegex || mod == ModRegexCaseless:
		return mod, rest, nil
	case !strings.HasPrefix(rest, "/"):
		return 0, "", fmt.Errorf("a path must start with /; the forms are \"/prefix\", \"= /exact\", \"^~ /prefix\", \"~ regex\" and \"~* regex\"")
	}
	return mod, rest, nil
}

// locationKey identifies what a location matches, for duplicate checks:
// nginx refuses "/a" next to "^~ /a" ("duplicate location") since both
// are the same prefix.
func locationKey(l *Location) string {
	switch l.Modifier {
	case ModExact:
		return "=" + l.Path
	case ModRegex:
		return "~" + l.Path
	case ModRegexCaseless:
		return "~*" + l.Path
	}
	return "/" + l.Path
}

// locationIndex is a server's locations arranged for Location.
type locationIndex struct {
	exact map[string]*Location
	// prefixes holds the prefix and ^~ locations, longest path first,
	// so that the first that matches is the longest.
	prefixes []*Location
	// regexes holds the regular expression locations in configuration
	// order.
	regexes []*Location
}

func newLocationIndex(locs []*Location) locationIndex {
	var x locationIndex
	for _, l := range locs {
		switch l.Modifier {
		case ModExact:
			if x.exact == nil {
				x.exact = make(map[string]*Location)
			}
			x.exact[l.Path] = l
		case ModPrefix, ModPrefixNoRegex:
			x.prefixes = append(x.prefixes, l)
		case ModRegex, ModRegexCaseless:
			x.regexes = append(x.regexes, l)
		}
	}
	slices.SortStableFunc(x.prefixes, func(a, b *Location) int { return cmp.Compare(len(b.Path), len(a.Path)) })
	return x
}

// Location returns the location for a normalised path, by nginx's
// algorithm (ngx_http_core_find_location): an exact (=) match wins at
// once; otherwise the longest matching prefix is found, and if it is ^~
// it wins; otherwise the regular expressions are tried in configuration
// order and the first match wins; otherwise the longest prefix; otherwise
// the server's own settings (s.Root). Prefixes compare case-sensitively,
// as nginx on Linux. It never returns nil and does not allocate.
func (s *Server) Location(path []byte) *Location {
	l, _ := s.Find(path, nil)
	return l
}

// Find is Location that also returns the regular expression that chose
// the location, nil when none did; its groups are recorded in c.
func (s *Server) Find(path []byte, c *Captures) (*Location, *Regex) {
	x := &s.locs
	if l, ok := x.exact[string(path)]; ok {
		return l, nil
	}
	var longest *Location
	for _, l := range x.prefixes {
		if len(path) >= len(l.Path) && string(path[:len(l.Path)]) == l.Path {
			longest = l
			break
		}
	}
	if longest != nil && longest.Modifier == ModPrefixNoRegex {
		return longest, nil
	}
	for _, l := range x.regexes {
		if l.Regex.Match(path, c) {
			return l, l.Regex
		}
	}
	if longest != nil {
		return longest, nil
	}
	return s.Root, nil
}
