package conf

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// errorf records an error diagnostic about rng.
func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// invalid records a bad value for the directive name.
func (d *decoder) invalid(name string, rng hcl.Range, format string, args ...any) {
	d.errorf(rng, "Invalid "+name, format, args...)
}

// value evaluates expr, recording HCL's own diagnostics (unknown variable,
// function call, ...). It refuses null and unknown values.
func (d *decoder) value(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, bool) {
	v, diags := expr.Value(ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.errorf(expr.Range(), "Invalid value", "null is not a value here")
		return cty.NilVal, false
	}
	return v, true
}

// decode evaluates expr, part of the directive name, into target (a
// pointer to a Go value) with HCL's conversions: "8" becomes the number 8,
// a number becomes a string. A value of the wrong type is reported as an
// invalid value of the directive, over the whole expression, like every
// other bad value.
func (d *decoder) decode(name string, expr hcl.Expression, ctx *hcl.EvalContext, target any) bool {
	if _, ok := d.value(expr, ctx); !ok {
		return false
	}
	diags := gohcl.DecodeExpression(expr, ctx, target)
	for _, diag := range diags {
		if diag.Summary == "Unsuitable value type" {
			diag.Summary = "Invalid " + name
			diag.Detail = strings.TrimPrefix(diag.Detail, "Unsuitable value: ")
			diag.Subject, diag.Context = expr.Range().Ptr(), nil
		}
	}
	d.diags = append(d.diags, diags...)
	return !diags.HasErrors()
}

func (d *decoder) str(a *hcl.Attribute) (string, bool) {
	var s string
	return s, d.decode(a.Name, a.Expr, nil, &s)
}

func (d *decoder) boolean(a *hcl.Attribute) (bool, bool) {
	var b bool
	return b, d.decode(a.Name, a.Expr, nil, &b)
}

// integer decodes a whole number in [lo, hi].
func (d *decoder) integer(a *hcl.Attribute, lo, hi int64) (int64, bool) {
	var n int64
	if !d.decode(a.Name, a.Expr, nil, &n) {
		return 0, false
	}
	return n, d.inRange(a, n, lo, hi)
}

// inRange reports n outside [lo, hi] as out of range.
func (d *decoder) inRange(a *hcl.Attribute, n, lo, hi int64) bool {
	if n >= lo && n <= hi {
		return true
	}
	switch {
	case hi == math.MaxInt64:
		d.invalid(a.Name, a.Expr.Range(), "%d is out of range: it must be at least %d", n, lo)
	default:
		d.invalid(a.Name, a.Expr.Range(), "%d is out of range: it must be between %d and %d", n, lo, hi)
	}
	return false
}

// keyword decodes a string that must be one of words.
func (d *decoder) keyword(a *hcl.Attribute, words ...string) (string, bool) {
	s, ok := d.str(a)
	if !ok {
		return "", false
	}
	for _, w := range words {
		if s == w {
			return s, true
		}
	}
	d.invalid(a.Name, a.Expr.Range(), "%q is not one of: %s", s, strings.Join(words, ", "))
	return "", false
}

// wholeNumber returns v, a cty number, as an int64 if it is whole.
func wholeNumber(v cty.Value) (int64, error) {
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number", bf.Text('g', -1))
	}
	n, acc := bf.Int64()
	if acc != big.Exact {
		return 0, errTooLarge
	}
	return n, nil
}

// duration decodes an nginx time: a string with units, or a number (or
// numeric string) of seconds. It must be at least lo.
func (d *decoder) duration(a *hcl.Attribute, lo time.Duration) (time.Duration, bool) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return 0, false
	}
	var dur time.Duration
	var err error
	switch v.Type() {
	case cty.Number:
		var n int64
		n, err = wholeNumber(v)
		if err == nil && (n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second)) {
			err = errTooLarge
		}
		dur = time.Duration(n) * time.Second
	case cty.String:
		dur, err = ParseDuration(v.AsString())
	default:
		err = fmt.Errorf("a duration is required, e.g. \"75s\", \"1h30m\" or a number of seconds")
	}
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%s is not a duration: %v", shortValue(v), err)
		return 0, false
	}
	if dur < lo {
		d.invalid(a.Name, a.Expr.Range(), "%s is out of range: it must be at least %s", FormatDuration(dur), FormatDuration(lo))
		return 0, false
	}
	return dur, true
}

// size decodes an nginx size: a number of bytes, or a string with an
// optional k, m or g. It must lie in [lo, hi].
func (d *decoder) size(a *hcl.Attribute, lo, hi int64) (int64, bool) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return 0, false
	}
	var n int64
	var err error
	switch v.Type() {
	case cty.Number:
		n, err = wholeNumber(v)
	case cty.String:
		n, err = ParseSize(v.AsString())
	default:
		err = fmt.Errorf("a size is required, e.g. 512, \"8k\" or \"1m\"")
	}
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%s is not a size: %v", shortValue(v), err)
		return 0, false
	}
	if n < lo || n > hi {
		d.invalid(a.Name, a.Expr.Range(), "%s is out of range: it must be between %s and %s", FormatSize(n), FormatSize(lo), FormatSize(hi))
		return 0, false
	}
	return n, true
}

// shortValue renders v for a message: strings quoted, numbers as written.
func shortValue(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return v.Type().FriendlyName()
}

// stringList decodes either one string or a list of strings, with the
// range of each element so that a bad element is pointed at exactly.
func (d *decoder) stringList(name string, expr hcl.Expression, ctx *hcl.EvalContext) ([]string, []hcl.Range, bool) {
	elems, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		// Not a list constructor: a single string (or a mistake that
		// the string decoding reports).
		var s string
		if !d.decode(name, expr, ctx, &s) {
			return nil, nil, false
		}
		return []string{s}, []hcl.Range{expr.Range()}, true
	}
	ok := true
	list := make([]string, 0, len(elems))
	ranges := make([]hcl.Range, 0, len(elems))
	for _, e := range elems {
		var s string
		if !d.decode(name, e, ctx, &s) {
			ok = false
			continue
		}
		list = append(list, s)
		ranges = append(ranges, e.Range())
	}
	return list, ranges, ok
}

// resolve makes p absolute against the prefix, as nginx resolves relative
// paths against its prefix (-p).
func (d *decoder) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.prefix, p)
}

// path decodes a non-empty file system path and resolves it.
func (d *decoder) path(a *hcl.Attribute) (string, bool) {
	s, ok := d.str(a)
	if !ok {
		return "", false
	}
	if s == "" {
		d.invalid(a.Name, a.Expr.Range(), "the path must not be empty")
		return "", false
	}
	return d.resolve(s), true
}
