//go:build linux

package worker

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strconv"

	"tern/conf"
	"tern/filters"
)

// The variables (conf.Vars): a request computes each one when a template
// reads it, appending to the caller's buffer, so that nothing is
// allocated once the request's buffers have grown. User variables (set,
// map, named groups) live in the request's varState.

// maxVarDepth bounds map variables computed from other map variables:
// deeper is taken for a cycle, as nginx's "cycle while evaluating
// variable", and the variable is empty.
const maxVarDepth = 8

// varState is a request's user variables and regular-expression groups.
type varState struct {
	caps conf.Captures
	// user holds the value of each user variable (HTTP.Vars), in buf.
	user []userVal
	buf  []byte
	// depth counts map variables being computed; scratch holds, per
	// depth, a map's source and value while it is computed.
	depth   int
	scratch [maxVarDepth][]byte
	low     []byte
	// reqID is $request_id, made on first use.
	reqID   [16]byte
	hasID   bool
	pending []byte // scratch for the statements: set values, conditions, rewrites
	path    []byte // scratch for a root or alias with variables
	real    []byte // scratch for $realpath_root
	capEsc  []byte // scratch for a group a rewrite escapes
	symFrom []byte // scratch for disable_symlinks from=
}

// userVal is where a user variable's value is in varState.buf.
type userVal struct {
	off, n int32
	set    bool
}

// varKeep bounds the value buffer a request keeps for the next one.
const varKeep = 16 << 10

func (vs *varState) reset(nvars int) {
	vs.caps.Reset()
	if cap(vs.user) < nvars {
		vs.user = make([]userVal, nvars)
	}
	vs.user = vs.user[:nvars]
	clear(vs.user)
	if cap(vs.buf) > varKeep {
		vs.buf = nil
	}
	vs.buf = vs.buf[:0]
	vs.depth = 0
	vs.hasID = false
}

// setUser sets user variable n to v.
func (vs *varState) setUser(n int, v []byte) {
	off := len(vs.buf)
	vs.buf = append(vs.buf, v...)
	vs.user[n] = userVal{off: int32(off), n: int32(len(v)), set: true}
}

// setNamed sets the user variables of re's named groups from the groups
// just recorded in vs.caps.
func (vs *varState) setNamed(re *conf.Regex) {
	for _, g := range re.Named {
		vs.setUser(g.Var, vs.caps.Group(g.Group))
	}
}

// match runs re on subject for rq, recording its groups and setting the
// variables of its named groups.
func (rq *request) match(re *conf.Regex, subject []byte) bool {
	if !re.Match(subject, &rq.vs.caps) {
		return false
	}
	if len(re.Named) > 0 {
		rq.vs.setNamed(re)
	}
	return true
}

var _ conf.Vars = (*request)(nil)

// AppendVar appends the value of v as nginx computes it (conf.Vars).
func (rq *request) AppendVar(dst []byte, v *conf.Var) []byte {
	r := &rq.Req
	switch v.Kind {
	case conf.VarURI:
		return append(dst, r.Path...)
	case conf.VarRequestURI:
		return append(dst, requestURI(r.Target)...)
	case conf.VarArgs:
		return append(dst, r.Args...)
	case conf.VarIsArgs:
		if len(r.Args) > 0 {
			dst = append(dst, '?')
		}
		return dst
	case conf.VarHost:
		return rq.appendHost(dst)
	case conf.VarHostname:
		return append(dst, rq.w.hostname...)
	case conf.VarServerName:
		return append(dst, rq.Loc.Server.Name...)
	case conf.VarServerAddr:
		return appendLocalIP(dst, rq.FD)
	case conf.VarServerPort:
		return append(dst, addrPort(rq.addr.Addr)...)
	case conf.VarServerProtocol:
		return append(dst, protocol(r.Version)...)
	case conf.VarRemoteAddr:
		return rq.peer.Addr().AppendTo(dst)
	case conf.VarRemotePort:
		return strconv.AppendUint(dst, uint64(rq.peer.Port()), 10)
	case conf.VarRemoteUser:
		if user, _, ok := rq.credentials(); ok {
			dst = append(dst, user...)
		}
		return dst
	case conf.VarBinaryRemoteAddr:
		return append(dst, rq.peer.Addr().AsSlice()...)
	case conf.VarScheme:
		if rq.https {
			return append(dst, "https"...)
		}
		return append(dst, "http"...)
	case conf.VarHTTPS:
		if rq.https {
			dst = append(dst, "on"...)
		}
		return dst
	case conf.VarHTTP2:
		switch {
		case rq.stream == nil:
		case rq.https:
			dst = append(dst, "h2"...)
		default:
			dst = append(dst, "h2c"...)
		}
		return dst
	case conf.VarRequestMethod:
		return append(dst, r.MethodName...)
	case conf.VarRequest:
		return append(dst, r.Line...)
	case conf.VarRequestLength:
		n := int64(r.HeaderLen) + rq.bodyRead
		if rq.stream != nil {
			n += rq.stream.BodyReceived() // the DATA so far
		}
		return strconv.AppendInt(dst, n, 10)
	case conf.VarRequestTime:
		return appendMillis(dst, rq.w.loop.Now()-rq.start)
	case conf.VarRequestFilename:
		return rq.appendFilename(dst)
	case conf.VarRequestID:
		return rq.appendRequestID(dst)
	case conf.VarRequestCompletion:
		if rq.completed {
			dst = append(dst, "OK"...)
		}
		return dst
	case conf.VarDocumentRoot:
		return rq.appendDocumentRoot(dst)
	case conf.VarRealpathRoot:
		return rq.appendRealpathRoot(dst)
	}
	return rq.appendVar2(dst, v)
}

// appendVar2 is the rest of AppendVar: responses, connections, clocks,
// families and user variables.
func (rq *request) appendVar2(dst []byte, v *conf.Var) []byte {
	r := &rq.Req
	switch v.Kind {
	case conf.VarContentType:
		return appendHeader(dst, r.Head, "content_type", ", ")
	case conf.VarContentLength:
		return appendHeader(dst, r.Head, "content_length", ", ")
	case conf.VarStatus:
		return appendStatus(dst, rq.Resp.Status)
	case conf.VarBodyBytesSent:
		return strconv.AppendInt(dst, rq.BodySent(), 10)
	case conf.VarBytesSent:
		return strconv.AppendInt(dst, rq.Sent, 10)
	case conf.VarConnection:
		return strconv.AppendUint(dst, rq.connID, 10)
	case conf.VarConnectionRequests:
		return strconv.AppendUint(dst, uint64(rq.connReqs), 10)
	case conf.VarConnectionTime:
		return appendMillis(dst, rq.w.loop.Now()-rq.connStart)
	case conf.VarConnectionsActive, conf.VarConnectionsReading, conf.VarConnectionsWriting, conf.VarConnectionsWaiting:
		return rq.appendConnections(dst, v.Kind)
	case conf.VarMsec:
		return appendMillis(dst, rq.w.loop.Wall().UnixNano())
	case conf.VarTimeISO8601:
		return append(dst, rq.w.clock.iso(rq.w.loop.Wall())...)
	case conf.VarTimeLocal:
		return append(dst, rq.w.clock.local(rq.w.loop.Wall())...)
	case conf.VarPID:
		return strconv.AppendInt(dst, int64(rq.w.pid), 10)
	case conf.VarNginxVersion:
		return append(dst, filters.ServerVersion...)
	case conf.VarSSLProtocol, conf.VarSSLCipher, conf.VarSSLServerName, conf.VarSSLSessionReused, conf.VarSSLSessionID,
		conf.VarSSLALPNProtocol, conf.VarSSLClientVerify, conf.VarSSLClientSDN, conf.VarSSLClientIDN, conf.VarSSLClientSerial,
		conf.VarSSLClientCert, conf.VarSSLClientRawCert, conf.VarSSLClientEscapedCert,
		conf.VarSSLClientSDNLegacy, conf.VarSSLClientIDNLegacy, conf.VarSSLClientVStart,
		conf.VarSSLClientVEnd, conf.VarSSLClientVRemain, conf.VarSSLCiphers:
		return rq.appendSSLVar(dst, v.Kind)
	case conf.VarArg:
		return append(dst, findArg(r.Args, v.Name)...)
	case conf.VarHTTP:
		sep := ", "
		if v.Name == "cookie" {
			sep = "; "
		}
		return appendHeader(dst, r.Head, v.Name, sep)
	case conf.VarCookie:
		return append(dst, findCookie(r.Head, v.Name)...)
	case conf.VarSentHTTP:
		return rq.appendSent(dst, v.Name)
	case conf.VarCapture:
		return append(dst, rq.vs.caps.Group(v.N)...)
	case conf.VarUser:
		return rq.appendUser(dst, v.N)
	}
	return rq.appendPoliceVar(dst, v)
}

// appendUser appends user variable n: the value set gave it, else its
// map's value, computed once per request (every time when volatile).
// A variable neither set nor mapped is empty, as nginx's uninitialized
// variables.
func (rq *request) appendUser(dst []byte, n int) []byte {
	vs := &rq.vs
	if u := vs.user[n]; u.set {
		return append(dst, vs.buf[u.off:u.off+u.n]...)
	}
	m := rq.w.cfg.HTTP.Vars[n].Map
	if m == nil || vs.depth >= maxVarDepth {
		return dst
	}
	d := vs.depth
	vs.depth++
	b := m.Source.Append(vs.scratch[d][:0], rq)
	key := len(b)
	var val *conf.Template
	var re *conf.Regex
	val, re, vs.low = m.Find(b, vs.low, &vs.caps)
	if re != nil && len(re.Named) > 0 {
		vs.setNamed(re)
	}
	b = val.Append(b, rq)
	vs.scratch[d] = b
	vs.depth--
	if !m.Volatile {
		vs.setUser(n, b[key:])
	}
	return append(dst, b[key:]...)
}

// appendMillis appends nanoseconds as seconds with three decimals.
func appendMillis(dst []byte, ns int64) []byte {
	if ns < 0 {
		ns = 0
	}
	ms := ns / 1e6
	dst = strconv.AppendInt(dst, ms/1000, 10)
	return append(dst, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
}

// appendStatus appends a status as three digits, "000" for none.
func appendStatus(dst []byte, st int) []byte {
	if st <= 0 || st > 999 {
		return append(dst, "000"...)
	}
	return append(dst, byte('0'+st/100), byte('0'+st/10%10), byte('0'+st%10))
}

// appendRequestID appends $request_id: 16 random bytes in hexadecimal,
// the same for the whole request.
func (rq *request) appendRequestID(dst []byte) []byte {
	vs := &rq.vs
	if !vs.hasID {
		for i := 0; i < len(vs.reqID); i += 8 {
			x := rand.Uint64()
			for j := 0; j < 8; j++ {
				vs.reqID[i+j] = byte(x >> (8 * j))
			}
		}
		vs.hasID = true
	}
	const hex = "0123456789abcdef"
	for _, b := range vs.reqID {
		dst = append(dst, hex[b>>4], hex[b&15])
	}
	return dst
}

// appendConnections appends one of stub_status's gauges, summed over the
// workers as the stub_status page counts them.
func (rq *request) appendConnections(dst []byte, k conf.VarKind) []byte {
	t := rq.w.Totals()
	if t.Reading > 0 {
		// The request reading this is past its head: it is writing, as
		// the stub_status page counts it.
		t.Reading--
		t.Writing++
	}
	var n uint64
	switch k {
	case conf.VarConnectionsActive:
		n = t.Active
	case conf.VarConnectionsReading:
		n = t.Reading
	case conf.VarConnectionsWriting:
		n = t.Writing
	default:
		n = t.Waiting()
	}
	return strconv.AppendUint(dst, n, 10)
}

// appendFilename appends $request_filename: the file system path of the
// current URI.
func (rq *request) appendFilename(dst []byte) []byte {
	p, _ := rq.appendPath(dst, rq.Req.Path)
	return p
}

// appendDocumentRoot appends $document_root: the root, or the alias, of
// the request's location, expanded.
func (rq *request) appendDocumentRoot(dst []byte) []byte {
	loc := rq.Loc
	switch {
	case loc.Alias != "" && loc.AliasVars.IsZero():
		return append(dst, loc.Alias...)
	case loc.Alias != "":
		return rq.appendExpandedPath(dst, loc.AliasVars)
	case loc.RootVars.IsZero():
		return append(dst, loc.Root...)
	}
	return rq.appendExpandedPath(dst, loc.RootVars)
}

// appendExpandedPath appends a root or alias with variables, made
// absolute against the prefix when it is not, as nginx's
// ngx_get_full_name.
func (rq *request) appendExpandedPath(dst []byte, t conf.Template) []byte {
	s := t.Append(rq.vs.path[:0], rq)
	rq.vs.path = s
	if len(s) == 0 || s[0] != '/' {
		dst = append(dst, rq.w.cfg.Prefix...)
		dst = append(dst, '/')
	}
	return append(dst, s...)
}

// appendRealpathRoot appends $realpath_root: $document_root with its
// symbolic links resolved. This reads the file system on the loop and
// allocates, as nginx's realpath(3); only configurations that use it pay.
func (rq *request) appendRealpathRoot(dst []byte) []byte {
	root := rq.appendDocumentRoot(rq.vs.real[:0])
	rq.vs.real = root
	real, err := filepath.EvalSymlinks(string(root))
	if err != nil {
		return dst
	}
	return append(dst, real...)
}

// findArg returns the value of the query argument name (compared without
// regard to case, as nginx's ngx_http_arg), nil when absent.
func findArg(args []byte, name string) []byte {
	for len(args) > 0 {
		var a []byte
		if i := bytes.IndexByte(args, '&'); i >= 0 {
			a, args = args[:i], args[i+1:]
		} else {
			a, args = args, nil
		}
		if len(a) > len(name) && a[len(name)] == '=' && asciiEqualFold(a[:len(name)], name) {
			return a[len(name)+1:]
		}
	}
	return nil
}

// appendHeader appends the value of the request header whose name,
// lower case with "_" for "-", is name; repeated headers are joined with
// sep, as nginx. head is the request's header lines.
func appendHeader(dst, head []byte, name, sep string) []byte {
	for first := true; ; first = false {
		var v []byte
		var ok bool
		if v, head, ok = nextHeader(head, name); !ok {
			return dst
		}
		if !first {
			dst = append(dst, sep...)
		}
		dst = append(dst, v...)
	}
}

// nextHeader finds the next header line named name (as appendHeader) in
// head, and returns its value and the lines after it.
func nextHeader(head []byte, name string) (value, rest []byte, ok bool) {
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon == len(name) && headerNameIs(line[:colon], name) {
			return trimOWS(bytes.TrimSuffix(line[colon+1:], []byte{'\r'})), head, true
		}
	}
	return nil, nil, false
}

// headerNameIs compares a header name with a variable's name: case
// folded, "-" read as "_".
func headerNameIs[S ~string | ~[]byte](h S, name string) bool {
	for i := 0; i < len(h); i++ {
		c := lower(h[i])
		if c == '-' {
			c = '_'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// findCookie returns the value of the cookie name in the Cookie headers
// (name compared without regard to case, as nginx), nil when absent.
func findCookie(head []byte, name string) []byte {
	for {
		v, rest, ok := nextHeader(head, "cookie")
		if !ok {
			return nil
		}
		head = rest
		for len(v) > 0 {
			var c []byte
			if i := bytes.IndexByte(v, ';'); i >= 0 {
				c, v = v[:i], v[i+1:]
			} else {
				c, v = v, nil
			}
			c = trimOWS(c)
			if len(c) > len(name) && c[len(name)] == '=' && asciiEqualFold(c[:len(name)], name) {
				return c[len(name)+1:]
			}
		}
	}
}

// appendSent appends the response header name (lower case, "_" for "-")
// as it stands: the fields tern builds, then those added (add_header,
// expires).
func (rq *request) appendSent(dst []byte, name string) []byte {
	resp := &rq.Resp
	switch name {
	case "content_type":
		// A 304 has none, as nginx's not-modified filter clears it
		// before the headers filter runs.
		if resp.Status == 304 {
			return dst
		}
		return filters.AppendContentTypeValue(dst, resp)
	case "content_length":
		if resp.ContentLength >= 0 {
			dst = strconv.AppendInt(dst, resp.ContentLength, 10)
		}
		return dst
	case "last_modified":
		if resp.LastModifiedText != nil {
			return append(dst, resp.LastModifiedText...)
		}
		if resp.LastModified != 0 {
			dst = filters.AppendHTTPDate(dst, resp.LastModified)
		}
		return dst
	case "location":
		return append(dst, resp.Location...)
	case "etag":
		return append(dst, resp.ETag...)
	case "content_encoding":
		return append(dst, resp.ContentEncoding...)
	case "connection":
		if resp.KeepAlive {
			return append(dst, "keep-alive"...)
		}
		return append(dst, "close"...)
	case "transfer_encoding":
		if resp.Chunked {
			dst = append(dst, "chunked"...)
		}
		return dst
	}
	first := true
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if len(h.Name) != len(name) || !headerNameIs(h.Name, name) {
			continue
		}
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = append(dst, h.Value...)
	}
	return dst
}
