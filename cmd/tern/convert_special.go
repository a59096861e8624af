package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// hclsyntaxComment is the token type of a comment in written HCL.
const hclsyntaxComment = hclsyntax.TokenComment

// special converts the directives whose values change shape between
// nginx and tern. It reports false for a directive it does not know.
func (c *converter) special(body *hclwrite.Body, b *block, d *directive) bool {
	switch d.name {
	case "worker_processes":
		if len(d.args) == 1 && d.args[0] == "auto" {
			body.SetAttributeValue("worker_processes", cty.StringVal("auto"))
		} else {
			c.plain(body, b, d, "worker_processes", kNumber)
		}
	case "worker_cpu_affinity":
		c.affinity(body, d)
	case "error_log":
		c.errorLog(body, d)
	case "thread_pool":
		c.threadPool(body, d)
	case "keepalive_timeout":
		if len(d.args) > 1 {
			c.warn(d, "keepalive_timeout's header timeout %s is not supported: dropped", d.args[1])
		}
		c.plain(body, b, d, "keepalive_timeout", kDuration)
	case "aio":
		c.aio(body, d)
	case "acme_certificate":
		c.acmeCertificate(body, d)
	case "access_log":
		c.accessLog(body, d)
	case "open_file_cache":
		c.openFileCache(body, d)
	case "listen":
		c.listen(body, b, d)
	case "error_page":
		c.errorPage(b, d)
	case "add_header":
		if len(d.args) < 2 {
			return false
		}
		switch {
		case len(d.args) == 3 && d.args[2] == "always":
			b.entry("add_header", d.args[0], cty.ObjectVal(map[string]cty.Value{
				"value": cty.StringVal(d.args[1]), "always": cty.True}))
			return true
		case len(d.args) > 2:
			c.warn(d, "add_header %s: %q is not supported: tern adds headers on nginx's list of statuses", d.args[0], strings.Join(d.args[2:], " "))
		}
		b.entry("add_header", d.args[0], cty.StringVal(d.args[1]))
	case "return":
		c.returnDirective(body, d)
	case "types":
		for _, t := range d.block {
			exts := make([]cty.Value, len(t.args))
			for i, e := range t.args {
				exts[i] = cty.StringVal(e)
			}
			if len(exts) > 0 {
				b.entry("types", t.name, cty.ListVal(exts))
			}
		}
	case "stub_status":
		body.SetAttributeValue("stub_status", cty.True)
	case "internal":
		body.SetAttributeValue("internal", cty.True)
	case "allow", "deny":
		c.accessRule(b, d)
	case "limit_req_zone", "limit_conn_zone":
		c.zoneDirective(body, d)
	case "limit_req":
		c.limitReq(b, d)
	case "limit_conn":
		c.limitConn(b, d)
	case "disable_symlinks":
		if len(d.args) == 1 && (d.args[0] == "on" || d.args[0] == "off") {
			c.plain(body, b, d, "disable_symlinks", kBool)
		} else {
			c.warn(d, "disable_symlinks %s: only on and off are supported: skipped", strings.Join(d.args, " "))
		}
	default:
		return false
	}
	return true
}

// affinity converts "auto" and nginx's bit masks (rightmost bit = CPU 0)
// into CPU lists.
func (c *converter) affinity(body *hclwrite.Body, d *directive) {
	if len(d.args) >= 1 && d.args[0] == "auto" {
		if len(d.args) > 1 {
			c.warn(d, "worker_cpu_affinity auto with a mask: the mask is dropped")
		}
		body.SetAttributeValue("worker_cpu_affinity", cty.StringVal("auto"))
		return
	}
	var lists []cty.Value
	for _, mask := range d.args {
		var cpus []string
		for i := 0; i < len(mask); i++ {
			if mask[len(mask)-1-i] == '1' {
				cpus = append(cpus, strconv.Itoa(i))
			}
		}
		if len(cpus) == 0 {
			c.warn(d, "worker_cpu_affinity mask %q names no CPU: skipped", mask)
			return
		}
		lists = append(lists, cty.StringVal(strings.Join(cpus, ",")))
	}
	if len(lists) > 0 {
		body.SetAttributeValue("worker_cpu_affinity", cty.ListVal(lists))
	}
}

func (c *converter) errorLog(body *hclwrite.Body, d *directive) {
	if len(d.args) == 0 {
		return
	}
	path := d.args[0]
	switch path {
	case "/dev/stderr":
		path = "stderr"
	case "/dev/null":
		c.warn(d, "error_log /dev/null: tern always logs errors; using stderr")
		path = "stderr"
	}
	body.SetAttributeValue("error_log", cty.StringVal(path))
	if len(d.args) > 1 {
		level := d.args[1]
		switch level {
		case "alert", "emerg":
			level = "crit"
		}
		body.SetAttributeValue("error_log_level", cty.StringVal(level))
	}
}

func (c *converter) threadPool(body *hclwrite.Body, d *directive) {
	if len(d.args) < 2 {
		c.warn(d, "thread_pool needs a name and threads=N: skipped")
		return
	}
	nb := body.AppendNewBlock("thread_pool", []string{d.args[0]})
	for _, a := range d.args[1:] {
		k, v, _ := strings.Cut(a, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if (k != "threads" && k != "max_queue") || err != nil {
			c.warn(d, "thread_pool parameter %q: skipped", a)
			continue
		}
		nb.Body().SetAttributeValue(k, cty.NumberIntVal(n))
	}
}

func (c *converter) aio(body *hclwrite.Body, d *directive) {
	v := strings.Join(d.args, " ")
	switch {
	case v == "off" || v == "threads" || strings.HasPrefix(v, "threads=") && !strings.Contains(v[8:], "$"):
	case v == "on":
		v = "threads" // tern's asynchronous file I/O is its thread pool
	default:
		c.warn(d, "aio %s is not supported: skipped", v)
		return
	}
	body.SetAttributeValue("aio", cty.StringVal(v))
}

func (c *converter) accessLog(body *hclwrite.Body, d *directive) {
	if len(d.args) == 0 {
		return
	}
	path := d.args[0]
	if path == "/dev/stdout" {
		path = "stdout"
	} else if path == "/dev/stderr" {
		path = "stderr"
	}
	body.SetAttributeValue("access_log", cty.StringVal(path))
	if len(d.args) > 1 {
		switch d.args[1] {
		case "combined":
			body.SetAttributeValue("access_log_format", cty.StringVal("combined"))
		default:
			c.warn(d, "access_log format %q: tern writes json (or combined); json kept", d.args[1])
		}
		if len(d.args) > 2 {
			c.warn(d, "access_log %s: tern buffers on its own and never blocks on the disk", strings.Join(d.args[2:], " "))
		}
	}
}

func (c *converter) openFileCache(body *hclwrite.Body, d *directive) {
	if len(d.args) == 1 && d.args[0] == "off" {
		return
	}
	attrs := map[string]cty.Value{}
	for _, a := range d.args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "max":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				c.warn(d, "open_file_cache %s: skipped", a)
				return
			}
			attrs["max"] = cty.NumberIntVal(n)
		case "inactive":
			attrs["inactive"] = cty.StringVal(v)
		default:
			c.warn(d, "open_file_cache %s: skipped", a)
		}
	}
	if _, ok := attrs["max"]; ok {
		body.SetAttributeValue("open_file_cache", cty.ObjectVal(attrs))
	}
}

// listen keeps the address and the parameters tern knows.
func (c *converter) listen(body *hclwrite.Body, b *block, d *directive) {
	if len(d.args) == 0 {
		return
	}
	addr := d.args[0]
	if strings.HasPrefix(addr, "unix:") {
		c.warn(d, "listen %s: unix sockets are not supported: skipped", addr)
		return
	}
	parts := []string{addr}
	h2 := false
	for _, p := range d.args[1:] {
		switch {
		case p == "default_server" || p == "default":
			parts = append(parts, "default_server")
		case p == "reuseport" || strings.HasPrefix(p, "backlog=") || p == "proxy_protocol" || p == "ssl":
			parts = append(parts, p)
		case p == "http2":
			h2 = true
		default:
			c.warn(d, "listen %s: parameter %q is not supported: dropped", addr, p)
		}
	}
	if h2 {
		c.listenHTTP2(body, d, slices.Contains(parts, "ssl") || b.sslOn)
	}
	b.list("listen", cty.StringVal(strings.Join(parts, " ")))
}

// errorPage turns "error_page 500 502 =200 /x" into one entry.
func (c *converter) errorPage(b *block, d *directive) {
	if len(d.args) < 2 {
		return
	}
	uri := d.args[len(d.args)-1]
	codes := d.args[:len(d.args)-1]
	if n := len(codes); n > 0 && strings.HasPrefix(codes[n-1], "=") {
		if codes[n-1] == "=" {
			c.warn(d, "error_page with a bare \"=\" is not supported: skipped")
			return
		}
		uri = codes[n-1] + " " + uri
		codes = codes[:n-1]
	}
	if strings.HasPrefix(uri, "@") {
		c.warn(d, "error_page to a named location is not supported: skipped")
		return
	}
	b.entry("error_page", strings.Join(codes, " "), cty.StringVal(uri))
}

func (c *converter) returnDirective(body *hclwrite.Body, d *directive) {
	if len(d.args) == 0 {
		return
	}
	v := strings.Join(d.args, " ")
	if _, err := strconv.Atoi(d.args[0]); err != nil {
		v = "302 " + v // "return URL" is a 302
	}
	body.SetAttributeValue("return", cty.StringVal(v))
}
