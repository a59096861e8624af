package conf

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Error is an invalid configuration: every diagnostic found, not just the
// first, each with the file, line and column it is about.
type Error struct {
	// Diags are the diagnostics, sorted by file and position.
	Diags hcl.Diagnostics
	// Files are the parsed files by name, for quoting source lines.
	Files map[string]*hcl.File
}

// Error returns one line per diagnostic, "FILE:LINE,COL: summary: detail",
// without the source lines that WriteText adds.
func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeHeadline(&b, d)
	}
	return b.String()
}

// WriteText writes every diagnostic for a person at a terminal (tern -t):
// the headline of Error, then the source line it points at and a line
// that underlines the span, caret first.
func (e *Error) WriteText(w io.Writer) {
	var b bytes.Buffer
	for _, d := range e.Diags {
		writeHeadline(&b, d)
		b.WriteByte('\n')
		e.writeSnippet(&b, d.Subject)
	}
	_, _ = w.Write(b.Bytes()) // a terminal write: nothing to do on failure
}

// writeHeadline writes "FILE:LINE,COL: summary: detail"; a diagnostic about
// a whole file (one that could not be read) has no line or column.
func writeHeadline(b io.StringWriter, d *hcl.Diagnostic) {
	if r := d.Subject; r != nil {
		if r.Start.Line > 0 {
			b.WriteString(fmt.Sprintf("%s:%d,%d: ", r.Filename, r.Start.Line, r.Start.Column))
		} else if r.Filename != "" {
			b.WriteString(r.Filename + ": ")
		}
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(": " + d.Detail)
	}
}

// writeSnippet quotes the line r starts on and underlines r on it.
func (e *Error) writeSnippet(b *bytes.Buffer, r *hcl.Range) {
	if r == nil || r.Start.Line == 0 {
		return
	}
	f := e.Files[r.Filename]
	if f == nil || r.Start.Byte > len(f.Bytes) {
		return
	}
	src := f.Bytes
	start := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	end := bytes.IndexByte(src[r.Start.Byte:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += r.Start.Byte
	}
	line := bytes.TrimRight(src[start:end], "\r")
	b.WriteString("  ")
	b.Write(line)
	b.WriteString("\n  ")
	// Copy tabs so that the caret lines up under a tab-indented line.
	for _, c := range string(line[:min(r.Start.Byte-start, len(line))]) {
		if c == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('^')
	stop := min(r.End.Byte, start+len(line))
	if n := utf8.RuneCount(src[min(r.Start.Byte, stop):stop]); n > 1 {
		b.WriteString(strings.Repeat("~", n-1))
	}
	b.WriteByte('\n')
}

// sortDiags orders diagnostics by file (in the order files were read),
// then position, so that output does not depend on map order in the
// decoder; equal positions keep their order.
func sortDiags(diags hcl.Diagnostics, fileOrder map[string]int) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		ra, rb := subjectOf(a), subjectOf(b)
		return cmp.Or(
			cmp.Compare(fileOrder[ra.Filename], fileOrder[rb.Filename]),
			cmp.Compare(ra.Start.Byte, rb.Start.Byte),
		)
	})
}

func subjectOf(d *hcl.Diagnostic) hcl.Range {
	if d.Subject == nil {
		return hcl.Range{}
	}
	return *d.Subject
}
