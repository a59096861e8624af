package conf

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// decodeTryFiles reads try_files: at least two entries, the last being the
// fallback ("=CODE" or a URI), as nginx requires. An empty list unsets an
// inherited try_files (nginx cannot say that).
func decodeTryFiles(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.textList(a.Name, a.Expr)
	if !ok {
		return
	}
	if len(list) == 0 {
		t.set.TryFiles = nil
		return
	}
	if len(list) < 2 {
		d.invalid(a.Name, a.Expr.Range(), "want files to try and a fallback, e.g. [\"$uri\", \"$uri/\", \"=404\"]")
		return
	}
	tries := make([]Template, len(list))
	for i, s := range list {
		if err := checkTry(s, i == len(list)-1); err != nil {
			d.invalid(a.Name, ranges[i], "%v", err)
			ok = false
			continue
		}
		tpl, good := d.compileTemplate(a.Name, s, ranges[i])
		ok = ok && good
		tries[i] = tpl
	}
	if ok {
		t.set.TryFiles = tries
	}
}

// checkTry checks one try_files entry; the last may be "=CODE".
func checkTry(s string, last bool) error {
	switch {
	case s == "":
		return fmt.Errorf("an entry must not be empty")
	case strings.HasPrefix(s, "@"):
		return fmt.Errorf("named locations (%s) are not supported", s)
	case last && strings.HasPrefix(s, "="):
		if _, ok := statusCode(s[1:], 100, 599); !ok {
			return fmt.Errorf("%q: the fallback code must be between 100 and 599", s)
		}
	}
	return nil
}

// textList decodes a string or a list of strings that may use
// variables, as written (see templateText), with the range of each.
func (d *decoder) textList(name string, expr hcl.Expression) ([]string, []hcl.Range, bool) {
	elems, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		s, ok := d.templateText(name, expr)
		return []string{s}, []hcl.Range{expr.Range()}, ok
	}
	ok := true
	list := make([]string, 0, len(elems))
	ranges := make([]hcl.Range, 0, len(elems))
	for _, e := range elems {
		s, good := d.templateText(name, e)
		if !good {
			ok = false
			continue
		}
		list = append(list, s)
		ranges = append(ranges, e.Range())
	}
	return list, ranges, ok
}

// statusCode parses a three-digit status in [lo, hi].
func statusCode(s string, lo, hi int) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n, rest, err := leadingInt(s)
	if err != nil || rest != "" || int(n) < lo || int(n) > hi {
		return 0, false
	}
	return int(n), true
}

func showTryFiles(s *Settings) string {
	list := make([]string, len(s.TryFiles))
	for i, t := range s.TryFiles {
		list[i] = t.String()
	}
	return hclList(list)
}

// decodeErrorPage reads { "404" = "/404.html", "500 502" = "=200 /x" }:
// each key one or more codes from 300 to 599 (nginx's range), each value
// an optional "=CODE" then a URI.
func decodeErrorPage(d *decoder, a *hcl.Attribute, t *target) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	pages := make(map[int]ErrorPage)
	ok := true
	for _, kv := range pairs {
		var key string
		if !d.decode(a.Name, kv.Key, nil, &key) {
			ok = false
			continue
		}
		val, good := d.templateText(a.Name, kv.Value)
		if !good {
			ok = false
			continue
		}
		page, off, err := parseErrorPage(val)
		if err != nil {
			d.invalid(a.Name, kv.Value.Range(), "%v", err)
			ok = false
			continue
		}
		if page.URI, good = d.compileSub(a.Name, val, off, kv.Value.Range()); !good {
			ok = false
			continue
		}
		codes := strings.Fields(key)
		if len(codes) == 0 {
			d.invalid(a.Name, kv.Key.Range(), "a key lists status codes, e.g. \"500 502 503 504\"")
			ok = false
		}
		for _, c := range codes {
			n, valid := statusCode(c, 300, 599)
			_, dup := pages[n]
			switch {
			case !valid:
				d.invalid(a.Name, kv.Key.Range(), "%q is not a status code between 300 and 599", c)
			case dup:
				d.invalid(a.Name, kv.Key.Range(), "status %d has two error pages", n)
			default:
				pages[n] = page
				continue
			}
			ok = false
		}
	}
	if !ok {
		return
	}
	if len(pages) == 0 {
		pages = nil
	}
	t.set.ErrorPages = pages
}

// parseErrorPage reads "[=CODE] URI" and returns the page without its
// URI compiled, and where in s the URI starts. nginx's bare "=" (take the
// status of the page) is not supported: ErrorPage has no way to say it.
func parseErrorPage(s string) (ErrorPage, int, error) {
	var page ErrorPage
	uri := s
	if rest, found := strings.CutPrefix(s, "="); found {
		code, after, _ := strings.Cut(rest, " ")
		n, ok := statusCode(code, 100, 599)
		if !ok {
			return page, 0, fmt.Errorf("%q: \"=\" must be followed by a status code between 100 and 599", s)
		}
		page.Status, uri = n, strings.TrimLeft(after, " ")
	}
	if uri == "" {
		return page, 0, fmt.Errorf("%q has no URI", s)
	}
	if strings.HasPrefix(uri, "@") {
		return page, 0, fmt.Errorf("named locations (%s) are not supported", uri)
	}
	return page, len(s) - len(uri), nil
}

// showErrorPages writes one key per distinct page, listing its codes.
func showErrorPages(s *Settings) string {
	var pairs [][2]string     // codes, page; in the order of the first code
	index := map[string]int{} // page → its index in pairs
	for _, c := range slices.Sorted(maps.Keys(s.ErrorPages)) {
		p := s.ErrorPages[c]
		val := p.URI.String()
		if p.Status != 0 {
			val = "=" + strconv.Itoa(p.Status) + " " + val
		}
		if i, ok := index[val]; ok {
			pairs[i][0] += " " + strconv.Itoa(c)
			continue
		}
		index[val] = len(pairs)
		pairs = append(pairs, [2]string{strconv.Itoa(c), val})
	}
	return hclObject(pairs)
}

// decodeAddHeader reads { NAME = VALUE, ... } into headers in the order
// written, the order nginx sends its add_header lines in.
// A value is a string with variables, or { value = "...", always = true }
// for nginx's "add_header NAME VALUE always".
func decodeAddHeader(d *decoder, a *hcl.Attribute, t *target) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	var headers []Header
	ok := true
	for _, kv := range pairs {
		var h Header
		if !d.decode(a.Name, kv.Key, nil, &h.Name) {
			ok = false
			continue
		}
		valExpr, good := d.headerValue(a.Name, kv.Value, &h)
		if !good {
			ok = false
			continue
		}
		text, good := d.templateText(a.Name, valExpr)
		switch {
		case !good:
		case !isToken(h.Name):
			d.invalid(a.Name, kv.Key.Range(), "%q is not a header name", h.Name)
		case !validHeaderValue(text):
			d.invalid(a.Name, valExpr.Range(), "a header value must not contain control characters such as CR or LF")
		case slices.ContainsFunc(headers, func(o Header) bool { return strings.EqualFold(o.Name, h.Name) }):
			d.invalid(a.Name, kv.Key.Range(), "header %q is given twice", h.Name)
		default:
			if h.Value, good = d.compileTemplate(a.Name, text, valExpr.Range()); good {
				headers = append(headers, h)
				continue
			}
		}
		ok = false
	}
	if ok {
		t.set.AddHeaders = headers
	}
}

// headerValue returns the expression of an add_header value: the value
// itself, or the value field of { value = "...", always = BOOL }, whose
// always it sets in h.
func (d *decoder) headerValue(name string, expr hcl.Expression, h *Header) (hcl.Expression, bool) {
	obj, isObj := expr.(*hclsyntax.ObjectConsExpr)
	if !isObj {
		return expr, true
	}
	var value hcl.Expression
	for _, item := range obj.Items {
		var key string
		if !d.decode(name, item.KeyExpr, nil, &key) {
			return nil, false
		}
		switch key {
		case "value":
			value = item.ValueExpr
		case "always":
			var b bool
			if !d.decode(name, item.ValueExpr, nil, &b) {
				return nil, false
			}
			h.Always = b
		default:
			d.invalid(name, item.KeyExpr.Range(), "unknown key %q: a header is a string or { value = \"...\", always = true }", key)
			return nil, false
		}
	}
	if value == nil {
		d.invalid(name, expr.Range(), "value is required: { value = \"...\", always = true }")
		return nil, false
	}
	return value, true
}

func showHeaders(s *Settings) string {
	items := make([]string, len(s.AddHeaders))
	for i, h := range s.AddHeaders {
		v := hclQuote(h.Value.String())
		if h.Always {
			v = "{ value = " + v + ", always = true }"
		}
		items[i] = hclQuote(h.Name) + " = " + v
	}
	if len(items) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(items, ", ") + " }"
}

// decodeExpires reads nginx's expires: off, epoch, max, a time (negative
// allowed: Cache-Control no-cache), "modified TIME" (from the file's
// Last-Modified), "@TIME" (a time of day), or any of these through
// variables, parsed per request.
func decodeExpires(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if ok && v.Type() == cty.Number {
		if dur, ok := d.duration(a, math.MinInt64); ok {
			t.set.Expires = Expires{Mode: ExpiresAfter, After: dur}
		}
		return
	}
	s, ok := d.templateText(a.Name, a.Expr)
	if !ok {
		return
	}
	modified := false
	if rest, found := strings.CutPrefix(s, "modified "); found {
		modified, s = true, strings.TrimLeft(rest, " ")
	}
	if strings.Contains(s, "$") {
		tpl, ok := d.compileTemplate(a.Name, s, a.Expr.Range())
		if !ok {
			return
		}
		e := Expires{Mode: ExpiresAfter, Var: tpl}
		if modified {
			e.Mode = ExpiresModified
		}
		t.set.Expires = e
		return
	}
	e, err := ParseExpires(s, modified)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%q: %v", s, err)
		return
	}
	t.set.Expires = e
}

// ParseExpires parses an expires value without variables: off, epoch,
// max, [+|-]TIME, @TIME (a time of day under 24h), or with modified (the
// "modified" parameter) a time from the file's Last-Modified, as nginx's
// ngx_http_parse_expires. It allocates only for an error.
func ParseExpires(s string, modified bool) (Expires, error) {
	if !modified {
		switch s {
		case "off":
			return Expires{Mode: ExpiresOff}, nil
		case "epoch":
			return Expires{Mode: ExpiresEpoch}, nil
		case "max":
			return Expires{Mode: ExpiresMax}, nil
		}
	}
	mode := ExpiresAfter
	if modified {
		mode = ExpiresModified
	}
	neg := false
	switch {
	case strings.HasPrefix(s, "@"):
		if modified {
			return Expires{}, errDailyModified
		}
		mode, s = ExpiresDaily, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	}
	if s == "" || s[0] == '-' || s[0] == '+' {
		return Expires{}, errExpiresValue
	}
	dur, err := ParseDuration(s)
	if err != nil {
		return Expires{}, err
	}
	if dur%time.Second != 0 {
		return Expires{}, errExpiresMillis
	}
	if mode == ExpiresDaily && dur > 24*time.Hour {
		return Expires{}, errDailyTooLong
	}
	if neg {
		dur = -dur
	}
	return Expires{Mode: mode, After: dur}, nil
}

var (
	errDailyModified = errors.New("a time of day (@) cannot be used with modified")
	errDailyTooLong  = errors.New("a time of day (@) must be less than 24 hours")
	errExpiresValue  = errors.New("want off, epoch, max, a time such as \"30d\", \"modified 1h\" or \"@15h30m\"")
	errExpiresMillis = errors.New("expires takes whole seconds")
)

func showExpires(s *Settings) string {
	e := s.Expires
	prefix := ""
	if e.Mode == ExpiresModified {
		prefix = "modified "
	}
	switch {
	case !e.Var.IsZero():
		return hclQuote(prefix + e.Var.String())
	case e.Mode == ExpiresEpoch:
		return hclQuote("epoch")
	case e.Mode == ExpiresMax:
		return hclQuote("max")
	case e.Mode == ExpiresDaily:
		return hclQuote("@" + FormatDuration(e.After))
	case e.Mode == ExpiresAfter || e.Mode == ExpiresModified:
		return hclQuote(prefix + FormatDuration(e.After))
	}
	return hclQuote("off")
}

// decodeReturn reads "CODE [TEXT|URL]".
func decodeReturn(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.templateText(a.Name, a.Expr)
	if !ok {
		return
	}
	code, off, err := parseReturn(s)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%v", err)
		return
	}
	st := Stmt{Op: OpReturn, Code: code}
	if st.Value, ok = d.compileSub(a.Name, s, off, a.Expr.Range()); ok {
		t.script.add(a.Range.Start.Byte, st)
	}
}

// parseReturn reads "CODE [TEXT|URL]": everything after the first space is
// the text (docs/reference.md#return). As nginx, a bare URL starting with http://, https://
// or $scheme means a 302 to it. Codes run from 100 to 599, which takes in
// nginx's 444 (close the connection without a response).
func parseReturn(s string) (int, int, error) {
	code, text, _ := strings.Cut(s, " ")
	n, ok := statusCode(code, 100, 999)
	if !ok && hasRedirectPrefix(s) {
		n, text, ok = 302, s, true
	}
	if !ok {
		return 0, 0, fmt.Errorf("%q does not start with a status code between 100 and 999: want \"CODE [TEXT|URL]\"", s)
	}
	return n, len(s) - len(text), nil
}

// ParseExpiresBytes is ParseExpires for a value computed per request (an
// expires with variables): it does not allocate, and reports only whether
// the value parsed, as nginx then sends nothing.
func ParseExpiresBytes(b []byte, modified bool) (Expires, bool) {
	e, err := ParseExpires(unsafe.String(unsafe.SliceData(b), len(b)), modified)
	return e, err == nil
}
