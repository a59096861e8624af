package filters

import (
	"strconv"

	"tern/conf"
)

// StatusHeaderTooLarge is nginx's internal 494: a request header line or
// the whole header is over large_client_header_buffers. It goes out as 400
// with its own page ("Request Header Or Cookie Too Large"), and the access
// log shows 400.
const StatusHeaderTooLarge = 494

// nginx's other internal statuses of TLS, sent as 400 with a page of
// their own and logged as 400; error_page may name them.
const (
	// StatusCertError: the client's certificate did not verify
	// (ssl_verify_client on or optional).
	StatusCertError = 495
	// StatusNoCert: ssl_verify_client on, and the client sent no
	// certificate.
	StatusNoCert = 496
	// StatusToHTTPS: a plain HTTP request on a TLS listener.
	StatusToHTTPS = 497
)

// badRequestPages are the 400 pages of the internal statuses: the title
// says what went wrong.
var badRequestPages = map[int]string{
	StatusHeaderTooLarge: "Request Header Or Cookie Too Large",
	StatusCertError:      "The SSL certificate error",
	StatusNoCert:         "No required SSL certificate was sent",
	StatusToHTTPS:        "The plain HTTP request was sent to HTTPS port",
}

// errorPages[tokens][code] is the built-in page of each status from 300 up,
// laid out as nginx's so that tools scraping them keep working.
var errorPages [2]map[int][]byte

func init() {
	for i, sig := range [2]string{"tern", "tern/" + ServerVersion} {
		pages := make(map[int][]byte)
		for code, reason := range StatusText {
			if code < 300 {
				continue
			}
			title := strconv.Itoa(code) + " " + reason
			pages[code] = page(title, "<center><h1>"+title+"</h1></center>\r\n", sig)
		}
		for code, what := range badRequestPages {
			pages[code] = page("400 "+what, "<center><h1>400 Bad Request</h1></center>\r\n<center>"+what+"</center>\r\n", sig)
		}
		errorPages[i] = pages
	}
}

func page(title, body, sig string) []byte {
	return []byte("<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n" + body +
		"<hr><center>" + sig + "</center>\r\n</body>\r\n</html>\r\n")
}

// ErrorPage returns the built-in page for status, with the version when
// tokens is set; nil for a status without one.
func ErrorPage(status int, tokens bool) []byte {
	i := 0
	if tokens {
		i = 1
	}
	return errorPages[i][status]
}

// ErrorCharset is the charset of a built-in page of status (text/html,
// which charset always covers) in loc: loc's charset, except on a 301
// or 302, whose page nginx sends without one (old browsers applied it
// to the page redirected to).
func ErrorCharset(loc *conf.Location, status int) string {
	if loc == nil || status == 301 || status == 302 {
		return ""
	}
	return loc.Charset
}

// WireStatus is the status that goes out for an internal one.
func WireStatus(status int) int {
	if _, ok := badRequestPages[status]; ok {
		return 400
	}
	return status
}

// errorResponse replaces a response a filter refuses (412, 416) with the
// built-in page of status, as nginx's special response: the handler's
// body, Last-Modified and extra headers go. A 416 keeps its ETag, as
// nginx's; a 412 loses it, as nginx cleans the whole head there.
func (t *Txn) errorResponse(status int) {
	t.releaseProducer()
	r := &t.Resp
	r.Status = status
	if status == 412 {
		r.ETag = nil
	}
	r.ContentTypeBytes = nil
	r.LastModified = 0
	r.LastModifiedText = nil
	r.ContentEncoding = ""
	r.Vary = false
	r.AcceptRanges = false
	r.ContentRange = nil
	clear(r.Headers)
	r.Headers = r.Headers[:0]
	clear(r.Body.Segs)
	r.Body.Segs = r.Body.Segs[:0]
	page := ErrorPage(status, t.Loc == nil || t.Loc.ServerTokens)
	r.ContentType = "text/html"
	r.Charset = ErrorCharset(t.Loc, status)
	r.ContentLength = int64(len(page))
	r.Body.AddMem(page)
}
