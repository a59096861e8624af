package main

import (
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// limit_req_zone and limit_conn_zone become blocks; limit_req becomes an
// object (a list of them when repeated); limit_conn a map of zones.

// zoneDirective converts "limit_req_zone KEY zone=NAME:SIZE rate=R" and
// "limit_conn_zone KEY zone=NAME:SIZE".
func (c *converter) zoneDirective(body *hclwrite.Body, d *directive) {
	if len(d.args) < 2 {
		c.warn(d, "%s needs a key and zone=NAME:SIZE: skipped", d.name)
		return
	}
	attrs := map[string]cty.Value{"key": cty.StringVal(d.args[0])}
	name := ""
	for _, a := range d.args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch {
		case k == "zone":
			n, size, ok := strings.Cut(v, ":")
			if !ok || n == "" {
				c.warn(d, "%s %s: want zone=NAME:SIZE: skipped", d.name, a)
				return
			}
			name = n
			attrs["size"] = cty.StringVal(size)
		case k == "rate" && d.name == "limit_req_zone":
			attrs["rate"] = cty.StringVal(v)
		case a == "sync":
			c.inform(d, "%s sync: zones are shared by tern's workers, not synchronised between servers: dropped", d.name)
		default:
			c.warn(d, "%s parameter %q: dropped", d.name, a)
		}
	}
	if name == "" {
		c.warn(d, "%s without zone=NAME:SIZE: skipped", d.name)
		return
	}
	nb := body.AppendNewBlock(d.name, []string{name})
	for _, k := range []string{"key", "size", "rate"} {
		if v, ok := attrs[k]; ok {
			nb.Body().SetAttributeValue(k, v)
		}
	}
}

// limitReq converts "limit_req zone=NAME [burst=N] [nodelay | delay=N]".
func (c *converter) limitReq(b *block, d *directive) {
	attrs := map[string]cty.Value{}
	for _, a := range d.args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "zone":
			attrs["zone"] = cty.StringVal(v)
		case "burst", "delay":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				c.warn(d, "limit_req %s: not a number: skipped", a)
				return
			}
			attrs[k] = cty.NumberIntVal(n)
		case "nodelay":
			attrs["nodelay"] = cty.True
		default:
			c.warn(d, "limit_req parameter %q: dropped", a)
		}
	}
	if _, ok := attrs["zone"]; !ok {
		c.warn(d, "limit_req without zone=NAME: skipped")
		return
	}
	b.limitReq = append(b.limitReq, cty.ObjectVal(attrs))
}

// limitConn converts "limit_conn NAME NUMBER".
func (c *converter) limitConn(b *block, d *directive) {
	if len(d.args) != 2 {
		c.warn(d, "limit_conn needs a zone and a number: skipped")
		return
	}
	n, err := strconv.ParseInt(d.args[1], 10, 64)
	if err != nil {
		c.warn(d, "limit_conn %s: not a number: skipped", d.args[1])
		return
	}
	b.entry("limit_conn", d.args[0], cty.NumberIntVal(n))
}

// writeLimitReq writes a block's limit_req: one object, or a list.
func writeLimitReq(body *hclwrite.Body, items []cty.Value) {
	switch len(items) {
	case 0:
	case 1:
		body.SetAttributeValue("limit_req", items[0])
	default:
		body.SetAttributeValue("limit_req", cty.TupleVal(items))
	}
}
