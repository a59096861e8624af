package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"tern/conf"
)

// mapBlock converts "map SOURCE $NAME { ... }" into tern's map block:
// default, hostnames and volatile become attributes, the keys and values
// the values object in their order (regular expressions are tried in
// it). include was read where it stood by the parser.
func (c *converter) mapBlock(body *hclwrite.Body, d *directive) {
	if len(d.args) != 2 || !strings.HasPrefix(d.args[1], "$") || len(d.args[1]) < 2 {
		c.warn(d, "map wants a source and a $variable: left as a comment")
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	}
	name := d.args[1][1:]
	if conf.IsBuiltinVariable(name) {
		c.warn(d, "map: $%s is one of tern's own variables; left as a comment", name)
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	}
	if v := c.unknownVariable(d.args[0]); v != "" {
		c.warn(d, "map: the variable $%s is not one tern has; left as a comment", v)
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	}
	body.AppendNewline()
	nb := body.AppendNewBlock("map", []string{d.args[0], d.args[1]}).Body()
	var values []hclwrite.ObjectAttrTokens
	seen := map[string]bool{}
	hostnames := false
	for _, e := range d.block {
		if e.block != nil {
			c.warn(e, "map: a block in a map is not a key: skipped")
			continue
		}
		switch {
		case e.name == "hostnames" && len(e.args) == 0:
			hostnames = true
			nb.SetAttributeValue("hostnames", cty.True)
			continue
		case e.name == "volatile" && len(e.args) == 0:
			nb.SetAttributeValue("volatile", cty.True)
			continue
		case len(e.args) != 1:
			c.warn(e, "map: %q wants one value: skipped", e.name)
			continue
		}
		key, val := e.name, e.args[0]
		if v := c.unknownVariable(val); v != "" {
			c.warn(e, "map: the value of %q uses $%s, a variable tern does not have; the key is left out", key, v)
			continue
		}
		if key == "default" {
			nb.SetAttributeValue("default", cty.StringVal(val))
			continue
		}
		if strings.HasPrefix(key, "~") {
			caseless := strings.HasPrefix(key, "~*")
			pattern := strings.TrimPrefix(strings.TrimPrefix(key, "~"), "*")
			re, ok := c.regex(e, pattern, caseless)
			if !ok {
				continue
			}
			key = key[:len(key)-len(pattern)] + re
		}
		lk := strings.ToLower(key)
		if hostnames {
			lk = strings.TrimSuffix(lk, ".")
		}
		if seen[lk] {
			if strings.HasPrefix(key, "~") {
				// The first one matches first: the second never decides.
				c.inform(e, "map: the regular expression %q is given twice: the second is left out", key)
			} else {
				// nginx refuses this ("conflicting parameter").
				c.warn(e, "map: the key %q is given twice (nginx refuses it): the first one is kept", key)
			}
			continue
		}
		seen[lk] = true
		values = append(values, hclwrite.ObjectAttrTokens{
			Name:  hclwrite.TokensForValue(cty.StringVal(key)),
			Value: hclwrite.TokensForValue(cty.StringVal(val)),
		})
	}
	if len(values) > 0 {
		nb.SetAttributeRaw("values", hclwrite.TokensForObject(values))
	}
}
