package conf

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Regex is a regular expression of the configuration (a location, a
// server_name, rewrite, if, map): Go's RE2, not PCRE. It knows what the
// variables need of a match: whether its groups are ever read ($1..$9,
// named groups), and which user variables its named groups set.
type Regex struct {
	*regexp.Regexp
	// captures: the configuration reads the groups of its matches, so a
	// match records them (Captures); else a match is only a yes or no,
	// which does not allocate.
	captures bool
	// Named lists the named groups and the user variables they set.
	Named []NamedGroup
}

// NamedGroup is a named group of a Regex and the user variable that a
// match sets to it, as nginx's named captures.
type NamedGroup struct {
	Group int
	Var   int
}

// maxGroups bounds the groups a match records: $0 and $1..$9, and named
// groups beyond those.
const maxGroups = 32

// Captures holds the groups of the last match of a Regex whose groups
// are read: $0..$9 and named groups. A request owns one; the subject is
// copied, so a later change of the URI does not change them.
type Captures struct {
	subject []byte
	idx     [2 * maxGroups]int
	n       int // groups recorded, $0 included; 0 = none
}

// Reset forgets the groups, keeping the memory.
func (c *Captures) Reset() {
	c.subject = c.subject[:0]
	c.n = 0
}

// Group returns group i of the last match, nil when there is none.
func (c *Captures) Group(i int) []byte {
	if i >= c.n || c.idx[2*i] < 0 {
		return nil
	}
	return c.subject[c.idx[2*i]:c.idx[2*i+1]]
}

// Match reports whether re matches subject. When the configuration reads
// the groups of re and c is not nil, a match records them in c; that
// costs one allocation (Go's regexp has no submatch search into a
// caller's memory), and only configurations that read groups pay it.
func (re *Regex) Match(subject []byte, c *Captures) bool {
	if !re.captures || c == nil {
		return re.Regexp.Match(subject)
	}
	loc := re.FindSubmatchIndex(subject)
	if loc == nil {
		return false
	}
	c.subject = append(c.subject[:0], subject...)
	c.n = copy(c.idx[:], loc) / 2
	return true
}

// RegexError is a regular expression tern cannot compile; Offset is
// where in the expression the problem is, for a diagnostic that points
// at the column.
type RegexError struct {
	Offset int
	Msg    string
}

func (e *RegexError) Error() string { return e.Msg }

// pcreOnly are the constructs of PCRE that RE2 lacks, by the text they
// start with. Go's own messages ("invalid or unsupported Perl syntax")
// do not say which, so tern names them.
var pcreOnly = []struct{ text, what string }{
	{"(?=", "lookahead (?=...)"},
	{"(?!", "negative lookahead (?!...)"},
	{"(?<=", "lookbehind (?<=...)"},
	{"(?<!", "negative lookbehind (?<!...)"},
	{"(?>", "an atomic group (?>...)"},
	{"(?(", "a conditional (?(...)...)"},
	{"(?R)", "recursion (?R)"},
	{"(?'", "a named group written (?'name'...): write (?P<name>...)"},
	{"(?|", "a branch reset group (?|...)"},
	{"(*", "a verb such as (*UTF8)"},
	{"\\K", "\\K (reset the match start)"},
	{"\\G", "\\G"},
	{"\\Z", "\\Z: write \\z or $"},
	{"\\R", "\\R"},
	{"\\h", "\\h"},
	{"\\X", "\\X"},
	{"++", "a possessive quantifier ++"},
	{"*+", "a possessive quantifier *+"},
	{"?+", "a possessive quantifier ?+"},
}

// compileRegex compiles a configuration's regular expression, caseless
// for nginx's "~*". A PCRE-only construct is a RegexError that names it
// and where it is.
func compileRegex(pattern string, caseless bool) (*Regex, error) {
	src := pattern
	if caseless {
		src = "(?i)" + pattern
	}
	re, err := regexp.Compile(src)
	if err == nil {
		return &Regex{Regexp: re}, nil
	}
	if off, what := findPCRE(pattern); off >= 0 {
		return nil, &RegexError{off, fmt.Sprintf("%s is PCRE syntax that tern's regular expressions (RE2) do not have: no lookaround, backreferences, possessive quantifiers or atomic groups", what)}
	}
	msg := err.Error()
	off := -1
	var se *syntax.Error
	if errors.As(err, &se) {
		se.Expr = strings.TrimPrefix(se.Expr, "(?i)")
		msg = fmt.Sprintf("%s: %s", se.Code, se.Expr)
		if strings.HasPrefix(se.Expr, "\\") && len(se.Expr) == 2 && se.Expr[1] >= '1' && se.Expr[1] <= '9' {
			msg = fmt.Sprintf("the backreference %s is PCRE syntax that tern's regular expressions (RE2) do not have", se.Expr)
		}
		off = strings.Index(pattern, se.Expr)
	}
	return nil, &RegexError{max(off, 0), "bad regular expression (RE2 syntax): " + msg}
}

// CheckRegex reports whether pattern compiles as the configuration's
// regular expressions do (RE2, caseless for "~*"); the error is a
// *RegexError naming a PCRE-only construct and its offset.
func CheckRegex(pattern string, caseless bool) error {
	_, err := compileRegex(pattern, caseless)
	return err
}

// findPCRE finds the first PCRE-only construct outside a character
// class, skipping escaped characters.
func findPCRE(p string) (int, string) {
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case inClass && c == ']':
			inClass = false
			continue
		case inClass && c != '\\':
			continue
		case c == '[':
			inClass = true
			continue
		}
		for _, x := range pcreOnly {
			if strings.HasPrefix(p[i:], x.text) && !(inClass && x.text[0] != '\\') {
				return i, x.what
			}
		}
		if c == '\\' {
			if i+1 < len(p) && p[i+1] >= '1' && p[i+1] <= '9' && !inClass {
				return i, "the backreference " + p[i:i+2]
			}
			i++
		}
	}
	return -1, ""
}
