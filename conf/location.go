package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeLocation decodes a location block inside parent (a server's
// Root, or a location for a nested one): its match from the label, then
// its settings over parent's, its statements and its own locations. It
// returns nil when the label is bad.
func (d *decoder) decodeLocation(b *hcl.Block, parent *Location) *Location {
	label := b.Labels[0]
	loc := &Location{Name: label, Server: parent.Server, Settings: parent.Settings}
	content := d.content(b.Body, inLocation)
	mod, path, err := parseLocationLabel(label)
	if err != nil {
		d.errorf(b.LabelRanges[0], "Invalid location", "%q: %v", label, err)
		return nil
	}
	loc.Modifier, loc.Path = mod, path
	if msg := nestingError(parent, loc); msg != "" {
		d.errorf(b.LabelRanges[0], "Invalid location", "%s", msg)
		return nil
	}
	if mod == ModRegex || mod == ModRegexCaseless {
		re, ok := d.regex("location", label, len(label)-len(path), path, mod == ModRegexCaseless, b.LabelRanges[0])
		if !ok {
			return nil
		}
		loc.Regex = re
	}
	var sc script
	d.apply(content.Attributes, &target{set: &loc.Settings, script: &sc})
	if a := content.Attributes["alias"]; a != nil && content.Attributes["root"] != nil {
		d.errorf(a.NameRange, "Invalid alias", "a location has root or alias, not both")
	}
	loc.Locations = d.blocks(content.Blocks, loc, &sc)
	loc.Script = sc.flatten()
	loc.locs = newLocationIndex(loc.Locations)
	return loc
}

// nestingError says why loc cannot be inside parent, as nginx: nothing
// nests in an exact location, and a prefix or exact location must lie
// inside its parent's prefix.
func nestingError(parent, loc *Location) string {
	switch {
	case parent.Modifier == ModNone:
		return ""
	case parent.Modifier == ModExact:
		return fmt.Sprintf("location %q cannot be inside the exact location %q", loc.Name, parent.Name)
	case loc.Regex == nil && loc.Modifier != ModRegex && loc.Modifier != ModRegexCaseless &&
		!strings.HasPrefix(loc.Path, parent.Path):
		return fmt.Sprintf("location %q is outside location %q", loc.Name, parent.Name)
	}
	return ""
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
// once; otherwise the longest matching prefix is found, and its nested
// locations are searched the same way; if it is ^~ it wins; otherwise
// the regular expressions are tried in configuration order and the first
// match wins (after a search of its own nested locations); otherwise the
// longest prefix (or what its nested locations chose); otherwise the
// server's own settings (s.Root). Prefixes compare case-sensitively, as
// nginx on Linux. It never returns nil and does not allocate.
func (s *Server) Location(path []byte) *Location {
	l, _ := s.Find(path, nil)
	return l
}

// Find is Location that also returns the regular expression that chose
// the location, nil when none did; its groups are recorded in c.
func (s *Server) Find(path []byte, c *Captures) (*Location, *Regex) {
	l, re, _ := s.locs.find(path, c, s.Root)
	return l, re
}

// find chooses among one level's locations; cur is what is chosen so far
// (the parent). final reports an exact or regular expression match,
// which ends the search of the levels above.
func (x *locationIndex) find(path []byte, c *Captures, cur *Location) (loc *Location, re *Regex, final bool) {
	if l, ok := x.exact[string(path)]; ok {
		return l, nil, true
	}
	noRegex := false
	for _, l := range x.prefixes {
		if len(path) >= len(l.Path) && string(path[:len(l.Path)]) == l.Path {
			noRegex = l.Modifier == ModPrefixNoRegex
			if loc, re, final = l.locs.find(path, c, l); final {
				return loc, re, true
			}
			cur = loc
			break
		}
	}
	if !noRegex {
		for _, l := range x.regexes {
			if l.Regex.Match(path, c) {
				loc, re, _ = l.locs.find(path, c, l)
				if re == nil {
					re = l.Regex
				}
				return loc, re, true
			}
		}
	}
	return cur, nil, false
}
