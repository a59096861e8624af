//go:build linux

package worker

import (
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/filters"
)

// The phases of nginx that tern has, in nginx's order
// (ngx_http_core_module's phase engine): the server's rewrite phase and
// the location's (return), the precontent phase (try_files), then the
// content phase (content, in serve_linux.go). An internal redirect —
// index, a try_files fallback, error_page — starts them again in the
// location the new URI selects, reusing the request: nothing is
// allocated for it once the request's buffers have grown.

// handle runs the phases for the request's location until a response is
// built (0), a status is to be answered (> 0), or the connection is to be
// closed (statusClose).
func (w *Worker) handle(rq *request) int {
	for {
		if st := w.phases(rq); st != statusRedirect {
			return st
		}
	}
}

// phases runs the phases once, in rq.Loc: the server's statements (the
// server rewrite phase) unless a location's rewrite sent the request
// back here, the location chosen for the URI, its statements (choosing
// again while a rewrite changes the URI), access, try_files, content.
func (w *Worker) phases(rq *request) int {
	if st, ok := w.serveACMEChallenge(rq); ok {
		return st
	}
	if rq.Loc.Health {
		// Answered from memory, before any statement (a server that
		// redirects everything to https still answers its checks) and
		// try_files; allow, deny and auth_basic still apply.
		if rq.Loc.Guard {
			if st := w.access(rq); st != 0 {
				return st
			}
		}
		return w.serveHealth(rq)
	}
	srv := rq.Loc.Server
	if script := srv.Root.Script; script != nil {
		rq.Loc = srv.Root
		if st, flow := w.runScript(rq, script); st != 0 || flow == flowAnswered {
			return st
		}
		// nginx's find-config phase follows the server's statements,
		// which may have changed the URI or the groups.
		rq.findLocation(srv)
	}
	for {
		loc := rq.Loc
		// nginx's find-config phase: an internal location is not found
		// by a request from outside (ngx_http_core_find_config_phase).
		if loc.Internal && rq.redirects == 0 {
			return 404
		}
		if loc.Script == nil {
			break
		}
		// The location's rewrite phase comes before access: a return
		// answers whatever allow, deny or auth_basic say, as nginx.
		st, flow := w.runScript(rq, loc.Script)
		if st != 0 || flow == flowAnswered {
			return st
		}
		if flow != flowFind {
			break
		}
		// ngx_http_core_post_rewrite_phase: a changed URI chooses the
		// location again, at most maxURIChanges times in all.
		if rq.redirects++; rq.redirects > maxURIChanges {
			rq.errLog().Error().Bytes("uri", rq.Req.Path).Msg("rewrite or internal redirection cycle while processing the URI")
			return 500
		}
		rq.rewritten = false
		rq.findLocation(srv)
	}
	if rq.Loc.Guard {
		if st := w.preaccess(rq); st != 0 {
			return st
		}
		if st := w.access(rq); st != 0 {
			return st
		}
	}
	if rq.Loc.TryFiles != nil {
		if st := w.tryFiles(rq); st != 0 {
			return st
		}
	}
	return w.content(rq)
}

// redirect is nginx's ngx_http_internal_redirect: the request goes on with
// a new URI and arguments in the location that the URI selects, in the
// same server. It returns statusRedirect, or 500 once the request was
// redirected maxURIChanges times, or 400 for a URI that leaves the root.
func (w *Worker) redirect(rq *request, path, args []byte) int {
	rq.redirects++
	if rq.redirects > maxURIChanges {
		rq.errLog().Error().Bytes("uri", path).Msg("rewrite or internal redirection cycle while internally redirecting")
		return 500
	}
	if !rq.setURI(path, args) {
		rq.errLog().Error().Bytes("uri", path).Msg("internal redirect to a path outside the root")
		return 400
	}
	rq.file.release()
	keepVary := rq.Resp.Vary
	rq.Resp.Reset()
	rq.Resp.Vary = keepVary
	rq.findLocation(rq.Loc.Server)
	return statusRedirect
}

// isRedirect reports whether status is one whose text is a Location.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// doReturn is nginx's return (ngx_http_script_return_code and
// ngx_http_send_response). 444 closes the connection. For a redirect
// status the expanded text is the Location, made absolute when it starts
// with "/", and the body is the status's page. A status from 400 up
// without text is answered like an error (error_page applies). Anything
// else sends the text as the body, typed by the URI's extension (else
// default_type), as nginx.
func (w *Worker) doReturn(rq *request, code int, text conf.Template) int {
	switch {
	case code == 444:
		return statusClose
	case isRedirect(code):
		rq.exp = text.Append(rq.exp[:0], rq)
		rq.setLocation(rq.exp)
		return code
	case code >= 400 && text.IsZero():
		return code
	}
	rq.text = text.Append(rq.text[:0], rq)
	resp := &rq.Resp
	resp.Status = code
	resp.ContentLength = int64(len(rq.text))
	w.setContentType(rq, rq.Req.Path)
	resp.Body.Reset()
	resp.Body.AddMem(rq.text)
	return 0
}

// tryFiles is nginx's try_files (ngx_http_try_files_module): each entry
// but the last, expanded, names a file under root or alias; an entry
// ending in "/" matches only a directory, and the others only what is
// not one. The first that exists becomes the URI (no redirect: the
// content phase of this location serves it), without the "/" of a
// directory entry, so "$uri/" for "/dir" serves the 301 to "/dir/" as
// nginx does. When none exists, the last entry decides: "=CODE"
// answers CODE, anything else is an internal redirect (its "?" starts
// the arguments). It returns 0 on a match.
func (w *Worker) tryFiles(rq *request) int {
	loc := rq.Loc
	tries := loc.TryFiles
	last := len(tries) - 1
	for _, t := range tries[:last] {
		raw := t.String()
		dirOnly := raw[len(raw)-1] == '/' // nginx: test_dir, "/" dropped
		name := t.Append(rq.exp[:0], rq)
		rq.exp = name
		if dirOnly {
			name = name[:len(name)-1]
		}
		if w.tryEntry(rq, name, dirOnly) {
			return 0
		}
	}
	fb := tries[last]
	if code, ok := fb.Code(); ok {
		return code
	}
	rq.exp = fb.Append(rq.exp[:0], rq)
	path, args := splitArgs(rq.exp)
	return w.redirect(rq, path, args)
}

// tryEntry tests one try_files entry, name (expanded), and reports
// whether it matched; the URI is then set to it. An entry that would
// leave the root does not match (nginx neither cleans nor checks it).
func (w *Worker) tryEntry(rq *request, name []byte, dirOnly bool) bool {
	clean, ok := cleanURI(rq.tryBuf[:0], name)
	rq.tryBuf = clean
	if !ok {
		return false
	}
	uri := clean
	if prefix := aliasPrefix(rq.Loc); prefix != "" && !hasPrefix(clean, prefix) {
		// nginx: an entry that does not start with the location's
		// prefix is taken relative to the alias, and the URI becomes
		// the prefix followed by it.
		u := append(rq.exp[:0], prefix...)
		if u[len(u)-1] == '/' {
			clean = clean[1:]
		}
		rq.exp = append(u, clean...)
		uri = rq.exp
	}
	// In a regular expression location with alias, the entry follows
	// the alias (nginx's add_uri_to_alias), and a file found there is
	// served from alias and URI.
	keep := rq.aliasURI
	rq.aliasURI = regexAlias(rq.Loc)
	n, st := w.mapPath(rq, uri)
	if st != 0 {
		rq.aliasURI = keep
		return false
	}
	// nginx treats every failure as "not found" here (logging those
	// other than ENOENT, ENOTDIR and ENAMETOOLONG).
	isDir, errno := w.probe(rq, n)
	switch errno {
	case 0:
		if isDir == dirOnly {
			if dirOnly && rq.aliasURI {
				rq.aliasURI = keep // nginx keeps the URI for a directory here
				return true
			}
			if rq.setURI(uri, rq.Req.Args) {
				return true
			}
		}
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
	default:
		w.logOpenError(rq.Loc, rq.fpath[:n], errno)
	}
	rq.aliasURI = keep
	return false
}

// special is nginx's ngx_http_special_response_handler: the response for
// an error or redirect status. If the location has an error_page for it,
// and none was used yet for this request (recursive_error_pages off) and
// the request was not redirected too often, the page answers; else the
// built-in page does. It returns 0, or statusClose when an error page's
// location returned 444.
func (w *Worker) special(rq *request, st int) int {
	for st > 0 {
		switch st {
		case 400, 413, 414, 500, 501, filters.StatusCertError, filters.StatusNoCert, filters.StatusToHTTPS:
			rq.closeAfter = true
		}
		page, ok := rq.Loc.ErrorPages[st]
		if !ok || rq.errorPaged || rq.redirects > maxURIChanges {
			rq.setError(st)
			return 0
		}
		rq.errorPaged = true
		st = w.errorPage(rq, st, page)
	}
	return st
}

// errorPage answers status with page (ngx_http_send_error_page). A page
// starting with "/" is an internal redirect (the method becomes GET,
// except HEAD), whose response goes out with status, or "=CODE"'s code;
// if that request fails, its own status and built-in page answer instead.
// A redirect's Location stays (nginx: "error_page 301 /moved.html" gives a
// 301 with a body of one's own). Any other page is a URL to redirect to,
// with 302 unless "=CODE" gives 301, 303, 307 or 308.
func (w *Worker) errorPage(rq *request, status int, page conf.ErrorPage) int {
	uri := page.URI.Append(rq.exp[:0], rq)
	rq.exp = uri
	if page.Status != 0 {
		status = page.Status
	}
	if len(uri) == 0 || uri[0] != '/' {
		if !isRedirect(status) {
			status = 302
		}
		rq.setLocation(uri)
		rq.setError(status)
		return 0
	}
	if rq.Req.Method != filters.MethodHEAD {
		rq.Req.Method = filters.MethodGET
	}
	location := rq.Resp.Location
	path, args := splitArgs(uri)
	st := w.redirect(rq, path, args)
	if st == statusRedirect {
		st = w.handle(rq)
	}
	if st != 0 {
		return st
	}
	resp := &rq.Resp
	resp.Status = status
	if resp.Location == nil {
		resp.Location = location
	}
	if status == 405 {
		// RFC 9110 §15.5.6: a 405 must list the allowed methods
		// (nginx sends no Allow at all).
		resp.Allow = "GET, HEAD"
	}
	if status != 200 {
		// nginx's header filter drops Last-Modified but for 200, 206
		// and 304, and the range filter only ranges a 200.
		resp.LastModified = 0
		resp.LastModifiedText = nil
		resp.AcceptRanges = false
	}
	return 0
}
