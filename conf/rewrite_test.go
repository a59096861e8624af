package conf

import (
	"strings"
	"testing"
)

// stmtString renders a statement for comparison.
func stmtString(st Stmt) string {
	switch st.Op {
	case OpSet:
		return "set " + st.Var.String() + " " + st.Value.String()
	case OpRewrite:
		s := "rewrite " + rewriteText(&st)
		if st.Redirect {
			s += " →" + itoa(st.Code)
		}
		return s
	case OpReturn:
		return "return " + returnText(st.Code, st.Value)
	case OpBreak:
		return "break"
	case OpIf:
		var inner []string
		for _, s := range st.Then.Script {
			inner = append(inner, stmtString(s))
		}
		return "if " + st.Cond.Text + " {" + strings.Join(inner, "; ") + "}"
	}
	return "?"
}

func scriptString(script []Stmt) string {
	var out []string
	for _, st := range script {
		out = append(out, stmtString(st))
	}
	return strings.Join(out, "; ")
}

// TestStatements: the rewrite module's statements run in the order they
// are written, across attributes and if blocks, and are not inherited.
func TestStatements(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    set = { a = "1" }
    if "$arg_x" {
      return = "403"
    }
    rewrite = ["^/old/(.*)$ /new/$1 permanent", ["^/a b$", "/c d", "last"], "^/x http://e.com/ ", "^/q /r?"]
    location "/l/" {
      return = "200 $a"
      set = { b = "$a", args = "x=1" }
      break = true
      rewrite_log = true
    }
    location "/plain/" {}
  }
}`)
	srv := c.HTTP.Servers[0]
	want := `set $a 1; if $arg_x {return 403}; rewrite "^/old/(.*)$ /new/$1 permanent" →301; rewrite ["^/a b$", "/c d", "last"]; rewrite "^/x http://e.com/" →302; rewrite "^/q /r?"`
	if got := scriptString(srv.Root.Script); got != want {
		t.Errorf("server:\n got %s\nwant %s", got, want)
	}
	l := findLocation(srv, "/l/")
	if got := scriptString(l.Script); got != "return 200 $a; set $b $a; set $args x=1; break" || !l.RewriteLog {
		t.Errorf("location: %s (rewrite_log %v)", got, l.RewriteLog)
	}
	if p := findLocation(srv, "/plain/"); p.Script != nil {
		t.Errorf("a location inherited statements: %s", scriptString(p.Script))
	}
	iff := srv.Root.Script[1].Then
	if !iff.If || iff.Server != srv {
		t.Errorf("if location %+v", iff)
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		cond string
		op   CondOp
		left string
		rest string // Right, the regex, or the file test
	}{
		{"$arg_a", CondTrue, "$arg_a", ""},
		{"($arg_a)", CondTrue, "$arg_a", ""},
		{" $arg_a ", CondTrue, "$arg_a", ""},
		{"$arg_a = 1", CondEqual, "$arg_a", "1"},
		{`$arg_a != "two words"`, CondNotEqual, "$arg_a", "two words"},
		{"$uri ~ ^/a", CondMatch, "$uri", "^/a"},
		{"$uri ~* ^/a", CondMatch, "$uri", "(?i)^/a"},
		{"$uri !~ ^/a", CondNotMatch, "$uri", "^/a"},
		{"$uri !~* \"^/a b\"", CondNotMatch, "$uri", "(?i)^/a b"},
		{"-f $request_filename", CondFile, "$request_filename", "f"},
		{"!-d /srv/$host", CondFile, "/srv/$host", "!d"},
		{"-x $document_root/x", CondFile, "$document_root/x", "x"},
	}
	for i, tt := range tests {
		c := mustLoad(t, "http {\n  server {\n    if "+hclQuote(tt.cond)+" {\n      return = \"204\"\n    }\n  }\n}\n")
		cond := c.HTTP.Servers[0].Root.Script[0].Cond
		rest := cond.Right.String()
		switch {
		case cond.Regex != nil:
			rest = cond.Regex.String()
		case cond.Op == CondFile:
			rest = string(cond.File)
			if cond.Not {
				rest = "!" + rest
			}
		}
		if cond.Op != tt.op || cond.Left.String() != tt.left || rest != tt.rest {
			t.Errorf("%d: %q: op %d left %q rest %q", i, tt.cond, cond.Op, cond.Left.String(), rest)
		}
	}
}

func TestStatementErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`rewrite = ["^/a"]`, "want \"REGEX REPLACEMENT"},
		{`rewrite = ["^/a /b sideways"]`, "is not a flag"},
		{`rewrite = ["(?=x) /b"]`, "lookahead"},
		{`rewrite = ["^/a /$nosuch"]`, "Unknown variable"},
		{`set = { uri = "x" }`, "cannot be set"},
		{`set = { "a-b" = "x" }`, "not a variable name"},
		{`break = false`, "means nothing"},
		{`return = "1000"`, "between 100 and 999"},
		{"if \"$a ==> b\" {\n    }", "unexpected"},
		{"if \"x\" {\n    }", "is not a condition"},
		{"if \"-q x\" {\n    }", "is not a condition"},
		{"if \"-f\" {\n    }", "needs a path"},
		{"if \"$uri ~ (\" {\n    }", "missing closing"},
		{"if \"$x\" {\n      if \"$y\" {\n      }\n    }", "not allowed here"},
		{"if \"$x\" {\n      gzip_static = true\n    }", "not allowed here"},
		{"location \"= /a\" {\n      location \"/a/b\" {}\n    }", "cannot be inside the exact location"},
		{"location \"/a/\" {\n      location \"/b/\" {}\n    }", "is outside location"},
	}
	for i, tt := range tests {
		_, err := loadText("http {\n  server {\n    " + tt.src + "\n  }\n}\n")
		if err == nil || !strings.Contains(errText(err), tt.want) {
			t.Errorf("%d: %s: %v, want %q", i, tt.src, err, tt.want)
		}
	}
}

// TestNestedLocations: nginx's search through nested locations.
func TestNestedLocations(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    location "/" {
      location "~ \\.css$" { return = "200 css-in-root" }
    }
    location "/a/" {
      location "/a/b/" {
        location "= /a/b/c" { return = "200 exact-abc" }
      }
      location "~ \\.png$" { return = "200 png-in-a" }
    }
    location "^~ /s/" {
      location "~ \\.js$" { return = "200 js-in-s" }
    }
    location "~ \\.js$" { return = "200 js" }
    location "~ ^/r/" {
      location "~ x$" { return = "200 rx" }
    }
  }
}`)
	srv := c.HTTP.Servers[0]
	tests := []struct{ path, want string }{
		{"/x", "/"},
		{"/x.css", "~ \\.css$"},
		{"/a/x", "/a/"},
		{"/a/x.png", "~ \\.png$"},
		{"/a/b/x", "/a/b/"},
		{"/a/b/c", "= /a/b/c"},
		{"/a/b/x.png", "~ \\.png$"}, // the nested prefix's own level has no regex; /a/'s does
		{"/a/x.js", "~ \\.js$"},
		{"/s/x.js", "~ \\.js$"},
		{"/r/ax", "~ x$"},
		{"/r/ay", "~ ^/r/"},
	}
	for i, tt := range tests {
		loc := srv.Location([]byte(tt.path))
		if loc.Name != tt.want {
			t.Errorf("%d: %s → %q, want %q", i, tt.path, loc.Name, tt.want)
		}
	}
	// A nested location inherits from the one around it.
	c = mustLoad(t, "http {\n  server {\n    location \"/a/\" {\n      expires = \"1h\"\n      location \"/a/b/\" {}\n    }\n  }\n}\n")
	if l := c.HTTP.Servers[0].Location([]byte("/a/b/x")); l.Expires.Mode != ExpiresAfter {
		t.Errorf("nested location did not inherit expires: %+v", l.Expires)
	}
}
