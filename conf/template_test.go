package conf

import (
	"strings"
	"testing"
)

// testVars answers each variable with a fixed value.
type testVars map[Var]string

func (v testVars) AppendVar(dst []byte, x Var) []byte { return append(dst, v[x]...) }

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
		{in: "cost $5", err: "unknown variable $5"},
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
	want := []string{"$uri", "$request_uri", "$args", "$host", "$scheme", "$server_port", "$remote_addr"}
	for i, w := range want {
		if got := Var(i).String(); got != w {
			t.Errorf("%d: Var(%d).String() = %q, want %q", i, i, got, w)
		}
	}
	if got := Var(100).String(); got != "Var(100)" {
		t.Errorf("Var(100).String() = %q", got)
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
