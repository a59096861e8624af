package conf

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestHCLQuote checks that every string WriteHCL quotes reads back as
// itself, template sequences and control characters included.
func TestHCLQuote(t *testing.T) {
	for i, s := range []string{
		"", "plain", `a "quoted" \ path`, "tab\there\nnewline\rcr", "\x00\x01\x1f\x7f",
		"${uri}", "$${uri}", "%{ if }", "100%", "$", "cost $5", "ünïcödé ✓", `\.(css|js)$`,
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(hclQuote(s)), "q", hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("%d: %s does not parse: %v", i, hclQuote(s), diags)
			continue
		}
		v, diags := expr.Value(nil)
		if diags.HasErrors() || v.AsString() != s {
			t.Errorf("%d: %s reads back as %q (%v), want %q", i, hclQuote(s), v.AsString(), diags, s)
		}
	}
}
