package conf

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// defaultGzipTypes is gzip_types when unset: the text-like types
// (docs/reference.md#gzip_types). nginx's default is text/html alone; these are the
// types worth compressing on a static site.
var defaultGzipTypes = []string{"text/html", "text/css", "application/javascript", "application/json", "image/svg+xml", "text/plain"}

// defaultOpenFileCacheInactive is open_file_cache's inactive when not
// given, as nginx.
const defaultOpenFileCacheInactive = 60 * time.Second

// defaultSettings are the http-level Settings before the configuration
// says anything (docs/reference.md and the field docs of Settings).
func defaultSettings(prefix string) Settings {
	return Settings{
		Root:                      filepath.Join(prefix, "html"),
		Index:                     []Template{mustTemplate("index.html")},
		AutoindexFormat:           "html",
		AutoindexExactSize:        true,
		DefaultType:               "application/octet-stream",
		Sendfile:                  true,
		SendfileMaxChunk:          256 << 10,
		AIO:                       AIO{Mode: AIOThreads, Pool: defaultPool},
		TCPNopush:                 true,
		TCPNodelay:                true,
		KeepaliveTimeout:          75 * time.Second,
		KeepaliveRequests:         1000,
		KeepaliveTime:             time.Hour,
		KeepaliveDisable:          KeepaliveDisableMSIE6,
		MaxHeaders:                1000,
		ClientHeaderTimeout:       60 * time.Second,
		ClientBodyTimeout:         60 * time.Second,
		SendTimeout:               60 * time.Second,
		ClientHeaderBufferSize:    1 << 10,
		LargeClientHeaderBuffers:  Buffers{Num: 4, Size: 8 << 10},
		ClientMaxBodySize:         1 << 20,
		ServerTokens:              true,
		Etag:                      true,
		IfModifiedSince:           IMSExact,
		MaxRanges:                 -1,
		GzipTypes:                 slices.Clone(defaultGzipTypes),
		GzipMinLength:             20,
		GzipCompLevel:             1,
		AccessLogs:                []AccessLog{{Path: filepath.Join(prefix, "logs", "access.log")}},
		AbsoluteRedirect:          true,
		PortInRedirect:            true,
		MergeSlashes:              true,
		AccessLogFormat:           FormatJSON,
		RealIPHeader:              RealIPHeader{Kind: RealIPXRealIP, Name: "x_real_ip"},
		LimitReqStatus:            503,
		LimitReqLogLevel:          LogError,
		LimitConnStatus:           503,
		LimitConnLogLevel:         LogError,
		LogNotFound:               true,
		ErrorLogLevel:             LevelInherit,
		SSL:                       defaultSSL(),
		HTTP2MaxConcurrentStreams: 128,
		HTTP2ChunkSize:            16 << 10,
		HTTP2RecvBufferSize:       256 << 10,
	}
}

// decodeRoot reads a path, resolved against the prefix, or a path with
// variables, expanded per request (a relative result is then taken from
// the prefix, as nginx).
func decodeRoot(d *decoder, a *hcl.Attribute, t *target) {
	p, vars, ok := d.pathTemplate(a, false, rootVars...)
	if ok {
		t.set.Root, t.set.RootVars = p, vars
	}
}

// rootVars are the variables nginx refuses in root and alias, which
// are made from them.
var rootVars = []VarKind{VarDocumentRoot, VarRealpathRoot, VarRequestFilename}

// pathTemplate decodes a non-empty path that may use variables: without
// them it is resolved against the prefix (a trailing slash kept when
// keepSlash, for alias); with them, a relative path whose first part is
// literal is made absolute now, and the rest at run time. The variables
// refused are refused.
func (d *decoder) pathTemplate(a *hcl.Attribute, keepSlash bool, refused ...VarKind) (string, Template, bool) {
	s, ok := d.templateText(a.Name, a.Expr)
	if !ok {
		return "", Template{}, false
	}
	if s == "" {
		d.invalid(a.Name, a.Expr.Range(), "the path must not be empty")
		return "", Template{}, false
	}
	tpl, ok := d.compileTemplate(a.Name, s, a.Expr.Range())
	if !ok {
		return "", Template{}, false
	}
	for _, k := range refused {
		if tpl.uses(k) {
			d.invalid(a.Name, a.Expr.Range(), "%s cannot use %s", a.Name, Var{Kind: k})
			return "", Template{}, false
		}
	}
	if !tpl.HasVars() {
		lit := string(tpl.Append(nil, nil))
		p := d.resolve(lit)
		if keepSlash && strings.HasSuffix(lit, "/") && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		return p, Template{}, true
	}
	if !filepath.IsAbs(s) && s[0] != '$' {
		s = d.prefix + "/" + s
		tpl, _ = d.compileTemplate(a.Name, s, a.Expr.Range())
	}
	return s, tpl, true
}

// decodeAlias keeps a trailing slash as written: the alias replaces the
// location's prefix byte for byte, as nginx, so location "/images/" with
// alias "/srv/img/" maps /images/a.png to /srv/img/a.png.
func decodeAlias(d *decoder, a *hcl.Attribute, t *target) {
	p, vars, ok := d.pathTemplate(a, true, rootVars...)
	if ok {
		t.set.Alias, t.set.AliasVars = p, vars
	}
}

func showAlias(s *Settings) string {
	if s.Alias == "" {
		return ""
	}
	return hclQuote(s.Alias)
}

// decodeIndex reads the index names, which may use variables.
func decodeIndex(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.textList(a.Name, a.Expr)
	if !ok {
		return
	}
	var index []Template
	for i, s := range list {
		if s == "" {
			d.invalid(a.Name, ranges[i], "an entry must not be empty")
			ok = false
			continue
		}
		tpl, good := d.compileTemplate(a.Name, s, ranges[i])
		ok = ok && good
		index = append(index, tpl)
	}
	if ok {
		t.set.Index = index
	}
}

func showIndex(s *Settings) string {
	list := make([]string, len(s.Index))
	for i, t := range s.Index {
		list[i] = t.String()
	}
	return hclList(list)
}

// mustTemplate compiles a built-in template.
func mustTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// nonEmptyList decodes a string or list of strings none of which is
// empty; an empty list is nil.
func (d *decoder) nonEmptyList(a *hcl.Attribute) ([]string, bool) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return nil, false
	}
	for i, s := range list {
		if s == "" {
			d.invalid(a.Name, ranges[i], "an entry must not be empty")
			ok = false
		}
	}
	if len(list) == 0 {
		list = nil
	}
	return list, ok
}

// validMediaType accepts "type/subtype" with optional parameters: nginx
// takes any string; tern refuses what cannot go into a header.
func validMediaType(s string) bool {
	typ, _, _ := strings.Cut(s, ";")
	main, sub, ok := strings.Cut(strings.TrimSpace(typ), "/")
	return ok && isToken(main) && isToken(sub) && validHeaderValue(s)
}

func decodeDefaultType(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	if !validMediaType(s) {
		d.invalid(a.Name, a.Expr.Range(), "%q is not a media type such as \"text/plain\"", s)
		return
	}
	t.set.DefaultType = s
}

func decodeGzipTypes(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	var types []string
	for i, s := range list {
		s = strings.ToLower(s)
		if s != "*" && !validMediaType(s) {
			d.invalid(a.Name, ranges[i], "%q is not a media type (or \"*\" for every type)", s)
			continue
		}
		types = append(types, s)
	}
	t.set.GzipTypes = types
}

// decodeCharset: "off" is "" (no charset parameter), as nginx.
func decodeCharset(d *decoder, a *hcl.Attribute, t *target) {
	if s, ok := d.charsetName(a); ok {
		t.set.Charset = s
	}
}

// charsetName reads a charset name, "" for "off".
func (d *decoder) charsetName(a *hcl.Attribute) (string, bool) {
	s, ok := d.str(a)
	if !ok || !d.noVars(a, s) {
		return "", false
	}
	switch {
	case s == "off":
		return "", true
	case isToken(s):
		return s, true
	}
	d.invalid(a.Name, a.Expr.Range(), "%q is not a charset name such as \"utf-8\" (or \"off\")", s)
	return "", false
}

func showCharset(s *Settings) string { return showCharsetName(s.Charset) }

func showCharsetName(name string) string {
	if name == "" {
		return hclQuote("off")
	}
	return hclQuote(name)
}

// defaultPool is the thread pool that always exists (nginx's implicit
// "default": 32 threads, a queue of 65536).
const defaultPool = "default"

// decodeAIO reads "off", "threads" or "threads=POOL". The pool must be
// defined (thread_pool blocks are decoded before http), as nginx checks.
func decodeAIO(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	name, pool, named := strings.Cut(s, "=")
	switch {
	case s == "off":
		t.set.AIO = AIO{Mode: AIOOff}
	case s == "threads":
		t.set.AIO = AIO{Mode: AIOThreads, Pool: defaultPool}
	case name == "threads" && named && pool != "":
		if d.pools[pool] == nil {
			d.invalid(a.Name, a.Expr.Range(), "unknown thread pool %q: define it with thread_pool %q { threads = N }", pool, pool)
			return
		}
		t.set.AIO = AIO{Mode: AIOThreads, Pool: pool}
	case s == "on":
		d.invalid(a.Name, a.Expr.Range(), "POSIX aio (\"on\") is not supported: use \"threads\"")
	default:
		d.invalid(a.Name, a.Expr.Range(), "%q is not \"off\", \"threads\" or \"threads=POOL\"", s)
	}
}

func showAIO(s *Settings) string {
	if s.AIO.Mode == AIOOff {
		return hclQuote("off")
	}
	return hclQuote("threads=" + s.AIO.Pool)
}

// decodeLargeBuffers reads "NUM SIZE", e.g. "4 8k".
func decodeLargeBuffers(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	b, err := parseBuffers(s)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%q: %v", s, err)
		return
	}
	t.set.LargeClientHeaderBuffers = b
}

func parseBuffers(s string) (Buffers, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Buffers{}, fmt.Errorf("want a number and a size, e.g. \"4 8k\"")
	}
	num, rest, err := leadingInt(f[0])
	if err != nil || rest != "" || num < 1 || num > 1024 {
		return Buffers{}, fmt.Errorf("the number of buffers must be between 1 and 1024")
	}
	size, err := ParseSize(f[1])
	if err != nil {
		return Buffers{}, fmt.Errorf("bad size: %v", err)
	}
	if size < 1 || size > maxBufferSize {
		return Buffers{}, fmt.Errorf("the buffer size must be between 1 and %s", FormatSize(maxBufferSize))
	}
	return Buffers{Num: int(num), Size: int(size)}, nil
}

func showLargeBuffers(s *Settings) string {
	b := s.LargeClientHeaderBuffers
	return hclQuote(strconv.Itoa(b.Num) + " " + FormatSize(int64(b.Size)))
}

// imsNames are if_modified_since's values, indexed by IMSMode.
var imsNames = [...]string{IMSExact: "exact", IMSOff: "off", IMSBefore: "before"}

func decodeIMS(d *decoder, a *hcl.Attribute, t *target) {
	if s, ok := d.keyword(a, "off", "exact", "before"); ok {
		t.set.IfModifiedSince = IMSMode(slices.Index(imsNames[:], s))
	}
}

func showIMS(s *Settings) string { return hclQuote(imsNames[s.IfModifiedSince]) }

// stdStreams are the log destinations that are not files.
var stdStreams = []string{"stdout", "stderr"}

// decodeOpenFileCache reads { max = N, inactive = DURATION } or "off".
func decodeOpenFileCache(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return
	}
	if v.Type() == cty.String {
		if v.AsString() != "off" {
			d.invalid(a.Name, a.Expr.Range(), "want { max = N, inactive = \"60s\" } or \"off\", not %q", v.AsString())
			return
		}
		t.set.OpenFileCache = nil
		return
	}
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	c := &OpenFileCache{Inactive: defaultOpenFileCacheInactive}
	ok, hasMax := true, false
	for _, kv := range pairs {
		var key string
		if !d.decode(a.Name, kv.Key, nil, &key) {
			ok = false
			continue
		}
		hasMax = hasMax || key == "max"
		ok = d.openFileCacheField(c, key, kv) && ok
	}
	if ok && !hasMax {
		d.invalid(a.Name, a.Expr.Range(), "max is required: the number of entries to keep")
		return
	}
	if ok {
		t.set.OpenFileCache = c
	}
}

// openFileCacheField decodes one key of open_file_cache into c.
func (d *decoder) openFileCacheField(c *OpenFileCache, key string, kv hcl.KeyValuePair) bool {
	field := &hcl.Attribute{Name: "open_file_cache." + key, Expr: kv.Value, Range: kv.Value.Range()}
	switch key {
	case "max":
		n, ok := d.integer(field, 1, maxInt32)
		c.Max = int(n)
		return ok
	case "inactive":
		v, ok := d.duration(field, time.Second)
		c.Inactive = v
		return ok
	}
	d.invalid("open_file_cache", kv.Key.Range(), "unknown key %q: only max and inactive are supported", key)
	return false
}

func showOpenFileCache(s *Settings) string {
	c := s.OpenFileCache
	if c == nil {
		return hclQuote("off")
	}
	return fmt.Sprintf("{ max = %d, inactive = %s }", c.Max, hclQuote(FormatDuration(c.Inactive)))
}

// isToken reports whether s is an RFC 9110 token (§5.6.2), which header
// names, media type parts and charset names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than HTAB (RFC 9110
// §5.5): a CR or LF in a configured value would split the response.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// decodeKeepaliveTimeout reads "TIMEOUT [HEADER_TIMEOUT]": the idle
// timeout (0 turns keep-alive off), and the timeout sent in a
// Keep-Alive header.
func decodeKeepaliveTimeout(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return
	}
	if v.Type() == cty.String {
		if first, second, two := strings.Cut(strings.TrimSpace(v.AsString()), " "); two {
			timeout, err1 := ParseDuration(first)
			header, err2 := ParseDuration(strings.TrimSpace(second))
			if err := cmp.Or(err1, err2); err != nil || timeout < 0 || header < 0 {
				d.invalid(a.Name, a.Expr.Range(), "%q: want \"TIMEOUT [HEADER_TIMEOUT]\", e.g. \"75s 60s\"", v.AsString())
				return
			}
			t.set.KeepaliveTimeout, t.set.KeepaliveHeader = timeout, header
			return
		}
	}
	if dur, ok := d.duration(a, 0); ok {
		t.set.KeepaliveTimeout, t.set.KeepaliveHeader = dur, 0
	}
}

func showKeepaliveTimeout(s *Settings) string {
	if s.KeepaliveHeader != 0 {
		return hclQuote(FormatDuration(s.KeepaliveTimeout) + " " + FormatDuration(s.KeepaliveHeader))
	}
	return hclQuote(FormatDuration(s.KeepaliveTimeout))
}

// decodeKeepaliveDisable reads "none", or one or both of "msie6" and
// "safari".
func decodeKeepaliveDisable(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	var v KeepaliveDisable
	for i, s := range list {
		switch s {
		case "none":
		case "msie6":
			v |= KeepaliveDisableMSIE6
		case "safari":
			v |= KeepaliveDisableSafari
		default:
			d.invalid(a.Name, ranges[i], "%q is not one of: none, msie6, safari", s)
			return
		}
	}
	t.set.KeepaliveDisable = v
}

func showKeepaliveDisable(s *Settings) string {
	var list []string
	if s.KeepaliveDisable&KeepaliveDisableMSIE6 != 0 {
		list = append(list, "msie6")
	}
	if s.KeepaliveDisable&KeepaliveDisableSafari != 0 {
		list = append(list, "safari")
	}
	if len(list) == 0 {
		list = []string{"none"}
	}
	return hclList(list)
}

// decodeDisableSymlinks reads true, false, or "off", "on" or
// "if_not_owner", optionally followed by " from=PART" (a path, usually
// $document_root, whose own symlinks are not checked), as nginx.
func decodeDisableSymlinks(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return
	}
	if v.Type() == cty.Bool {
		t.set.DisableSymlinks, t.set.SymlinksIfNotOwner, t.set.SymlinksFrom = v.True(), false, Template{}
		return
	}
	s, ok := d.templateText(a.Name, a.Expr)
	if !ok {
		return
	}
	mode, from, hasFrom := strings.Cut(s, " ")
	from = strings.TrimSpace(from)
	var tpl Template
	if hasFrom {
		part, found := strings.CutPrefix(from, "from=")
		if !found || part == "" || mode == "off" {
			d.invalid(a.Name, a.Expr.Range(), "%q: want \"on\" or \"if_not_owner\", optionally followed by \" from=PART\"", s)
			return
		}
		if tpl, ok = d.compileSub(a.Name, s, len(s)-len(part), a.Expr.Range()); !ok {
			return
		}
	}
	switch mode {
	case "off":
		t.set.DisableSymlinks, t.set.SymlinksIfNotOwner = false, false
	case "on":
		t.set.DisableSymlinks, t.set.SymlinksIfNotOwner = true, false
	case "if_not_owner":
		t.set.DisableSymlinks, t.set.SymlinksIfNotOwner = true, true
	default:
		d.invalid(a.Name, a.Expr.Range(), "%q is not one of: off, on, if_not_owner", mode)
		return
	}
	t.set.SymlinksFrom = tpl
}

func showDisableSymlinks(s *Settings) string {
	mode := "off"
	switch {
	case s.SymlinksIfNotOwner:
		mode = "if_not_owner"
	case s.DisableSymlinks:
		mode = "on"
	}
	if !s.SymlinksFrom.IsZero() {
		mode += " from=" + s.SymlinksFrom.String()
	}
	return hclQuote(mode)
}

// decodeCharsetTypes reads the media types charset applies to; [] is
// every text/* type again.
func decodeCharsetTypes(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if len(list) == 0 {
		t.set.CharsetTypes = nil
		return
	}
	types := []string{}
	for i, s := range list {
		s = strings.ToLower(s)
		if s != "*" && !validMediaType(s) {
			d.invalid(a.Name, ranges[i], "%q is not a media type (or \"*\" for every type)", s)
			return
		}
		types = append(types, s)
	}
	t.set.CharsetTypes = types
}

func showCharsetTypes(s *Settings) string { return hclList(s.CharsetTypes) }

// CharsetApplies reports whether the charset goes on a response of media
// type typ (charset_types, else every text/* type).
func (s *Settings) CharsetApplies(typ string) bool {
	if s.CharsetTypes == nil {
		return strings.HasPrefix(typ, "text/")
	}
	if typ == "text/html" {
		return true
	}
	for _, t := range s.CharsetTypes {
		if t == "*" || strings.EqualFold(t, typ) {
			return true
		}
	}
	return false
}
