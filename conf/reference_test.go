package conf

import (
	"bytes"
	"cmp"
	goflag "flag"

	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The configuration reference, docs/reference.md, is generated: the names
// and contexts come from directiveTable and blockSpecs, the defaults from
// what tern -T writes for a configuration that sets nothing, and the
// syntax, nginx equivalent and prose from docs/directives/NAME.md, one
// hand-written file per directive or block. docs/adding-a-directive.md
// says how to write one. Regenerate with
//
//	go generate ./conf
//
// which runs this test with -update.

var updateReference = goflag.Bool("update", false, "rewrite docs/reference.md from the directive table and docs/directives")

const (
	entriesDir    = "../docs/directives"
	referenceFile = "../docs/reference.md"
)

// refEntry is one directive or block of the reference.
type refEntry struct {
	name    string
	block   bool
	ctx     context
	dflt    string // from tern -T; "" for blocks
	syntax  []string
	nginx   string
	body    string // Markdown, headings already demoted
	srcFile string
}

// TestReference fails when a directive or block has no entry in
// docs/directives, when an entry names no directive, when an entry is
// malformed, when tern -T leaves a directive out, or when
// docs/reference.md is not what the entries and the table make.
func TestReference(t *testing.T) {
	entries, errs := referenceEntries()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	got := renderReference(entries)
	if *updateReference {
		if err := os.WriteFile(referenceFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(referenceFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("docs/reference.md is out of date (%v): run go generate ./conf", err)
	}
}

// TestReferenceChecks makes sure that the checks of TestReference fail
// on the mistakes they are there for.
func TestReferenceChecks(t *testing.T) {
	good := "# gzip\n\nSyntax: `gzip = true | false`\nnginx: `gzip on | off;`\n\nCompresses.\n\n## Differences from nginx\n\nNone.\n"
	if _, err := parseEntry("gzip.md", good); err != nil {
		t.Fatalf("a good entry is refused: %v", err)
	}
	for i, c := range []struct{ file, text, want string }{
		{"gzip.md", "# gzp\n" + good[6:], "title"},
		{"gzip.md", strings.Replace(good, "Syntax: `gzip", "Syntax: `gz", 1), "must start with"},
		{"gzip.md", strings.Replace(good, "nginx: ", "nginks: ", 1), "nginx:"},
		{"gzip.md", strings.Replace(good, "## Differences from nginx\n\nNone.\n", "", 1), "Differences from nginx"},
		{"gzip.md", strings.Replace(good, "None.\n", "", 1), "Differences from nginx"},
		{"gzip.md", strings.Replace(good, "Compresses.\n\n", "", 1), "description"},
		{"gzip.md", good + "\n# Another\n", "heading"},
	} {
		if _, err := parseEntry(c.file, c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: got %v, want an error about %q", i, err, c.want)
		}
	}
	// A directive without an entry, and an entry without a directive.
	_, errs := collectEntries(map[string]string{"gzip.md": good, "bogus.md": strings.ReplaceAll(good, "gzip", "bogus")})
	var text []string
	for _, err := range errs {
		text = append(text, err.Error())
	}
	joined := strings.Join(text, "\n")
	for _, want := range []string{"bogus.md names no directive", "sendfile has no entry"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the checks miss %q:\n%s", want, joined)
		}
	}
}

// referenceEntries reads docs/directives and joins it with the table.
func referenceEntries() ([]*refEntry, []error) {
	files, err := filepath.Glob(filepath.Join(entriesDir, "*.md"))
	if err != nil || len(files) == 0 {
		return nil, []error{fmt.Errorf("no entries in %s: %v", entriesDir, err)}
	}
	texts := make(map[string]string)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, []error{err}
		}
		if filepath.Base(f) != "README.md" {
			texts[filepath.Base(f)] = string(b)
		}
	}
	return collectEntries(texts)
}

// collectEntries parses the entries (file name → text) and checks them
// against the table: one entry per directive and block, no other.
func collectEntries(texts map[string]string) ([]*refEntry, []error) {
	var errs []error
	defaults, err := referenceDefaults()
	if err != nil {
		errs = append(errs, err)
	}
	known := make(map[string]*refEntry)
	for _, b := range blockSpecs {
		known[b.name] = &refEntry{name: b.name, block: true, ctx: b.ctx}
	}
	for _, dir := range directiveTable {
		if known[dir.name] != nil {
			errs = append(errs, fmt.Errorf("%s is both a directive and a block: one file cannot document both", dir.name))
		}
		e := &refEntry{name: dir.name, ctx: dir.ctx}
		if e.dflt = defaults[dir.name]; e.dflt == "" && err == nil {
			errs = append(errs, fmt.Errorf("%s does not appear in tern -T's output for an empty configuration: "+
				"write it in WriteHCL (a Settings directive: give it a show function)", dir.name))
		}
		known[dir.name] = e
	}
	for _, file := range slices.Sorted(maps.Keys(texts)) {
		name := strings.TrimSuffix(file, ".md")
		e := known[name]
		if e == nil {
			errs = append(errs, fmt.Errorf("docs/directives/%s names no directive or block of the configuration: remove it, or rename it to the directive's name", file))
			continue
		}
		parsed, err := parseEntry(file, texts[file])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.syntax, e.nginx, e.body, e.srcFile = parsed.syntax, parsed.nginx, parsed.body, file
	}
	var entries []*refEntry
	for _, e := range known {
		if e.srcFile == "" {
			kind := "directive"
			if e.block {
				kind = "block"
			}
			errs = append(errs, fmt.Errorf("the %s %s has no entry: write docs/directives/%s.md (see docs/adding-a-directive.md)", kind, e.name, e.name))
			continue
		}
		entries = append(entries, e)
	}
	return entries, errs
}

// parseEntry reads one docs/directives file:
//
//	# NAME
//
//	Syntax: `NAME = ...`        (one line or more)
//	nginx: ...                  (the equivalent, or "none" and why)
//
//	Description in Markdown, ## and ### headings allowed.
//
//	## Differences from nginx
//
//	Every difference, or "None."
func parseEntry(file, text string) (*refEntry, error) {
	name := strings.TrimSuffix(file, ".md")
	bad := func(format string, args ...any) error {
		return fmt.Errorf("docs/directives/%s: "+format, append([]any{file}, args...)...)
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if lines[0] != "# "+name {
		return nil, bad("the first line (the title) must be %q", "# "+name)
	}
	i := 1
	for i < len(lines) && lines[i] == "" {
		i++
	}
	e := &refEntry{name: name}
	for ; i < len(lines) && strings.HasPrefix(lines[i], "Syntax: "); i++ {
		s := strings.TrimPrefix(lines[i], "Syntax: ")
		if !strings.HasPrefix(s, "`"+name+" ") || !strings.HasSuffix(s, "`") {
			return nil, bad("a Syntax line must start with `%s  and be one code span: %q", name, s)
		}
		e.syntax = append(e.syntax, s)
	}
	if len(e.syntax) == 0 {
		return nil, bad("after the title, one or more lines \"Syntax: `%s = ...`\"", name)
	}
	if i == len(lines) || !strings.HasPrefix(lines[i], "nginx: ") || strings.TrimSpace(lines[i][len("nginx: "):]) == "" {
		return nil, bad("after the Syntax lines, a line \"nginx: \" with the nginx equivalent (or \"none\" and why)")
	}
	e.nginx = strings.TrimSpace(lines[i][len("nginx: "):])
	body := strings.TrimSpace(strings.Join(lines[i+1:], "\n"))
	desc, diffs, found := strings.Cut(body, "## Differences from nginx\n")
	switch {
	case !found:
		return nil, bad("a section \"## Differences from nginx\" is required (write \"None.\" if there are none)")
	case strings.TrimSpace(diffs) == "" || strings.HasPrefix(strings.TrimSpace(diffs), "#"):
		return nil, bad("the section \"## Differences from nginx\" is empty (write \"None.\" if there are none)")
	case strings.TrimSpace(desc) == "":
		return nil, bad("a description is required between the nginx line and \"## Differences from nginx\"")
	}
	var out []string
	fence := false
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			if !strings.HasPrefix(l, "## ") && !strings.HasPrefix(l, "### ") {
				return nil, bad("only ## and ### headings may follow the title: %q", l)
			}
			l = "##" + l // the entry is a ### in the reference
		}
		out = append(out, l)
	}
	e.body = strings.Join(out, "\n")
	return e, nil
}

// referenceDefaults returns each directive's value as tern -T writes it
// for a configuration that sets nothing but one server and one
// location, the outermost occurrence of each, keyed by name. A
// directive that is not set is written as a comment "# NAME: TEXT",
// taken as TEXT; a value that spans several lines as a count.
func referenceDefaults() (map[string]string, error) {
	const file = "<reference>"
	src := "http {\n  server {\n    location \"/\" {}\n  }\n}\n"
	cfg, err := LoadSnapshot(file, "PREFIX", map[string][]byte{file: []byte(src)})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := cfg.WriteHCL(&b); err != nil {
		return nil, err
	}
	defaults := make(map[string]string)
	lines := strings.Split(b.String(), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if c, ok := strings.CutPrefix(l, "# "); ok {
			name, text, ok := strings.Cut(c, ": ")
			if ok && directiveByName[name] != nil && defaults[name] == "" {
				defaults[name] = text
			}
			continue
		}
		name, value, ok := strings.Cut(l, " = ")
		if !ok {
			continue
		}
		if value == "{" { // a multi-line value: count its entries
			n := 0
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "}"; i++ {
				n++
			}
			value = fmt.Sprintf("(%d entries: `tern -T` prints them)", n)
		} else {
			value = "`" + value + "`"
		}
		if directiveByName[name] != nil && defaults[name] == "" {
			defaults[name] = value
		}
	}
	return defaults, nil
}

// contextTitle names the contexts of c for the reference's sections.
func contextTitle(c context) string {
	if c == inMain {
		return "the main context"
	}
	var names []string
	for i, name := range contextNames {
		if c&(1<<i) != 0 {
			names = append(names, "`"+name+"`")
		}
	}
	return strings.Join(names, ", ")
}

// renderReference writes docs/reference.md: an index, then the blocks,
// then the directives grouped by the contexts they may appear in, in
// the order the table first uses each set of contexts, alphabetically
// within a group.
func renderReference(entries []*refEntry) []byte {
	var groups []context
	for _, dir := range directiveTable {
		if !slices.Contains(groups, dir.ctx) {
			groups = append(groups, dir.ctx)
		}
	}
	slices.SortFunc(entries, func(a, b *refEntry) int { return cmp.Compare(a.name, b.name) })
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated by "go generate ./conf" from conf's directive table and
docs/directives/*.md. Edit those, not this file: see
docs/adding-a-directive.md. -->

Every block and directive of tern's configuration. The language itself
(values, units, paths, inheritance, variables, how a server and a
location are chosen) is in [configuration.md](configuration.md).
Defaults are what ` + "`tern -T`" + ` prints for a configuration that sets
nothing; PREFIX is the directory relative paths resolve against (` + "`-p`" + `,
else the configuration file's directory).

| name | kind | contexts |
|---|---|---|
`)
	for _, e := range entries {
		kind := "directive"
		if e.block {
			kind = "block"
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s |\n", e.name, e.name, kind, e.ctx)
	}
	b.WriteString("\n## Blocks\n")
	for _, e := range entries {
		if e.block {
			writeEntry(&b, e)
		}
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## Directives in %s\n", contextTitle(g))
		for _, e := range entries {
			if !e.block && e.ctx == g {
				writeEntry(&b, e)
			}
		}
	}
	return []byte(b.String())
}

func writeEntry(b *strings.Builder, e *refEntry) {
	fmt.Fprintf(b, "\n### %s\n\n", e.name)
	for _, s := range e.syntax {
		fmt.Fprintf(b, "- Syntax: %s\n", s)
	}
	if e.dflt != "" {
		fmt.Fprintf(b, "- Default: %s\n", e.dflt)
	}
	fmt.Fprintf(b, "- Context: %s\n", contextTitle(e.ctx))
	// Entries link as from docs/directives; the reference is in docs.
	body := strings.ReplaceAll(e.body, "](../reference.md#", "](#")
	body = strings.ReplaceAll(body, "](../", "](")
	fmt.Fprintf(b, "- nginx: %s\n\n%s\n", e.nginx, body)
}
