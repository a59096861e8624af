package conf

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// unclosedSummary is HCL's summary for a block without its "}".
const unclosedSummary = "Unclosed configuration block"

// openBrace is a "{" not yet closed while scanning.
type openBrace struct {
	rng    hcl.Range
	indent int    // the indentation of its line
	line   string // its line, trimmed: what the block is
}

// unclosedDiags adds to HCL's report of an unclosed block, which points
// at the outermost one, a diagnostic where the file ends, listing every
// block still open there, and, when the indentation says which block
// lost its "}" (a "}" indented less than the line of the brace it
// closes), one at that block.
func unclosedDiags(src []byte, filename string) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	var stack []openBrace
	var suspect *openBrace
	for _, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace:
			indent, line := lineAt(src, tok.Range.Start.Byte)
			stack = append(stack, openBrace{rng: tok.Range, indent: indent, line: line})
		case hclsyntax.TokenCBrace:
			if len(stack) == 0 {
				continue
			}
			top := stack[len(stack)-1]
			indent, line := lineAt(src, tok.Range.Start.Byte)
			if suspect == nil && strings.HasPrefix(line, "}") && indent < top.indent {
				suspect = &top
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return nil
	}
	var open []string
	for _, b := range stack {
		open = append(open, fmt.Sprintf("%q at %d,%d", b.line, b.rng.Start.Line, b.rng.Start.Column))
	}
	diags := hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  unclosedSummary,
		Detail:   fmt.Sprintf("the file ends here with %d block(s) still open: %s", len(stack), strings.Join(open, ", ")),
		Subject:  endOf(src, filename).Ptr(),
	}}
	if suspect != nil && suspect.rng != stack[0].rng {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing closing brace",
			Detail:   "this block is probably the one without its }: a later } is indented less than this line, as the block around it",
			Subject:  suspect.rng.Ptr(),
		})
	}
	return diags
}

// lineAt returns the indentation (in bytes of spaces and tabs) and the
// trimmed text of the line holding offset.
func lineAt(src []byte, offset int) (int, string) {
	start := bytes.LastIndexByte(src[:offset], '\n') + 1
	end := bytes.IndexByte(src[offset:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += offset
	}
	line := src[start:end]
	trimmed := bytes.TrimLeft(line, " \t")
	return len(line) - len(trimmed), string(bytes.TrimSpace(trimmed))
}

// endOf is the position just after the last character of src that is
// not white space: where a reader sees the file end.
func endOf(src []byte, filename string) hcl.Range {
	n := len(bytes.TrimRight(src, " \t\r\n"))
	line := 1 + bytes.Count(src[:n], []byte("\n"))
	col := n - (bytes.LastIndexByte(src[:n], '\n') + 1) + 1
	pos := hcl.Pos{Line: line, Column: col, Byte: n}
	return hcl.Range{Filename: filename, Start: pos, End: pos}
}
