package conf

import (
	"fmt"
	"strings"
)

// Var is a variable that try_files, return and error_page values may use.
type Var int8

// The variables of docs/configuration.md#variables, with nginx's meaning.
const (
	// VarURI is $uri: the normalised path, without the query.
	VarURI Var = iota
	// VarRequestURI is $request_uri: the request target as received.
	VarRequestURI
	// VarArgs is $args: the query string, without "?".
	VarArgs
	// VarHost is $host: the Host header without its port, lowercased, or
	// the server's first name when the request has none.
	VarHost
	// VarScheme is $scheme: "http".
	VarScheme
	// VarServerPort is $server_port: the port that accepted the connection.
	VarServerPort
	// VarRemoteAddr is $remote_addr: the client's IP address.
	VarRemoteAddr

	numVars = iota
)

// varNames are the variables' names without "$", indexed by Var.
var varNames = [numVars]string{
	VarURI:        "uri",
	VarRequestURI: "request_uri",
	VarArgs:       "args",
	VarHost:       "host",
	VarScheme:     "scheme",
	VarServerPort: "server_port",
	VarRemoteAddr: "remote_addr",
}

// String returns the variable as written in a configuration, e.g. "$uri".
func (v Var) String() string {
	if v < 0 || int(v) >= numVars {
		return fmt.Sprintf("Var(%d)", int8(v))
	}
	return "$" + varNames[v]
}

// Vars supplies variable values when a Template is expanded. The worker
// implements it on its request state, appending without allocating.
type Vars interface {
	// AppendVar appends the value of v to dst and returns the result.
	AppendVar(dst []byte, v Var) []byte
}

// Template is a configuration string with variables, compiled once at
// load time so that expanding it per request is a walk over literal and
// variable parts. The zero Template is the empty string.
type Template struct {
	raw   string
	parts []tmplPart
}

// tmplPart is a literal run (v == literal) or one variable.
type tmplPart struct {
	lit string
	v   Var
}

// literal marks a tmplPart that is text, not a variable.
const literal Var = -1

// ParseTemplate compiles s. A variable is "$name" (the longest run of
// letters, digits and "_", as nginx) or "${name}"; an unknown name, or a
// "$" that starts no name, is an error, as in nginx.
func ParseTemplate(s string) (Template, error) {
	t := Template{raw: s}
	for s != "" {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: s, v: literal})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: s[:i], v: literal})
		}
		v, n, err := parseVar(s[i:])
		if err != nil {
			return Template{}, err
		}
		t.parts = append(t.parts, tmplPart{v: v})
		s = s[i+n:]
	}
	return t, nil
}

// parseVar reads the variable at the start of s ("$name" or "${name}")
// and returns it with the number of bytes it takes.
func parseVar(s string) (Var, int, error) {
	var name string
	var n int
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, 0, fmt.Errorf("%q has no closing }", s)
		}
		name, n = s[2:end], end+1
	} else {
		end := 1
		for end < len(s) && isVarChar(s[end]) {
			end++
		}
		name, n = s[1:end], end
	}
	if name == "" {
		return 0, 0, fmt.Errorf("a variable name must follow $ in %q", s)
	}
	for v, known := range varNames {
		if name == known {
			return Var(v), n, nil
		}
	}
	return 0, 0, fmt.Errorf("unknown variable $%s (known: $uri, $request_uri, $args, $host, $scheme, $server_port, $remote_addr)", name)
}

func isVarChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// IsZero reports whether t is the empty template (unset).
func (t Template) IsZero() bool { return t.raw == "" }

// HasVars reports whether t uses any variable; one without can be sent
// as String() without expanding.
func (t Template) HasVars() bool {
	for _, p := range t.parts {
		if p.v != literal {
			return true
		}
	}
	return false
}

// Code returns the status of a try_files fallback written "=CODE"
// (validated at load time), and whether t is one.
func (t Template) Code() (int, bool) {
	if len(t.raw) != 4 || t.raw[0] != '=' {
		return 0, false
	}
	return statusCode(t.raw[1:], 100, 599)
}

// Append appends t with its variables expanded by vars to dst. It
// allocates only when dst must grow.
func (t Template) Append(dst []byte, vars Vars) []byte {
	for _, p := range t.parts {
		if p.v == literal {
			dst = append(dst, p.lit...)
		} else {
			dst = vars.AppendVar(dst, p.v)
		}
	}
	return dst
}
