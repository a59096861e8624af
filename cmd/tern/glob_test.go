package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestMatchGlob(t *testing.T) {
	for i, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*.conf", "a.conf", true},
		{"*.conf", ".default.conf", false},
		{".*.conf", ".default.conf", true},
		{"*", ".hidden", false},
		{"?.conf", "a.conf", true},
		{"?.conf", "ab.conf", false},
		{"[ab].conf", "b.conf", true},
		{"[!ab].conf", "b.conf", false},
		{"[!ab].conf", "c.conf", true},
		{"[a-c]*", "b1", true},
		{"[]x]", "]", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"*.conf", "a.conf.bak", false},
		{"a*b*c", "aXbYc", true},
	} {
		got, err := matchGlob(c.pattern, c.name)
		if err != nil || got != c.want {
			t.Errorf("%d: %q %q = %v %v, want %v", i, c.pattern, c.name, got, err, c.want)
		}
	}
	if _, err := matchGlob("[a", "a"); err == nil {
		t.Error("an open bracket is accepted")
	}
}

func TestGlobNginx(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"conf.d/b.conf", "conf.d/a.conf", "conf.d/.default.conf", "conf.d/x.txt",
		"sites-a/s.conf", "sites-b/s.conf", ".hidden/s.conf"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	for i, c := range []struct {
		pattern string
		want    []string
	}{
		{"conf.d/*.conf", []string{"conf.d/a.conf", "conf.d/b.conf"}},
		{"conf.d/.*", []string{"conf.d/.default.conf"}},
		{"sites-*/*.conf", []string{"sites-a/s.conf", "sites-b/s.conf"}},
		{"*/s.conf", []string{"sites-a/s.conf", "sites-b/s.conf"}},
		{"none/*.conf", nil},
	} {
		got, err := globNginx(filepath.Join(dir, c.pattern))
		for j := range got {
			got[j], _ = filepath.Rel(dir, got[j])
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%d: %s: %q %v, want %q", i, c.pattern, got, err, c.want)
		}
	}
}

// TestGlobNginxBounded: a pattern whose expansion walks more than
// maxGlobEntries directory entries, or keeps more than maxIncludes paths
// at any level, is refused instead of walking the filesystem (the fuzzer
// stalled for seconds on "include /*/*/*/*/*", which names 370,000 paths
// here). A pattern over a real tree within the bounds still expands.
func TestGlobNginxBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range maxIncludes + 1 {
		p := filepath.Join(dir, "wide", "d"+strconv.Itoa(i), "x.conf")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	for _, pattern := range []string{filepath.Join(dir, "wide", "*", "x.conf"), "/proc/*/*/*/*", "/*/*/*/*/*"} {
		start := time.Now()
		got, err := globNginx(pattern)
		if err == nil {
			t.Errorf("%s: %d paths and no error", pattern, len(got))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", pattern, d)
		}
	}
	got, err := globNginx(filepath.Join(dir, "wide", "d1*", "x.conf"))
	if err != nil || len(got) != 136 { // d1, d10–d19, d100–d199, d1000–d1024
		t.Errorf("d1*: %d paths, %v; want 136", len(got), err)
	}
}
