package conf

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Unsupported maps a directive name to the reason tern does not support it
// yet. A directive or block of that name anywhere in a configuration is an
// error "NAME is not supported yet: REASON" at its line, even when conf
// knows how to decode it: a directive is listed here until the code that
// honours it has landed, so that no configuration silently does nothing.
// Loads only read it; change it before the first Load (an init function).
var Unsupported = map[string]string{}

// context is a set of places a directive may appear in.
type context uint16

const (
	inMain context = 1 << iota
	inThreadPool
	inHTTP
	inServer
	inLocation
	inIf
	inReqZone
	inConnZone
	inACMEIssuer

	// inSettings is where the directives of Settings may appear: every
	// http-level directive may also appear in server and location
	// (docs/configuration.md#contexts-and-inheritance).
	inSettings = inHTTP | inServer | inLocation
)

// contextNames name the contexts in messages, in the order of the bits.
var contextNames = [...]string{"the main context", "thread_pool", "http", "server", "location", "if", "limit_req_zone", "limit_conn_zone", "acme_issuer"}

// String lists the contexts in c: "http, server, location".
func (c context) String() string {
	var names []string
	for i, name := range contextNames {
		if c&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// target is what a directive decodes into: the fields that the context it
// appears in has; the others are nil.
type target struct {
	cfg  *Config
	pool *ThreadPool
	http *httpDraft
	srv  *serverDraft
	set  *Settings
	// script collects a server's, location's or if block's statements.
	script *script
	zone   *LimitZone
	issuer *ACMEIssuer
	// ownAccess is set once the body decoded has an allow or deny of its
	// own: the first one replaces the rules the level inherits.
	ownAccess bool
	// linkSecret and linkMD5: the body has secure_link_secret, or
	// secure_link or secure_link_md5 (links.go).
	linkSecret, linkMD5 bool
}

// directive is one attribute of the configuration language: its name,
// where it may appear, how its value is decoded and, for the Settings
// directives, how tern -T writes it back.
type directive struct {
	name   string
	ctx    context
	decode func(d *decoder, a *hcl.Attribute, t *target)
	// show returns the value in HCL syntax, for WriteHCL; nil for
	// directives that WriteHCL writes by hand.
	show func(s *Settings) string
	// showPairs, for a directive whose value WriteHCL writes as several
	// attributes (allow and deny runs), returns them in order.
	showPairs func(s *Settings) []attrPair
}

// attrPair is one attribute WriteHCL writes: its name and HCL value.
type attrPair struct {
	name, value string
}

// blockSpec is one block type of the language.
type blockSpec struct {
	name   string
	labels []string
	ctx    context
}

var blockSpecs = []blockSpec{
	{"thread_pool", []string{"name"}, inMain},
	{"http", nil, inMain},
	{"server", nil, inHTTP},
	{"location", []string{"match"}, inServer | inLocation},
	{"map", []string{"source", "variable"}, inHTTP},
	{"charset_map", []string{"from", "to"}, inHTTP},
	{"if", []string{"condition"}, inServer | inLocation},
	{"log_format", []string{"name"}, inHTTP},
	{"limit_req_zone", []string{"name"}, inHTTP},
	{"limit_conn_zone", []string{"name"}, inHTTP},
	{"acme_issuer", []string{"name"}, inMain | inHTTP},
}

// ifDirectives may also appear in an if block: the statements, and the
// settings nginx allows there (NGX_HTTP_LIF_CONF) that tern has.
var ifDirectives = []string{
	"set", "rewrite", "return", "break", "rewrite_log",
	"root", "add_header", "expires", "error_page", "gzip", "sendfile", "charset",
	"source_charset", "override_charset",
	"access_log", "limit_rate", "limit_rate_after",
}

// The directive table, indexed by name, and the schema of each context,
// built once from directiveTable.
var (
	directiveByName map[string]*directive
	schemas         map[context]*hcl.BodySchema
)

func init() {
	directiveByName = make(map[string]*directive, len(directiveTable))
	for i := range directiveTable {
		dir := &directiveTable[i]
		if directiveByName[dir.name] != nil {
			panic("conf: directive " + dir.name + " defined twice")
		}
		directiveByName[dir.name] = dir
	}
	schemas = make(map[context]*hcl.BodySchema)
	for _, dir := range directiveTable {
		if slices.Contains(ifDirectives, dir.name) {
			directiveByName[dir.name].ctx |= inIf
		}
	}
	for _, ctx := range []context{inMain, inThreadPool, inHTTP, inServer, inLocation, inIf, inReqZone, inConnZone, inACMEIssuer} {
		s := &hcl.BodySchema{}
		for _, dir := range directiveTable {
			if dir.ctx&ctx != 0 {
				s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: dir.name})
			}
		}
		for _, b := range blockSpecs {
			if b.ctx&ctx != 0 {
				s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.name, LabelNames: b.labels})
			}
		}
		schemas[ctx] = s
	}
}

// content returns what body holds for the context ctx. Unsupported
// directives and known ones out of place are reported with a message of
// their own first, and whatever is left unknown is reported by HCL
// (with a "did you mean" suggestion).
func (d *decoder) content(body hcl.Body, ctx context) *hcl.BodyContent {
	content, diags := d.screen(body, ctx).Content(schemas[ctx])
	d.diags = append(d.diags, diags...)
	return content
}

// screen returns body without the attributes and blocks that refuse
// reports. Bodies are native HCL syntax (conf parses nothing else), whose
// items can be listed before a schema is applied.
func (d *decoder) screen(body hcl.Body, ctx context) hcl.Body {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return body
	}
	kept := &hclsyntax.Body{
		Attributes: make(hclsyntax.Attributes, len(sb.Attributes)),
		SrcRange:   sb.SrcRange,
		EndRange:   sb.EndRange,
	}
	for name, a := range sb.Attributes {
		if !d.refuse(name, ctx, a.NameRange, false) {
			kept.Attributes[name] = a
		}
	}
	for _, b := range sb.Blocks {
		if !d.refuse(b.Type, ctx, b.TypeRange, true) {
			kept.Blocks = append(kept.Blocks, b)
		}
	}
	return kept
}

// refuse reports name if it is unsupported, or known but not allowed in
// ctx, and says whether it did.
func (d *decoder) refuse(name string, ctx context, rng hcl.Range, block bool) bool {
	if reason, ok := Unsupported[name]; ok {
		d.errorf(rng, fmt.Sprintf("%s is not supported yet: %s", name, reason), "")
		return true
	}
	var allowed context
	if block {
		i := slices.IndexFunc(blockSpecs, func(b blockSpec) bool { return b.name == name })
		if i < 0 {
			return false
		}
		allowed = blockSpecs[i].ctx
	} else {
		dir := directiveByName[name]
		if dir == nil {
			return false
		}
		allowed = dir.ctx
	}
	switch {
	case allowed&ctx != 0:
		return false
	case block:
		d.errorf(rng, fmt.Sprintf("A %s block is not allowed here", name),
			"%s blocks belong in %s, not in %s", name, allowed, contextNames[ctxIndex(ctx)])
	default:
		d.errorf(rng, fmt.Sprintf("%s is not allowed here", name),
			"%s may appear in %s, not in %s", name, allowed, contextNames[ctxIndex(ctx)])
	}
	return true
}

func ctxIndex(c context) int {
	for i := range contextNames {
		if c == 1<<i {
			return i
		}
	}
	return 0
}

// apply decodes attrs into t in the order they are written, so that
// diagnostics and any order-dependent checks are deterministic.
func (d *decoder) apply(attrs hcl.Attributes, t *target) {
	for _, a := range sortedAttrs(attrs) {
		directiveByName[a.Name].decode(d, a, t)
	}
}

// sortedAttrs returns attrs in source order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	list := slices.Collect(maps.Values(attrs))
	slices.SortFunc(list, func(a, b *hcl.Attribute) int {
		return cmp.Or(cmp.Compare(a.Range.Filename, b.Range.Filename), cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte))
	})
	return list
}

// AllowedIn reports whether the directive name (an attribute, or a
// block such as map or location) may appear in a context: "main", "http",
// "server", "location" or "if" (where). known is false for a name tern does not
// have. tern convert uses it to tell a directive it may write from one
// that nginx allows there and tern does not.
func AllowedIn(name, where string) (known, ok bool) {
	var ctx context
	switch where {
	case "main":
		ctx = inMain
	case "http":
		ctx = inHTTP
	case "server":
		ctx = inServer
	case "location":
		ctx = inLocation
	case "if":
		ctx = inIf
	default:
		return false, false
	}
	if dir := directiveByName[name]; dir != nil {
		return true, dir.ctx&ctx != 0
	}
	for _, b := range blockSpecs {
		if b.name == name {
			return true, b.ctx&ctx != 0
		}
	}
	return false, false
}
