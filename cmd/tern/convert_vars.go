package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"tern/conf"
)

// Variables and regular expressions in tern convert: a value that uses a
// variable tern has neither built in nor made by the configuration (set,
// map, a named group) is a loss, never a literal; a regular expression is
// translated to RE2 where PCRE and RE2 differ in a way that can be
// written otherwise, else it is a loss.

// nginxVarNames returns the variables a value uses, as nginx's script
// compiler reads them: "$name" (letters, digits, "_") or "${name}"; a "$"
// followed by a digit is the capture of that one digit.
func nginxVarNames(s string) []string {
	var names []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		j := i + 1
		if s[j] >= '1' && s[j] <= '9' {
			i = j
			continue
		}
		if s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				continue
			}
			names = append(names, s[j+1:j+end])
			i = j + end
			continue
		}
		k := j
		for k < len(s) && isVarByte(s[k]) {
			k++
		}
		if k > j {
			names = append(names, s[j:k])
		}
		i = k - 1
	}
	return names
}

func isVarByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// namedGroup finds the named groups of a regular expression: (?<name>,
// (?P<name> and (?'name'.
var namedGroup = regexp.MustCompile(`\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>|\(\?'([A-Za-z_][A-Za-z0-9_]*)'`)

// userVariables are the variables a configuration makes: set's and map's,
// and the named groups of its regular expressions (locations, server
// names, rewrite, if and map keys).
func userVariables(dirs []*directive) map[string]bool {
	vars := map[string]bool{}
	add := func(s string) {
		for _, m := range namedGroup.FindAllStringSubmatch(s, -1) {
			vars[m[1]+m[2]] = true
		}
	}
	var walk func([]*directive)
	walk = func(dirs []*directive) {
		for _, d := range dirs {
			switch d.name {
			case "set":
				if len(d.args) > 0 {
					vars[strings.TrimPrefix(d.args[0], "$")] = true
				}
			case "map":
				if len(d.args) > 1 {
					vars[strings.TrimPrefix(d.args[1], "$")] = true
				}
				for _, k := range d.block {
					add(k.name)
				}
			}
			for _, a := range d.args {
				add(a)
			}
			walk(d.block)
		}
	}
	walk(dirs)
	return vars
}

// usesCharset reports whether the configuration sets charset without
// setting charset_types anywhere.
func usesCharset(dirs []*directive) bool {
	charset, types := false, false
	var walk func([]*directive)
	walk = func(dirs []*directive) {
		for _, d := range dirs {
			switch d.name {
			case "charset":
				if len(d.args) == 1 && d.args[0] != "off" {
					charset = true
				}
			case "charset_types":
				types = true
			}
			walk(d.block)
		}
	}
	walk(dirs)
	return charset && !types
}

// unknownVariable returns the first variable of s that tern neither has
// built in nor sees made by the configuration, or "".
func (c *converter) unknownVariable(s string) string {
	for _, name := range nginxVarNames(s) {
		if !conf.IsBuiltinVariable(name) && !c.userVars[name] {
			return name
		}
	}
	return ""
}

// valuesKnown checks the variables of d's arguments, reporting a loss
// for the first one tern lacks. Regular expressions ("~..." arguments of
// server_name and valid_referers) are not values.
func (c *converter) valuesKnown(d *directive) bool {
	for _, a := range d.args {
		if strings.HasPrefix(a, "~") && (d.name == "server_name" || d.name == "valid_referers") {
			continue
		}
		if name := c.unknownVariable(a); name != "" {
			c.warn(d, "%s: the variable $%s is not one tern has; left as a comment", d.name, name)
			return false
		}
	}
	return true
}

// regex translates an nginx (PCRE) regular expression into one tern
// reads the same (RE2). A negative lookahead of a literal, "(?!text)",
// becomes the alternation of what may follow instead; anything else
// RE2 lacks is a loss, and ok is false.
func (c *converter) regex(d *directive, pattern string, caseless bool) (string, bool) {
	re := translateLookahead(pattern)
	err := conf.CheckRegex(re, caseless)
	if err == nil {
		if re != pattern {
			c.inform(d, "the regular expression %q is written %q for RE2, which has no lookahead", pattern, re)
		}
		return re, true
	}
	var rerr *conf.RegexError
	if errors.As(err, &rerr) && re == pattern {
		c.warn(d, "%s: the regular expression %q, at column %d: %s; left as a comment", d.name, pattern, rerr.Offset+1, rerr.Msg)
	} else {
		c.warn(d, "%s: the regular expression %q: %v; left as a comment", d.name, pattern, err)
	}
	return "", false
}

// translateLookahead rewrites each "(?!LITERAL)" outside a character
// class as the non-capturing alternation of every way the text after it
// can differ from LITERAL: a different byte at some position, or the end
// of the subject before LITERAL is complete. A match is found exactly
// where PCRE finds one, although it may take one more character.
func translateLookahead(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i++
			continue
		case inClass:
			inClass = ch != ']'
		case ch == '[':
			inClass = true
			// A "]" first in a class is a member, not its end.
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString("[]")
				i++
				continue
			}
			if i+2 < len(p) && p[i+1] == '^' && p[i+2] == ']' {
				b.WriteString("[^]")
				i += 2
				continue
			}
		case strings.HasPrefix(p[i:], "(?!"):
			if lit, n, ok := lookaheadLiteral(p[i+3:]); ok && lit != "" {
				b.WriteString(notFollowedBy(lit))
				i += 3 + n
				continue
			}
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// lookaheadLiteral reads the literal text of a lookahead up to its ")":
// plain characters and escaped punctuation. n counts the bytes read,
// the ")" included.
func lookaheadLiteral(s string) (lit string, n int, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ')':
			return b.String(), i + 1, true
		case ch == '\\':
			if i+1 >= len(s) || isVarByte(s[i+1]) || s[i+1] >= 0x80 {
				return "", 0, false // \d, \w, \1 ...: not a literal
			}
			b.WriteByte(s[i+1])
			i++
		case strings.IndexByte(".[](){}*+?|^$", ch) >= 0 || ch >= 0x80:
			return "", 0, false
		default:
			b.WriteByte(ch)
		}
	}
	return "", 0, false
}

// notFollowedBy is the RE2 for "(?!lit)".
func notFollowedBy(lit string) string {
	alts := make([]string, 0, len(lit))
	for i := 0; i < len(lit); i++ {
		alts = append(alts, fmt.Sprintf("%s(?:[^%s]|$)", regexp.QuoteMeta(lit[:i]), classByte(lit[i])))
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

// classByte writes one byte inside a character class.
func classByte(ch byte) string {
	switch {
	case isVarByte(ch):
		return string(ch)
	case ch > ' ' && ch < 0x7f:
		return `\` + string(ch) // RE2 escapes any punctuation
	}
	return fmt.Sprintf(`\x%02x`, ch)
}
