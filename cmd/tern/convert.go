package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"tern/conf"
)

// `tern convert nginx.conf > tern.hcl` translates an nginx configuration
// into tern's HCL: every directive tern has under the same name, blocks
// as blocks, repeated directives (listen, add_header, error_page, types)
// gathered into one attribute, the rewrite module's statements in their
// order. It reads the files nginx would read (include, with nginx's glob
// rules), and it never weakens a configuration in silence:
//
//   - a directive that changes what is served or who may see it, and that
//     tern cannot express (proxying, a PCRE-only regular expression, a
//     variable tern lacks, ...), is a loss: it becomes a comment in the
//     output and a line "tern convert: FILE:LINE: ..." on standard error,
//     and convert exits 1 unless run with -lossy (which still lists them);
//   - a directive translated into something equivalent but different in
//     form is reported as a note on standard error;
//   - a directive with no effect on what tern serves (daemon, hash sizes,
//     gzip_vary, ...) becomes a comment saying why, and nothing more.

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
	"client_max_body_size": kString, "charset": kString, "charset_types": kList,
	"source_charset": kString, "override_charset": kBool,
	"etag": kBool, "if_modified_since": kString, "max_ranges": kNumber,
	"gzip_static": kBool, "gzip": kBool, "gzip_types": kList, "gzip_min_length": kNumber,
	"gzip_comp_level": kNumber, "server_name": kList, "root": kString, "alias": kString,
	"index": kList, "autoindex": kBool, "autoindex_format": kString, "try_files": kList,
	"autoindex_exact_size": kBool, "autoindex_localtime": kBool,
	"expires": kJoined, "auth_basic": kString, "auth_basic_user_file": kString, "satisfy": kString,
	"log_not_found": kBool, "limit_rate": kString, "limit_rate_after": kString,
	"limit_req_status": kNumber, "limit_conn_status": kNumber, "limit_req_log_level": kString,
	"limit_conn_log_level": kString, "limit_req_dry_run": kBool, "limit_conn_dry_run": kBool,
	"set_real_ip_from": kList, "real_ip_header": kString, "real_ip_recursive": kBool,
	"secure_link": kString, "secure_link_md5": kString, "secure_link_secret": kString, "valid_referers": kList,
	"absolute_redirect": kBool, "server_name_in_redirect": kBool, "port_in_redirect": kBool,
	"merge_slashes": kBool, "rewrite_log": kBool,
	"keepalive_timeout": kJoined, "keepalive_disable": kList,
	"disable_symlinks": kJoined,
}

// harmless are directives with no effect on what tern serves, or whose
// effect tern always has: a comment says why, and nothing more.
var harmless = map[string]string{
	"daemon":                        "tern's master always runs in the foreground",
	"master_process":                "tern always runs a master",
	"multi_accept":                  "tern accepts until EAGAIN, a bounded number per wake-up",
	"use":                           "tern always uses epoll",
	"worker_priority":               "set the priority of the service instead",
	"timer_resolution":              "tern's loop keeps its own clock",
	"pcre_jit":                      "tern's regular expressions are RE2",
	"worker_aio_requests":           "tern's asynchronous I/O is its thread pool",
	"lock_file":                     "tern's accept lock lives in shared memory",
	"env":                           "tern keeps its environment",
	"server_names_hash_bucket_size": "tern sizes its tables itself",
	"server_names_hash_max_size":    "tern sizes its tables itself",
	"variables_hash_bucket_size":    "tern sizes its tables itself",
	"variables_hash_max_size":       "tern sizes its tables itself",
	"types_hash_bucket_size":        "tern sizes its tables itself",
	"types_hash_max_size":           "tern sizes its tables itself",
	"map_hash_bucket_size":          "tern sizes its tables itself",
	"map_hash_max_size":             "tern sizes its tables itself",
	"open_file_cache_valid":         "tern revalidates cached descriptors every second",
	"open_file_cache_min_uses":      "tern caches a descriptor on its first use",
	"open_file_cache_errors":        "tern does not cache failed lookups",
	"open_file_cache_events":        "tern revalidates cached descriptors every second",
	"output_buffers":                "tern sends files with sendfile or from its small-file cache",
	"postpone_output":               "tern sends a head with its body in one writev",
	"read_ahead":                    "the kernel's readahead applies",
	"send_lowat":                    "tern waits for EPOLLOUT",
	"reset_timedout_connection":     "tern closes timed out connections",
	"lingering_close":               "tern lingers as nginx's default",
	"lingering_time":                "tern lingers as nginx's default",
	"lingering_timeout":             "tern lingers as nginx's default",
	"client_body_buffer_size":       "tern discards request bodies",
	"client_body_temp_path":         "tern discards request bodies",
	"client_body_in_file_only":      "tern discards request bodies",
	"client_body_in_single_buffer":  "tern discards request bodies",
	"proxy_temp_path":               "tern does not proxy",
	"fastcgi_temp_path":             "tern does not proxy",
	"uwsgi_temp_path":               "tern does not proxy",
	"scgi_temp_path":                "tern does not proxy",
	"connection_pool_size":          "tern has no memory pools",
	"request_pool_size":             "tern has no memory pools",
	"msie_padding":                  "tern's error pages are nginx's without the padding",
	"gzip_vary":                     "tern always sends Vary: Accept-Encoding with a response it could compress",
	"gzip_proxied":                  "tern compresses whether a request came through a proxy or not (nginx's \"any\")",
	"gzip_buffers":                  "tern compresses 64 KiB at a time",
	"gzip_http_version":             "tern compresses HTTP/1.1 responses and sends HTTP/1.0 ones whole",
	"chunked_transfer_encoding":     "tern chunks only what it compresses on the fly",
	"log_subrequest":                "tern makes no subrequests",
	"open_log_file_cache":           "tern's log paths have no variables",
	"resolver":                      "tern resolves no names",
	"resolver_timeout":              "tern resolves no names",
	"uninitialized_variable_warn":   "an uninitialized variable is empty",
	"ignore_invalid_headers":        "tern refuses invalid header names",
	"acme_shared_zone":              "tern sizes the memory it shares for certificates and challenges itself",
}

// converter writes HCL and collects what it reports.
type converter struct {
	// losses are what could not be translated and changes what is
	// served or who may see it; notes are equivalent translations worth
	// a look. Both are written to standard error, "FILE:LINE: text".
	losses []string
	notes  []string
	// userVars are the variables the configuration makes (set, map,
	// named groups), for checking the variables of values.
	userVars map[string]bool
	// charset: the configuration sets charset without charset_types, so
	// nginx's default charset_types is written at the http level.
	charset bool
	// builtinMIME is tern's MIME table, to write only the types that
	// differ from it.
	builtinMIME *conf.MIME
	// formats are the log_format names as written in tern (json is
	// renamed; "" for a format left out).
	formats map[string]string
	// ctx is the context being converted: main, events, http, server,
	// location or if.
	ctx string
}

// warn reports a loss: d could not be translated.
func (c *converter) warn(d *directive, format string, args ...any) {
	c.losses = append(c.losses, d.where()+": "+fmt.Sprintf(format, args...))
}

// inform reports a translation that is equivalent but changed in form.
func (c *converter) inform(d *directive, format string, args ...any) {
	c.notes = append(c.notes, d.where()+": note: "+fmt.Sprintf(format, args...))
}

// convertNginx converts the file at path, writing HCL to out and what it
// reports to warn (see convertReport). It returns false when the file
// cannot be read or parsed.
func convertNginx(path string, out, warn io.Writer) bool {
	_, ok := convertReport(path, out, warn)
	return ok
}

// convertReport converts the file at path and returns the number of
// losses; ok is false when the file cannot be read or parsed.
func convertReport(path string, out, warn io.Writer) (losses int, ok bool) {
	dirs, err := parseNginxFile(path)
	if err != nil {
		fmt.Fprintln(warn, "tern convert:", err)
		return 0, false
	}
	c := &converter{userVars: userVariables(dirs), builtinMIME: conf.BuiltinMIME(), formats: map[string]string{}}
	c.charset = usesCharset(dirs)
	f := hclwrite.NewEmptyFile()
	comment(f.Body(), "converted from "+path+" by tern convert")
	c.body(f.Body(), dirs, "main")
	text := hclwrite.Format(f.Bytes())
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	out.Write(text)
	for _, n := range c.notes {
		fmt.Fprintln(warn, "tern convert:", n)
	}
	for _, l := range c.losses {
		fmt.Fprintln(warn, "tern convert:", l)
	}
	return len(c.losses), true
}

// convertMain is "tern convert [-lossy] nginx.conf": the exit status is 1
// when the file cannot be converted, or when something could not be
// translated and -lossy was not given.
func convertMain(args []string, stdout, stderr io.Writer) int {
	lossy := false
	if len(args) > 0 && (args[0] == "-lossy" || args[0] == "--lossy") {
		lossy, args = true, args[1:]
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: tern convert [-lossy] nginx.conf > tern.hcl")
		return 1
	}
	losses, ok := convertReport(args[0], stdout, stderr)
	switch {
	case !ok:
		return 1
	case losses > 0 && !lossy:
		fmt.Fprintf(stderr, "tern convert: %d directive(s) above could not be translated: the output leaves them out, "+
			"so it does not do all the nginx configuration does; review them, or accept that with tern convert -lossy\n", losses)
		return 1
	}
	return 0
}

// block collects a block's gathered attributes until they are written.
type block struct {
	seen  map[string]bool
	lists map[string][]cty.Value
	maps  map[string]map[string]cty.Value
	// ordered are maps whose entries keep their order (add_header).
	ordered map[string][]hclwrite.ObjectAttrTokens
	order   []string
	// access are the allow and deny rules, in order (convert_access.go).
	access []accessRule
	// sslOn is nginx's old "ssl on": every listen becomes a TLS one.
	sslOn bool
	// limitReq are the limit_req objects, in order (convert_limits.go).
	limitReq []cty.Value
	// stmts are the rewrite module's statements, in order
	// (convert_rewrite.go).
	stmts []stmt
	// accessLogs are the access_log destinations, in order.
	accessLogs []cty.Value
	accessOff  bool
}

func newBlock() *block {
	return &block{seen: map[string]bool{}, lists: map[string][]cty.Value{}, maps: map[string]map[string]cty.Value{},
		ordered: map[string][]hclwrite.ObjectAttrTokens{}}
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

// orderedEntry adds key = v to the object name, kept in order.
func (b *block) orderedEntry(name, key string, v hclwrite.Tokens) {
	if _, ok := b.ordered[name]; !ok {
		b.order = append(b.order, name)
	}
	b.ordered[name] = append(b.ordered[name], hclwrite.ObjectAttrTokens{
		Name: hclwrite.TokensForValue(cty.StringVal(key)), Value: v})
}

// body converts the directives of one context into body.
func (c *converter) body(body *hclwrite.Body, dirs []*directive, ctx string) {
	outer := c.ctx
	c.ctx = ctx
	defer func() { c.ctx = outer }()
	b := newBlock()
	var blocks []*directive
	for _, d := range dirs {
		switch {
		case d.name == "events" && ctx == "main":
			c.body(body, d.block, "events")
		case d.name == "http" || d.name == "server" || d.name == "location":
			blocks = append(blocks, d)
		case d.name == "acme_issuer":
			c.acmeIssuer(body, d)
		case d.name == "if":
			b.stmts = append(b.stmts, stmt{kind: "if", d: d})
		case d.name == "map" && ctx == "http":
			c.mapBlock(body, d)
		case d.name == "charset_map" && ctx == "http":
			c.charsetMap(body, d)
		case d.block != nil && d.name != "types":
			c.unsupported(body, d)
		default:
			c.directive(body, b, d)
		}
	}
	if ctx == "http" && c.charset && !b.seen["charset_types"] && b.lists["charset_types"] == nil {
		// nginx's default charset_types, which tern's default (every
		// text/* type) is not.
		for _, t := range nginxCharsetTypes {
			b.list("charset_types", cty.StringVal(t))
		}
	}
	if b.sslOn {
		b.sslListens()
	}
	for _, name := range b.order {
		switch {
		case b.lists[name] != nil:
			body.SetAttributeValue(name, cty.ListVal(b.lists[name]))
		case b.ordered[name] != nil:
			body.SetAttributeRaw(name, hclwrite.TokensForObject(b.ordered[name]))
		default:
			body.SetAttributeValue(name, cty.ObjectVal(b.maps[name]))
		}
	}
	c.writeAccessLogs(body, b)
	c.writeAccess(body, b.access)
	writeLimitReq(body, b.limitReq)
	c.writeStmts(body, b.stmts, ctx == "if")
	for _, d := range blocks {
		c.nested(body, d)
	}
}

// nginxCharsetTypes is nginx's default charset_types.
var nginxCharsetTypes = []string{"text/html", "text/xml", "text/plain", "text/vnd.wap.wml",
	"application/javascript", "application/rss+xml"}

// nested writes an http, server or location block.
func (c *converter) nested(body *hclwrite.Body, d *directive) {
	var labels []string
	if d.name == "location" {
		label, ok := c.locationLabel(d)
		if !ok {
			comment(body, "nginx: "+line(d)+" (not converted)")
			return
		}
		labels = []string{label}
	}
	body.AppendNewline()
	nb := body.AppendNewBlock(d.name, labels)
	c.body(nb.Body(), d.block, d.name)
}

// locationLabel is a location's modifier and path as tern's label; a
// regular expression is translated to RE2 where it can be.
func (c *converter) locationLabel(d *directive) (string, bool) {
	if len(d.args) == 0 || strings.HasPrefix(d.args[0], "@") {
		c.warn(d, "location %s: named locations are not supported", strings.Join(d.args, " "))
		return "", false
	}
	mod, path := "", d.args[len(d.args)-1]
	if len(d.args) == 2 {
		mod = d.args[0]
	} else if m, p, ok := splitModifier(path); ok {
		mod, path = m, p
	}
	if mod == "~" || mod == "~*" {
		re, ok := c.regex(d, path, mod == "~*")
		if !ok {
			return "", false
		}
		path = re
	}
	if mod == "" {
		return path, true
	}
	return mod + " " + path, true
}

// splitModifier splits "=/x", "~*\.png$" written without a space.
func splitModifier(s string) (string, string, bool) {
	for _, m := range []string{"^~", "~*", "=", "~"} {
		if rest, ok := strings.CutPrefix(s, m); ok && rest != "" {
			return m, rest, true
		}
	}
	return "", s, false
}

// directive converts one directive without a block.
func (c *converter) directive(body *hclwrite.Body, b *block, d *directive) {
	if why, ok := harmless[d.name]; ok {
		comment(body, fmt.Sprintf("nginx: %s (not needed: %s)", line(d), why))
		return
	}
	if d.name == "error_log" && c.ctx != "main" {
		// The error log of the requests of this block, as nginx's.
		c.errorLog(body, d)
		return
	}
	if c.acmeSSLVariable(body, d) {
		// ssl_certificate $acme_certificate: tern's acme_certificate
		// serves it.
		return
	}
	if !c.valuesKnown(d) {
		comment(body, "nginx: "+line(d)+" (not converted: a variable tern does not have)")
		return
	}
	where := c.ctx
	if where == "events" {
		where = "main"
	}
	if known, ok := conf.AllowedIn(d.name, where); known && !ok {
		c.warn(d, "%s: tern does not allow it in %s; left as a comment", d.name, c.ctxName())
		comment(body, "nginx: "+line(d)+" (not converted: not allowed here by tern)")
		return
	}
	if k, ok := plain[d.name]; ok {
		c.plain(body, b, d, d.name, k)
		return
	}
	if c.special(body, b, d) || c.statement(b, d) || c.ssl(body, b, d) || c.http2(body, b, d) {
		return
	}
	c.unsupported(body, d)
}

// ctxName names the context being converted in a message.
func (c *converter) ctxName() string {
	switch c.ctx {
	case "main":
		return "the main context"
	case "if":
		return "an if block"
	}
	return "a " + c.ctx + " block"
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
	parts := append([]string{d.name}, d.args...)
	s := strings.Join(parts, " ")
	if d.block != nil {
		s += " { ... }"
	}
	return s
}
