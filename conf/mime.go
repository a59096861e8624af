package conf

import (
	"iter"
	"maps"
	"slices"
)

// maxExtLen bounds the extensions the MIME table holds, so that Lookup can
// fold the case of an extension into a buffer on its stack.
const maxExtLen = 32

// MIME maps file extensions (lower case, without the dot) to media types.
// It is immutable once built.
type MIME struct {
	types map[string]string
}

// newMIME returns a table holding the built-in types.
func newMIME() *MIME {
	m := &MIME{types: make(map[string]string, 2*len(builtinTypes))}
	for _, e := range builtinTypes {
		for _, ext := range e.exts {
			m.types[ext] = e.typ
		}
	}
	return m
}

// BuiltinMIME returns tern's built-in table, without a configuration's
// types.
func BuiltinMIME() *MIME { return newMIME() }

// Lookup returns the media type of ext (no dot), in any case, as nginx
// compares extensions case-insensitively. It does not allocate.
func (m *MIME) Lookup(ext []byte) (string, bool) {
	if m == nil || len(ext) == 0 || len(ext) > maxExtLen {
		return "", false
	}
	var low [maxExtLen]byte
	for i, c := range ext {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	// The compiler turns a map index by string(bytes) into a lookup
	// without a conversion, so nothing escapes here.
	t, ok := m.types[string(low[:len(ext)])]
	return t, ok
}

// Len returns the number of extensions in the table.
func (m *MIME) Len() int { return len(m.types) }

// All yields every extension and its media type, sorted by extension.
func (m *MIME) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, ext := range slices.Sorted(maps.Keys(m.types)) {
			if !yield(ext, m.types[ext]) {
				return
			}
		}
	}
}

// byType groups the table by media type: each type with its extensions,
// both sorted, for writing the table back out.
func (m *MIME) byType() ([]string, map[string][]string) {
	exts := make(map[string][]string)
	for ext, typ := range m.All() {
		exts[typ] = append(exts[typ], ext)
	}
	return slices.Sorted(maps.Keys(exts)), exts
}
