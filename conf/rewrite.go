package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The rewrite module (nginx's ngx_http_rewrite_module): set, rewrite,
// return, break and if are statements that run in the order written, in
// a server (nginx's server rewrite phase, before a location is chosen)
// and in the location chosen (its rewrite phase). They are not inherited:
// a location runs its own. HCL allows an attribute once per block, so
// each kind is one attribute holding a list (rewrite) or an object (set),
// and the statements run in the order their attributes and if blocks are
// written.

// StmtOp is the kind of a statement.
type StmtOp uint8

const (
	// OpSet gives a variable a value.
	OpSet StmtOp = iota + 1
	// OpRewrite changes the URI when a regular expression matches it.
	OpRewrite
	// OpReturn answers the request.
	OpReturn
	// OpBreak stops the statements.
	OpBreak
	// OpIf runs a block when a condition holds.
	OpIf
)

// RewriteFlag is the flag of a rewrite.
type RewriteFlag uint8

const (
	// RewriteNone goes on with the next statements; once they are done,
	// the location is chosen again for the new URI.
	RewriteNone RewriteFlag = iota
	// RewriteLast stops the statements and chooses the location again.
	RewriteLast
	// RewriteBreak stops the statements and stays in this location.
	RewriteBreak
	// RewriteRedirect answers 302 with the result as Location.
	RewriteRedirect
	// RewritePermanent answers 301 with the result as Location.
	RewritePermanent
)

var rewriteFlags = [...]string{RewriteNone: "", RewriteLast: "last", RewriteBreak: "break",
	RewriteRedirect: "redirect", RewritePermanent: "permanent"}

// Stmt is one statement.
type Stmt struct {
	Op StmtOp
	// Var is what set sets: a user variable (VarUser) or $args.
	Var Var
	// Value is set's value, rewrite's replacement (without a final "?")
	// or return's text.
	Value Template
	// Regex is rewrite's expression, matched against $uri.
	Regex *Regex
	// Flag is rewrite's flag.
	Flag RewriteFlag
	// Redirect: the rewrite answers with Code and the result as
	// Location (a redirect or permanent flag, or a replacement that
	// starts with http://, https:// or $scheme).
	Redirect bool
	// KeepArgs: the request's arguments follow the result (the
	// replacement does not end with "?").
	KeepArgs bool
	// Code is return's status, or a redirecting rewrite's 301 or 302.
	Code int
	// Cond is if's condition; Then its block.
	Cond *Cond
	Then *Location
}

// CondOp is the form of an if condition.
type CondOp uint8

const (
	// CondTrue: $var is neither empty nor "0".
	CondTrue CondOp = iota + 1
	// CondEqual, CondNotEqual compare Left with Right.
	CondEqual
	CondNotEqual
	// CondMatch, CondNotMatch match Left against Regex.
	CondMatch
	CondNotMatch
	// CondFile tests the file Left names: File is 'f' (a regular file),
	// 'd' (a directory), 'e' (exists) or 'x' (executable).
	CondFile
)

// Cond is an if condition.
type Cond struct {
	Op    CondOp
	Left  Template
	Right Template
	Regex *Regex
	File  byte
	// Not negates a file test ("!-f").
	Not bool
	// Text is the condition as written, for WriteHCL and logs.
	Text string
}

// scriptItem is a run of statements and where it was written.
type scriptItem struct {
	pos   int
	stmts []Stmt
}

// script collects the statements of one block while it is decoded.
type script struct {
	items []scriptItem
}

func (s *script) add(pos int, stmts ...Stmt) {
	s.items = append(s.items, scriptItem{pos, stmts})
}

// flatten returns the statements in the order they were written.
func (s *script) flatten() []Stmt {
	slices.SortStableFunc(s.items, func(a, b scriptItem) int { return cmp.Compare(a.pos, b.pos) })
	var out []Stmt
	for _, it := range s.items {
		out = append(out, it.stmts...)
	}
	return out
}

// decodeSet reads set = { NAME = "VALUE", ... }, in order.
func decodeSet(d *decoder, a *hcl.Attribute, t *target) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	var stmts []Stmt
	for _, kv := range pairs {
		var name string
		if !d.decode(a.Name, kv.Key, nil, &name) {
			continue
		}
		name = strings.TrimPrefix(name, "$")
		v, ok := d.setTarget(name, kv.Key.Range())
		if !ok {
			continue
		}
		val, ok := d.template(a.Name, kv.Value)
		if !ok {
			continue
		}
		stmts = append(stmts, Stmt{Op: OpSet, Var: v, Value: val})
	}
	t.script.add(a.Range.Start.Byte, stmts...)
}

// setTarget is the variable set sets: a user variable, declared here,
// or $args or $limit_rate (the built-ins nginx lets set change that tern
// has).
func (d *decoder) setTarget(name string, rng hcl.Range) (Var, bool) {
	if !validVarName(name) {
		d.invalid("set", rng, "%v", errVarName(name))
		return Var{}, false
	}
	if name == "args" || name == "query_string" {
		return Var{Kind: VarArgs}, true
	}
	if name == "limit_rate" {
		// nginx: setting $limit_rate limits the response's rate.
		return Var{Kind: VarLimitRate}, true
	}
	if isBuiltinName(name) {
		d.invalid("set", rng, "$%s is a built-in variable that cannot be set", name)
		return Var{}, false
	}
	return Var{Kind: VarUser, N: d.vars.declare(name), Name: name}, true
}

// decodeRewrite reads rewrite = ["REGEX REPLACEMENT [FLAG]", ...]; an
// entry may also be a list ["REGEX", "REPLACEMENT", "FLAG"], for a regular
// expression or replacement with spaces.
func decodeRewrite(d *decoder, a *hcl.Attribute, t *target) {
	elems, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		elems = []hcl.Expression{a.Expr}
	}
	var stmts []Stmt
	for _, e := range elems {
		if st, ok := d.rewriteEntry(a.Name, e); ok {
			stmts = append(stmts, st)
		}
	}
	t.script.add(a.Range.Start.Byte, stmts...)
}

// rewriteEntry decodes one rewrite.
func (d *decoder) rewriteEntry(name string, e hcl.Expression) (Stmt, bool) {
	var fields []string
	var offs []int // where each field starts in text, for diagnostics
	text := ""
	if parts, diags := hcl.ExprList(e); !diags.HasErrors() {
		for _, p := range parts {
			s, ok := d.templateText(name, p)
			if !ok {
				return Stmt{}, false
			}
			fields = append(fields, s)
			offs = append(offs, -1)
		}
	} else {
		var ok bool
		if text, ok = d.templateText(name, e); !ok {
			return Stmt{}, false
		}
		fields, offs = splitFields(text)
	}
	if len(fields) < 2 || len(fields) > 3 {
		d.invalid(name, e.Range(), "want \"REGEX REPLACEMENT [last|break|redirect|permanent]\"")
		return Stmt{}, false
	}
	st := Stmt{Op: OpRewrite, KeepArgs: true}
	if len(fields) == 3 {
		i := slices.Index(rewriteFlags[:], fields[2])
		if i <= 0 {
			d.invalid(name, e.Range(), "%q is not a flag: last, break, redirect or permanent", fields[2])
			return Stmt{}, false
		}
		st.Flag = RewriteFlag(i)
	}
	var ok bool
	if st.Regex, ok = d.regex(name, text, max(offs[0], 0), fields[0], false, e.Range()); !ok {
		return Stmt{}, false
	}
	repl := fields[1]
	if repl == "" {
		d.invalid(name, e.Range(), "the replacement is empty")
		return Stmt{}, false
	}
	if strings.HasSuffix(repl, "?") {
		// nginx: a final "?" drops the request's arguments.
		repl, st.KeepArgs = repl[:len(repl)-1], false
	}
	switch {
	case st.Flag == RewritePermanent:
		st.Redirect, st.Code = true, 301
	case st.Flag == RewriteRedirect:
		st.Redirect, st.Code = true, 302
	case hasRedirectPrefix(repl):
		st.Redirect, st.Code = true, 302
	}
	if offs[1] >= 0 {
		st.Value, ok = d.compileSub(name, text[:offs[1]+len(repl)], offs[1], e.Range())
	} else {
		st.Value, ok = d.compileTemplate(name, repl, e.Range())
	}
	return st, ok
}

// hasRedirectPrefix reports whether a replacement or return text is a
// URL that makes a redirect by itself, as nginx decides.
func hasRedirectPrefix(s string) bool {
	for _, p := range []string{"http://", "https://", "$scheme", "${scheme}"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// splitFields splits s at runs of spaces, returning each field and its
// offset.
func splitFields(s string) ([]string, []int) {
	var fields []string
	var offs []int
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		if i > start {
			fields = append(fields, s[start:i])
			offs = append(offs, start)
		}
	}
	return fields, offs
}

// decodeBreak reads break = true.
func decodeBreak(d *decoder, a *hcl.Attribute, t *target) {
	b, ok := d.boolean(a)
	if !ok {
		return
	}
	if !b {
		d.invalid(a.Name, a.Expr.Range(), "break = false means nothing: leave it out")
		return
	}
	t.script.add(a.Range.Start.Byte, Stmt{Op: OpBreak})
}

// decodeIf decodes if "CONDITION" { ... } in a server or location: a
// location of its own (nginx's "if" location) that inherits every
// setting of parent and holds the statements of its block.
func (d *decoder) decodeIf(b *hcl.Block, parent *Location) (Stmt, bool) {
	cond, ok := d.condition(b.Labels[0], b.LabelRanges[0])
	if !ok {
		return Stmt{}, false
	}
	then := &Location{Name: parent.Name, Modifier: parent.Modifier, Path: parent.Path, Regex: parent.Regex,
		Server: parent.Server, Settings: parent.Settings, If: true}
	content := d.content(b.Body, inIf)
	var sc script
	d.apply(content.Attributes, &target{set: &then.Settings, script: &sc})
	then.Script = sc.flatten()
	return Stmt{Op: OpIf, Cond: cond, Then: then}, true
}

// condition parses an if condition, as nginx's
// ngx_http_rewrite_if_condition: "$var", "$var = VALUE", "$var != VALUE",
// "$var ~ REGEX" (~*, !~, !~*), or "-f PATH" (-d, -e, -x, and "!-f"...).
// The value may be quoted; VALUE and PATH may use variables.
func (d *decoder) condition(text string, rng hcl.Range) (*Cond, bool) {
	s := strings.TrimSpace(text)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[1 : len(s)-1]) // nginx's parentheses, if kept
	}
	c := &Cond{Text: text}
	first, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	off := strings.Index(text, first)
	switch {
	case len(first) > 1 && first[0] == '$':
		left, ok := d.condVar(text, off, len(first), rng)
		if !ok {
			return nil, false
		}
		c.Left = left
		if rest == "" {
			c.Op = CondTrue
			return c, true
		}
		return d.condOperator(c, text, rest, rng)
	case first == "-f" || first == "-d" || first == "-e" || first == "-x" ||
		first == "!-f" || first == "!-d" || first == "!-e" || first == "!-x":
		c.Op, c.Not, c.File = CondFile, first[0] == '!', first[len(first)-1]
		path := unquote(rest)
		if path == "" {
			d.invalid("if", rng, "%q: %s needs a path, e.g. \"%s $request_filename\"", text, first, first)
			return nil, false
		}
		var ok bool
		c.Left, ok = d.compileSpan("if", text, strings.LastIndex(text, path), len(path), rng)
		return c, ok
	}
	d.invalid("if", rng, "%q is not a condition: want \"$var\", \"$var = value\", \"$var ~ regex\" or \"-f $request_filename\"", text)
	return nil, false
}

// condVar compiles the variable a condition starts with.
func (d *decoder) condVar(text string, off, n int, rng hcl.Range) (Template, bool) {
	t, ok := d.compileSpan("if", text, off, n, rng)
	if ok && (len(t.parts) != 1 || t.parts[0].v.Kind == varLiteral) {
		d.invalid("if", rng, "%q: a condition starts with one variable", text)
		return Template{}, false
	}
	return t, ok
}

// condOperator reads "OP VALUE" after the variable.
func (d *decoder) condOperator(c *Cond, text, rest string, rng hcl.Range) (*Cond, bool) {
	op, val, _ := strings.Cut(rest, " ")
	val = unquote(strings.TrimSpace(val))
	voff := strings.LastIndex(text, val)
	var ok bool
	switch op {
	case "=", "!=":
		c.Op = CondEqual
		if op == "!=" {
			c.Op = CondNotEqual
		}
		c.Right, ok = d.compileSpan("if", text, voff, len(val), rng)
		return c, ok
	case "~", "~*", "!~", "!~*":
		if val == "" {
			d.invalid("if", rng, "%q: the regular expression is missing", text)
			return nil, false
		}
		c.Op = CondMatch
		if op[0] == '!' {
			c.Op = CondNotMatch
		}
		c.Regex, ok = d.regex("if", text, voff, val, strings.HasSuffix(op, "*"), rng)
		return c, ok
	}
	d.invalid("if", rng, "%q: unexpected %q: want =, !=, ~, ~*, !~ or !~*", text, op)
	return nil, false
}

// unquote removes one pair of quotes around s, as nginx's tokenizer does
// for a quoted argument.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// writeScript writes statements (WriteHCL): each run of one kind as one
// attribute, if blocks as blocks. A script decoded from HCL has at most
// one run of each kind, so it reads back the same.
func writeScript(p *printer, depth int, stmts []Stmt, parent *Settings) {
	for i := 0; i < len(stmts); {
		j := i + 1
		for j < len(stmts) && stmts[j].Op == stmts[i].Op && stmts[i].Op != OpIf && stmts[i].Op != OpReturn {
			j++
		}
		run := stmts[i:j]
		switch run[0].Op {
		case OpSet:
			items := make([]string, len(run))
			for k, st := range run {
				items[k] = hclQuote(st.Var.String()[1:]) + " = " + hclQuote(st.Value.String())
			}
			p.attr(depth, "set", "{ "+strings.Join(items, ", ")+" }")
		case OpRewrite:
			items := make([]string, len(run))
			for k, st := range run {
				items[k] = rewriteText(&st)
			}
			p.attr(depth, "rewrite", "["+strings.Join(items, ", ")+"]")
		case OpReturn:
			p.attr(depth, "return", hclQuote(returnText(run[0].Code, run[0].Value)))
		case OpBreak:
			p.attr(depth, "break", "true")
		case OpIf:
			st := run[0]
			p.line(depth, "if %s {", hclQuote(st.Cond.Text))
			writeSettings(p, depth+1, inIf, &st.Then.Settings, parent, inSettings)
			writeScript(p, depth+1, st.Then.Script, &st.Then.Settings)
			p.line(depth, "}")
		}
		i = j
	}
}

// rewriteText writes one rewrite entry.
func rewriteText(st *Stmt) string {
	repl := st.Value.String()
	if !st.KeepArgs {
		repl += "?"
	}
	fields := []string{st.Regex.String(), repl}
	if st.Flag != RewriteNone {
		fields = append(fields, rewriteFlags[st.Flag])
	}
	for _, f := range fields {
		if strings.ContainsAny(f, " \t") || f == "" {
			q := make([]string, len(fields))
			for i, f := range fields {
				q[i] = hclQuote(f)
			}
			return "[" + strings.Join(q, ", ") + "]"
		}
	}
	return hclQuote(strings.Join(fields, " "))
}

// returnText writes return's value.
func returnText(code int, text Template) string {
	if text.IsZero() {
		return fmt.Sprint(code)
	}
	return fmt.Sprintf("%d %s", code, text.String())
}
