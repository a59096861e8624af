package filters

import (
	"strconv"
	"strings"
	"time"

	"tern/conf"
)

// HeadersFilter adds what expires and add_header configure, as nginx's
// headers filter: Expires and Cache-Control first, then the add_header
// fields in the order written, on the statuses nginx deems safe
// (addHeaderStatus), and an "always" field on every status. Values are
// expanded with the request's variables.
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
	if loc == nil || loc.Expires.Mode == conf.ExpiresOff && loc.Expires.Var.IsZero() && len(loc.AddHeaders) == 0 {
		return OK
	}
	safe := addHeaderStatus(t.Resp.Status)
	if safe && (loc.Expires.Mode != conf.ExpiresOff || !loc.Expires.Var.IsZero()) {
		t.setExpires(loc.Expires)
	}
	for i := range loc.AddHeaders {
		h := &loc.AddHeaders[i]
		if safe || h.Always {
			t.addHeader(h)
		}
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

// setExpires adds Expires and Cache-Control, as nginx's
// ngx_http_set_expires. A value with variables is parsed now, and one
// that does not parse, or says off, adds nothing.
func (t *Txn) setExpires(e conf.Expires) {
	if !e.Var.IsZero() {
		start := len(t.vals)
		t.vals = e.Var.Append(t.vals, t.Vars)
		v, ok := conf.ParseExpiresBytes(t.vals[start:], e.Mode == conf.ExpiresModified)
		t.vals = t.vals[:start]
		if !ok || v.Mode == conf.ExpiresOff {
			return
		}
		e = v
	}
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
	if secs == 0 && e.Mode != conf.ExpiresDaily {
		r.AddHeader("Expires", t.Env.Date)
		r.AddHeader("Cache-Control", maxAgeZero)
		return
	}
	now := t.Env.Now
	var at, maxAge int64
	switch {
	case e.Mode == conf.ExpiresDaily:
		at = nextTimeOfDay(now, secs)
		maxAge = at - now
	case e.Mode == conf.ExpiresAfter || r.LastModified == 0:
		at, maxAge = now+secs, secs
	default: // modified
		at = r.LastModified + secs
		maxAge = at - now
	}
	start := len(t.vals)
	t.vals = AppendHTTPDate(t.vals, at)
	r.AddHeader("Expires", t.valsFrom(start))
	if secs < 0 || maxAge < 0 {
		r.AddHeader("Cache-Control", noCache)
		return
	}
	start = len(t.vals)
	t.vals = strconv.AppendInt(append(t.vals, "max-age="...), maxAge, 10)
	r.AddHeader("Cache-Control", t.valsFrom(start))
}

// nextTimeOfDay returns the next moment, from now, at which the local
// time of day is secs after midnight, as nginx's ngx_next_time: today if
// it is still ahead, else tomorrow.
func nextTimeOfDay(now, secs int64) int64 {
	tm := time.Unix(now, 0)
	y, mo, d := tm.Date()
	at := time.Date(y, mo, d, 0, 0, 0, 0, tm.Location()).Add(time.Duration(secs) * time.Second)
	if at.Unix() <= now {
		at = time.Date(y, mo, d+1, 0, 0, 0, 0, tm.Location()).Add(time.Duration(secs) * time.Second)
	}
	return at.Unix()
}

// addHeader adds one add_header field, its value expanded. As nginx, an
// empty value adds nothing, and ETag and Last-Modified replace the
// response's own (an empty value removes it; a Last-Modified that is not
// a date is sent as is and no longer compared with If-Range).
func (t *Txn) addHeader(h *conf.Header) {
	r := &t.Resp
	start := len(t.vals)
	t.vals = h.Value.Append(t.vals, t.Vars)
	value := t.valsFrom(start)
	switch {
	case strings.EqualFold(h.Name, "ETag"):
		r.ETag = nil
		if len(value) > 0 {
			r.ETag = value
		}
		return
	case strings.EqualFold(h.Name, "Last-Modified"):
		r.LastModified = 0
		r.LastModifiedText = nil
		if len(value) == 0 {
			return
		}
		if sec, ok := ParseHTTPDate(value); ok && sec != 0 {
			r.LastModified, r.LastModifiedText = sec, value
			return
		}
		r.AddHeader(h.Name, value)
		return
	}
	if len(value) > 0 {
		r.AddHeader(h.Name, sanitizeValue(value))
	}
}

// sanitizeValue replaces the bytes a variable may bring into a header
// value that would end the header (CR, LF) or are not allowed in one
// (other controls) with a space: a request must not split its response.
func sanitizeValue(v []byte) []byte {
	for i, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			v[i] = ' '
		}
	}
	return v
}

// valsFrom returns what was appended to t.vals since start, capped so
// that appending to it cannot overwrite what follows.
func (t *Txn) valsFrom(start int) []byte {
	return t.vals[start:len(t.vals):len(t.vals)]
}
