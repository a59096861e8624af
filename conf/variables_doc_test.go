package conf

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// docs/variables.md is generated from the variable table (Variables):
// every variable tern knows, with what it holds. Regenerate with
//
//	go generate ./conf

const variablesFile = "../docs/variables.md"

// TestVariablesDoc fails when docs/variables.md is not what the table
// makes.
func TestVariablesDoc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`# Variables

<!-- Generated from conf's variable table by go generate ./conf: edit conf/vars.go, not this file. -->

Values that nginx expands variables in — ` + "`add_header`, `expires`, `return`, `rewrite`, `set`, `if`, `try_files`, `error_page`, `index`, `root`, `alias`, `auth_basic_user_file`, `map`" + ` and ` + "`log_format`" + ` — take them in tern too, with nginx's names and meanings. A variable is ` + "`$name`" + ` (the longest run of letters, digits and ` + "`_`" + `) or ` + "`${name}`" + `; ` + "`$$`" + ` is a literal ` + "`$`" + `. A name that is neither below nor made by ` + "`set`, `map`" + ` or a named group of a regular expression is an error of ` + "`tern -t`" + ` that points at it.

| variable | value |
|---|---|
`)
	for _, v := range Variables() {
		name := "`$" + v.Name + "`"
		if v.Name == "0 to 9" {
			name = "`$0` … `$9`"
		}
		b.WriteString("| " + name + " | " + strings.ReplaceAll(v.Doc, "|", "\\|") + " |\n")
	}
	b.WriteString(`
Variables made by the configuration:

- ` + "`set`" + ` gives a variable a value: see [set](reference.md#set).
- ` + "`map`" + ` makes a variable from a lookup: see [map](reference.md#map).
- A named group of a regular expression (` + "`(?P<name>...)`" + ` in a
  location, ` + "`server_name`" + `, map key, ` + "`rewrite`" + ` or ` + "`if`" + `) sets ` + "`$name`" + `
  when it matches.

A variable that is never given a value is empty.
`)
	if *updateReference {
		if err := os.WriteFile(variablesFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(variablesFile)
	if err != nil || !bytes.Equal(b.Bytes(), want) {
		t.Errorf("docs/variables.md is out of date (%v): run go generate ./conf", err)
	}
}
