package filters

import (
	"strconv"
	"unicode/utf8"

	"tern/conf"
)

// Charset recoding (nginx's charset filter: source_charset, charset and a
// charset_map between them) recodes the bodies of files whose type takes
// a charset (charset_types) from the location's source_charset to its
// charset. It is two filters: CharsetFilter, before gzip, decides and
// fixes the head; RecodeFilter, after range, recodes the body the range
// filter left, so that a recoding that keeps lengths (one 8-bit charset
// to another) answers ranges as the file would. Recoding to or from
// utf-8 changes lengths: the response loses its Content-Length and is
// never ranged, as nginx's. Only file data is recoded: the parts the
// server writes itself (a multipart response's boundaries, an error
// page) are left as they are.
//
// Where tern differs from nginx: a recoded response is not compressed
// by gzip (nginx compresses the recoded body); an unmapped or invalid
// UTF-8 sequence left at the end of the body becomes "?" (nginx drops
// it).

// CharsetFilter decides whether a response is recoded.
type CharsetFilter struct{}

var _ Filter = CharsetFilter{}

// Header sets the response up for recoding: a body with file data, in a
// location with a recoding, whose type took the charset. A response
// encoded already (gzip_static) cannot be recoded and is sent without a
// charset, as nginx's.
func (CharsetFilter) Header(t *Txn) Result {
	if t.Loc == nil || t.Loc.Recode == nil {
		return OK
	}
	r := &t.Resp
	if r.Charset == "" || !hasFile(r.Body.Segs) {
		return OK
	}
	if r.ContentEncoding != "" {
		r.Charset = ""
		return OK
	}
	t.recode = t.Loc.Recode
	if !t.recode.Length() {
		r.ContentLength = -1
		r.AcceptRanges = false
	}
	return OK
}

func hasFile(segs []Segment) bool {
	for i := range segs {
		if segs[i].File != nil {
			return true
		}
	}
	return false
}

// RecodeFilter hands the body of a response CharsetFilter chose to a
// producer that recodes it.
type RecodeFilter struct{}

var _ Filter = RecodeFilter{}

// Header replaces the body by its recoding producer.
func (RecodeFilter) Header(t *Txn) Result {
	r := &t.Resp
	if t.recode == nil || r.HeaderOnly || r.Body.Producer != nil {
		return OK
	}
	p := &recodeBody{rc: t.recode}
	p.src = append(p.src, r.Body.Segs...)
	clear(r.Body.Segs)
	r.Body.Segs = r.Body.Segs[:0]
	r.Body.Producer = p
	return OK
}

// recodeTurnInput is how much file data one turn recodes.
const recodeTurnInput = 16 << 10

// recodeBody recodes a body's file segments as the write filter asks for
// them; memory segments pass as they are.
type recodeBody struct {
	rc *conf.Recode
	// src is the body; seg and off say how far it is read.
	src []Segment
	seg int
	off int64
	// in holds file data read from disk; out the turn's output.
	in, out []byte
	// part is an incomplete UTF-8 sequence at the end of the last input.
	part    [utf8.UTFMax]byte
	partLen int
}

var _ Producer = (*recodeBody)(nil)

// Produce recodes the next piece of the body.
func (p *recodeBody) Produce(t *Txn) Result {
	p.out = p.out[:0]
	for p.seg < len(p.src) {
		s := &p.src[p.seg]
		if s.File == nil {
			// Framing the server wrote (a boundary): sent as is, after
			// what this turn recoded.
			if len(p.out) > 0 {
				break
			}
			t.Resp.Body.AddMem(s.Mem)
			p.seg++
			return p.more()
		}
		n := min(recodeTurnInput-int64(len(p.out)), s.Size()-p.off)
		if n <= 0 {
			break
		}
		var in []byte
		if s.InMemory() {
			in = s.Bytes()[p.off : p.off+n]
		} else {
			if len(p.out) > 0 {
				break // send what is recoded before reading
			}
			if p.in == nil {
				p.in = make([]byte, recodeTurnInput)
			}
			m, r := readFileAt(t, s.File, s.Off+p.off, p.in[:n])
			if r != OK {
				return r
			}
			in = p.in[:m]
		}
		p.off += int64(len(in))
		last := p.off == s.Size()
		p.out = p.recode(p.out, in, last)
		if last {
			p.seg++
			p.off = 0
		}
	}
	if len(p.out) > 0 {
		t.Resp.Body.AddMem(p.out)
	}
	return p.more()
}

func (p *recodeBody) more() Result {
	if p.seg < len(p.src) {
		return OK
	}
	return Done
}

// recode appends in recoded to dst; last says that in ends a file
// segment, so that an incomplete UTF-8 sequence at its end is "?".
func (p *recodeBody) recode(dst, in []byte, last bool) []byte {
	rc := p.rc
	switch {
	case rc.Bytes != nil:
		for _, c := range in {
			dst = append(dst, rc.Bytes[c])
		}
		return dst
	case rc.ToUTF8 != nil:
		for _, c := range in {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				continue
			}
			dst = append(dst, rc.ToUTF8[c]...)
		}
		return dst
	}
	dst, p.partLen = fromUTF8(dst, &p.part, p.partLen, in, rc.FromUTF8)
	if last && p.partLen > 0 {
		dst = append(dst, '?')
		p.partLen = 0
	}
	return dst
}

// fromUTF8 appends in, UTF-8 after the partLen bytes of part that the
// previous input ended with, recoded by table to dst, as nginx's: a
// character the table lacks as an HTML character reference ("&#1102;"),
// an invalid sequence as "?". It returns the incomplete sequence that
// ends in, kept in part.
func fromUTF8(dst []byte, part *[utf8.UTFMax]byte, partLen int, in []byte, table map[rune]byte) ([]byte, int) {
	for partLen > 0 {
		// Complete the sequence the last input cut.
		n := copy(part[partLen:], in)
		seq := part[:partLen+n]
		if !utf8.FullRune(seq) {
			return dst, partLen + n
		}
		r, size := utf8.DecodeRune(seq)
		dst = appendRune(dst, r, size, table)
		if size >= partLen {
			in = in[size-partLen:]
			partLen = 0
			break
		}
		// An invalid byte: what follows it is read again.
		partLen = copy(part[:], part[size:partLen])
	}
	for len(in) > 0 {
		c := in[0]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			in = in[1:]
			continue
		}
		if !utf8.FullRune(in) {
			return dst, copy(part[:], in)
		}
		r, size := utf8.DecodeRune(in)
		dst = appendRune(dst, r, size, table)
		in = in[size:]
	}
	return dst, 0
}

// appendRune appends r's byte, its character reference when table has
// none, or "?" for an invalid sequence (RuneError of size 1).
func appendRune(dst []byte, r rune, size int, table map[rune]byte) []byte {
	if r == utf8.RuneError && size == 1 {
		return append(dst, '?')
	}
	if c, ok := table[r]; ok {
		return append(dst, c)
	}
	dst = append(dst, "&#"...)
	dst = strconv.AppendInt(dst, int64(r), 10)
	return append(dst, ';')
}

// Release drops what p holds.
func (p *recodeBody) Release(*Txn) {
	clear(p.src)
	p.src = nil
}
