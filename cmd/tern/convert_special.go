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
	case "aio":
		c.aio(body, d)
	case "acme_certificate":
		c.acmeCertificate(body, d)
	case "access_log":
		c.accessLog(body, b, d)
	case "log_format":
		c.logFormat(body, d)
	case "server_tokens":
		c.serverTokens(body, b, d)
	case "try_files":
		if len(d.args) > 0 && strings.HasPrefix(d.args[len(d.args)-1], "@") {
			c.warn(d, "try_files %s: named locations are not supported; left as a comment", d.args[len(d.args)-1])
			comment(body, "nginx: "+line(d)+" (not converted)")
			return true
		}
		c.plain(body, b, d, "try_files", kList)
	case "open_file_cache":
		c.openFileCache(body, d)
	case "listen":
		c.listen(body, b, d)
	case "error_page":
		c.errorPage(b, d)
	case "add_header":
		c.addHeader(b, d)
	case "types":
		c.types(b, d)
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
		case p == "reuseport" || p == "proxy_protocol" || p == "ssl" ||
			strings.HasPrefix(p, "backlog=") || strings.HasPrefix(p, "sndbuf=") || strings.HasPrefix(p, "rcvbuf="):
			parts = append(parts, p)
		case p == "http2":
			h2 = true
		case listenTuning(p):
			c.inform(d, "listen %s: %s is dropped: tern sets its sockets itself", addr, p)
		default:
			c.warn(d, "listen %s: the parameter %q is not one tern has: dropped", addr, p)
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
	if strings.HasPrefix(d.args[len(d.args)-1], "@") {
		c.warn(d, "error_page to the named location %s is not supported: skipped", d.args[len(d.args)-1])
		return
	}
	if v := c.unknownVariable(uri); v != "" {
		c.warn(d, "error_page: the variable $%s is not one tern has: skipped", v)
		return
	}
	b.entry("error_page", strings.Join(codes, " "), cty.StringVal(uri))
}

// listenTuning are listen's parameters that tune a socket without
// changing what it serves.
func listenTuning(p string) bool {
	for _, t := range []string{"deferred", "fastopen=", "so_keepalive=", "accept_filter=", "setfib=", "bind", "ipv6only=on"} {
		if p == t || strings.HasSuffix(t, "=") && strings.HasPrefix(p, t) {
			return true
		}
	}
	return false
}

// serverTokens converts on, off and build (tern's version has no build
// name: on); a string (nginx Plus) is a loss.
func (c *converter) serverTokens(body *hclwrite.Body, b *block, d *directive) {
	if len(d.args) == 1 && d.args[0] == "build" {
		c.inform(d, "server_tokens build: tern's version has no build name: on")
		d = &directive{name: d.name, args: []string{"on"}, file: d.file, line: d.line}
	}
	if len(d.args) != 1 || d.args[0] != "on" && d.args[0] != "off" {
		c.warn(d, "server_tokens %s: tern has on and off: skipped", strings.Join(d.args, " "))
		return
	}
	c.plain(body, b, d, "server_tokens", kBool)
}

// addHeader converts "add_header NAME VALUE [always]": the value, or an
// object with always, in the order written.
func (c *converter) addHeader(b *block, d *directive) {
	if len(d.args) < 2 || len(d.args) > 3 || len(d.args) == 3 && d.args[2] != "always" {
		c.warn(d, "add_header wants a name, a value and \"always\": skipped")
		return
	}
	for _, a := range b.ordered["add_header"] {
		if strings.EqualFold(string(a.Name.Bytes()), string(hclwrite.TokensForValue(cty.StringVal(d.args[0])).Bytes())) {
			c.warn(d, "add_header %s is given twice: tern sends a header once per add_header name: skipped", d.args[0])
			return
		}
	}
	v := cty.StringVal(d.args[1])
	if len(d.args) == 3 {
		v = cty.ObjectVal(map[string]cty.Value{"value": v, "always": cty.True})
	}
	b.orderedEntry("add_header", d.args[0], hclwrite.TokensForValue(v))
}

// types converts a types block: the entries that differ from tern's
// built-in table, which tern's types adds to. nginx's types replaces
// the table in effect, so an extension that tern knows and the block
// does not keeps tern's type (nginx would send default_type).
func (c *converter) types(b *block, d *directive) {
	for _, t := range d.block {
		var exts []cty.Value
		for _, e := range t.args {
			if got, ok := c.builtinMIME.Lookup([]byte(e)); ok && got == t.name {
				continue
			}
			exts = append(exts, cty.StringVal(e))
		}
		if len(exts) == 0 {
			continue
		}
		if old, ok := b.maps["types"][t.name]; ok {
			exts = append(old.AsValueSlice(), exts...)
		}
		b.entry("types", t.name, cty.ListVal(exts))
	}
}
