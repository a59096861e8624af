package conf

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// maxIncludeDepth bounds include nesting. A file that includes itself is
// caught before that, but the bound keeps a deep chain of distinct files,
// each matching several others by a glob, from multiplying without end.
const maxIncludeDepth = 8

// httpDraft collects the http level while the http block and the files it
// includes are read.
type httpDraft struct {
	mime *MIME
	set  Settings
	// setAt is where each directive was set, across the http block and
	// its included files: setting one twice is an error.
	setAt map[string]hcl.Range
	// servers are the server blocks in the order nginx would read them,
	// an included file's in place of its include.
	servers []*hcl.Block
	// maps are the map blocks decoded, and where each variable's is.
	maps  []*Map
	mapAt map[string]hcl.Range
	// charsetMaps are the charset_map blocks, in order.
	charsetMaps []*CharsetMap
	// zones are the limit_req_zone and limit_conn_zone blocks, zoneAt
	// where each was defined.
	zones  []*LimitZone
	zoneAt map[string]hcl.Range
}

// decodeHTTP decodes the http block with its included files, then the
// servers, which inherit the http-level settings.
func (d *decoder) decodeHTTP(body hcl.Body) *HTTP {
	h := &httpDraft{mime: newMIME(), set: defaultSettings(d.prefix), setAt: make(map[string]hcl.Range),
		mapAt: make(map[string]hcl.Range), zoneAt: make(map[string]hcl.Range)}
	d.http = h
	d.httpBody(body, h, 0)
	out := &HTTP{MIME: h.mime, settings: &h.set, Zones: h.zones}
	drafts := make([]*serverDraft, 0, len(h.servers))
	for _, b := range h.servers {
		sd := d.decodeServer(b, &h.set)
		drafts = append(drafts, sd)
		out.Servers = append(out.Servers, sd.srv)
	}
	out.CharsetMaps = h.charsetMaps
	d.resolveRecodes(h.charsetMaps, out.Servers)
	out.Addrs = d.buildAddrs(drafts)
	d.loadACME(h, out.Addrs, drafts)
	d.loadSSL(h, drafts)
	d.resolveVars()
	d.resolveFormats(h, out)
	out.Vars = make([]UserVar, len(d.vars.names))
	for i, name := range d.vars.names {
		out.Vars[i].Name = name
	}
	for _, m := range h.maps {
		out.Vars[m.Var].Map = m
	}
	return out
}

// httpBody decodes one piece of http-level content: the http block or an
// included file. Included files are read first, so that the types of this
// piece override theirs ("later wins": nginx reads an include where it
// stands, and mime.types is included before local types).
func (d *decoder) httpBody(body hcl.Body, h *httpDraft, depth int) {
	content := d.content(body, inHTTP)
	inc := content.Attributes["include"]
	var servers []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "server":
			servers = append(servers, b)
		case "map":
			d.decodeMap(b, h)
		case "charset_map":
			d.decodeCharsetMap(b, h)
		case "log_format":
			d.decodeLogFormat(b)
		case "acme_issuer":
			d.acmeIssuer(b)
		case "limit_req_zone", "limit_conn_zone":
			// Before any attribute: limit_req and limit_conn name them.
			d.zoneBlock(b, h)
		}
	}
	// Servers written before the include come first, then the included
	// ones, then the rest.
	for len(servers) > 0 && inc != nil && servers[0].DefRange.Start.Byte < inc.Range.Start.Byte {
		h.servers, servers = append(h.servers, servers[0]), servers[1:]
	}
	if inc != nil {
		d.include(inc, h, depth)
	}
	h.servers = append(h.servers, servers...)

	for _, a := range sortedAttrs(content.Attributes) {
		if a.Name == "include" {
			continue
		}
		if prev, dup := h.setAt[a.Name]; dup && a.Name != "types" {
			d.errorf(a.NameRange, "Duplicate "+a.Name, "%s is already set at %s", a.Name, at(prev))
			continue
		}
		h.setAt[a.Name] = a.NameRange
		directiveByName[a.Name].decode(d, a, &target{set: &h.set, http: h})
	}
}

// include reads the files an include attribute names, in order.
func (d *decoder) include(a *hcl.Attribute, h *httpDraft, depth int) {
	patterns, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if depth >= maxIncludeDepth {
		d.invalid(a.Name, a.Expr.Range(), "includes nest more than %d deep; does a file include itself?", maxIncludeDepth)
		return
	}
	for i, pat := range patterns {
		for _, f := range d.expand(pat, ranges[i]) {
			if file := d.parse(f, ranges[i].Ptr()); file != nil {
				d.reading = append(d.reading, f)
				d.httpBody(file.Body, h, depth+1)
				d.reading = d.reading[:len(d.reading)-1]
			}
		}
	}
}

// expand returns the files an include entry names, written at rng: the
// file itself, or a glob pattern's matches, sorted. A pattern that
// matches nothing is fine, a missing plain file is not (parse reports
// it), as nginx. A file already being read is refused: includes must not
// loop.
func (d *decoder) expand(pat string, rng hcl.Range) []string {
	if pat == "" {
		d.invalid("include", rng, "a file name must not be empty")
		return nil
	}
	pat = d.resolve(pat)
	files := []string{pat}
	if strings.ContainsAny(pat, `*?[\`) {
		var err error
		if files, err = d.glob(pat); err != nil {
			d.invalid("include", rng, "bad pattern %q: %v", pat, err)
			return nil
		}
	}
	out := files[:0]
	for _, f := range files {
		if slices.Contains(d.reading, f) {
			d.invalid("include", rng, "%s is already being read (%s): includes must not loop", f, strings.Join(d.reading, " → "))
			continue
		}
		out = append(out, f)
	}
	return out
}

// decodeTypes reads { "TYPE" = ["ext", ...] } into the MIME table; within
// one attribute and across attributes, a later entry for an extension
// wins.
func decodeTypes(d *decoder, a *hcl.Attribute, t *target) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	for _, kv := range pairs {
		var typ string
		if !d.decode(a.Name, kv.Key, nil, &typ) {
			continue
		}
		if !validMediaType(typ) {
			d.invalid(a.Name, kv.Key.Range(), "%q is not a media type such as \"text/html\"", typ)
			continue
		}
		exts, ranges, ok := d.stringList(a.Name, kv.Value, nil)
		if !ok {
			continue
		}
		for i, ext := range exts {
			ext = strings.ToLower(strings.TrimPrefix(ext, "."))
			if ext == "" || len(ext) > maxExtLen || strings.ContainsAny(ext, "./ \t") {
				d.invalid(a.Name, ranges[i], "%q is not a file extension such as \"html\" (at most %d bytes, no dots)", exts[i], maxExtLen)
				continue
			}
			t.http.mime.types[ext] = typ
		}
	}
}
