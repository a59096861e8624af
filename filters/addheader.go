package filters

import (
	"strconv"
	"strings"
	"time"

	"tern/conf"
)

// HeadersFilter adds what expires and add_header configure, as nginx's
// headers filter: Expires and Cache-Control first, then the add_header
// fields in their (sorted) order, and only on the statuses nginx deems
// safe (addHeaderStatus). tern has no "always" parameter.
type HeadersFilter struct{}

var _ Filter = HeadersFilter{}

// The fixed values of expires epoch and max (nginx's).
var (
	expiresEpoch = []byte("Thu, 01 Jan 1970 00:00:01 GMT")
	expiresMax   = []byte("Thu, 31 Dec 2037 23:55:55 GMT")
	noCache      = []byte("no-cache")
	// maxAgeMax is ten years, nginx's "max".
	maxAgeMax  = []byte("max-age=315360000")
	maxAgeZero = []byte("max-age=0")
)

// Header adds the configured fields.
func (HeadersFilter) Header(t *Txn) Result {
	loc := t.Loc
	if loc == nil || loc.Expires.Mode == conf.ExpiresOff && len(loc.AddHeaders) == 0 ||
		!addHeaderStatus(t.Resp.Status) {
		return OK
	}
	if loc.Expires.Mode != conf.ExpiresOff {
		t.setExpires(loc.Expires)
	}
	for i := range loc.AddHeaders {
		t.addHeader(loc.AddHeaders[i].Name, loc.AddHeaders[i].Value)
	}
	return OK
}

// addHeaderStatus lists the statuses add_header and expires apply to.
func addHeaderStatus(code int) bool {
	switch code {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}

// setExpires adds Expires and Cache-Control. A duration counts from now
// (nginx's "modified" and "@time" forms are not in tern's configuration);
// 0 sends the current time and max-age=0, a negative one a past date and
// no-cache.
func (t *Txn) setExpires(e conf.Expires) {
	r := &t.Resp
	switch e.Mode {
	case conf.ExpiresEpoch:
		r.AddHeader("Expires", expiresEpoch)
		r.AddHeader("Cache-Control", noCache)
		return
	case conf.ExpiresMax:
		r.AddHeader("Expires", expiresMax)
		r.AddHeader("Cache-Control", maxAgeMax)
		return
	}
	secs := int64(e.After / time.Second)
	if secs == 0 {
		r.AddHeader("Expires", t.Env.Date)
		r.AddHeader("Cache-Control", maxAgeZero)
		return
	}
	start := len(t.vals)
	t.vals = AppendHTTPDate(t.vals, t.Env.Now+secs)
	r.AddHeader("Expires", t.valsFrom(start))
	if secs < 0 {
		r.AddHeader("Cache-Control", noCache)
		return
	}
	start = len(t.vals)
	t.vals = strconv.AppendInt(append(t.vals, "max-age="...), secs, 10)
	r.AddHeader("Cache-Control", t.valsFrom(start))
}

// addHeader adds one add_header field. As nginx, an empty value adds
// nothing, and ETag and Last-Modified replace the response's own (an
// empty value removes it; a Last-Modified that is not a date is sent as
// is and no longer compared with If-Range).
func (t *Txn) addHeader(name, value string) {
	r := &t.Resp
	switch {
	case strings.EqualFold(name, "ETag"):
		r.ETag = nil
		if value != "" {
			r.ETag = t.copyVal(value)
		}
		return
	case strings.EqualFold(name, "Last-Modified"):
		r.LastModified = 0
		r.LastModifiedText = nil
		if value == "" {
			return
		}
		v := t.copyVal(value)
		if sec, ok := ParseHTTPDate(v); ok && sec != 0 {
			r.LastModified, r.LastModifiedText = sec, v
			return
		}
		r.AddHeader(name, v)
		return
	}
	if value != "" {
		r.AddHeader(name, t.copyVal(value))
	}
}

// copyVal copies s into the Txn's value buffer.
func (t *Txn) copyVal(s string) []byte {
	start := len(t.vals)
	t.vals = append(t.vals, s...)
	return t.valsFrom(start)
}

// valsFrom returns what was appended to t.vals since start, capped so
// that appending to it cannot overwrite what follows.
func (t *Txn) valsFrom(start int) []byte {
	return t.vals[start:len(t.vals):len(t.vals)]
}
