package conf

import (
	"strings"
	"testing"
)

// testUserVars answers built-ins from exampleVars and nothing else.
func TestMapFind(t *testing.T) {
	c := mustLoad(t, `
http {
  map "$uri" "$kind" {
    default = "def"
    values = {
      "/Exact"        = "exact"
      "\\~tilde"      = "escaped"
      ""              = "empty"
      "~^/a/(\\d+)$"  = "re $1"
      "~*\\.PNG$"     = "png"
    }
  }
  map "$host" "$site" {
    hostnames = true
    values = { "example.com" = "exact", "*.example.com" = "head", ".example.org" = "dot", "www.example.*" = "tail" }
  }
  server {
    add_header = { "X" = "$kind $site" }
  }
}`)
	vars := c.HTTP.Vars
	if len(vars) != 2 || vars[0].Name != "kind" || vars[1].Name != "site" || vars[0].Map == nil || vars[1].Map == nil {
		t.Fatalf("vars %+v", vars)
	}
	kind, site := vars[0].Map, vars[1].Map
	tests := []struct {
		m       *Map
		key     string
		want    string // the value template as written
		byRegex bool
	}{
		{kind, "/exact", "exact", false},
		{kind, "/EXACT", "exact", false},
		{kind, "~tilde", "escaped", false},
		{kind, "", "empty", false},
		{kind, "/a/12", "re $1", true},
		{kind, "/a/x", "def", false},
		{kind, "/i/x.png", "png", true},
		{kind, "/i/x.Png", "png", true},
		{site, "example.com", "exact", false},
		{site, "EXAMPLE.COM.", "exact", false},
		{site, "a.b.example.com", "head", false},
		{site, "example.org", "dot", false},
		{site, "x.example.org", "dot", false},
		{site, "www.example.net", "tail", false},
		{site, "other.test", "", false},
	}
	var low []byte
	var caps Captures
	for i, tt := range tests {
		var val *Template
		var re *Regex
		val, re, low = tt.m.Find([]byte(tt.key), low, &caps)
		if val.String() != tt.want || (re != nil) != tt.byRegex {
			t.Errorf("%d: Find(%q) = %q (regex %v), want %q (regex %v)", i, tt.key, val.String(), re != nil, tt.want, tt.byRegex)
		}
	}
	// $1 of the regex entry reads the group the lookup recorded.
	_, _, low = kind.Find([]byte("/a/42"), low, &caps)
	if string(caps.Group(1)) != "42" {
		t.Errorf("group 1 = %q", caps.Group(1))
	}
}

func TestMapErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`map "$uri" "$uri" {}`, "built-in variable"},
		{`map "$uri" "a-b" {}`, "not a variable name"},
		{`map "$nosuch" "$x" {}`, "Unknown variable"},
		{`map "$uri" "$x" {}
  map "$args" "$x" {}`, "Duplicate map"},
		{`map "$uri" "$x" { values = { "a" = "1", "A" = "2" } }`, "given twice"},
		{`map "$uri" "$x" { values = { "~(?<=a)b" = "1" } }`, "lookbehind"},
		{`map "$uri" "$x" { values = { "a" = "$nosuch" } }`, "Unknown variable"},
		{`map "$uri" "$x" {
    hostnames = true
    values = { "a*b" = "1" }
  }`, "not a host name"},
	}
	for i, tt := range tests {
		_, err := loadText("http {\n  " + tt.src + "\n}\n")
		if err == nil || !strings.Contains(errText(err), tt.want) {
			t.Errorf("%d: %s: error %v, want %q", i, tt.src, err, tt.want)
		}
	}
}

func TestMapInclude(t *testing.T) {
	c := mustLoad(t, `
http {
  map "$uri" "$x" {
    values  = { "/a" = "a" }
    include = ["maps/*.hcl"]
  }
}`, "/etc/tern/maps/b.hcl", `values = { "/b" = "b" }`, "/etc/tern/maps/c.hcl", `values = { "~^/c" = "c" }`)
	m := c.HTTP.Vars[0].Map
	for _, key := range []string{"/a", "/b", "/cc"} {
		val, _, _ := m.Find([]byte(key), nil, nil)
		if val.String() != key[1:2] {
			t.Errorf("%s: %q", key, val.String())
		}
	}
}
