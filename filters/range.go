package filters

import (
	"math"
	"strconv"
)

// RangeFilter answers a Range request (RFC 9110 §14) on a 200 whose
// length is known and that allows ranges (AcceptRanges): one range is a
// 206 with Content-Range, several a 206 multipart/byteranges with nginx's
// boundary and part headers, none satisfiable a 416 with
// "Content-Range: bytes */SIZE". Ranges are served in the order asked,
// neither sorted nor merged, as nginx. File ranges stay file segments
// (sendfile); a cached file's are slices of its data.
//
// A bytes Range that is not a valid ranges-specifier (letters, a missing
// "-" or ",", a last-pos below its first-pos, no range at all) is a 416
// too, as nginx answers and RFC 9110 §14.2 says a server SHOULD.
//
// A Range is ignored, and the whole 200 sent with Accept-Ranges, when:
// the unit is not bytes; the request is a HEAD (RFC 9110 §14.2 lets a
// server ignore Range); If-Range does not match; there are more ranges than max_ranges; the
// ranges add up to more than the file; or, with max_ranges unlimited,
// the ranges and their boundary overhead come near the file's size
// (nginx 1.29.5, GitHub #988). max_ranges 0 turns ranges off and drops
// Accept-Ranges, as nginx.
//
// Where tern differs from nginx: nginx answers 206 to a HEAD, which tern
// ignores the Range of (RFC 9110 §14.2 lets it); nginx answers 416 to an
// empty list element and to a number that overflows, where tern accepts
// empty list elements and tabs (RFC 9110 §5.6.1: a recipient MUST), takes
// an overflowing last-pos as the end of the file and an overflowing
// first-pos as past it; nginx skips an int-range whose last-pos is below
// its first-pos and serves the others, where tern answers 416 to the
// whole invalid ranges-specifier (RFC 9110 §14.1.1); and tern compares
// an If-Range entity-tag strongly (RFC 9110 §13.1.5: a weak tag never matches; nginx compares
// bytes, so W/"x" matched W/"x").
type RangeFilter struct{}

var _ Filter = RangeFilter{}

// byteRange is one satisfiable range, [start, end) in bytes.
type byteRange struct {
	start, end int64
	// hdr is where the part's boundary lines begin in Txn.vals, for a
	// multipart response.
	hdr int
}

// rangeResult is what a Range header asks of the response.
type rangeResult int8

const (
	// rangeIgnore: send the whole representation (200).
	rangeIgnore rangeResult = iota
	// rangeOK: send the parsed ranges (206).
	rangeOK
	// rangeUnsatisfiable: no range overlaps the representation, or the
	// ranges-specifier is invalid (416).
	rangeUnsatisfiable
)

const (
	// bytesUnit is the range unit tern serves, compared
	// case-insensitively (RFC 9110 §14.1).
	bytesUnit = "bytes="
	// Multi-range overhead limit with max_ranges unlimited (nginx commit
	// cb9252ae6): each part counts rangePartCost bytes on top of its
	// data, and the total may exceed the file by rangeSlack.
	rangePartCost = 256
	rangeSlack    = 4096
)

// Header applies the Range header to a 200.
func (RangeFilter) Header(t *Txn) Result {
	r := &t.Resp
	if r.Status != 200 || r.ContentLength < 0 || !r.AcceptRanges || t.Loc == nil {
		return OK
	}
	max := t.Loc.MaxRanges
	if max == 0 {
		r.AcceptRanges = false
		return OK
	}
	q := &t.Req
	if q.Range == nil || q.Method == MethodHEAD || !ifRange(q.IfRange, r) {
		return OK
	}
	var res rangeResult
	t.ranges, res = parseRange(q.Range, r.ContentLength, max, t.ranges[:0])
	switch res {
	case rangeOK:
		if len(t.ranges) == 1 {
			t.singleRange()
		} else {
			t.multipartRanges()
		}
	case rangeUnsatisfiable:
		size := r.ContentLength
		t.errorResponse(416)
		start := len(t.vals)
		t.vals = strconv.AppendInt(append(t.vals, "bytes */"...), size, 10)
		r.ContentRange = t.valsFrom(start)
	}
	return OK
}

// ifRange evaluates If-Range (RFC 9110 §13.1.5): absent, or a strong
// entity-tag equal to the ETag, or a date equal to Last-Modified. A value
// ending in DQUOTE is an entity-tag, as nginx tells them apart.
func ifRange(v []byte, r *Response) bool {
	if len(v) == 0 {
		return true
	}
	if len(v) >= 2 && v[len(v)-1] == '"' {
		return r.ETag != nil && strongMatch(v, r.ETag)
	}
	date, ok := ParseHTTPDate(v)
	return ok && r.LastModified != 0 && date == r.LastModified
}

// singleRange makes the response a 206 of its one range.
func (t *Txn) singleRange() {
	r := &t.Resp
	br := t.ranges[0]
	start := len(t.vals)
	t.vals = appendContentRange(append(t.vals, "bytes "...), br, r.ContentLength)
	r.ContentRange = t.valsFrom(start)
	r.Status = 206
	r.AcceptRanges = false
	r.ContentLength = br.end - br.start
	t.orig = append(t.orig[:0], r.Body.Segs...)
	clear(r.Body.Segs)
	r.Body.Segs = r.Body.Segs[:0]
	sliceBody(&r.Body, t.orig, br.start, br.end)
}

// appendContentRange appends "FIRST-LAST/SIZE".
func appendContentRange(b []byte, br byteRange, size int64) []byte {
	b = strconv.AppendInt(b, br.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, br.end-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

// sliceBody appends to b the parts of segs that hold bytes [start, end)
// of the body they make up.
func sliceBody(b *Body, segs []Segment, start, end int64) {
	var pos int64
	for i := range segs {
		s := &segs[i]
		n := s.Size()
		lo, hi := max(start, pos), min(end, pos+n)
		if lo < hi {
			if s.File != nil {
				b.AddFile(s.File, s.Off+lo-pos, hi-lo)
			} else {
				b.AddMem(s.Mem[lo-pos : hi-pos])
			}
		}
		pos += n
		if pos >= end {
			return
		}
	}
}

// parseRange parses a Range value for a representation of size bytes,
// appending the satisfiable ranges to ranges. maxRanges is max_ranges
// (-1 unlimited).
//
// As nginx: a range whose first byte is past the end is skipped, a last
// byte past the end is the last byte, more ranges than maxRanges or
// several that add up to more than size are ignored, and any range of an
// empty representation is ignored unless it starts after 0 (nginx ticket
// #1031: "bytes=0-" on an empty file is a 200).
func parseRange(v []byte, size int64, maxRanges int, ranges []byteRange) ([]byteRange, rangeResult) {
	if len(v) < len(bytesUnit) || !equalFold(v[:len(bytesUnit)], bytesUnit) {
		return ranges, rangeIgnore
	}
	var total int64
	specs := 0
	for set := v[len(bytesUnit):]; ; {
		var spec []byte
		spec, set = cut(set, ',')
		spec = trimOWS(spec)
		if len(spec) > 0 {
			specs++
			start, end, ok := rangeSpec(spec, size)
			switch {
			case !ok:
				return ranges[:0], rangeUnsatisfiable
			case start < end:
				if len(ranges) == maxRanges {
					return ranges, rangeIgnore
				}
				ranges = append(ranges, byteRange{start: start, end: end})
				if end-start > size-total {
					return ranges, rangeIgnore // several, adding up past size
				}
				total += end - start
			case start == 0:
				return ranges, rangeIgnore // empty representation
			}
		}
		if set == nil {
			break
		}
	}
	switch {
	case specs == 0, len(ranges) == 0:
		// No range-spec (a range-set has one at least), or none that
		// overlaps the representation.
		return ranges, rangeUnsatisfiable
	case len(ranges) > 1 && maxRanges < 0 &&
		total-size > rangeSlack-rangePartCost*int64(len(ranges)):
		return ranges, rangeIgnore
	}
	return ranges, rangeOK
}

// rangeSpec parses one range-spec (RFC 9110 §14.1.1): "FIRST-[LAST]" or
// "-SUFFIX", spaces allowed around the numbers as nginx allows them. It
// returns the range as [start, end) clipped to size; start >= end when
// it is unsatisfiable. ok is false for a malformed spec.
func rangeSpec(spec []byte, size int64) (start, end int64, ok bool) {
	first, last := cut(spec, '-')
	if last == nil {
		return 0, 0, false // no "-"
	}
	first, last = trimOWS(first), trimOWS(last)
	if len(first) == 0 {
		n, ok := number(last)
		if !ok {
			return 0, 0, false
		}
		// A suffix: the last n bytes, all of them when n >= size.
		return size - min(n, size), size, true
	}
	start, ok = number(first)
	if !ok {
		return 0, 0, false
	}
	end = size
	if len(last) > 0 {
		l, ok := number(last)
		if !ok || l < start {
			return 0, 0, false
		}
		if l < size {
			end = l + 1
		}
	}
	if start >= size {
		return start, start, true
	}
	return start, end, true
}

// number parses 1*DIGIT, saturating at the largest int64.
func number(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}
