package conf

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// testVars answers each variable with a fixed value.
type testVars map[VarKind]string

func (v testVars) AppendVar(dst []byte, x *Var) []byte { return append(dst, v[x.Kind]...) }

var exampleVars = testVars{
	VarURI:        "/a/b.html",
	VarRequestURI: "/a/b.html?x=1",
	VarArgs:       "x=1",
	VarHost:       "example.com",
	VarScheme:     "http",
	VarServerPort: "8080",
	VarRemoteAddr: "192.0.2.1",
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    string // expanded with exampleVars
		hasVars bool
		err     string
	}{
		{in: "", want: ""},
		{in: "/404.html", want: "/404.html"},
		{in: "$uri", want: "/a/b.html", hasVars: true},
		{in: "$uri/", want: "/a/b.html/", hasVars: true},
		{in: "${uri}/", want: "/a/b.html/", hasVars: true},
		{in: "${uri}x", want: "/a/b.htmlx", hasVars: true},
		{in: "https://$host$request_uri", want: "https://example.com/a/b.html?x=1", hasVars: true},
		{in: "$scheme://$host:$server_port/?$args", want: "http://example.com:8080/?x=1", hasVars: true},
		{in: "from $remote_addr.", want: "from 192.0.2.1.", hasVars: true},
		{in: "=404", want: "=404"},
		{in: "$urix", err: "unknown variable $urix"},
		{in: "$foo", err: "unknown variable $foo"},
		{in: "${foo}", err: "unknown variable $foo"},
		{in: "cost $5", want: "cost ", hasVars: true},
		{in: "$10", err: "unknown variable $10"},
		{in: "a$", err: "must follow $"},
		{in: "$/", err: "must follow $"},
		{in: "${}", err: "must follow $"},
		{in: "${uri", err: "no closing }"},
	}
	for i, tt := range tests {
		tpl, err := ParseTemplate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%d: ParseTemplate(%q) error = %v, want %q", i, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: ParseTemplate(%q): %v", i, tt.in, err)
			continue
		}
		if got := string(tpl.Append(nil, exampleVars)); got != tt.want {
			t.Errorf("%d: %q expands to %q, want %q", i, tt.in, got, tt.want)
		}
		if tpl.String() != tt.in || tpl.HasVars() != tt.hasVars || tpl.IsZero() != (tt.in == "") {
			t.Errorf("%d: %q: String %q HasVars %v IsZero %v", i, tt.in, tpl.String(), tpl.HasVars(), tpl.IsZero())
		}
	}
}

func TestTemplateAppendKeepsPrefix(t *testing.T) {
	tpl, err := ParseTemplate("$uri?$args")
	if err != nil {
		t.Fatal(err)
	}
	got := string(tpl.Append([]byte("Location: "), exampleVars))
	if got != "Location: /a/b.html?x=1" {
		t.Errorf("got %q", got)
	}
	var zero Template
	if !zero.IsZero() || zero.HasVars() || len(zero.Append(nil, exampleVars)) != 0 {
		t.Errorf("zero Template misbehaves")
	}
}

func TestVarString(t *testing.T) {
	tests := []struct {
		v    Var
		want string
	}{
		{Var{Kind: VarURI}, "$uri"},
		{Var{Kind: VarRemoteAddr}, "$remote_addr"},
		{Var{Kind: VarArg, Name: "q"}, "$arg_q"},
		{Var{Kind: VarHTTP, Name: "user_agent"}, "$http_user_agent"},
		{Var{Kind: VarCapture, N: 3}, "$3"},
		{Var{Kind: VarUser, Name: "mine"}, "$mine"},
		{Var{Kind: numVarKinds + 1}, "Var(" + fmt.Sprint(int(numVarKinds+1)) + ")"},
	}
	for i, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%d: String() = %q, want %q", i, got, tt.want)
		}
	}
	// Every name of the table reads back as itself, and every kind but
	// the literal and user ones has a name.
	named := map[VarKind]bool{}
	for _, b := range builtinVars {
		v, _ := lookupVar(b.name)
		if v.Kind != b.kind {
			t.Errorf("$%s looks up as %v", b.name, v)
		}
		named[b.kind] = true
	}
	for _, f := range varFamilies {
		named[f.kind] = true
	}
	for k := varLiteral + 1; k < numVarKinds; k++ {
		if !named[k] && k != VarCapture && k != VarUser {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestTemplateCode(t *testing.T) {
	tests := []struct {
		in   string
		code int
		ok   bool
	}{
		{"=404", 404, true}, {"=200", 200, true}, {"/404.html", 0, false}, {"=4040", 0, false}, {"=99", 0, false}, {"", 0, false},
	}
	for i, tt := range tests {
		tpl, err := ParseTemplate(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if code, ok := tpl.Code(); code != tt.code || ok != tt.ok {
			t.Errorf("%d: %q.Code() = %d, %v; want %d, %v", i, tt.in, code, ok, tt.code, tt.ok)
		}
	}
}

// FuzzTemplate: parsing never panics; whatever parses expands without
// panicking; TemplateQuote(s) always parses and expands to s.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "$uri", "${uri}x", "$$", "a$", "${", "$arg_Q$1$x", "$$$${dir}", "${1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tpl, _, err := parseTemplate(s); err == nil {
			tpl.Append(nil, exampleVars)
		}
		q, err := ParseTemplate(TemplateQuote(s))
		if err != nil {
			t.Fatalf("TemplateQuote(%q) = %q: %v", s, TemplateQuote(s), err)
		}
		if got := string(q.Append(nil, exampleVars)); got != s {
			t.Fatalf("TemplateQuote(%q) expands to %q", s, got)
		}
	})
}

// FuzzExpires: ParseExpires never panics, and a value it accepts writes
// back (showExpires) to one that parses to the same.
func FuzzExpires(f *testing.F) {
	for _, s := range []string{"off", "epoch", "max", "1h", "-30m", "+1d", "@15h30m", "modified", "1y 2M", "@25h", "--1"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, modified bool) {
		e, err := ParseExpires(s, modified)
		if err != nil {
			return
		}
		back := showExpires(&Settings{Expires: e})
		text, _ := strconv.Unquote(back)
		again, err := ParseExpires(strings.TrimPrefix(text, "modified "), strings.HasPrefix(text, "modified "))
		if err != nil || again.Mode != e.Mode || again.After != e.After {
			t.Fatalf("%q (modified %v) → %+v → %s → %+v, %v", s, modified, e, back, again, err)
		}
	})
}
