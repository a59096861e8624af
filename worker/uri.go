package worker

import (
	"bytes"
)

// URI changes and the variables of docs/configuration.md#variables.

// maxURIChanges is nginx's NGX_HTTP_MAX_URI_CHANGES: a request may be
// redirected internally ten times; the eleventh redirect is taken for a
// loop and answered 500 ("rewrite or internal redirection cycle").
const maxURIChanges = 10

// What a phase handler returns besides 0 (the response is built) and an
// HTTP status (answer with that status's error page or error_page).
const (
	// statusRedirect: the request was redirected internally; run the
	// phases again in the location its new URI selects.
	statusRedirect = -1
	// statusClose: close the connection without a response (return 444).
	statusClose = -2
	// statusPark: the request waits for a pool thread (rq.parkedOn),
	// which runs its phases again when it is done.
	statusPark = -3
)

// appendHost appends $host: the host of an absolute-form target or the
// Host header, lowercased and without its port; else the server's first
// name (nginx's server_name), "" when that is a regular expression.
func (rq *request) appendHost(dst []byte) []byte {
	if len(rq.Req.Host) > 0 {
		return append(dst, rq.lowerHost()...)
	}
	if name := rq.Loc.Server.Name; name != "" && name[0] != '~' {
		return append(dst, name...)
	}
	return dst
}

// requestURI is $request_uri: the target as received, query included;
// for an absolute-form target, from its path on (nginx's unparsed_uri).
func requestURI(target []byte) []byte {
	if len(target) == 0 || target[0] == '/' {
		return target
	}
	i := bytes.Index(target, []byte("://"))
	if i < 0 {
		return target // "*"
	}
	rest := target[i+3:]
	if j := bytes.IndexAny(rest, "/?"); j >= 0 {
		return rest[j:]
	}
	return rootPath
}

// splitArgs splits a URI built from a template at its first "?", as
// nginx's ngx_http_split_args.
func splitArgs(uri []byte) (path, args []byte) {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return uri[:i], uri[i+1:]
	}
	return uri, nil
}

// cleanURI appends to dst the path src (a URI built from the
// configuration and variables, already decoded) with runs of slashes
// merged and "." and ".." segments resolved, starting with "/". It
// reports false for a ".." that climbs above the root or a NUL. Unlike
// the request path it is not percent-decoded: nginx takes the URI of an
// internal redirect as it is. nginx neither cleans nor checks it, so
// that a variable such as $args can make it leave the root; tern refuses
// that.
func cleanURI(dst, src []byte) ([]byte, bool) {
	base := len(dst)
	dst = append(dst, '/')
	var ok bool
	for _, c := range src {
		switch c {
		case 0:
			return dst[:base], false
		case '/':
			if dst, ok = dotSegment(dst, base); !ok {
				return dst[:base], false
			}
			if dst[len(dst)-1] != '/' {
				dst = append(dst, '/')
			}
		default:
			dst = append(dst, c)
		}
	}
	if dst, ok = dotSegment(dst, base); !ok {
		return dst[:base], false
	}
	return dst, true
}

// setURI replaces the request's URI (Req.Path, cleaned) and arguments. It
// writes the buffer that does not hold the current ones, which path and
// args may point into. It reports false for a path that leaves the root.
func (rq *request) setURI(path, args []byte) bool {
	next := int8(0)
	if rq.uriCur == 0 {
		next = 1
	}
	b, ok := cleanURI(rq.uriBuf[next][:0], path)
	if !ok {
		return false
	}
	n := len(b)
	b = append(b, args...)
	rq.uriBuf[next] = b
	rq.uriCur = next
	rq.Req.Path = b[:n:n]
	rq.Req.Args = b[n:]
	return true
}
