package worker

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/worker/http2"
	"tern/worker/limit"
)

// request is one request's state in the worker: the filters' transaction
// plus what the worker needs to read the head and discard the body. A
// worker keeps a free list of them; a connection holds one from the first
// byte of a request until its response is sent and its body discarded.
type request struct {
	filters.Txn

	p       parser
	lim     headLimits
	body    chunked
	bodyMax int64 // client_max_body_size, 0 = no limit
	// bodyLeft is the Content-Length still to discard; -1 while a chunked
	// body is being discarded.
	bodyLeft int64
	bodyDone bool

	// start is the loop time of the request's first byte (request_time).
	start int64
	// addr is the listening address the request came in on.
	addr *conf.Addr
	// headTimer is set once client_header_timeout is armed.
	headTimer bool
	// file is the file a response is sent from, released when it is done.
	file fileRef
	// peer is the client's address ($remote_addr): the connection's, or
	// the one realip found (realip.go), which keeps the connection's in
	// realPeer ($realip_remote_addr).
	peer       netip.AddrPort
	realPeer   netip.AddrPort
	realIPDone bool
	// The variables of policevars.go: limit_conn's outcome, set
	// $limit_rate, and $secure_link's state, value and buffers.
	limitConnStatus limit.Status
	limitRateSet    bool
	limitRateVal    int64
	slState         int8
	slValue         []byte
	slExpires       []byte
	slBuf, slMD5    []byte
	// conn is the connection the request came on.
	conn *conn

	// The access phase (access_linux.go, authbasic_linux.go): realm is
	// the auth_basic realm of a 401 (WWW-Authenticate), authBuf holds
	// the decoded credentials. parkedOn is what a parked request waits
	// for (statusPark): a user file being checked, or its verify task.
	// verdict and verdictKey carry a pool thread's password check across
	// the restart of the phases.
	realm    string
	authBuf  []byte
	authHdr  []byte
	authPath []byte // auth_basic_user_file expanded
	parkedOn any
	verify   verifyTask
	// list reads a directory for autoindex on a pool thread.
	list       listTask
	verdict    int8
	verdictKey [32]byte
	// w is the worker the request belongs to, for the variables.
	w *Worker
	// vs holds the user variables and regular-expression groups.
	vs varState
	// The connection's serial number, requests and accept time, and the
	// body bytes read: $connection, $connection_requests,
	// $connection_time, $request_length.
	connID    uint64
	connReqs  uint32
	connStart int64
	bodyRead  int64
	// completed is set once the whole response was sent.
	completed bool
	// aliasURI: try_files chose a file in a regular expression
	// location with alias, whose path is now the alias and the URI
	// (nginx's add_uri_to_alias).
	aliasURI bool
	// rewritten: a rewrite with break changed the URI in this location,
	// whose alias can no longer map it (nginx's valid_location = 0).
	rewritten bool
	// https is set on a TLS connection ($scheme, $https).
	https bool

	// The preaccess phase (limits_linux.go): limit_req and limit_conn run
	// once per request (reqLimited, connLimited, kept across restarts of
	// the phases); limitReqStatus is $limit_req_status; keyBuf and keys
	// hold the zones' keys; connHeld are the limit_conn counts to give
	// back when the request ends.
	reqLimited     bool
	connLimited    bool
	limitReqStatus limit.Status
	connHolds      int8
	keyBuf         []byte
	keys           [limit.MaxLimits][]byte
	connHeld       [limit.MaxLimits]heldConn

	// stream is the HTTP/2 stream the request came on, nil on HTTP/1.x
	// (h2stream_linux.go). orphan marks a request whose stream ended
	// while a pool thread still worked for it: the task's completion
	// frees it. line is an HTTP/2 request's "$request" line.
	stream *http2.Stream
	orphan bool
	line   []byte
	// delay is the timer of a stream's request delayed by limit_req.
	delay event.Timer
	// serial changes each time the request is freed, so that a waiter
	// that outlived it (auth_basic's user file) can tell.
	serial uint64

	// Internal redirects (index, try_files, error_page), as nginx's
	// ngx_http_internal_redirect: redirects counts them, errorPaged is
	// set once an error_page was used (recursive_error_pages off), and
	// closeAfter once a status that ends the connection (400, 413, 414,
	// 500, 501) went through the error path, even if an error_page
	// replaced it.
	redirects  int8
	errorPaged bool
	closeAfter bool
	// uriCur says which of uriBuf holds Req.Path and Req.Args after a URI
	// change, -1 while they point into Txn.Buf and the read buffer; the
	// next change writes the other one, so the old URI stays readable
	// while the new one is built from it.
	uriCur int8
	uriBuf [2][]byte

	// A run of the phases that would have waited for the disk
	// (openwait_linux.go): wouldBlock marks it, open resolves the path on
	// a pool thread, openRetries counts the runs, and args is the query
	// the phases start from again (internal redirects change Req.Args).
	wouldBlock  bool
	openRetries int8
	open        openTask
	args        []byte
	method      filters.Method

	// fixed buffers for values the handler computes, so that the hot
	// path does not allocate and Txn.Buf (which holds Path) never moves.
	etag     [40]byte
	fpath    []byte // the file system path, NUL-terminated for open(2)
	location []byte // a redirect's Location
	exp      []byte // a template being expanded
	tryBuf   []byte // a try_files entry, cleaned
	text     []byte // a body built in memory: return's text, autoindex
	host     [256]byte
}

// textKeep is the largest text buffer a request keeps for the next one:
// a huge directory listing should not pin its memory in the free list.
// authKeep is the same for decoded credentials.
const (
	textKeep = 64 << 10
	authKeep = 1 << 10
)

func newRequest(w *Worker) *request {
	rq := &request{
		w:        w,
		fpath:    make([]byte, 0, 256),
		location: make([]byte, 0, 256),
		exp:      make([]byte, 0, 256),
		tryBuf:   make([]byte, 0, 256),
		uriBuf:   [2][]byte{make([]byte, 0, 256), make([]byte, 0, 256)},
	}
	rq.Txn.Buf = make([]byte, 0, 256)
	rq.Txn.Vars = rq
	rq.Txn.Head = make([]byte, 0, 512)
	rq.reset()
	return rq
}

func (rq *request) reset() {
	rq.Txn.Reset()
	rq.p.reset()
	rq.body.reset()
	rq.bodyMax = 0
	rq.bodyLeft = 0
	rq.bodyDone = false
	rq.start = 0
	rq.addr = nil
	rq.headTimer = false
	rq.file = fileRef{}
	rq.peer = netip.AddrPort{}
	rq.realPeer = netip.AddrPort{}
	rq.realIPDone = false
	rq.limitConnStatus = limit.None
	rq.limitRateSet, rq.limitRateVal = false, 0
	rq.slState, rq.slValue, rq.slExpires = slNone, nil, nil
	if cap(rq.slBuf) > authKeep {
		rq.slBuf, rq.slMD5 = nil, nil
	}
	rq.conn = nil
	rq.realm = ""
	if cap(rq.authBuf) > authKeep {
		rq.authBuf = nil
	}
	if cap(rq.authPath) > authKeep {
		rq.authPath = nil
	}
	rq.parkedOn = nil
	rq.list.done = false
	rq.list.reset()
	rq.verdict = verdictNone
	rq.vs.reset(len(rq.w.cfg.HTTP.Vars))
	rq.connID, rq.connReqs, rq.connStart = 0, 0, 0
	rq.bodyRead = 0
	rq.completed = false
	rq.aliasURI = false
	rq.rewritten = false
	rq.https = false
	rq.reqLimited, rq.connLimited = false, false
	rq.limitReqStatus = limit.None
	if cap(rq.keyBuf) > authKeep {
		rq.keyBuf = nil
	}
	clear(rq.keys[:])
	rq.stream = nil
	rq.orphan = false
	rq.serial++
	rq.redirects = 0
	rq.errorPaged = false
	rq.closeAfter = false
	rq.uriCur = -1
	rq.wouldBlock = false
	rq.openRetries = 0
	rq.args = nil
	rq.fpath = rq.fpath[:0]
	rq.location = rq.location[:0]
	rq.exp = rq.exp[:0]
	rq.tryBuf = rq.tryBuf[:0]
	if cap(rq.text) > textKeep {
		rq.text = nil
	}
	rq.text = rq.text[:0]
}

// lowerHost returns the request's host lower-cased, copying it only when
// it has upper-case letters.
func (rq *request) lowerHost() []byte {
	h := rq.Req.Host
	for i, c := range h {
		if 'A' <= c && c <= 'Z' {
			if len(h) > len(rq.host) {
				return h[:0] // no server name is that long
			}
			b := rq.host[:len(h)]
			copy(b, h[:i])
			for j := i; j < len(h); j++ {
				b[j] = lower(h[j])
			}
			return b
		}
	}
	return h
}

// route picks the server and location and decodes the path. It returns 0
// or the status to answer with.
func (rq *request) route(addr *conf.Addr) int {
	r := &rq.Req
	rq.addr = addr
	rq.args = r.Args
	rq.method = r.Method
	// Without a host, a server named "" answers (nginx looks the empty
	// name up as any other).
	srv, re := addr.Find(rq.lowerHost(), &rq.vs.caps)
	if re != nil && len(re.Named) > 0 {
		rq.vs.setNamed(re)
	}
	rq.Loc = srv.Root
	if r.Method == filters.MethodTRACE {
		// nginx refuses TRACE before anything else
		// (ngx_http_process_request_header), before a location has
		// made the connection keep-alive: it closes after the 405.
		rq.closeAfter = true
		return 405
	}
	if r.RawPath[0] != '/' { // "*"
		if r.Method == filters.MethodOPTIONS {
			return 405
		}
		return 400
	}
	path, st := normalize(rq.Buf[:0], r.RawPath, srv.Root.MergeSlashes)
	if st != 0 {
		return st
	}
	rq.Buf = path
	r.Path = path
	rq.findLocation(srv)
	return 0
}

// findLocation sets the request's location for its URI in srv, with the
// groups of a regular expression location.
func (rq *request) findLocation(srv *conf.Server) {
	loc, re := srv.Find(rq.Req.Path, &rq.vs.caps)
	if re != nil && len(re.Named) > 0 {
		rq.vs.setNamed(re)
	}
	rq.Loc = loc
	rq.rewritten = false
}

// restart undoes a run of the phases that would have waited for the
// disk, so that they can run again from routing: nothing was sent, and
// the body's setup stays as it was.
func (rq *request) restart() {
	rq.file.release()
	rq.Resp.Reset()
	rq.Req.Args = rq.args
	// An error_page redirect made the method GET.
	rq.Req.Method = rq.method
	rq.redirects = 0
	rq.errorPaged = false
	rq.closeAfter = false
	rq.uriCur = -1
	rq.wouldBlock = false
	rq.realm = ""
	rq.parkedOn = nil
	rq.aliasURI = false
	rq.rewritten = false
	rq.vs.reset(len(rq.w.cfg.HTTP.Vars))
}

// keepAlive decides whether the connection outlives this response, as
// nginx: the client must want it, the limits allow it, and the status is
// not one after which the connection's state is doubtful.
func (rq *request) keepAlive(requests int, quitting bool) bool {
	loc := rq.Loc
	if !rq.Req.KeepAlive || quitting || loc.KeepaliveTimeout <= 0 ||
		requests+1 >= loc.KeepaliveRequests || rq.closeAfter ||
		time.Duration(rq.start-rq.connStart) > loc.KeepaliveTime || rq.oldBrowser() {
		// closeAfter: an error answered through nginx's special-response
		// path (400, 413, 414, 500, 501, a refused head) ends the
		// connection; the same status sent by a handler ("return 500
		// text") does not, as nginx.
		return false
	}
	// A body we would have to read to keep the framing, but refuse to
	// read, ends the connection.
	return !(rq.Req.HasBody() && rq.bodyMax > 0 && rq.Req.ContentLength > rq.bodyMax)
}

// oldBrowser reports the browsers keepalive_disable names: MSIE 6 and
// older after a POST (they may wait for a response sent on a kept
// connection), Safari on macOS (it may send a POST on a closed one), as
// nginx's ngx_http_process_user_agent recognises them.
func (rq *request) oldBrowser() bool {
	ua := rq.Req.UserAgent
	kd := rq.Loc.KeepaliveDisable
	if kd&conf.KeepaliveDisableMSIE6 != 0 && rq.Req.Method == filters.MethodPOST {
		if i := bytes.Index(ua, []byte("MSIE ")); i >= 0 && i+7 < len(ua) && ua[i+6] == '.' {
			switch ua[i+5] {
			case '4', '5':
				return true
			case '6':
				if !bytes.Contains(ua[i+8:], []byte("SV1")) {
					return true
				}
			}
		}
	}
	return kd&conf.KeepaliveDisableSafari != 0 && bytes.Contains(ua, []byte("Safari/")) &&
		bytes.Contains(ua, []byte("Mac OS X")) && !bytes.Contains(ua, []byte("Chrome/"))
}

// setError makes the response the built-in page of status.
func (rq *request) setError(status int) {
	resp := &rq.Resp
	resp.Status = filters.WireStatus(status)
	resp.Body.Reset()
	resp.ETag = nil
	resp.LastModified = 0
	resp.LastModifiedText = nil
	resp.AcceptRanges = false
	resp.ContentEncoding = ""
	page := filters.ErrorPage(status, rq.Loc == nil || rq.Loc.ServerTokens)
	if page == nil {
		resp.ContentType = ""
		resp.ContentLength = 0
		return
	}
	resp.ContentType = "text/html"
	resp.Charset = filters.ErrorCharset(rq.Loc, resp.Status)
	resp.ContentLength = int64(len(page))
	resp.Body.AddMem(page)
	if status == 405 {
		resp.Allow = "GET, HEAD"
	}
}

// dirRedirect sets Location to the absolute URL of the request's path
// plus "/", the query kept, and returns 301: the directory redirect of
// nginx's static module (ngx_http_static_handler).
func (rq *request) dirRedirect() int {
	l := rq.exp[:0]
	l = appendEscapedPath(l, rq.Req.Path)
	l = append(l, '/')
	if len(rq.Req.Args) > 0 {
		l = append(l, '?')
		l = append(l, rq.Req.Args...)
	}
	rq.exp = l
	rq.setLocation(l)
	return 301
}

// setLocation sets the Location header to loc, made absolute when it
// starts with "/", as nginx's header filter with absolute_redirect on:
// the scheme (https on a TLS connection), the server's first name when
// server_name_in_redirect is on, else the request's host, else the
// server's first name, else the local address; then the port that
// accepted the connection unless it is the scheme's default (80, or 443)
// or port_in_redirect is off. Controls, spaces and non-ASCII bytes are
// percent-encoded: a value built from $uri must not split the header
// (nginx sends them raw).
func (rq *request) setLocation(loc []byte) {
	l := rq.location[:0]
	s := &rq.Loc.Settings
	if len(loc) > 0 && loc[0] == '/' && s.AbsoluteRedirect {
		scheme, defaultPort := "http://", "80"
		if rq.https {
			scheme, defaultPort = "https://", "443"
		}
		l = append(l, scheme...)
		name := rq.Loc.Server.Name
		switch {
		case s.ServerNameInRedirect && name != "":
			l = append(l, name...)
		case len(rq.Req.Host) > 0:
			l = append(l, rq.lowerHost()...)
		case plainName(name):
			l = append(l, name...)
		default:
			l = appendLocalAddr(l, rq.FD)
		}
		if port := addrPort(rq.addr.Addr); port != defaultPort && s.PortInRedirect {
			l = append(l, ':')
			l = append(l, port...)
		}
	}
	l = appendHeaderSafe(l, loc)
	rq.location = l
	rq.Resp.Location = l
}

// appendHeaderSafe appends v with the bytes a header value must not carry
// as such percent-encoded: controls, space, DEL and non-ASCII.
func appendHeaderSafe(dst, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if c <= ' ' || c >= 0x7f {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func plainName(n string) bool {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c == '*' || c == '~' || c == '.' && i == 0 {
			return false
		}
	}
	return n != ""
}

func addrPort(hostport string) string {
	for i := len(hostport) - 1; i >= 0; i-- {
		if hostport[i] == ':' {
			return hostport[i+1:]
		}
	}
	return ""
}

// appendEscapedPath percent-encodes what a path may not carry as is:
// controls, space, non-ASCII and the delimiters that would change its
// meaning ("?", "#", "%").
func appendEscapedPath(dst, path []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range path {
		if c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' || c == '"' || c == '<' || c == '>' || c == '\\' {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendETag appends nginx's strong ETag: "<mtime hex>-<size hex>".
func appendETag(dst []byte, mtime, size int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, mtime, 16)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, size, 16)
	return append(dst, '"')
}
