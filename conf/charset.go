package conf

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// CharsetMap is a charset_map block (nginx's ngx_http_charset_module):
// the byte of charset To for each byte of charset From, which also
// recodes the other way. When To is utf-8 each byte maps to a character
// written as its UTF-8 bytes in hex ("C0" = "D18E"), as nginx's koi-utf.
//
//	charset_map "koi8-r" "windows-1251" {
//	  values = { "C0" = "FE", "C1" = "E0" }
//	}
type CharsetMap struct {
	From, To string
	// entries are the pairs as written, for WriteHCL.
	entries [][2]string
	// fwd and back recode between two 8-bit charsets; toUTF8 and
	// fromUTF8 between an 8-bit charset and utf-8.
	fwd, back *[256]byte
	toUTF8    *[256]string
	fromUTF8  map[rune]byte
}

// Recode is how a response's body is recoded from source_charset to
// charset: exactly one of Bytes (8-bit to 8-bit: one byte for one, so
// lengths and ranges hold), ToUTF8 or FromUTF8.
type Recode struct {
	// Bytes is the byte of the destination for each byte of the source.
	Bytes *[256]byte
	// ToUTF8 is the UTF-8 encoding of each byte of the source.
	ToUTF8 *[256]string
	// FromUTF8 is the byte of the destination for each character the map
	// names; characters below U+0080 are themselves.
	FromUTF8 map[rune]byte
}

// Length reports whether recoding keeps the body's length.
func (r *Recode) Length() bool { return r.Bytes != nil }

var charsetMapSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "values", Required: true}}}

// decodeCharsetMap decodes a charset_map block into h.
func (d *decoder) decodeCharsetMap(b *hcl.Block, h *httpDraft) {
	from, to := b.Labels[0], b.Labels[1]
	switch {
	case !isToken(from) || !isToken(to):
		d.errorf(b.DefRange, "Invalid charset_map", "%q and %q must be charset names such as \"koi8-r\"", from, to)
		return
	case strings.EqualFold(from, to):
		d.errorf(b.DefRange, "Invalid charset_map", "a charset_map between the same charsets %q and %q", from, to)
		return
	case strings.EqualFold(from, "utf-8"):
		d.errorf(b.LabelRanges[0], "Invalid charset_map", "utf-8 must be the second charset of a charset_map")
		return
	}
	for _, m := range h.charsetMaps {
		if strings.EqualFold(m.From, from) && strings.EqualFold(m.To, to) || strings.EqualFold(m.From, to) && strings.EqualFold(m.To, from) {
			d.errorf(b.DefRange, "Duplicate charset_map", "a charset_map between %q and %q is already given", from, to)
			return
		}
	}
	m := newCharsetMap(from, to)
	content, diags := b.Body.Content(charsetMapSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes["values"]
	if a == nil {
		return
	}
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	for _, kv := range pairs {
		var k, v string
		if !d.decode("charset_map", kv.Key, nil, &k) || !d.decode("charset_map", kv.Value, nil, &v) {
			continue
		}
		if err := m.add(k, v); err != "" {
			d.invalid("charset_map", hcl.RangeBetween(kv.Key.Range(), kv.Value.Range()), "%s", err)
		}
	}
	h.charsetMaps = append(h.charsetMaps, m)
}

// newCharsetMap returns a map that recodes ASCII to itself and every
// other byte to "?", as nginx's before its pairs are read.
func newCharsetMap(from, to string) *CharsetMap {
	m := &CharsetMap{From: from, To: to}
	if strings.EqualFold(to, "utf-8") {
		m.toUTF8 = new([256]string)
		m.fromUTF8 = make(map[rune]byte)
		for i := range m.toUTF8 {
			m.toUTF8[i] = "?"
			if i < utf8.RuneSelf {
				m.toUTF8[i] = string(rune(i))
			}
		}
		return m
	}
	m.fwd, m.back = new([256]byte), new([256]byte)
	for i := range 256 {
		c := byte('?')
		if i < utf8.RuneSelf {
			c = byte(i)
		}
		m.fwd[i], m.back[i] = c, c
	}
	return m
}

// add reads one pair: a byte in hex, and the other charset's byte in hex
// or, for utf-8, the character's UTF-8 encoding in hex (at most three
// bytes: nginx maps only U+0000 to U+FFFF). It returns what is wrong, or
// "".
func (m *CharsetMap) add(k, v string) string {
	src, ok := hexByte(k)
	if !ok {
		return "\"" + k + "\" is not a byte in hex such as \"C0\""
	}
	if m.toUTF8 == nil {
		dst, ok := hexByte(v)
		if !ok {
			return "\"" + v + "\" is not a byte in hex such as \"E0\""
		}
		m.fwd[src], m.back[dst] = dst, src
		m.entries = append(m.entries, [2]string{k, v})
		return ""
	}
	enc, err := hex.DecodeString(v)
	r, n := utf8.DecodeRune(enc)
	if err != nil || len(enc) > 3 || r == utf8.RuneError || n != len(enc) {
		return "\"" + v + "\" is not a character's UTF-8 encoding in hex such as \"D18E\" (U+0000 to U+FFFF)"
	}
	m.toUTF8[src] = string(enc)
	m.fromUTF8[r] = src
	m.entries = append(m.entries, [2]string{k, v})
	return ""
}

// hexByte reads one or two hex digits.
func hexByte(s string) (byte, bool) {
	if len(s) == 0 || len(s) > 2 {
		return 0, false
	}
	var b byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			c = c | 0x20 - 'a' + 10
		default:
			return 0, false
		}
		b = b<<4 | c
	}
	return b, true
}

// recode returns how to recode from source to charset, nil when they
// are the same charset or either is not set, and ok false when no map
// joins them.
func recodeFor(maps []*CharsetMap, source, charset string) (r *Recode, ok bool) {
	if source == "" || charset == "" || strings.EqualFold(source, charset) {
		return nil, true
	}
	for _, m := range maps {
		switch {
		case strings.EqualFold(m.From, source) && strings.EqualFold(m.To, charset):
			if m.toUTF8 != nil {
				return &Recode{ToUTF8: m.toUTF8}, true
			}
			return &Recode{Bytes: m.fwd}, true
		case strings.EqualFold(m.From, charset) && strings.EqualFold(m.To, source):
			if m.fromUTF8 != nil {
				return &Recode{FromUTF8: m.fromUTF8}, true
			}
			return &Recode{Bytes: m.back}, true
		}
	}
	return nil, false
}

// resolveRecodes gives every location of srvs the recoding its charset
// and source_charset ask for; a pair that no charset_map joins is an
// error (nginx logs it on every request and sends no charset).
func (d *decoder) resolveRecodes(maps []*CharsetMap, srvs []*Server) {
	for _, s := range srvs {
		s.Walk(func(l *Location) {
			if l.SourceCharset == "" || l.Charset == "" {
				return
			}
			r, ok := recodeFor(maps, l.SourceCharset, l.Charset)
			if !ok {
				d.errorf(d.sourceCharsetAt[l.SourceCharset], "No charset_map", "no charset_map between %q (source_charset) and %q (charset)", l.SourceCharset, l.Charset)
				return
			}
			l.Recode = r
		})
	}
}

// decodeSourceCharset: "off" is "" (no recoding), as nginx.
func decodeSourceCharset(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.charsetName(a)
	if !ok {
		return
	}
	t.set.SourceCharset = s
	if d.sourceCharsetAt == nil {
		d.sourceCharsetAt = make(map[string]hcl.Range)
	}
	d.sourceCharsetAt[s] = a.Range
}

func showSourceCharset(s *Settings) string { return showCharsetName(s.SourceCharset) }

// write writes m back as HCL.
func (m *CharsetMap) write(p *printer) {
	p.line(1, "charset_map %s %s {", hclQuote(m.From), hclQuote(m.To))
	p.line(2, "values = {")
	for _, e := range m.entries {
		p.attr(3, hclQuote(e[0]), hclQuote(e[1]))
	}
	p.line(2, "}")
	p.line(1, "}")
}
