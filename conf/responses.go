package conf

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// decodeTryFiles reads try_files: at least two entries, the last being the
// fallback ("=CODE" or a URI), as nginx requires. An empty list unsets an
// inherited try_files (nginx cannot say that).
func decodeTryFiles(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, tmplCtx)
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
		tpl, err := parseTry(s, i == len(list)-1)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%v", err)
			ok = false
		}
		tries[i] = tpl
	}
	if ok {
		t.set.TryFiles = tries
	}
}

// parseTry compiles one try_files entry; the last may be "=CODE".
func parseTry(s string, last bool) (Template, error) {
	switch {
	case s == "":
		return Template{}, fmt.Errorf("an entry must not be empty")
	case strings.HasPrefix(s, "@"):
		return Template{}, fmt.Errorf("named locations (%s) are not supported", s)
	case last && strings.HasPrefix(s, "="):
		if _, ok := statusCode(s[1:], 100, 599); !ok {
			return Template{}, fmt.Errorf("%q: the fallback code must be between 100 and 599", s)
		}
	}
	return ParseTemplate(s)
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
		var key, val string
		if !d.decode(a.Name, kv.Key, nil, &key) || !d.decode(a.Name, kv.Value, tmplCtx, &val) {
			ok = false
			continue
		}
		page, err := parseErrorPage(val)
		if err != nil {
			d.invalid(a.Name, kv.Value.Range(), "%v", err)
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

// parseErrorPage reads "[=CODE] URI". nginx's bare "=" (take the status of
// the page) is not supported: ErrorPage has no way to say it.
func parseErrorPage(s string) (ErrorPage, error) {
	var page ErrorPage
	uri := s
	if rest, found := strings.CutPrefix(s, "="); found {
		code, after, _ := strings.Cut(rest, " ")
		n, ok := statusCode(code, 100, 599)
		if !ok {
			return page, fmt.Errorf("%q: \"=\" must be followed by a status code between 100 and 599", s)
		}
		page.Status, uri = n, strings.TrimLeft(after, " ")
	}
	if uri == "" {
		return page, fmt.Errorf("%q has no URI", s)
	}
	if strings.HasPrefix(uri, "@") {
		return page, fmt.Errorf("named locations (%s) are not supported", uri)
	}
	tpl, err := ParseTemplate(uri)
	page.URI = tpl
	return page, err
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

// decodeAddHeader reads { NAME = VALUE, ... } into headers sorted by name.
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
		if !d.decode(a.Name, kv.Key, nil, &h.Name) || !d.decode(a.Name, kv.Value, nil, &h.Value) {
			ok = false
			continue
		}
		switch {
		case !isToken(h.Name):
			d.invalid(a.Name, kv.Key.Range(), "%q is not a header name", h.Name)
		case !validHeaderValue(h.Value):
			d.invalid(a.Name, kv.Value.Range(), "a header value must not contain control characters such as CR or LF")
		case slices.ContainsFunc(headers, func(o Header) bool { return strings.EqualFold(o.Name, h.Name) }):
			d.invalid(a.Name, kv.Key.Range(), "header %q is given twice", h.Name)
		default:
			headers = append(headers, h)
			continue
		}
		ok = false
	}
	if ok {
		slices.SortFunc(headers, func(x, y Header) int { return cmp.Compare(x.Name, y.Name) })
		t.set.AddHeaders = headers
	}
}

func showHeaders(s *Settings) string {
	pairs := make([][2]string, len(s.AddHeaders))
	for i, h := range s.AddHeaders {
		pairs[i] = [2]string{h.Name, h.Value}
	}
	return hclObject(pairs)
}

// decodeExpires reads off, epoch, max or a duration, negative allowed
// (nginx: a negative time sends Cache-Control: no-cache). nginx's
// "modified" and "@time" forms are not supported.
func decodeExpires(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return
	}
	if v.Type() == cty.String {
		switch s := v.AsString(); {
		case s == "off":
			t.set.Expires = Expires{Mode: ExpiresOff}
			return
		case s == "epoch":
			t.set.Expires = Expires{Mode: ExpiresEpoch}
			return
		case s == "max":
			t.set.Expires = Expires{Mode: ExpiresMax}
			return
		case strings.HasPrefix(s, "modified") || strings.HasPrefix(s, "@"):
			d.invalid(a.Name, a.Expr.Range(), "%q: the modified and @time forms are not supported", s)
			return
		}
	}
	if dur, ok := d.duration(a, math.MinInt64); ok {
		t.set.Expires = Expires{Mode: ExpiresAfter, After: dur}
	}
}

func showExpires(s *Settings) string {
	switch s.Expires.Mode {
	case ExpiresEpoch:
		return hclQuote("epoch")
	case ExpiresMax:
		return hclQuote("max")
	case ExpiresAfter:
		return hclQuote(FormatDuration(s.Expires.After))
	}
	return hclQuote("off")
}

// decodeReturn reads "CODE [TEXT|URL]".
func decodeReturn(d *decoder, a *hcl.Attribute, t *target) {
	var s string
	if !d.decode(a.Name, a.Expr, tmplCtx, &s) {
		return
	}
	r, err := parseReturn(s)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%v", err)
		return
	}
	t.set.Return = r
}

// parseReturn reads "CODE [TEXT|URL]": everything after the first space is
// the text (docs/reference.md#return). As nginx, a bare URL starting with http://, https://
// or $scheme means a 302 to it. Codes run from 100 to 599, which takes in
// nginx's 444 (close the connection without a response).
func parseReturn(s string) (*Return, error) {
	code, text, _ := strings.Cut(s, " ")
	n, ok := statusCode(code, 100, 599)
	if !ok {
		for _, p := range []string{"http://", "https://", "$scheme", "${scheme}"} {
			if strings.HasPrefix(s, p) {
				n, text, ok = 302, s, true
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("%q does not start with a status code between 100 and 599: want \"CODE [TEXT|URL]\"", s)
	}
	tpl, err := ParseTemplate(text)
	if err != nil {
		return nil, err
	}
	return &Return{Code: n, Text: tpl}, nil
}

func showReturn(s *Settings) string {
	r := s.Return
	if r == nil {
		return ""
	}
	if r.Text.IsZero() {
		return hclQuote(strconv.Itoa(r.Code))
	}
	return hclQuote(strconv.Itoa(r.Code) + " " + r.Text.String())
}
