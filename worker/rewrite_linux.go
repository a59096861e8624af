//go:build linux

package worker

import (
	"bytes"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// The rewrite module's statements (nginx's ngx_http_rewrite_module codes):
// a server's run in the server rewrite phase, before a location is chosen
// (and again after each internal redirect), the chosen location's in its
// rewrite phase; a rewrite without a flag, or with last, chooses the
// location again for the new URI once the statements stop.

// scriptFlow says how a run of statements ended, besides a status.
type scriptFlow int8

const (
	// flowNext: the statements ran to the end, or to a break.
	flowNext scriptFlow = iota
	// flowFind: the URI changed (rewrite last, or without a flag): the
	// location is chosen again.
	flowFind
	// flowAnswered: a return built the response.
	flowAnswered
)

// runScript runs statements for rq. It returns a status to answer with
// (return, a redirecting rewrite, 500 for an empty rewritten URI) or 0
// and how to go on (flowAnswered: a return built the response). An if block whose condition holds makes its location
// the request's (rq.Loc), as nginx's if.
func (w *Worker) runScript(rq *request, script []conf.Stmt) (int, scriptFlow) {
	changed := false
	st, flow, stop := w.runStmts(rq, script, &changed)
	if st != 0 || stop {
		return st, flow
	}
	if changed {
		return 0, flowFind
	}
	return 0, flowNext
}

// runStmts runs script; stop reports a statement that ended all of them
// (return, break, rewrite with a flag), including those of enclosing
// blocks. changed is set by a rewrite without a flag.
func (w *Worker) runStmts(rq *request, script []conf.Stmt, changed *bool) (st int, flow scriptFlow, stop bool) {
	for i := range script {
		s := &script[i]
		switch s.Op {
		case conf.OpSet:
			w.set(rq, s)
		case conf.OpReturn:
			st := w.doReturn(rq, s.Code, s.Value)
			if st == 0 {
				return 0, flowAnswered, true
			}
			return st, flowNext, true
		case conf.OpBreak:
			// nginx: a rewrite before the break keeps its URI, but
			// the location is not chosen again.
			if *changed {
				rq.rewritten = true
			}
			return 0, flowNext, true
		case conf.OpRewrite:
			if st, flow, stop = w.rewrite(rq, s, changed); st != 0 || stop {
				return st, flow, stop
			}
		case conf.OpIf:
			if !w.condition(rq, s.Cond) {
				continue
			}
			rq.Loc = s.Then
			if st, flow, stop = w.runStmts(rq, s.Then.Script, changed); st != 0 || stop {
				return st, flow, stop
			}
		}
	}
	return 0, flowNext, false
}

// set gives a variable the value of s (nginx's set).
func (w *Worker) set(rq *request, s *conf.Stmt) {
	vs := &rq.vs
	vs.pending = s.Value.Append(vs.pending[:0], rq)
	if s.Var.Kind == conf.VarArgs {
		// $args may be set: it replaces the arguments.
		rq.setArgs(vs.pending)
		return
	}
	if s.Var.Kind == conf.VarLimitRate {
		// $limit_rate may be set: it limits the response's rate.
		if !rq.setLimitRate(vs.pending) {
			rq.errLog().Error().Bytes("value", vs.pending).Msg("invalid $limit_rate, not set")
		}
		return
	}
	vs.setUser(s.Var.N, vs.pending)
}

// setArgs replaces the request's arguments, keeping its URI.
func (rq *request) setArgs(args []byte) {
	path := append(rq.tryBuf[:0], rq.Req.Path...)
	rq.tryBuf = path
	rq.setURI(path, args)
}

// rewrite is nginx's rewrite (ngx_http_script_regex_start_code and
// ngx_http_script_regex_end_code): when the regular expression matches
// $uri, the replacement, with the groups of the match, is either a
// redirect (its status, the result as Location, the arguments appended
// unless the replacement ended with "?") or the new URI, whose "?"
// starts new arguments (the old ones appended after "&" unless dropped).
func (w *Worker) rewrite(rq *request, s *conf.Stmt, changed *bool) (int, scriptFlow, bool) {
	if !rq.match(s.Regex, rq.Req.Path) {
		rq.logRewrite(s.Regex, false)
		rq.vs.caps.Reset() // nginx: a failed rewrite leaves no groups
		return 0, flowNext, false
	}
	rq.logRewrite(s.Regex, true)
	var b []byte
	if !s.Redirect && quotedURI(rq.Req.RawPath) {
		b, rq.vs.capEsc = s.Value.AppendEscapingArgs(rq.vs.pending[:0], rq, appendArgEscaped, rq.vs.capEsc)
	} else {
		b = s.Value.Append(rq.vs.pending[:0], rq)
	}
	args := rq.Req.Args
	if s.Redirect {
		if s.KeepArgs && len(args) > 0 {
			sep := byte('?')
			if bytes.IndexByte(b, '?') >= 0 {
				sep = '&'
			}
			b = append(append(b, sep), args...)
		}
		rq.vs.pending = b
		rq.setLocation(b)
		return s.Code, flowNext, true
	}
	path, newArgs := b, args
	if i := bytes.IndexByte(b, '?'); i >= 0 {
		path, newArgs = b[:i], b[i+1:]
		if s.KeepArgs && len(args) > 0 {
			b = append(append(b, '&'), args...)
			path, newArgs = b[:i], b[i+1:]
		}
	} else if !s.KeepArgs {
		newArgs = nil
	}
	rq.vs.pending = b
	if len(path) == 0 {
		rq.errLog().Error().Msg("the rewritten URI has a zero length")
		return 500, flowNext, true
	}
	if !rq.setURI(path, newArgs) {
		rq.errLog().Error().Bytes("uri", path).Msg("rewritten URI leaves the root")
		return 400, flowNext, true
	}
	switch s.Flag {
	case conf.RewriteLast:
		return 0, flowFind, true
	case conf.RewriteBreak:
		rq.rewritten = true
		return 0, flowNext, true
	}
	*changed = true
	return 0, flowNext, false
}

// logRewrite logs a rewrite or if regular expression's outcome when
// rewrite_log is on, at notice level, as nginx.
func (rq *request) logRewrite(re *conf.Regex, matched bool) {
	if !rq.Loc.RewriteLog {
		return
	}
	ev := rq.errLog().Info().Str("regex", re.String()).Bytes("uri", rq.Req.Path)
	if matched {
		ev.Msg("rewrite regex matches")
	} else {
		ev.Msg("rewrite regex does not match")
	}
}

// condition evaluates an if condition (ngx_http_script_if_code and
// the codes before it).
func (w *Worker) condition(rq *request, c *conf.Cond) bool {
	vs := &rq.vs
	switch c.Op {
	case conf.CondTrue:
		v := c.Left.Append(vs.pending[:0], rq)
		vs.pending = v
		return len(v) > 0 && !(len(v) == 1 && v[0] == '0')
	case conf.CondEqual, conf.CondNotEqual:
		l := c.Left.Append(vs.pending[:0], rq)
		n := len(l)
		b := c.Right.Append(l, rq)
		vs.pending = b
		return bytes.Equal(b[:n], b[n:]) == (c.Op == conf.CondEqual)
	case conf.CondMatch, conf.CondNotMatch:
		v := c.Left.Append(vs.pending[:0], rq)
		vs.pending = v
		// The groups of a match belong to the request from now on;
		// the subject is copied by the match.
		m := rq.match(c.Regex, v)
		rq.logRewrite(c.Regex, m)
		if !m {
			vs.caps.Reset()
		}
		return m == (c.Op == conf.CondMatch)
	case conf.CondFile:
		return w.fileTest(rq, c)
	}
	return false
}

// fileTest is -f, -d, -e and -x (ngx_http_script_file_code): a path
// that cannot be looked up is false (true negated), a failure other than
// "does not exist" is also logged.
func (w *Worker) fileTest(rq *request, c *conf.Cond) bool {
	p := c.Left.Append(rq.tryBuf[:0], rq)
	rq.tryBuf = p
	rq.fpath = append(append(rq.fpath[:0], p...), 0)
	st := &w.hs.st
	errno := w.statFor(rq, rq.fpath, st)
	if errno != 0 {
		switch errno {
		case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		default:
			w.logOpenError(rq.Loc, rq.fpath[:len(p)], errno)
		}
		return c.Not
	}
	var ok bool
	switch mode := st.Mode & unix.S_IFMT; c.File {
	case 'f':
		ok = mode == unix.S_IFREG
	case 'd':
		ok = mode == unix.S_IFDIR
	case 'e':
		ok = true
	case 'x':
		ok = st.Mode&unix.S_IXUSR != 0 // a searchable directory too, as nginx
	}
	return ok != c.Not
}

// quotedURI reports whether the request's path was sent percent-encoded
// or with a "+" (nginx's quoted_uri and plus_in_uri).
func quotedURI(raw []byte) bool {
	return bytes.IndexByte(raw, '%') >= 0 || bytes.IndexByte(raw, '+') >= 0
}

// argEscape marks the bytes nginx percent-encodes in arguments
// (ngx_escape_uri's NGX_ESCAPE_ARGS).
var argEscape = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c <= ' ' || c >= 0x7f
	}
	for _, c := range "\"#%&+;<>?\\^`{|}" {
		t[c] = true
	}
	return t
}()

// appendArgEscaped appends src with the bytes of argEscape
// percent-encoded.
func appendArgEscaped(dst, src []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range src {
		if argEscape[c] {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
