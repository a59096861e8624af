package conf

import (
	"errors"
	"strings"
	"testing"
)

// TestCompileRegexPCRE: each PCRE-only construct is named, with its
// offset in the expression.
func TestCompileRegexPCRE(t *testing.T) {
	tests := []struct {
		pattern string
		off     int
		want    string
	}{
		{`/\.(?!well-known/)`, 3, "negative lookahead"},
		{`^a(?=b)`, 2, "lookahead"},
		{`(?<=x)y`, 0, "lookbehind"},
		{`(?<!x)y`, 0, "negative lookbehind"},
		{`(a)\1`, 3, "backreference \\1"},
		{`a++`, 1, "possessive"},
		{`(?>a)`, 0, "atomic group"},
		{`[(?!]x(?!y)`, 6, "negative lookahead"},
		{`a\Z`, 1, "\\Z"},
		{`(`, 0, "missing closing )"},
	}
	for i, tt := range tests {
		_, err := compileRegex(tt.pattern, false)
		var re *RegexError
		if !errors.As(err, &re) || !strings.Contains(re.Msg, tt.want) || tt.off >= 0 && re.Offset != tt.off {
			t.Errorf("%d: %q: %v, want %q at %d", i, tt.pattern, err, tt.want, tt.off)
		}
	}
	for _, ok := range []string{`(?P<n>a)`, `(?<n>a)`, `a+?`, `[a++]`, `\+\+`, `\(?!`} {
		if _, err := compileRegex(ok, true); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestCaptures: groups are recorded only when the configuration reads
// them, and named groups become variables.
func TestCaptures(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    location "~ ^/(?P<sect>[a-z]+)/(\\d+)$" {
      return = "200 $sect $2"
    }
    location "~ ^/plain/(x)" {}
  }
}`)
	srv := c.HTTP.Servers[0]
	var caps Captures
	loc, re := srv.Find([]byte("/news/42"), &caps)
	if re == nil || loc != srv.Locations[0] || string(caps.Group(1)) != "news" || string(caps.Group(2)) != "42" {
		t.Fatalf("loc %v re %v groups %q %q", loc.Name, re, caps.Group(1), caps.Group(2))
	}
	if len(re.Named) != 1 || c.HTTP.Vars[re.Named[0].Var].Name != "sect" || re.Named[0].Group != 1 {
		t.Errorf("named %+v", re.Named)
	}
	if string(caps.Group(3)) != "" || caps.Group(9) != nil {
		t.Errorf("absent groups %q %q", caps.Group(3), caps.Group(9))
	}

	// Without $N anywhere, a match records nothing (and allocates
	// nothing).
	c = mustLoad(t, `http {
  server {
    location "~ ^/plain/(x)" {}
  }
}`)
	caps.Reset()
	srv = c.HTTP.Servers[0]
	if loc, _ := srv.Find([]byte("/plain/x"), &caps); loc != srv.Locations[0] || caps.Group(1) != nil {
		t.Errorf("groups recorded without a reader: %q", caps.Group(1))
	}
}
