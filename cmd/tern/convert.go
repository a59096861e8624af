package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// `tern convert nginx.conf > tern.hcl` translates an nginx configuration
// into tern's HCL: every directive tern has under the same name, blocks
// as blocks, repeated directives (listen, add_header, error_page, types)
// gathered into one attribute. What tern does not do (proxying, rewrite,
// HTTP/2, ...) becomes a comment in the output and a warning on stderr, so
// nothing is dropped silently.

// kind is how an nginx value becomes an HCL value.
type kind int8

const (
	kString   kind = iota // first argument, as a string
	kBool                 // on | off
	kNumber               // an integer
	kList                 // every argument, a list of strings (accumulates)
	kJoined               // every argument joined by spaces, a string
	kDuration             // nginx units are tern's: kept as a string
)

// plain maps nginx directives that tern spells the same way.
var plain = map[string]kind{
	"worker_rlimit_nofile": kNumber, "worker_shutdown_timeout": kDuration, "pid": kString, "user": kJoined,
	"worker_connections": kNumber, "accept_mutex": kBool, "accept_mutex_delay": kDuration,
	"default_type": kString, "sendfile": kBool, "sendfile_max_chunk": kString,
	"tcp_nopush": kBool, "tcp_nodelay": kBool, "keepalive_requests": kNumber, "max_headers": kNumber, "keepalive_time": kDuration,
	"client_header_timeout": kDuration, "client_body_timeout": kDuration, "send_timeout": kDuration,
	"client_header_buffer_size": kString, "large_client_header_buffers": kJoined,
	"client_max_body_size": kString, "server_tokens": kBool, "charset": kString,
	"etag": kBool, "if_modified_since": kString, "max_ranges": kNumber,
	"gzip_static": kBool, "gzip": kBool, "gzip_types": kList, "gzip_min_length": kNumber,
	"gzip_comp_level": kNumber, "server_name": kList, "root": kString, "alias": kString,
	"index": kList, "autoindex": kBool, "autoindex_format": kString, "try_files": kList,
	"expires": kJoined, "auth_basic": kString, "auth_basic_user_file": kString, "satisfy": kString,
	"log_not_found": kBool, "limit_rate": kString, "limit_rate_after": kString,
	"limit_req_status": kNumber, "limit_conn_status": kNumber, "limit_req_log_level": kString,
	"limit_conn_log_level": kString, "limit_req_dry_run": kBool, "limit_conn_dry_run": kBool,
	"set_real_ip_from": kList, "real_ip_header": kString, "real_ip_recursive": kBool,
	"secure_link": kString, "secure_link_md5": kString, "secure_link_secret": kString, "valid_referers": kList,
}

// ignored are directives with no meaning for tern, dropped with a note.
var ignored = map[string]string{
	"daemon":           "tern's master always runs in the foreground",
	"master_process":   "tern always runs a master",
	"multi_accept":     "tern always accepts until EAGAIN",
	"use":              "tern always uses epoll",
	"worker_priority":  "set the priority of the service instead",
	"#mime.types":      "tern has nginx's MIME table built in",
	"log_format":       "tern's access log formats are json and combined",
	"acme_shared_zone": "tern sizes the memory it shares for certificates and challenges itself",
}

// converter writes HCL and collects warnings.
type converter struct {
	warnings []string
}

func (c *converter) warn(d *directive, format string, args ...any) {
	c.warnings = append(c.warnings, d.where()+": "+fmt.Sprintf(format, args...))
}

// convertNginx converts the file at path, writing HCL to out and warnings
// to warn. It returns false when the file cannot be parsed.
func convertNginx(path string, out, warn io.Writer) bool {
	dirs, err := parseNginxFile(path)
	if err != nil {
		fmt.Fprintln(warn, "tern convert:", err)
		return false
	}
	c := &converter{}
	f := hclwrite.NewEmptyFile()
	comment(f.Body(), "converted from "+path+" by tern convert")
	c.body(f.Body(), dirs, "main")
	text := hclwrite.Format(f.Bytes())
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	out.Write(text)
	for _, w := range c.warnings {
		fmt.Fprintln(warn, "tern convert:", w)
	}
	return true
}

// block collects a block's gathered attributes until they are written.
type block struct {
	seen  map[string]bool
	lists map[string][]cty.Value
	maps  map[string]map[string]cty.Value
	order []string
	// access are the allow and deny rules, in order (convert_access.go).
	access []accessRule
	// sslOn is nginx's old "ssl on": every listen becomes a TLS one.
	sslOn bool
	// limitReq are the limit_req objects, in order (convert_limits.go).
	limitReq []cty.Value
}

func (b *block) list(name string, vals ...cty.Value) {
	if _, ok := b.lists[name]; !ok {
		b.order = append(b.order, name)
	}
	b.lists[name] = append(b.lists[name], vals...)
}

func (b *block) entry(name, key string, v cty.Value) {
	if b.maps[name] == nil {
		b.maps[name] = map[string]cty.Value{}
		b.order = append(b.order, name)
	}
	b.maps[name][key] = v
}

// body converts the directives of one context into body.
func (c *converter) body(body *hclwrite.Body, dirs []*directive, ctx string) {
	b := &block{seen: map[string]bool{}, lists: map[string][]cty.Value{}, maps: map[string]map[string]cty.Value{}}
	var blocks []*directive
	for _, d := range dirs {
		switch {
		case d.name == "events" && ctx == "main":
			c.body(body, d.block, "events")
		case d.name == "http" || d.name == "server" || d.name == "location":
			blocks = append(blocks, d)
		case d.name == "acme_issuer":
			c.acmeIssuer(body, d)
		case d.block != nil && d.name != "types":
			c.unsupported(body, d)
		default:
			c.directive(body, b, d)
		}
	}
	if b.sslOn {
		b.sslListens()
	}
	for _, name := range b.order {
		if vals, ok := b.lists[name]; ok {
			body.SetAttributeValue(name, cty.ListVal(vals))
		} else {
			body.SetAttributeValue(name, cty.ObjectVal(b.maps[name]))
		}
	}
	c.writeAccess(body, b.access)
	writeLimitReq(body, b.limitReq)
	for _, d := range blocks {
		c.nested(body, d)
	}
}

// nested writes an http, server or location block.
func (c *converter) nested(body *hclwrite.Body, d *directive) {
	var labels []string
	if d.name == "location" {
		if len(d.args) == 0 || strings.HasPrefix(d.args[0], "@") {
			c.unsupported(body, d)
			return
		}
		labels = []string{strings.Join(d.args, " ")}
	}
	body.AppendNewline()
	nb := body.AppendNewBlock(d.name, labels)
	c.body(nb.Body(), d.block, d.name)
}

// directive converts one directive without a block.
func (c *converter) directive(body *hclwrite.Body, b *block, d *directive) {
	if why, ok := ignored[d.name]; ok {
		if d.name != "#mime.types" {
			c.warn(d, "%s not converted: %s", d.name, why)
		}
		comment(body, fmt.Sprintf("nginx: %s (not converted: %s)", line(d), why))
		return
	}
	if k, ok := plain[d.name]; ok {
		c.plain(body, b, d, d.name, k)
		return
	}
	if c.special(body, b, d) || c.ssl(body, b, d) || c.http2(body, b, d) {
		return
	}
	c.unsupported(body, d)
}

func (c *converter) unsupported(body *hclwrite.Body, d *directive) {
	c.warn(d, "%s is not supported by tern; left as a comment", d.name)
	comment(body, "nginx: "+line(d)+" (not supported by tern)")
}

// plain sets name from d's arguments converted as k.
func (c *converter) plain(body *hclwrite.Body, b *block, d *directive, name string, k kind) {
	if len(d.args) == 0 {
		c.warn(d, "%s without a value: skipped", d.name)
		return
	}
	if k == kList {
		for _, a := range d.args {
			b.list(name, cty.StringVal(a))
		}
		return
	}
	if b.seen[name] {
		c.warn(d, "%s is duplicate: the first one is kept, as nginx refuses the second", d.name)
		return
	}
	b.seen[name] = true
	switch k {
	case kBool:
		switch d.args[0] {
		case "on":
			body.SetAttributeValue(name, cty.True)
		case "off":
			body.SetAttributeValue(name, cty.False)
		default:
			c.warn(d, "%s %q is not on or off: skipped", d.name, d.args[0])
		}
	case kNumber:
		n, err := strconv.ParseInt(d.args[0], 10, 64)
		if err != nil {
			c.warn(d, "%s %q is not a number: skipped", d.name, d.args[0])
			return
		}
		body.SetAttributeValue(name, cty.NumberIntVal(n))
	case kJoined:
		body.SetAttributeValue(name, cty.StringVal(strings.Join(d.args, " ")))
	default:
		body.SetAttributeValue(name, cty.StringVal(d.args[0]))
	}
}

func comment(body *hclwrite.Body, text string) {
	body.AppendUnstructuredTokens(hclwrite.Tokens{
		{Type: hclsyntaxComment, Bytes: []byte("# " + strings.ReplaceAll(text, "\n", " ") + "\n")},
	})
}

// line is a directive as it was written, for comments.
func line(d *directive) string {
	name := d.name
	if name == "#mime.types" {
		name = "include"
	}
	parts := append([]string{name}, d.args...)
	s := strings.Join(parts, " ")
	if d.block != nil {
		s += " { ... }"
	}
	return s
}
