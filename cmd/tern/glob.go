package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// nginx expands an include pattern with glob(3) and no flags (the C
// library's, under the C locale): "*", "?" and "[...]" (with "!" for
// negation) in any component, "\" escaping the next character; a
// wildcard never matches a "/" nor a leading "." that the pattern does
// not spell; the matches are sorted byte-wise. Go's filepath.Glob differs
// on the leading dot (it matches hidden files, such as the .default.conf
// h5bp keeps out of its include on purpose) and on "[!...]", so tern
// convert has its own.

// hasWildcard reports whether an include pattern has glob(3)'s wildcards
// (nginx's test, strpbrk(name, "*?[")).
func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?[") }

// maxGlobEntries bounds the directory entries one include pattern may
// read while it expands: "include /*/*/*/*/*" would otherwise walk most of
// the filesystem (hundreds of thousands of paths, seconds of work) before
// maxIncludes refused the result.
const maxGlobEntries = 1 << 16

// errGlobTooWide refuses a pattern that goes past maxIncludes paths at
// any level or reads more than maxGlobEntries entries.
var errGlobTooWide = fmt.Errorf("the pattern names more than %d paths (or reads more than %d directory entries)", maxIncludes, maxGlobEntries)

// globNginx returns the paths that pattern names, sorted; a relative
// pattern names paths relative to the working directory.
func globNginx(pattern string) ([]string, error) {
	budget := maxGlobEntries
	parts := strings.Split(pattern, "/")
	paths := []string{""}
	if strings.HasPrefix(pattern, "/") {
		paths = []string{"/"}
	}
	for i, part := range parts {
		if part == "" {
			continue
		}
		last := i == len(parts)-1
		var next []string
		for _, dir := range paths {
			if !hasWildcard(part) {
				p := filepath.Join(dir, unescapeGlob(part))
				if _, err := os.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := os.ReadDir(cmp.Or(dir, "."))
			if err != nil {
				continue
			}
			if budget -= len(ents); budget < 0 {
				return nil, errGlobTooWide
			}
			for _, e := range ents {
				ok, err := matchGlob(part, e.Name())
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				p := filepath.Join(dir, e.Name())
				if !last {
					if st, err := os.Stat(p); err != nil || !st.IsDir() {
						continue
					}
				}
				next = append(next, p)
			}
			if len(next) > maxIncludes {
				return nil, errGlobTooWide
			}
		}
		paths = next
	}
	slices.Sort(paths)
	return paths, nil
}

// unescapeGlob drops the backslashes of a component without wildcards.
func unescapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var errBadPattern = errors.New("syntax error in pattern")

// matchGlob matches name against one component of a pattern, as
// fnmatch(3) with FNM_PERIOD and without FNM_NOESCAPE.
func matchGlob(pattern, name string) (bool, error) {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") && !strings.HasPrefix(pattern, `\.`) {
		return false, nil // a leading dot must be spelled
	}
	return matchFrom(pattern, name)
}

func matchFrom(p, s string) (bool, error) {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			if p == "" {
				return true, nil
			}
			for i := 0; i <= len(s); i++ {
				if ok, err := matchFrom(p, s[i:]); ok || err != nil {
					return ok, err
				}
			}
			return false, nil
		case '?':
			if s == "" {
				return false, nil
			}
			p, s = p[1:], s[1:]
		case '[':
			if s == "" {
				return false, nil
			}
			ok, rest, err := matchClass(p, s[0])
			if err != nil {
				return false, err
			}
			if !ok {
				return false, nil
			}
			p, s = rest, s[1:]
		case '\\':
			if len(p) > 1 {
				p = p[1:]
			}
			fallthrough
		default:
			if s == "" || s[0] != p[0] {
				return false, nil
			}
			p, s = p[1:], s[1:]
		}
	}
	return s == "", nil
}

// matchClass matches c against the bracket expression at the start of
// p and returns the rest of p.
func matchClass(p string, c byte) (bool, string, error) {
	i := 1
	negate := i < len(p) && (p[i] == '!' || p[i] == '^')
	if negate {
		i++
	}
	matched := false
	first := true
	for {
		if i >= len(p) {
			return false, "", errBadPattern
		}
		if p[i] == ']' && !first {
			i++
			break
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		hi := lo
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
		i++
	}
	return matched != negate, p[i:], nil
}
