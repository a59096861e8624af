package main

import (
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// charsetMap converts "charset_map FROM TO { BYTE BYTE; ... }" (nginx's
// koi-utf, koi-win and win-utf files are such blocks) into tern's
// charset_map block, the pairs in order in its values object. tern
// checks the bytes when it loads the result.
func (c *converter) charsetMap(body *hclwrite.Body, d *directive) {
	if len(d.args) != 2 {
		c.warn(d, "charset_map wants two charsets: left as a comment")
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	}
	body.AppendNewline()
	nb := body.AppendNewBlock("charset_map", []string{d.args[0], d.args[1]}).Body()
	var values []hclwrite.ObjectAttrTokens
	for _, e := range d.block {
		if e.block != nil || len(e.args) != 1 {
			c.warn(e, "charset_map: %q is not a pair of codes: skipped", line(e))
			continue
		}
		values = append(values, hclwrite.ObjectAttrTokens{
			Name:  hclwrite.TokensForValue(cty.StringVal(e.name)),
			Value: hclwrite.TokensForValue(cty.StringVal(e.args[0])),
		})
	}
	nb.SetAttributeRaw("values", hclwrite.TokensForObject(values))
}
