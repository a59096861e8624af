package main

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// log_format and access_log in tern convert.

// logFormat converts "log_format NAME [escape=E] STRING ..." into a
// log_format block; nginx's strings are joined into one.
func (c *converter) logFormat(body *hclwrite.Body, d *directive) {
	if len(d.args) < 2 {
		c.warn(d, "log_format wants a name and a format: skipped")
		return
	}
	name, args := d.args[0], d.args[1:]
	escape := ""
	if e, ok := strings.CutPrefix(args[0], "escape="); ok {
		escape, args = e, args[1:]
		if escape != "default" && escape != "json" && escape != "none" {
			c.warn(d, "log_format %s: escape=%s is not default, json or none: skipped", name, escape)
			return
		}
	}
	format := strings.Join(args, "")
	if v := c.unknownVariable(format); v != "" {
		c.warn(d, "log_format %s: the variable $%s is not one tern has; left as a comment", name, v)
		comment(body, "nginx: "+line(d)+" (not converted)")
		c.formats[name] = ""
		return
	}
	switch name {
	case "combined":
		c.warn(d, "log_format combined: nginx's own format cannot be redefined: skipped")
		return
	case "json":
		// tern's built-in format has the name.
		c.formats[name] = "nginx_json"
		c.inform(d, "log_format json is named nginx_json: json is tern's own format")
		name = "nginx_json"
	default:
		c.formats[name] = name
	}
	body.AppendNewline()
	nb := body.AppendNewBlock("log_format", []string{name}).Body()
	if escape != "" && escape != "default" {
		nb.SetAttributeValue("escape", cty.StringVal(escape))
	}
	nb.SetAttributeValue("format", cty.StringVal(format))
}

// accessLog collects "access_log PATH [FORMAT [buffer=] [gzip] [flush=]
// [if=]]" or "access_log off".
func (c *converter) accessLog(body *hclwrite.Body, b *block, d *directive) {
	if len(d.args) == 0 {
		c.warn(d, "access_log without a path: skipped")
		return
	}
	if d.args[0] == "off" {
		b.accessOff = true
		return
	}
	path := d.args[0]
	switch {
	case path == "/dev/stdout":
		path = "stdout"
	case path == "/dev/stderr":
		path = "stderr"
	case strings.HasPrefix(path, "syslog:"):
		c.warn(d, "access_log %s: tern does not log to syslog (log to stdout under a supervisor that collects it); left as a comment", path)
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	case strings.Contains(path, "$"):
		c.warn(d, "access_log %s: tern's log paths have no variables; left as a comment", path)
		comment(body, "nginx: "+line(d)+" (not converted)")
		return
	}
	format := "combined" // nginx's default
	parts := []string{path}
	for i, a := range d.args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch {
		case i == 0 && !strings.Contains(a, "="):
			f, ok := c.formats[a]
			switch {
			case a == "combined":
			case !ok:
				c.warn(d, "access_log %s: the format %q is not defined before it: left as a comment", path, a)
				comment(body, "nginx: "+line(d)+" (not converted)")
				return
			case f == "":
				c.warn(d, "access_log %s: the format %q was not converted: left as a comment", path, a)
				comment(body, "nginx: "+line(d)+" (not converted)")
				return
			default:
				format = f
			}
		case k == "buffer" || k == "flush":
			parts = append(parts, a)
		case k == "if":
			if name := c.unknownVariable(v); name != "" {
				c.warn(d, "access_log %s: the variable $%s is not one tern has; left as a comment", path, name)
				comment(body, "nginx: "+line(d)+" (not converted)")
				return
			}
			parts = append(parts, a)
		case k == "gzip":
			c.inform(d, "access_log %s: gzip is dropped: tern writes the log uncompressed", path)
		default:
			c.warn(d, "access_log %s: the parameter %q is not one tern has: dropped", path, a)
		}
	}
	parts = append(parts[:1], append([]string{format}, parts[1:]...)...)
	b.accessLogs = append(b.accessLogs, cty.StringVal(strings.Join(parts, " ")))
}

// writeAccessLogs writes a block's access_log: "off", one destination or
// a list.
func (c *converter) writeAccessLogs(body *hclwrite.Body, b *block) {
	switch {
	case b.accessOff:
		// nginx: "off" at a level turns off every log of that level.
		body.SetAttributeValue("access_log", cty.StringVal("off"))
	case len(b.accessLogs) == 1:
		body.SetAttributeValue("access_log", b.accessLogs[0])
	case len(b.accessLogs) > 1:
		body.SetAttributeValue("access_log", cty.ListVal(b.accessLogs))
	}
}
