package conf

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseAccessRule(t *testing.T) {
	tests := []struct {
		in      string
		want    string // AccessRule.String, "" for an error
		err     string
		matches []string
		misses  []string
	}{
		{in: "all", want: "all", matches: []string{"10.0.0.1", "::1"}},
		{in: "unix:", want: "unix:", misses: []string{"127.0.0.1"}},
		{in: "192.168.1.1", want: "192.168.1.1", matches: []string{"192.168.1.1", "::ffff:192.168.1.1"}, misses: []string{"192.168.1.2"}},
		{in: "192.168.1.0/24", want: "192.168.1.0/24", matches: []string{"192.168.1.255"}, misses: []string{"192.168.2.0"}},
		{in: "0.0.0.0/0", want: "0.0.0.0/0", matches: []string{"8.8.8.8"}, misses: []string{"::1"}},
		{in: "2001:db8::/32", want: "2001:db8::/32", matches: []string{"2001:db8:1::5"}, misses: []string{"2001:db9::1", "10.0.0.1"}},
		{in: "::1", want: "::1", matches: []string{"::1"}, misses: []string{"127.0.0.1"}},
		// An IPv4-mapped network is the IPv4 network, as clients are.
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8", matches: []string{"10.9.9.9"}},
		{in: "10.1.2.3/8", err: `did you mean "10.0.0.0/8"`},
		{in: "10.0.0.0/33", err: "is not an address"},
		{in: "example.com", err: "is not an address"},
		{in: "", err: "is not an address"},
		{in: "fe80::1%eth0", err: "is not an address"},
	}
	for i, tt := range tests {
		r, err := ParseAccessRule(tt.in, true)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%d: %q: error %v, want one with %q", i, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %q: %v", i, tt.in, err)
			continue
		}
		if got := r.String(); got != tt.want || !r.Deny {
			t.Errorf("%d: %q: %q deny=%v, want %q deny=true", i, tt.in, got, r.Deny, tt.want)
		}
		for _, a := range tt.matches {
			if !r.Matches(netip.MustParseAddr(a), false) {
				t.Errorf("%d: %q does not match %s", i, tt.in, a)
			}
		}
		for _, a := range tt.misses {
			if r.Matches(netip.MustParseAddr(a), false) {
				t.Errorf("%d: %q matches %s", i, tt.in, a)
			}
		}
		if got := r.Matches(netip.Addr{}, true); got != (r.Kind != AccessNet) {
			t.Errorf("%d: %q matches a unix client: %v", i, tt.in, got)
		}
	}
}

func TestAccessInheritance(t *testing.T) {
	c := mustLoad(t, `
http {
  allow   = ["10.0.0.0/8", "192.168.1.1"]
  deny    = "all"
  satisfy = "any"
  auth_basic           = "Staff"
  auth_basic_user_file = "htpasswd"

  server {
    location "/inherit/" { }
    location "/own/" {
      deny       = ["10.9.0.0/16"]
      auth_basic = "off"
    }
    location "/order/" {
      deny  = "192.168.1.1"
      allow = ["192.168.1.0/24", "::1"]
    }
    location "/open/" {
      allow = []
    }
    location "/internal/" {
      internal = true
    }
  }
  server {
    listen  = ["81"]
    satisfy = "all"
    deny    = "unix:"
  }
}
`)
	s1, s2 := c.HTTP.Servers[0], c.HTTP.Servers[1]
	rules := func(l *Location) string {
		var out []string
		for _, r := range l.Access {
			verb := "allow "
			if r.Deny {
				verb = "deny "
			}
			out = append(out, verb+r.String())
		}
		return strings.Join(out, "; ")
	}
	tests := []struct {
		what string
		got  any
		want any
	}{
		{"s1 rules", rules(s1.Root), "allow 10.0.0.0/8; allow 192.168.1.1; deny all"},
		{"s1 satisfy", s1.Root.Satisfy, SatisfyAny},
		{"s1 realm", s1.Root.AuthBasic, "Staff"},
		{"s1 file", s1.Root.AuthBasicUserFile, "/etc/tern/htpasswd"},
		{"s1 guard", s1.Root.Guard, true},
		{"inherit rules", rules(findLocation(s1, "/inherit/")), "allow 10.0.0.0/8; allow 192.168.1.1; deny all"},
		// A level's own rules replace the inherited ones (nginx).
		{"own rules", rules(findLocation(s1, "/own/")), "deny 10.9.0.0/16"},
		{"own realm", findLocation(s1, "/own/").AuthBasic, ""},
		{"order rules", rules(findLocation(s1, "/order/")), "deny 192.168.1.1; allow 192.168.1.0/24; allow ::1"},
		// An empty list clears them.
		{"open rules", findLocation(s1, "/open/").Access, []AccessRule(nil)},
		{"open guard", findLocation(s1, "/open/").Guard, true}, // auth_basic still applies
		{"internal", findLocation(s1, "/internal/").Internal, true},
		{"not internal", findLocation(s1, "/inherit/").Internal, false},
		{"s2 rules", rules(s2.Root), "deny unix:"},
		{"s2 satisfy", s2.Root.Satisfy, SatisfyAll},
	}
	for i, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%d: %s = %#v, want %#v", i, tt.what, tt.got, tt.want)
		}
	}
	plain := mustLoad(t, "http {\n  server {\n    location \"/\" { }\n  }\n}\n")
	if l := plain.HTTP.Servers[0].Locations[0]; l.Guard {
		t.Error("a location without access directives has Guard set")
	}
}

func TestAccessDiagnostics(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"http {\n  allow = [\"10.1.2.3/8\"]\n}", []string{"2,12: Invalid allow"}},
		{"http {\n  deny = \"nowhere\"\n}", []string{"2,10: Invalid deny"}},
		{"http {\n  satisfy = \"some\"\n}", []string{"2,13: Invalid satisfy"}},
		{"http {\n  server {\n    internal = true\n  }\n}", []string{"3,5: internal is not allowed here"}},
		{"http {\n  auth_basic = \"a \\\"b\\\"\"\n}", []string{"2,16: Invalid auth_basic"}},
		{"http {\n  auth_basic = \"\"\n}", []string{"2,16: Invalid auth_basic"}},
		// auth_basic without a user file, reported once at the
		// directive however many locations inherit it.
		{"http {\n  server {\n    auth_basic = \"x\"\n    location \"/a\" { }\n    location \"/b\" { }\n  }\n}",
			[]string{"3,5: Invalid auth_basic"}},
	}
	for i, tt := range tests {
		_, err := loadText(tt.src)
		if err == nil {
			t.Errorf("%d: no error for\n%s", i, tt.src)
			continue
		}
		if got := headlines(t, err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: %q\ngot  %q\nwant %q\n%s", i, tt.src, got, tt.want, errText(err))
		}
	}
	// A user file at an enclosing level is enough.
	mustLoad(t, "http {\n  auth_basic_user_file = \"/etc/htpasswd\"\n  server {\n    location \"/a\" {\n      auth_basic = \"x\"\n    }\n  }\n}\n")
}

// TestAuthBasicUserFileVars: a user file path with variables is kept to
// expand per request, $document_root included (nginx's idiom
// "$document_root/.htpasswd"); a relative one whose first part is
// literal is made absolute now.
func TestAuthBasicUserFileVars(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    location "/a/" {
      auth_basic           = "x"
      auth_basic_user_file = "/etc/users/$host"
    }
    location "/b/" {
      auth_basic           = "x"
      auth_basic_user_file = "$document_root/.htpasswd"
    }
    location "/c/" {
      auth_basic           = "x"
      auth_basic_user_file = "users/$host"
    }
    location "/d/" {
      auth_basic           = "x"
      auth_basic_user_file = "users/plain"
    }
  }
}
`)
	s := c.HTTP.Servers[0]
	cases := []struct {
		loc, file string
		vars      bool
	}{
		{"/a/", "/etc/users/$host", true},
		{"/b/", "$document_root/.htpasswd", true},
		{"/c/", c.Prefix + "/users/$host", true},
		{"/d/", c.Prefix + "/users/plain", false},
	}
	for i, k := range cases {
		l := findLocation(s, k.loc)
		if l.AuthBasicUserFile != k.file || l.AuthBasicUserFileVars.IsZero() == k.vars {
			t.Errorf("%d: %s: file %q, vars %v; want %q, %v", i, k.loc, l.AuthBasicUserFile, !l.AuthBasicUserFileVars.IsZero(), k.file, k.vars)
		}
		if k.vars && l.AuthBasicUserFileVars.String() != k.file {
			t.Errorf("%d: template %q", i, l.AuthBasicUserFileVars.String())
		}
	}
	if _, err := loadText("http {\n  auth_basic_user_file = \"/etc/$nosuchvar\"\n}\n"); err == nil || !strings.Contains(errText(err), "nosuchvar") {
		t.Errorf("an unknown variable in the path: %v", err)
	}
}
