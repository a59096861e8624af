package conf

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Values that take variables ($uri, ${uri}) are compiled into Templates
// here. HCL reads "${name}" in a string as its own interpolation; tern
// does not evaluate it, but takes the string's text as written, so that
// "${uri}" and "$uri" mean the same, as in nginx, and a name HCL cannot
// know (a set or map variable) is no error. Anything else HCL could
// compute in a "${...}" (a function call, an expression) is refused.

// varScope is the variables known to one load: the user variables (set,
// map, named groups) and the references to them still to resolve.
type varScope struct {
	index   map[string]int
	names   []string
	pending []pendingVar
	// captures is set once any template reads $0..$9.
	captures bool
	// regexes are every compiled expression, whose captures flag is set
	// once the whole configuration is known.
	regexes []*Regex
}

// pendingVar is a reference to a user variable and where it is written.
type pendingVar struct {
	v   *Var
	rng hcl.Range
}

// declare makes name a user variable (set, map, a named group) and
// returns its index.
func (s *varScope) declare(name string) int {
	if s.index == nil {
		s.index = make(map[string]int)
	}
	if i, ok := s.index[name]; ok {
		return i
	}
	s.index[name] = len(s.names)
	s.names = append(s.names, name)
	return len(s.names) - 1
}

// templateText returns the text of a string value as written, with
// HCL's "${name}" kept as text.
func (d *decoder) templateText(name string, expr hcl.Expression) (string, bool) {
	var b strings.Builder
	if !d.appendTemplateText(name, &b, expr) {
		return "", false
	}
	return b.String(), true
}

func (d *decoder) appendTemplateText(name string, b *strings.Builder, expr hcl.Expression) bool {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if t, ok := p.(*hclsyntax.ScopeTraversalExpr); ok && len(t.Traversal) == 1 {
				b.WriteString("${" + t.Traversal.RootName() + "}")
				continue
			}
			if !d.appendTemplateText(name, b, p) {
				return false
			}
		}
		return true
	case *hclsyntax.TemplateWrapExpr:
		if t, ok := e.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && len(t.Traversal) == 1 {
			b.WriteString("${" + t.Traversal.RootName() + "}")
			return true
		}
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() == cty.String {
			b.WriteString(e.Val.AsString())
			return true
		}
	}
	if _, inTemplate := expr.(*hclsyntax.TemplateExpr); inTemplate {
		d.invalid(name, expr.Range(), "only variables may be interpolated, as \"$uri\" or \"${uri}\"")
		return false
	}
	// A number, or anything else HCL converts to a string (or refuses
	// with its own message).
	var s string
	if !d.decode(name, expr, nil, &s) {
		return false
	}
	b.WriteString(s)
	return true
}

// template decodes a string value with variables.
func (d *decoder) template(name string, expr hcl.Expression) (Template, bool) {
	s, ok := d.templateText(name, expr)
	if !ok {
		return Template{}, false
	}
	return d.compileTemplate(name, s, expr.Range())
}

// compileTemplate compiles s, written at rng, and registers its user
// variables for resolution.
func (d *decoder) compileTemplate(name, s string, rng hcl.Range) (Template, bool) {
	return d.compileSub(name, s, 0, rng)
}

// compileSub compiles s[off:], where s is the whole text of a string
// written at rng (so that a diagnostic points at the variable).
func (d *decoder) compileSub(name, s string, off int, rng hcl.Range) (Template, bool) {
	return d.compileSpan(name, s, off, len(s)-off, rng)
}

// compileSpan compiles s[off:off+n], where s is the whole text of a
// string written at rng.
func (d *decoder) compileSpan(name, s string, off, n int, rng hcl.Range) (Template, bool) {
	t, refs, err := parseTemplate(s[off : off+n])
	if err != nil {
		var te *templateError
		if errors.As(err, &te) {
			rng = d.span(rng, s, off+te.off, 1)
		}
		d.invalid(name, rng, "%v", err)
		return Template{}, false
	}
	if t.uses(VarCapture) {
		d.vars.captures = true
	}
	for _, r := range refs {
		d.vars.pending = append(d.vars.pending, pendingVar{r.v, d.subRange(rng, s, off+r.off)})
	}
	return t, true
}

// subRange narrows rng, the range of a string whose text is s, to the
// variable at byte off of s.
func (d *decoder) subRange(rng hcl.Range, s string, off int) hcl.Range {
	n := 1
	if strings.HasPrefix(s[off:], "${") {
		n = strings.IndexByte(s[off:], '}') + 1
	} else {
		for off+n < len(s) && isVarChar(s[off+n]) {
			n++
		}
	}
	return d.span(rng, s, off, n)
}

// span returns the range of bytes [off, off+n) of s, the text of a quoted
// string written at rng, found by reading the source's escapes; when the
// source does not spell s (a heredoc, an expression), it returns rng.
func (d *decoder) span(rng hcl.Range, s string, off, n int) hcl.Range {
	src := d.sources[rng.Filename]
	if rng.End.Byte > len(src) || rng.Start.Byte >= rng.End.Byte || off+n > len(s) {
		return rng
	}
	text := src[rng.Start.Byte:rng.End.Byte]
	if text[0] != '"' {
		return rng
	}
	start, ok := sourceOffset(text, s, off)
	if !ok {
		return rng
	}
	end, ok := sourceOffset(text, s, off+n)
	if !ok {
		return rng
	}
	out := rng
	out.Start = advance(rng.Start, text[:start])
	out.End = advance(out.Start, text[start:end])
	return out
}

// sourceOffset returns where in text, a quoted HCL string whose value is
// s, the byte at offset off of s is written, reading HCL's escapes ("\\",
// "\"", "\n", "\uXXXX", "$${", "%%{").
func sourceOffset(text []byte, s string, off int) (int, bool) {
	i, j := 1, 0 // i in text (after the quote), j in s
	for j < off {
		if i >= len(text) {
			return 0, false
		}
		switch {
		case text[i] == '\\' && i+1 < len(text):
			width := 2
			switch text[i+1] {
			case 'u':
				width = 6
			case 'U':
				width = 10
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if text[i+1] == 'u' || text[i+1] == 'U' {
				j += size
			} else {
				_ = r
				j++
			}
			i += width
		case (text[i] == '$' || text[i] == '%') && i+2 < len(text) && text[i+1] == text[i] && text[i+2] == '{':
			i += 2
			j++
		default:
			if text[i] != s[j] {
				return 0, false
			}
			i++
			j++
		}
	}
	return i, j == off
}

// advance moves pos over b.
func advance(pos hcl.Pos, b []byte) hcl.Pos {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		pos.Byte += size
		if r == '\n' {
			pos.Line++
			pos.Column = 1
		} else {
			pos.Column++
		}
		b = b[size:]
	}
	return pos
}

// resolveVars binds every reference to a user variable, now that every
// set, map and named group of the http block is known; a name that is
// none of these is an unknown variable, as nginx says at start.
func (d *decoder) resolveVars() {
	for _, p := range d.vars.pending {
		i, ok := d.vars.index[p.v.Name]
		if !ok {
			d.errorf(p.rng, "Unknown variable", "$%s is not a variable tern knows, nor one that set, map or a named group makes (the variables are listed in docs/variables.md)",
				p.v.Name)
			continue
		}
		p.v.N = i
	}
	for _, re := range d.vars.regexes {
		re.captures = re.NumSubexp() > 0 && (d.vars.captures || len(re.Named) > 0)
	}
}

// regex compiles pattern, which starts at byte off of s, the text of a
// string written at rng, and declares the variables of its named groups.
// A problem is reported at its column where the source shows it.
func (d *decoder) regex(name, s string, off int, pattern string, caseless bool, rng hcl.Range) (*Regex, bool) {
	re, err := compileRegex(pattern, caseless)
	if err != nil {
		re := err.(*RegexError)
		d.invalid(name, d.span(rng, s, off+re.Offset, 1), "%q: %s", pattern, re.Msg)
		return nil, false
	}
	for i, n := range re.SubexpNames() {
		if n == "" {
			continue
		}
		if isBuiltinName(n) {
			d.invalid(name, rng, "%q: the group name %q is a built-in variable", pattern, n)
			return nil, false
		}
		re.Named = append(re.Named, NamedGroup{Group: i, Var: d.vars.declare(n)})
	}
	d.vars.regexes = append(d.vars.regexes, re)
	return re, true
}

// noVars refuses a value with "$" where nginx would interpolate a
// variable but tern does not: sending it literally would silently
// differ from nginx.
func (d *decoder) noVars(a *hcl.Attribute, s string) bool {
	if !strings.Contains(s, "$") {
		return true
	}
	d.invalid(a.Name, a.Expr.Range(), "%q: tern does not take variables in %s (nginx would interpolate them)", s, a.Name)
	return false
}

// errVarName is the message for a set or map name that is not one.
func errVarName(name string) error {
	return fmt.Errorf("%q is not a variable name: letters, digits and \"_\", optionally after \"$\"", name)
}
