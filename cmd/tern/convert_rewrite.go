package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"tern/conf"
)

// The rewrite module in tern convert. nginx's set, rewrite, return,
// break and if run in the order written; tern runs them in the order
// their attributes and if blocks are written, one attribute of each kind
// per block (conf/rewrite.go). A run of statements of one kind becomes
// one attribute; when a kind comes back after another, what follows goes
// into an if block whose condition always holds ("$uri" is never empty
// nor "0"), which changes nothing as long as no earlier if block of the
// same block sets something of its own (it would be undone). Inside an
// if block, where tern allows no other if, a kind that comes back is a
// loss.

// stmt is one statement of the rewrite module, in the order written.
type stmt struct {
	kind string // set, rewrite, return, break or if
	d    *directive
}

// alwaysTrue is the condition of the if blocks that keep statements in
// order.
const alwaysTrue = "$uri"

// statement collects d when it is a statement; it reports false for any
// other directive.
func (c *converter) statement(b *block, d *directive) bool {
	switch d.name {
	case "set", "rewrite", "return", "break":
		b.stmts = append(b.stmts, stmt{kind: d.name, d: d})
		return true
	}
	return false
}

// writeStmts writes a block's statements in their order; inIf is true in
// an if block.
func (c *converter) writeStmts(body *hclwrite.Body, stmts []stmt, inIf bool) {
	// Statements after a return or a break never run.
	for i, s := range stmts {
		if s.kind == "return" || s.kind == "break" {
			if i+1 < len(stmts) {
				c.inform(stmts[i+1].d, "%s and what follows it are never run, after the %s of line %d: left out",
					stmts[i+1].d.name, s.kind, s.d.line)
			}
			stmts = stmts[:i+1]
			break
		}
	}
	top := &stmtBody{body: body}
	var wrap *stmtBody
	settingsBefore := false // an earlier if block sets something of its own
	for i := 0; i < len(stmts); {
		s := stmts[i]
		if s.kind == "if" {
			wrap = nil
			if c.ifBlock(body, s.d) {
				settingsBefore = true
			}
			i++
			continue
		}
		// The run of statements of this kind.
		j := i + 1
		for j < len(stmts) && stmts[j].kind == s.kind && s.kind != "return" && s.kind != "break" &&
			!(s.kind == "set" && setsAgain(stmts[i:j], stmts[j].d)) {
			j++
		}
		run := stmts[i:j]
		i = j
		switch {
		case !top.used(s.kind):
			c.writeRun(top, run)
		case inIf || settingsBefore:
			for _, r := range run {
				why := "an if block before it sets something of its own, which an if block to keep the order would undo"
				if inIf {
					why = "tern allows one " + s.kind + " attribute per if block, and no if block inside it to keep the order"
				}
				c.warn(r.d, "%s comes after other statements of the rewrite module and another %s: %s; left as a comment",
					r.d.name, r.d.name, why)
				comment(body, "nginx: "+line(r.d)+" (not converted: out of order)")
			}
		default:
			if wrap == nil || wrap.used(s.kind) {
				wrap = &stmtBody{body: body.AppendNewBlock("if", []string{alwaysTrue}).Body()}
				c.inform(run[0].d, "%s after other statements: put in if %q (always true) to keep nginx's order", s.kind, alwaysTrue)
			}
			c.writeRun(wrap, run)
		}
	}
}

// stmtBody is a body statements are written into, with the kinds it
// has.
type stmtBody struct {
	body  *hclwrite.Body
	kinds []string
}

func (s *stmtBody) used(kind string) bool {
	for _, k := range s.kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// setsAgain reports whether d sets a variable that run already sets.
func setsAgain(run []stmt, d *directive) bool {
	if len(d.args) == 0 {
		return false
	}
	for _, s := range run {
		if len(s.d.args) > 0 && strings.TrimPrefix(s.d.args[0], "$") == strings.TrimPrefix(d.args[0], "$") {
			return true
		}
	}
	return false
}

// writeRun writes a run of statements of one kind as one attribute.
func (c *converter) writeRun(into *stmtBody, run []stmt) {
	kind := run[0].kind
	switch kind {
	case "set":
		var attrs []hclwrite.ObjectAttrTokens
		for _, s := range run {
			d := s.d
			if len(d.args) != 2 || !strings.HasPrefix(d.args[0], "$") || len(d.args[0]) < 2 {
				c.warn(d, "set wants $variable and a value: skipped")
				continue
			}
			name := d.args[0][1:]
			if conf.IsBuiltinVariable(name) && name != "args" && name != "query_string" {
				c.warn(d, "set $%s: tern sets $args and its own variables only; left as a comment", name)
				comment(into.body, "nginx: "+line(d)+" (not converted)")
				continue
			}
			if v := c.unknownVariable(d.args[1]); v != "" {
				c.warn(d, "set: the variable $%s is not one tern has; left as a comment", v)
				comment(into.body, "nginx: "+line(d)+" (not converted)")
				continue
			}
			attrs = append(attrs, hclwrite.ObjectAttrTokens{
				Name:  hclwrite.TokensForValue(cty.StringVal(name)),
				Value: hclwrite.TokensForValue(cty.StringVal(d.args[1])),
			})
		}
		if len(attrs) > 0 {
			into.body.SetAttributeRaw("set", hclwrite.TokensForObject(attrs))
			into.kinds = append(into.kinds, kind)
		}
	case "rewrite":
		var entries []cty.Value
		for _, s := range run {
			if e, ok := c.rewriteEntry(s.d); ok {
				entries = append(entries, e)
			} else {
				comment(into.body, "nginx: "+line(s.d)+" (not converted)")
			}
		}
		if len(entries) > 0 {
			into.body.SetAttributeValue("rewrite", cty.TupleVal(entries))
			into.kinds = append(into.kinds, kind)
		}
	case "return":
		d := run[0].d
		if len(d.args) == 0 || len(d.args) > 2 {
			c.warn(d, "return wants a code, a code and a text or URL, or a URL: skipped")
			return
		}
		if v := c.unknownVariable(strings.Join(d.args, " ")); v != "" {
			c.warn(d, "return: the variable $%s is not one tern has; left as a comment", v)
			comment(into.body, "nginx: "+line(d)+" (not converted)")
			return
		}
		into.body.SetAttributeValue("return", cty.StringVal(strings.Join(d.args, " ")))
		into.kinds = append(into.kinds, kind)
	case "break":
		into.body.SetAttributeValue("break", cty.True)
		into.kinds = append(into.kinds, kind)
	}
}

// rewriteEntry converts "rewrite REGEX REPLACEMENT [FLAG]" into an entry:
// one string, or a list when a part holds a space.
func (c *converter) rewriteEntry(d *directive) (cty.Value, bool) {
	if len(d.args) < 2 || len(d.args) > 3 {
		c.warn(d, "rewrite wants a regular expression, a replacement and a flag: skipped")
		return cty.NilVal, false
	}
	re, ok := c.regex(d, d.args[0], false)
	if !ok {
		return cty.NilVal, false
	}
	if v := c.unknownVariable(d.args[1]); v != "" {
		c.warn(d, "rewrite: the variable $%s is not one tern has; left as a comment", v)
		return cty.NilVal, false
	}
	parts := append([]string{re}, d.args[1:]...)
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\n") {
			vals := make([]cty.Value, len(parts))
			for i, p := range parts {
				vals[i] = cty.StringVal(p)
			}
			return cty.ListVal(vals), true
		}
	}
	return cty.StringVal(strings.Join(parts, " ")), true
}

// ifBlock writes an if block; it reports whether the block sets something
// besides statements.
func (c *converter) ifBlock(body *hclwrite.Body, d *directive) (settings bool) {
	cond, ok := c.condition(d)
	if !ok {
		comment(body, "nginx: "+line(d)+" (not converted)")
		return false
	}
	body.AppendNewline()
	nb := body.AppendNewBlock("if", []string{cond})
	c.body(nb.Body(), d.block, "if")
	for _, in := range d.block {
		switch in.name {
		case "set", "rewrite", "return", "break":
		default:
			settings = true
		}
	}
	return settings
}

// condition converts nginx's "($var op value)" or "(-f path)" into tern's
// condition text.
func (c *converter) condition(d *directive) (string, bool) {
	args := append([]string(nil), d.args...)
	if len(args) > 0 {
		if args[0] == "(" {
			args = args[1:]
		} else if strings.HasPrefix(args[0], "(") {
			args[0] = args[0][1:]
		}
	}
	if n := len(args); n > 0 {
		if args[n-1] == ")" {
			args = args[:n-1]
		} else if strings.HasSuffix(args[n-1], ")") {
			args[n-1] = args[n-1][:len(args[n-1])-1]
		}
	}
	if len(args) == 0 || len(args) > 3 || len(args) == 3 && args[0] == "" {
		c.warn(d, "if %s: not a condition tern reads; left as a comment", strings.Join(d.args, " "))
		return "", false
	}
	first := args[0]
	switch {
	case len(args) == 2 && strings.HasPrefix(strings.TrimPrefix(first, "!"), "-") && len(first) <= 3:
		if v := c.unknownVariable(args[1]); v != "" {
			c.warn(d, "if: the variable $%s is not one tern has; left as a comment", v)
			return "", false
		}
		return first + " " + condQuote(args[1]), true
	case strings.HasPrefix(first, "$") && (len(args) == 1 || len(args) == 3):
		if v := c.unknownVariable(first); v != "" {
			c.warn(d, "if: the variable $%s is not one tern has; left as a comment", v)
			return "", false
		}
		if len(args) == 1 {
			return first, true
		}
		op, val := args[1], args[2]
		switch op {
		case "=", "!=":
			if v := c.unknownVariable(val); v != "" {
				c.warn(d, "if: the variable $%s is not one tern has; left as a comment", v)
				return "", false
			}
		case "~", "~*", "!~", "!~*":
			re, ok := c.regex(d, val, strings.HasSuffix(op, "*"))
			if !ok {
				return "", false
			}
			val = re
		default:
			c.warn(d, "if: the operator %q is not one nginx has; left as a comment", op)
			return "", false
		}
		return first + " " + op + " " + condQuote(val), true
	}
	c.warn(d, "if %s: not a condition tern reads; left as a comment", strings.Join(d.args, " "))
	return "", false
}

// condQuote quotes a condition's value when it holds a space or starts
// with a quote, as tern's condition reads it.
func condQuote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t") || s[0] == '"' || s[0] == '\'' {
		if !strings.Contains(s, `"`) {
			return `"` + s + `"`
		}
		return "'" + s + "'"
	}
	return s
}
