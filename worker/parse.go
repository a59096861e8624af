package worker

import (
	"bytes"

	"tern/filters"
)

// headLimits bound a request head, after nginx's
// large_client_header_buffers: the request line and each header line must
// fit in one buffer, the whole head in all of them.
type headLimits struct {
	line    int // the longest request or header line
	total   int // the largest head
	headers int // the most header fields
}

// maxHeaders is nginx's max_headers default (1.29.8): a head of a
// thousand fields is an attack, not a browser.
const maxHeaders = 1000

// maxMethod is the longest method tern accepts; a longer one is 400
// (docs/http.md#bad-requests).
const maxMethod = 32

// Results of parser.parse besides HTTP error statuses.
const (
	parseMore = 0 // the head is not complete
	parseDone = 1 // the head is complete; parser.pos is its length
)

type parseState uint8

const (
	psRequestLine parseState = iota
	psHeaders
)

// parser reads a request head incrementally, a line at a time: each call
// goes on from the first line it has not finished, so bytes arriving one
// at a time cost a scan of the unfinished line only.
type parser struct {
	state  parseState
	pos    int // offset of the first byte of the unfinished line
	fields int
	// headStart is where the header lines begin, after the request line.
	headStart int

	sawHost, sawLength, sawTE bool
	connClose, connKeepAlive  bool
	absHost                   bool
	teChunked                 bool
}

func (p *parser) reset() { *p = parser{} }

// parse goes on parsing the head in b, which holds the request from its
// first byte. It returns parseMore, parseDone, or the status to answer
// with: 400, 414, 494 (too large), 501 or 505.
func (p *parser) parse(b []byte, r *filters.Request, lim *headLimits) int {
	for {
		i := bytes.IndexByte(b[p.pos:], '\n')
		if i < 0 {
			// A CR ends a line only right before its LF: one followed
			// by anything else can never be part of a valid head, so
			// it is refused now, as nginx does, rather than when
			// client_header_timeout expires.
			if cr := bytes.IndexByte(b[p.pos:], '\r'); cr >= 0 && p.pos+cr < len(b)-1 {
				return 400
			}
			return p.tooLong(len(b)-p.pos, len(b), lim)
		}
		line := b[p.pos : p.pos+i]
		next := p.pos + i + 1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if st := p.tooLong(len(line), next, lim); st != parseMore {
			return st
		}
		switch p.state {
		case psRequestLine:
			if len(line) == 0 {
				// RFC 9112 §2.2: a server SHOULD ignore empty lines
				// received before the request line.
				p.pos = next
				continue
			}
			if st := parseRequestLine(line, r); st != 0 {
				return st
			}
			r.Line = line
			p.absHost = r.Host != nil
			p.state = psHeaders
			p.headStart = next
		case psHeaders:
			if len(line) == 0 {
				p.pos = next
				r.HeaderLen = next
				r.Head = b[p.headStart:p.pos]
				return p.finish(r)
			}
			if p.fields++; p.fields > lim.headers {
				return filters.StatusHeaderTooLarge
			}
			if st := p.header(line, r); st != 0 {
				return st
			}
		}
		p.pos = next
	}
}

// tooLong checks the current line's length and the head's so far.
func (p *parser) tooLong(lineLen, headLen int, lim *headLimits) int {
	if lineLen > lim.line {
		if p.state == psRequestLine {
			return 414
		}
		return filters.StatusHeaderTooLarge
	}
	if headLen > lim.total {
		if p.state == psRequestLine {
			return 414
		}
		return filters.StatusHeaderTooLarge
	}
	return parseMore
}

// finish applies the rules that need the whole head.
func (p *parser) finish(r *filters.Request) int {
	if r.Version >= filters.HTTP11 && !p.sawHost && !p.absHost {
		return 400 // RFC 9112 §3.2: a 1.1 request without Host
	}
	if p.sawTE {
		// RFC 9112 §6.1: Transfer-Encoding in a 1.0 request, or next to
		// Content-Length, is faulty framing (request smuggling).
		if r.Version < filters.HTTP11 || p.sawLength {
			return 400
		}
		if !p.teChunked {
			return 501
		}
		r.Chunked = true
	}
	if r.Version >= filters.HTTP11 {
		r.KeepAlive = !p.connClose
	} else {
		r.KeepAlive = p.connKeepAlive && !p.connClose
	}
	return parseDone
}

// parseRequestLine parses "METHOD SP TARGET SP HTTP/x.y".
func parseRequestLine(line []byte, r *filters.Request) int {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 400
	}
	method := line[:sp]
	if len(method) > maxMethod || !filters.IsToken(method) {
		return 400
	}
	r.MethodName = method
	r.Method = methodOf(method)
	rest := trimSpaces(line[sp+1:])
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return 400 // HTTP/0.9: no version
	}
	target := rest[:sp]
	version := trimSpaces(rest[sp+1:])
	if string(method) == "PRI" && string(target) == "*" && string(version) == "HTTP/2.0" {
		// The HTTP/2 connection preface (RFC 9113 §3.4) where HTTP/2
		// is not spoken — a TLS address whose client did not choose h2
		// with ALPN, a plain one without http2 — is a bad request, not
		// a version to refuse: 400, as nginx.
		return 400
	}
	if st := parseVersion(version, r); st != 0 {
		return st
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return 400
		}
	}
	r.Target = target
	return parseTarget(target, r)
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// parseVersion accepts HTTP/1.0 and HTTP/1.1; any other well-formed
// version gets 505, anything else 400.
func parseVersion(v []byte, r *filters.Request) int {
	if len(v) < 8 || string(v[:5]) != "HTTP/" {
		return 400
	}
	major, rest, ok := digits(v[5:])
	if !ok || len(rest) < 2 || rest[0] != '.' {
		return 400
	}
	minor, rest, ok := digits(rest[1:])
	if !ok || len(rest) != 0 {
		return 400
	}
	if major != 1 || minor > 1 {
		return 505
	}
	r.Version = filters.Version(10 + minor)
	return 0
}

// digits parses up to three decimal digits, as nginx (versions past 999
// are nonsense).
func digits(b []byte) (n int, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && i < 4 && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 || i == 4 {
		return 0, nil, false
	}
	return n, b[i:], true
}

// rootPath is the path of an absolute-form target with none.
var rootPath = []byte("/")

// parseTarget splits the request-target into path and query. It takes the
// origin form ("/p?q"), the absolute form ("http://host/p?q", whose host
// overrides Host, RFC 9112 §3.2.2) and "*".
func parseTarget(t []byte, r *filters.Request) int {
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		r.RawPath = t
		return 0
	default:
		rest, ok := cutScheme(t)
		if !ok {
			return 400
		}
		end := len(rest)
		if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
			end = i
		}
		host, ok := validHost(rest[:end])
		if !ok {
			return 400
		}
		r.Host = host
		t = rest[end:]
		// "http://h" and "http://h?x" have an empty path, which is "/"
		// (RFC 9110 §4.2.3).
		r.RawPath = rootPath
	}
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i] // a fragment is the client's business (RFC 9110 §4.2.5)
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		r.Args = t[i+1:]
		t = t[:i]
	}
	if len(t) > 0 && t[0] == '/' {
		r.RawPath = t
	}
	return 0
}

// cutScheme removes a case-insensitive "http://" or "https://".
func cutScheme(t []byte) ([]byte, bool) {
	for _, s := range [...]string{"http://", "https://"} {
		if len(t) >= len(s) && asciiEqualFold(t[:len(s)], s) {
			return t[len(s):], true
		}
	}
	return nil, false
}

func methodOf(m []byte) filters.Method {
	switch string(m) {
	case "GET":
		return filters.MethodGET
	case "HEAD":
		return filters.MethodHEAD
	case "POST":
		return filters.MethodPOST
	case "PUT":
		return filters.MethodPUT
	case "DELETE":
		return filters.MethodDELETE
	case "OPTIONS":
		return filters.MethodOPTIONS
	case "TRACE":
		return filters.MethodTRACE
	case "PATCH":
		return filters.MethodPATCH
	case "CONNECT":
		return filters.MethodCONNECT
	}
	return filters.MethodOther
}
