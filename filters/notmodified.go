package filters

import "tern/conf"

// NotModifiedFilter evaluates the preconditions of RFC 9110 §13 on a 200
// response: If-Match and If-Unmodified-Since (412 when false),
// If-None-Match and If-Modified-Since (304 for GET and HEAD when the
// client's copy is current). If-Range belongs to the range filter.
//
// tern walks the headers in the order of RFC 9110 §13.2.2, where nginx
// differs in three ways: nginx tests If-Unmodified-Since even when
// If-Match is present, answers 412 to an If-Unmodified-Since that is not
// a date, and, with both If-None-Match and If-Modified-Since, answers 304
// only when both say so; RFC 9110 ignores If-Unmodified-Since after
// If-Match, an invalid date, and If-Modified-Since after If-None-Match.
// If-Match uses the strong comparison RFC 9110 §13.1.1 requires (nginx
// compares the bytes, so W/"x" matched W/"x").
type NotModifiedFilter struct{}

var _ Filter = NotModifiedFilter{}

// condResult is the outcome of one precondition: the header is absent
// (or ignored), or its condition is true or false.
type condResult int8

const (
	condNone condResult = iota
	condTrue
	condFalse
)

// Header turns the response into a 304 or a 412 when a precondition says
// so.
func (NotModifiedFilter) Header(t *Txn) Result {
	r := &t.Resp
	// RFC 9110 §13.2.1: preconditions apply only where the response
	// without them would be 2xx; nginx evaluates them on 200 alone.
	if r.Status != 200 || t.Loc == nil {
		return OK
	}
	q := &t.Req
	// Steps 1 and 2: If-Match, else If-Unmodified-Since.
	c := checkIfMatch(q.IfMatch, r.ETag)
	if c == condNone {
		c = checkIfUnmodifiedSince(q.IfUnmodifiedSince, r.LastModified)
	}
	if c == condFalse {
		t.errorResponse(412)
		return OK
	}
	// Steps 3 and 4: If-None-Match, else If-Modified-Since (GET and
	// HEAD only).
	safe := q.Method == MethodGET || q.Method == MethodHEAD
	switch checkIfNoneMatch(q.IfNoneMatch, r.ETag) {
	case condFalse:
		if !safe {
			t.errorResponse(412)
			return OK
		}
		t.setNotModified()
	case condNone:
		if safe && checkIfModifiedSince(q.IfModifiedSince, r.LastModified, t.Loc.IfModifiedSince) == condFalse {
			t.setNotModified()
		}
	}
	return OK
}

// setNotModified makes the response a 304 (RFC 9110 §15.4.5): the head
// alone, with the validators and the caching headers the 200 would have
// had, without Content-Length, Accept-Ranges or Content-Encoding, as
// nginx. Content-Type stays in the response for the gzip filter to test
// (the header filter does not send it on a 304).
func (t *Txn) setNotModified() {
	r := &t.Resp
	r.Status = 304
	r.HeaderOnly = true
	r.AcceptRanges = false
	r.ContentEncoding = ""
	t.notModified = true
}

// checkIfMatch evaluates If-Match (RFC 9110 §13.1.1): "*" is true for
// any current representation, a list is true when one of its tags
// matches the ETag by strong comparison.
func checkIfMatch(im, etag []byte) condResult {
	if len(im) == 0 {
		return condNone
	}
	if matchList(im, etag, strongMatch) {
		return condTrue
	}
	return condFalse
}

// checkIfNoneMatch evaluates If-None-Match (RFC 9110 §13.1.2): false
// (not modified) when "*" or one of the tags matches by weak comparison.
func checkIfNoneMatch(inm, etag []byte) condResult {
	if len(inm) == 0 {
		return condNone
	}
	if matchList(inm, etag, weakMatch) {
		return condFalse
	}
	return condTrue
}

// checkIfUnmodifiedSince evaluates If-Unmodified-Since (RFC 9110
// §13.1.4): true when the representation is not newer than the date. It
// is ignored when the value is not a date or the modification time is
// unknown (lm 0).
func checkIfUnmodifiedSince(ius []byte, lm int64) condResult {
	if len(ius) == 0 || lm == 0 {
		return condNone
	}
	date, ok := ParseHTTPDate(ius)
	if !ok {
		return condNone
	}
	if lm <= date {
		return condTrue
	}
	return condFalse
}

// checkIfModifiedSince evaluates If-Modified-Since (RFC 9110 §13.1.3) as
// if_modified_since says: false (not modified) when the date equals the
// modification time (exact, nginx's default) or is not earlier than it
// (before, the RFC's rule); off ignores it, and so does an invalid date
// or an unknown modification time.
func checkIfModifiedSince(ims []byte, lm int64, mode conf.IMSMode) condResult {
	if len(ims) == 0 || lm == 0 || mode == conf.IMSOff {
		return condNone
	}
	date, ok := ParseHTTPDate(ims)
	if !ok {
		return condNone
	}
	if date == lm || mode == conf.IMSBefore && lm < date {
		return condFalse
	}
	return condTrue
}

// matchList reports whether an If-Match or If-None-Match value matches
// etag: "*", or a list of entity-tags (RFC 9110 §5.6.1: commas with
// optional whitespace, empty elements allowed) one of which compares
// equal. A malformed element ends the list; the elements before it
// count.
func matchList(list, etag []byte, equal func(a, b []byte) bool) bool {
	for {
		list = trimLeftOWS(list)
		if len(list) == 0 {
			return false
		}
		switch list[0] {
		case ',':
			list = list[1:]
			continue
		case '*':
			return true
		}
		tag, rest := scanETag(list)
		if tag == nil {
			return false
		}
		if etag != nil && equal(tag, etag) {
			return true
		}
		list = rest
	}
}

// scanETag reads the entity-tag at the start of s (RFC 9110 §8.8.3:
// [ "W/" ] DQUOTE *etagc DQUOTE) and returns it and what follows; tag is
// nil when s does not start with one.
func scanETag(s []byte) (tag, rest []byte) {
	i := 0
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		i = 2
	}
	if len(s) < i+2 || s[i] != '"' {
		return nil, nil
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[:j+1], s[j+1:]
		case c == 0x21 || c >= 0x23 && c != 0x7f:
			// etagc = %x21 / %x23-7E / obs-text
		default:
			return nil, nil
		}
	}
	return nil, nil
}

func isWeak(tag []byte) bool { return len(tag) >= 2 && tag[0] == 'W' && tag[1] == '/' }

// opaque strips the weakness indicator.
func opaque(tag []byte) []byte {
	if isWeak(tag) {
		return tag[2:]
	}
	return tag
}

// strongMatch is RFC 9110 §8.8.3.2's strong comparison: both tags strong
// and equal.
func strongMatch(a, b []byte) bool {
	return !isWeak(a) && !isWeak(b) && string(a) == string(b)
}

// weakMatch is the weak comparison: the opaque tags are equal, weak or
// not.
func weakMatch(a, b []byte) bool {
	return string(opaque(a)) == string(opaque(b))
}
