package filters

import (
	"strconv"
)

// HeaderFilter serialises the response head into Txn.Head, in nginx's
// order: status line, Server, Date, Content-Type, Content-Length,
// Last-Modified, Location, Transfer-Encoding, Connection, Vary, then the
// fields of nginx's header list (appendListFields).
type HeaderFilter struct{}

var _ Filter = HeaderFilter{}

const (
	serverShort = "Server: tern\r\n"
	continue100 = "HTTP/1.1 100 Continue\r\n\r\n"
)

// serverFull is the Server header with the version, built once
// ServerVersion is final (after -ldflags -X, before main).
var serverFull string

// Header writes the head.
func (HeaderFilter) Header(t *Txn) Result {
	r := &t.Resp
	h := t.Head[:0]
	if t.Send100 {
		h = append(h, continue100...)
	}
	h = appendStatusLine(h, r.Status)
	if t.Loc == nil || t.Loc.ServerTokens {
		h = append(h, serverFull...)
	} else {
		h = append(h, serverShort...)
	}
	h = append(h, "Date: "...)
	h = append(h, t.Env.Date...)
	h = append(h, "\r\n"...)
	h = appendContentType(h, r)
	if r.ContentLength >= 0 && !noLengthStatus(r.Status) {
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, r.ContentLength, 10)
		h = append(h, "\r\n"...)
	}
	// nginx sends Last-Modified on 200, 206 and 304 alone.
	if r.LastModified != 0 && (r.Status == 200 || r.Status == 206 || r.Status == 304) {
		h = append(h, "Last-Modified: "...)
		if r.LastModifiedText != nil {
			h = append(h, r.LastModifiedText...)
		} else {
			h = AppendHTTPDate(h, r.LastModified)
		}
		h = append(h, "\r\n"...)
	}
	h = appendField(h, "Location", r.Location)
	if r.Chunked {
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
	}
	if r.KeepAlive {
		h = append(h, "Connection: keep-alive\r\n"...)
		if r.KeepAliveTimeout > 0 {
			h = append(h, "Keep-Alive: timeout="...)
			h = strconv.AppendInt(h, r.KeepAliveTimeout, 10)
			h = append(h, "\r\n"...)
		}
	} else {
		h = append(h, "Connection: close\r\n"...)
	}
	if r.Vary {
		h = append(h, "Vary: Accept-Encoding\r\n"...)
	}
	h = appendListFields(h, r)
	h = append(h, "\r\n"...)
	t.Head = h
	t.HeadLen = len(h)
	return OK
}

// appendListFields appends the fields nginx keeps in its header list, in
// the order its filters add them: ETag (the handler), Expires,
// Cache-Control and add_header (the headers filter), Content-Encoding
// (gzip), Accept-Ranges or Content-Range (range); then Allow.
func appendListFields(h []byte, r *Response) []byte {
	h = appendField(h, "ETag", r.ETag)
	for i := range r.Headers {
		h = appendField(h, r.Headers[i].Name, r.Headers[i].Value)
	}
	if r.ContentEncoding != "" {
		h = append(h, "Content-Encoding: "...)
		h = append(h, r.ContentEncoding...)
		h = append(h, "\r\n"...)
	}
	if r.AcceptRanges {
		h = append(h, "Accept-Ranges: bytes\r\n"...)
	}
	h = appendField(h, "Content-Range", r.ContentRange)
	if r.Allow != "" {
		h = append(h, "Allow: "...)
		h = append(h, r.Allow...)
		h = append(h, "\r\n"...)
	}
	return h
}

// appendContentType appends Content-Type: a type built for this
// response, or the type and charset; none on a 304, which describes no
// content (nginx clears it).
func appendContentType(h []byte, r *Response) []byte {
	switch {
	case r.Status == 304:
	case r.ContentTypeBytes != nil:
		h = appendField(h, "Content-Type", r.ContentTypeBytes)
	case r.ContentType != "":
		h = append(h, "Content-Type: "...)
		h = append(h, r.ContentType...)
		if r.Charset != "" {
			h = append(h, "; charset="...)
			h = append(h, r.Charset...)
		}
		h = append(h, "\r\n"...)
	}
	return h
}

// AppendContentTypeValue appends the Content-Type the response will
// have, charset included ($sent_http_content_type).
func AppendContentTypeValue(dst []byte, r *Response) []byte {
	switch {
	case r.ContentTypeBytes != nil:
		return append(dst, r.ContentTypeBytes...)
	case r.ContentType != "":
		dst = append(dst, r.ContentType...)
		if r.Charset != "" {
			dst = append(dst, "; charset="...)
			dst = append(dst, r.Charset...)
		}
	}
	return dst
}

func appendField(h []byte, name string, value []byte) []byte {
	if value == nil {
		return h
	}
	h = append(h, name...)
	h = append(h, ": "...)
	h = append(h, value...)
	return append(h, "\r\n"...)
}

// noLengthStatus: 1xx and 204 responses carry no Content-Length (RFC 9110
// §8.6), nor does a 304, whose length would be the selected
// representation's and which nginx leaves out.
func noLengthStatus(code int) bool {
	return code < 200 || code == 204 || code == 304
}

// NoLengthStatus reports the statuses that carry no Content-Length, for
// a head written elsewhere (HTTP/2).
func NoLengthStatus(code int) bool { return noLengthStatus(code) }

func appendStatusLine(h []byte, code int) []byte {
	if code >= 100 && code < len(statusLines) && statusLines[code] != "" {
		return append(h, statusLines[code]...)
	}
	h = append(h, "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(code), 10)
	return append(h, " \r\n"...)
}

// statusLines holds the whole status line of every code with a reason.
var statusLines [600]string

func init() {
	serverFull = "Server: tern/" + ServerVersion + "\r\n"
	for code, reason := range StatusText {
		statusLines[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n"
	}
}

// StatusText is the reason phrase of each status tern sends.
var StatusText = map[int]string{
	100: "Continue",
	101: "Switching Protocols",
	200: "OK",
	201: "Created",
	202: "Accepted",
	204: "No Content",
	206: "Partial Content",
	301: "Moved Permanently",
	302: "Moved Temporarily",
	303: "See Other",
	304: "Not Modified",
	307: "Temporary Redirect",
	308: "Permanent Redirect",
	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Not Allowed",
	406: "Not Acceptable",
	408: "Request Time-out",
	409: "Conflict",
	410: "Gone",
	411: "Length Required",
	412: "Precondition Failed",
	413: "Request Entity Too Large",
	414: "Request-URI Too Large",
	415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable",
	421: "Misdirected Request",
	429: "Too Many Requests",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Temporarily Unavailable",
	504: "Gateway Time-out",
	505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}
