package conf

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Map is a map block (nginx's ngx_http_map_module): a variable whose
// value is looked up, when a request first reads it, by the value of
// Source among exact keys, host name wildcards (with hostnames) and
// regular expressions, else Default.
//
//	map "$sent_http_content_type" "$cache_control" {
//	  default = "public"
//	  values  = { "" = "no-store", "~*text/html" = "private" }
//	}
type Map struct {
	// Source is the value looked up.
	Source Template
	// Var is the user variable the map defines (HTTP.Vars).
	Var int
	// Hostnames takes the keys as host names with wildcards
	// ("*.example.com", ".example.com", "mail.*") and drops a trailing
	// dot from the source.
	Hostnames bool
	// Volatile computes the value again on every read instead of once
	// per request.
	Volatile bool
	// Default is the value when nothing matches; "" when not given.
	Default Template

	exact   map[string]*Template // keys lower case
	hosts   hostTable[*Template]
	regexes []mapRegex
	// entries are the keys and values as written, in order, for
	// WriteHCL.
	entries [][2]string
}

// mapSchema is the inside of a map block; mapFileSchema an included
// file's.
var (
	mapSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "default"}, {Name: "hostnames"}, {Name: "volatile"}, {Name: "values"}, {Name: "include"},
	}}
	mapFileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "values"}}}
)

type mapRegex struct {
	re  *Regex
	val *Template
}

// Find returns the value for key: the exact key (compared without regard
// to case), else with Hostnames the longest wildcard, else the first
// regular expression that matches (not tried on an empty key, as nginx),
// else Default. re is the expression that matched, nil otherwise; its
// groups are in c. low is scratch for the lower-cased key, returned so
// that it is reused.
func (m *Map) Find(key []byte, low []byte, c *Captures) (val *Template, re *Regex, scratch []byte) {
	if m.Hostnames && len(key) > 0 && key[len(key)-1] == '.' {
		key = key[:len(key)-1]
	}
	low = low[:0]
	for _, b := range key {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		low = append(low, b)
	}
	if v, ok := m.exact[string(low)]; ok {
		return v, nil, low
	}
	if m.Hostnames {
		if v, ok := m.hosts.find(low); ok {
			return v, nil, low
		}
	}
	if len(key) > 0 {
		for _, r := range m.regexes {
			if r.re.Match(key, c) {
				return r.val, r.re, low
			}
		}
	}
	return &m.Default, nil, low
}

// decodeMap decodes map "SOURCE" "$NAME" { ... } at the http level.
func (d *decoder) decodeMap(b *hcl.Block, h *httpDraft) {
	src, name := b.Labels[0], strings.TrimPrefix(b.Labels[1], "$")
	if !validVarName(name) {
		d.errorf(b.LabelRanges[1], "Invalid map", "%v", errVarName(b.Labels[1]))
		return
	}
	if isBuiltinName(name) {
		d.errorf(b.LabelRanges[1], "Invalid map", "$%s is a built-in variable", name)
		return
	}
	if prev, dup := h.mapAt[name]; dup {
		d.errorf(b.LabelRanges[1], "Duplicate map", "$%s is already a map at %s", name, at(prev))
		return
	}
	h.mapAt[name] = b.LabelRanges[1]
	m := &Map{Var: d.vars.declare(name), exact: make(map[string]*Template)}
	var ok bool
	if m.Source, ok = d.compileTemplate("map", src, b.LabelRanges[0]); !ok {
		return
	}
	content, diags := b.Body.Content(mapSchema)
	d.diags = append(d.diags, diags...)
	for _, a := range sortedAttrs(content.Attributes) {
		switch a.Name {
		case "default":
			m.Default, _ = d.template(a.Name, a.Expr)
		case "hostnames":
			m.Hostnames, _ = d.boolean(a)
		case "volatile":
			m.Volatile, _ = d.boolean(a)
		}
	}
	if a := content.Attributes["values"]; a != nil {
		d.mapValues(m, a)
	}
	if a := content.Attributes["include"]; a != nil {
		d.mapInclude(m, a)
	}
	h.maps = append(h.maps, m)
}

// mapValues decodes values = { KEY = VALUE, ... } into m, in order.
func (d *decoder) mapValues(m *Map, a *hcl.Attribute) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	for _, kv := range pairs {
		var key string
		if !d.decode("map", kv.Key, nil, &key) {
			continue
		}
		text, ok := d.templateText("map", kv.Value)
		if !ok {
			continue
		}
		val, ok := d.compileTemplate("map", text, kv.Value.Range())
		if !ok {
			continue
		}
		m.entries = append(m.entries, [2]string{key, text})
		d.mapEntry(m, key, &val, kv.Key.Range())
	}
}

// mapEntry files one key: "~RE" and "~*RE" are regular expressions, a
// leading "\" is dropped (nginx's escape for a key that would read as
// one), anything else is exact or, with hostnames, a host name.
func (d *decoder) mapEntry(m *Map, key string, val *Template, rng hcl.Range) {
	if re, ok := strings.CutPrefix(key, "~"); ok {
		caseless := strings.HasPrefix(re, "*")
		off := 1
		if caseless {
			re, off = re[1:], 2
		}
		if r, ok := d.regex("map", key, off, re, caseless, rng); ok {
			m.regexes = append(m.regexes, mapRegex{r, val})
		}
		return
	}
	key = strings.TrimPrefix(key, `\`)
	if m.Hostnames && key != "" {
		sn, err := parseServerName(key)
		if err != nil || sn.kind == nameRegex {
			d.invalid("map", rng, "%q is not a host name or wildcard such as \"*.example.com\"", key)
			return
		}
		if sn.kind != nameExact {
			if m.hosts.has(sn) {
				d.invalid("map", rng, "%q is given twice", key)
				return
			}
			m.hosts.add(sn, val)
			return
		}
	}
	low := strings.ToLower(key)
	if _, dup := m.exact[low]; dup {
		d.invalid("map", rng, "%q is given twice (keys compare without regard to case)", key)
		return
	}
	m.exact[low] = val
}

// mapInclude reads the files include names, each a body of values = {...},
// after the block's own values.
func (d *decoder) mapInclude(m *Map, a *hcl.Attribute) {
	files, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	for i, pat := range files {
		for _, f := range d.expand(pat, ranges[i]) {
			file := d.parse(f, ranges[i].Ptr())
			if file == nil {
				continue
			}
			content, diags := file.Body.Content(mapFileSchema)
			d.diags = append(d.diags, diags...)
			if va := content.Attributes["values"]; va != nil {
				d.mapValues(m, va)
			}
		}
	}
}

// validVarName reports whether s is a variable name: letters, digits and
// "_", not starting with a digit.
func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isVarChar(s[i]) {
			return false
		}
	}
	return true
}

// write writes m as a map block (WriteHCL).
func (m *Map) write(p *printer, name string) {
	p.line(1, "map %s %s {", hclQuote(m.Source.String()), hclQuote("$"+name))
	p.attr(2, "default", hclQuote(m.Default.String()))
	if m.Hostnames {
		p.attr(2, "hostnames", "true")
	}
	if m.Volatile {
		p.attr(2, "volatile", "true")
	}
	p.line(2, "values = {")
	for _, e := range m.entries {
		p.attr(3, hclQuote(e[0]), hclQuote(e[1]))
	}
	p.line(2, "}")
	p.line(1, "}")
}
