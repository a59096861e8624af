package worker

import (
	"bytes"

	"tern/filters"
)

// maxKnownName is the longest header name tern looks at; longer names are
// validated and skipped.
const maxKnownName = 24

// header parses one field line "name: value" (RFC 9112 §5).
func (p *parser) header(line []byte, r *filters.Request) int {
	if line[0] == ' ' || line[0] == '\t' {
		return 400 // obs-fold (RFC 9112 §5.2): rejected
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return 400
	}
	name := line[:colon]
	// Whitespace before the colon is not a token character, so this also
	// refuses "Host : x", which RFC 9112 §5.1 says a server MUST reject.
	if !filters.IsToken(name) {
		return 400
	}
	value := trimOWS(line[colon+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return 400
		}
	}
	if len(name) > maxKnownName {
		return 0
	}
	var low [maxKnownName]byte
	for i, c := range name {
		low[i] = lower(c)
	}
	return p.known(string(low[:len(name)]), value, r)
}

// known stores the fields tern acts on. name is lower-case; the switch
// on a converted byte slice does not allocate.
func (p *parser) known(name string, v []byte, r *filters.Request) int {
	switch name {
	case "host":
		if p.sawHost {
			return 400 // nginx: "client sent duplicate host header"
		}
		p.sawHost = true
		r.HostHeader = v
		if r.Host != nil {
			return 0 // the absolute-form target's host wins
		}
		h, ok := validHost(v)
		if !ok {
			return 400
		}
		r.Host = h
	case "content-length":
		if p.sawLength {
			return 400 // a repeated length is a smuggling attempt
		}
		p.sawLength = true
		n, ok := parseLength(v)
		if !ok {
			return 400
		}
		r.ContentLength = n
	case "transfer-encoding":
		if p.sawTE {
			return 400
		}
		p.sawTE = true
		// nginx knows "chunked" alone; any other coding is 501.
		p.teChunked = asciiEqualFold(v, "chunked")
	case "connection":
		p.connection(v)
	case "expect":
		if r.Version >= filters.HTTP11 && asciiEqualFold(v, "100-continue") {
			r.Expect100 = true
		}
	default:
		p.conditional(name, v, r)
	}
	return 0
}

// conditional keeps the first of each header the filters read.
func (p *parser) conditional(name string, v []byte, r *filters.Request) {
	var f *[]byte
	switch name {
	case "if-match":
		f = &r.IfMatch
	case "if-none-match":
		f = &r.IfNoneMatch
	case "if-modified-since":
		f = &r.IfModifiedSince
	case "if-unmodified-since":
		f = &r.IfUnmodifiedSince
	case "if-range":
		f = &r.IfRange
	case "range":
		f = &r.Range
	case "accept-encoding":
		f = &r.AcceptEncoding
	case "user-agent":
		f = &r.UserAgent
	case "referer":
		f = &r.Referer
	case "authorization":
		f = &r.Authorization
	default:
		return
	}
	if *f == nil {
		if len(v) == 0 {
			v = emptyValue
		}
		*f = v
	}
}

// emptyValue marks a header sent with an empty value: present, not nil.
var emptyValue = []byte{}

// connection reads the Connection options (RFC 9110 §7.6.1).
func (p *parser) connection(v []byte) {
	for len(v) > 0 {
		var opt []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			opt, v = v[:i], v[i+1:]
		} else {
			opt, v = v, nil
		}
		opt = trimOWS(opt)
		switch {
		case asciiEqualFold(opt, "close"):
			p.connClose = true
		case asciiEqualFold(opt, "keep-alive"):
			p.connKeepAlive = true
		}
	}
}

// parseLength parses a Content-Length: 1*DIGIT, at most 18 digits so
// that it cannot overflow.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validHost checks a Host value or absolute-form authority as nginx does
// (ngx_http_validate_host) and returns it without port or trailing dot:
// after an IP literal's "]" only a port may follow, and a port is at
// most 65535. It does not lower-case it: the bytes are also the request
// target the access log shows as sent.
func validHost(h []byte) ([]byte, bool) {
	end := len(h)
	inLiteral := false
	for i, c := range h {
		switch {
		case c == '[' && i == 0:
			inLiteral = true
		case c == ']' && inLiteral:
			inLiteral = false
			if i+1 < len(h) && h[i+1] != ':' {
				return nil, false // "[::1]." or "[::1]x"
			}
		case c == ':' && !inLiteral:
			if !validPort(h[i+1:]) {
				return nil, false
			}
			end = i
		case c == '.':
			if i > 0 && h[i-1] == '.' {
				return nil, false
			}
		case c <= ' ' || c == '/' || c == '\\' || c == 0x7f || c == '@':
			return nil, false
		}
		if end != len(h) {
			break
		}
	}
	if inLiteral {
		return nil, false
	}
	host := h[:end]
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if len(host) == 0 {
		return nil, false
	}
	return host, true
}

// validPort accepts digits up to 65535; an empty port is allowed (RFC
// 3986 §3.2.3).
func validPort(p []byte) bool {
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}
