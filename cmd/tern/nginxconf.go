package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// directive is one nginx directive: its name and arguments, and the
// directives of its block when it has one.
type directive struct {
	name  string
	args  []string
	block []*directive // nil without a block
	file  string
	line  int
}

func (d *directive) where() string { return fmt.Sprintf("%s:%d", d.file, d.line) }

const (
	// maxIncludeDepth bounds nested includes.
	maxIncludeDepth = 16
	// maxIncludes bounds the files one include's glob may name.
	maxIncludes = 1024
	// maxConfFile bounds one configuration file: anything bigger (or a
	// device, which never ends) is not a configuration.
	maxConfFile = 16 << 20
)

// readConf reads a regular file of at most maxConfFile bytes.
func readConf(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxConfFile {
		return nil, fmt.Errorf("%s is not a regular file of at most %d bytes", path, maxConfFile)
	}
	if st.Size() == 0 {
		// Empty — or a /proc or /sys file, whose size says 0 and whose
		// read may block (/proc/kmsg): no configuration either way.
		return nil, nil
	}
	return os.ReadFile(path)
}

// nginxParser reads nginx's configuration syntax: words and quoted
// strings separated by blanks, ";" ending a directive, "{ }" around a
// block, "#" starting a comment. include is expanded in place (globs
// relative to the main file's directory, as nginx's conf prefix).
type nginxParser struct {
	src   []byte
	pos   int
	line  int
	file  string
	base  string // directory includes resolve against
	depth int
	// stack holds the files being read, outermost first: a file that
	// includes one of them is a cycle.
	stack []string
}

func parseNginxFile(path string) ([]*directive, error) {
	src, err := readConf(path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	p := &nginxParser{src: src, line: 1, file: path, base: filepath.Dir(path), stack: []string{abs}}
	return p.parseBlock(false)
}

// parseBlock reads directives until "}" (inner) or the end of input.
func (p *nginxParser) parseBlock(inner bool) ([]*directive, error) {
	list := []*directive{}
	for {
		d := &directive{file: p.file}
		// named: the directive has its name, which may be "" (a map's
		// empty key, written "").
		named := false
		for {
			tok, quoted, line, err := p.token()
			if err != nil {
				return nil, err
			}
			if d.line == 0 {
				d.line = line
			}
			switch {
			case tok == "" && !quoted:
				if inner {
					return nil, fmt.Errorf("%s:%d: unexpected end of file, expecting \"}\"", p.file, p.line)
				}
				if named {
					return nil, fmt.Errorf("%s:%d: unexpected end of file, expecting \";\" or \"}\"", p.file, p.line)
				}
				return list, nil
			case tok == ";" && !quoted:
				if !named {
					return nil, fmt.Errorf("%s:%d: unexpected \";\"", p.file, line)
				}
			case tok == "{" && !quoted:
				if !named {
					return nil, fmt.Errorf("%s:%d: unexpected \"{\"", p.file, line)
				}
				block, err := p.parseBlock(true)
				if err != nil {
					return nil, err
				}
				d.block = block
			case tok == "}" && !quoted:
				if !inner || named {
					return nil, fmt.Errorf("%s:%d: unexpected \"}\"", p.file, line)
				}
				return list, nil
			default:
				if !named {
					d.name, named = tok, true
				} else {
					d.args = append(d.args, tok)
				}
				continue
			}
			break
		}
		if d.name == "include" && d.block == nil {
			inc, err := p.include(d)
			if err != nil {
				return nil, err
			}
			list = append(list, inc...)
			continue
		}
		list = append(list, d)
	}
}

// include expands an include directive where it stands, with nginx's
// rules: a path without wildcards must name a file; a pattern's matches
// (globNginx: glob(3), hidden files only when the pattern spells the dot,
// sorted) are read in order, and a pattern that matches nothing is fine.
func (p *nginxParser) include(d *directive) ([]*directive, error) {
	if len(d.args) != 1 {
		return nil, fmt.Errorf("%s: include takes one argument", d.where())
	}
	if p.depth >= maxIncludeDepth {
		return nil, fmt.Errorf("%s: includes nested deeper than %d", d.where(), maxIncludeDepth)
	}
	pattern := d.args[0]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.base, pattern)
	}
	files := []string{pattern}
	if hasWildcard(pattern) {
		var err error
		if files, err = globNginx(pattern); err != nil {
			return nil, fmt.Errorf("%s: include %s: %v", d.where(), d.args[0], err)
		}
	}
	if len(files) > maxIncludes {
		return nil, fmt.Errorf("%s: include %s names %d files, more than %d", d.where(), d.args[0], len(files), maxIncludes)
	}
	var out []*directive
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		for _, open := range p.stack {
			if open == abs {
				return nil, fmt.Errorf("%s: include of %s makes a cycle", d.where(), f)
			}
		}
		src, err := readConf(f)
		if err != nil {
			return nil, fmt.Errorf("%s: include %s: %v", d.where(), d.args[0], err)
		}
		sub := &nginxParser{src: src, line: 1, file: f, base: p.base, depth: p.depth + 1,
			stack: append(p.stack[:len(p.stack):len(p.stack)], abs)}
		list, err := sub.parseBlock(false)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// token returns the next word, quoted string, or one of ";{}". tok is ""
// (not quoted) at the end of input.
func (p *nginxParser) token() (tok string, quoted bool, line int, err error) {
	p.skipBlanks()
	line = p.line
	if p.pos >= len(p.src) {
		return "", false, line, nil
	}
	switch c := p.src[p.pos]; c {
	case ';', '{', '}':
		p.pos++
		return string(c), false, line, nil
	case '"', '\'':
		s, err := p.quoted(c)
		return s, true, line, err
	}
	// As nginx's ngx_conf_read_token: a word ends at a blank, ";" or
	// "{", but "${" opens a variable name (${ssl_client_cert}x), and "}"
	// inside a word is part of it.
	start := p.pos
	variable := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '{' && variable {
			p.pos++
			variable = false
			continue
		}
		variable = c == '$'
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{' {
			break
		}
		if c == '\\' && p.pos+1 < len(p.src) {
			p.pos++
		}
		p.pos++
	}
	return unescapeNginx(p.src[start:p.pos]), false, line, nil
}

func (p *nginxParser) skipBlanks() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '\n':
			p.line++
			p.pos++
		case ' ', '\t', '\r':
			p.pos++
		case '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// quoted reads a string in quote q, in which a backslash keeps the next
// byte from ending it; the escapes are then those of unescapeNginx.
func (p *nginxParser) quoted(q byte) (string, error) {
	start := p.line
	p.pos++
	from := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch {
		case c == q:
			return unescapeNginx(p.src[from : p.pos-1]), nil
		case c == '\\' && p.pos < len(p.src):
			if p.src[p.pos] == '\n' {
				p.line++
			}
			p.pos++
		case c == '\n':
			p.line++
		}
	}
	return "", fmt.Errorf("%s:%d: unterminated string", p.file, start)
}

// unescapeNginx reads the escapes of a word as nginx's ngx_conf_read_token
// does, quoted or not: \", \', \\ are the byte, \t \r \n a tab, CR, LF,
// and any other backslash stays with the byte it precedes (a regular
// expression's \. or \d).
func unescapeNginx(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			switch e := raw[i+1]; e {
			case '"', '\'', '\\':
				c = e
				i++
			case 't':
				c = '\t'
				i++
			case 'r':
				c = '\r'
				i++
			case 'n':
				c = '\n'
				i++
			}
		}
		b = append(b, c)
	}
	return string(b)
}
