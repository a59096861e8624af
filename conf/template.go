package conf

import (
	"fmt"
	"strings"
)

// Template is a configuration string with variables, compiled once at
// load time so that expanding it per request is a walk over literal and
// variable parts (nginx's complex values and script codes). The zero
// Template is the empty string.
type Template struct {
	raw   string
	parts []tmplPart
}

// tmplPart is a literal run (v.Kind == varLiteral) or one variable.
type tmplPart struct {
	lit string
	v   Var
}

// userRef is a variable of a template that is not built in: a set or map
// variable or a named group, resolved once the whole http block is read.
type userRef struct {
	v   *Var
	off int // byte offset of its "$" in the template text
}

// ParseTemplate compiles s, which may use the built-in variables and
// captures only (no set or map variables). A variable is "$name" (the
// longest run of letters, digits and "_", as nginx) or "${name}"; an
// unknown name, or a "$" that starts no name, is an error, as in nginx.
func ParseTemplate(s string) (Template, error) {
	t, refs, err := parseTemplate(s)
	if err != nil {
		return Template{}, err
	}
	if len(refs) > 0 {
		return Template{}, fmt.Errorf("unknown variable $%s", refs[0].v.Name)
	}
	return t, nil
}

// templateError is a template that does not compile, and where.
type templateError struct {
	off int
	err error
}

func (e *templateError) Error() string { return e.err.Error() }

// parseTemplate compiles s and returns the user variables it names, still
// to be resolved. "$$" is a "$" (nginx has no way to write one; "$$" is
// an error there).
func parseTemplate(s string) (Template, []userRef, error) {
	t := Template{raw: s}
	var offs []int
	lit := func(text string) {
		if n := len(t.parts); n > 0 && t.parts[n-1].v.Kind == varLiteral {
			t.parts[n-1].lit += text
			return
		}
		t.parts = append(t.parts, tmplPart{lit: text})
	}
	for rest, off := s, 0; rest != ""; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			lit(rest)
			break
		}
		if i > 0 {
			lit(rest[:i])
		}
		if strings.HasPrefix(rest[i:], "$$") {
			lit("$")
			rest, off = rest[i+2:], off+i+2
			continue
		}
		v, n, err := parseVar(rest[i:])
		if err != nil {
			return Template{}, nil, &templateError{off + i, err}
		}
		t.parts = append(t.parts, tmplPart{v: v})
		if v.Kind == VarUser {
			offs = append(offs, len(t.parts)-1, off+i)
		}
		rest, off = rest[i+n:], off+i+n
	}
	var refs []userRef
	for i := 0; i < len(offs); i += 2 {
		refs = append(refs, userRef{v: &t.parts[offs[i]].v, off: offs[i+1]})
	}
	return t, refs, nil
}

// parseVar reads the variable at the start of s ("$name" or "${name}")
// and returns it with the number of bytes it takes.
func parseVar(s string) (Var, int, error) {
	var name string
	var n int
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return Var{}, 0, fmt.Errorf("%q has no closing }", s)
		}
		name, n = s[2:end], end+1
		if strings.IndexFunc(name, func(r rune) bool { return r > 0x7f || !isVarChar(byte(r)) }) >= 0 {
			return Var{}, 0, fmt.Errorf("%q is not a variable name", name)
		}
	} else {
		end := 1
		for end < len(s) && isVarChar(s[end]) {
			end++
		}
		name, n = s[1:end], end
	}
	if name == "" {
		return Var{}, 0, fmt.Errorf("a variable name must follow $ in %q", s)
	}
	v, ok := lookupVar(name)
	if !ok {
		return Var{}, 0, fmt.Errorf("unknown variable $%s (captures are $0 to $%d)", name, maxCapture)
	}
	return v, n, nil
}

func isVarChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// TemplateQuote returns s written as a template that expands to s: each
// "$" doubled.
func TemplateQuote(s string) string {
	return strings.ReplaceAll(s, "$", "$$")
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// IsZero reports whether t is the empty template (unset).
func (t Template) IsZero() bool { return t.raw == "" }

// HasVars reports whether t uses any variable; one without can be sent
// as String() without expanding.
func (t Template) HasVars() bool {
	for _, p := range t.parts {
		if p.v.Kind != varLiteral {
			return true
		}
	}
	return false
}

// uses reports whether t reads a variable of kind k.
func (t Template) uses(k VarKind) bool {
	for _, p := range t.parts {
		if p.v.Kind == k {
			return true
		}
	}
	return false
}

// Code returns the status of a try_files fallback written "=CODE"
// (validated at load time), and whether t is one.
func (t Template) Code() (int, bool) {
	if len(t.raw) != 4 || t.raw[0] != '=' {
		return 0, false
	}
	return statusCode(t.raw[1:], 100, 599)
}

// Append appends t with its variables expanded by vars to dst. It
// allocates only when dst must grow.
func (t Template) Append(dst []byte, vars Vars) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		if p.v.Kind == varLiteral {
			dst = append(dst, p.lit...)
		} else {
			dst = vars.AppendVar(dst, &p.v)
		}
	}
	return dst
}

// AppendEscapingArgs is Append, except that each capture ($1..$9)
// written after the template's first literal "?" is passed through
// escape (dst, the capture's bytes): nginx escapes the groups of a
// rewrite's arguments when the request's URI was percent-encoded.
func (t Template) AppendEscapingArgs(dst []byte, vars Vars, escape func(dst, src []byte) []byte, scratch []byte) ([]byte, []byte) {
	inArgs := false
	for i := range t.parts {
		p := &t.parts[i]
		switch {
		case p.v.Kind == varLiteral:
			dst = append(dst, p.lit...)
			inArgs = inArgs || strings.IndexByte(p.lit, '?') >= 0
		case inArgs && p.v.Kind == VarCapture:
			scratch = vars.AppendVar(scratch[:0], &p.v)
			dst = escape(dst, scratch)
		default:
			dst = vars.AppendVar(dst, &p.v)
		}
	}
	return dst, scratch
}

// Len is the number of parts of t: literal runs and variables.
func (t Template) Len() int { return len(t.parts) }

// Part returns part i of t: its literal text, or the variable (nil for
// literal text).
func (t Template) Part(i int) (string, *Var) {
	p := &t.parts[i]
	if p.v.Kind == varLiteral {
		return p.lit, nil
	}
	return "", &p.v
}
