//go:build linux

package http2

import (
	"bytes"
	"errors"
	"strings"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// reqDecoder decodes the header blocks a client sends (RFC 7541) and
// hands each field to a headDecoder. It replaces hpack.Decoder, whose
// work around the fields (a HeaderField struct copied through several
// calls for each field, a pooled buffer and a new string for each
// literal) took 9 % of the worker's samples serving 1 KiB over h2c at
// 10 connections × 8 streams. It decodes a whole block at once, straight
// from the bytes read: a field's strings are handed over as views of
// the block or of the worker's scratch buffers, valid during the call
// (headDecoder copies what it keeps), and only a field entering the
// dynamic table is copied for it. Its rules are hpack.Decoder's, which
// FuzzReqDecoder holds it to.
type reqDecoder struct {
	// The dynamic table (RFC 7541 §2.3.2): ents[len-1] is index 62,
	// the newest; size counts each entry as name + value + 32 bytes.
	ents    []tableEntry
	size    uint32
	maxSize uint32 // the table's size limit, from the last size update
	allowed uint32 // the most a size update may set: our SETTINGS_HEADER_TABLE_SIZE
	sh      *Shared
}

// tableEntry is a field of the static or the dynamic table, with its
// verdict.
type tableEntry struct {
	name, value string
	v           verdict
}

// fieldSink takes the decoded fields: a headDecoder. judged takes a
// field whose verdict is known (from a table).
type fieldSink interface {
	field(name, value string)
	judged(name, value string, v verdict)
}

func newReqDecoder(sh *Shared, tableSize uint32) reqDecoder {
	return reqDecoder{maxSize: tableSize, allowed: tableSize, sh: sh}
}

var (
	errHPACKIndex    = errors.New("hpack: invalid table index")
	errHPACKVarint   = errors.New("hpack: integer overflows")
	errHPACKShort    = errors.New("hpack: header block ends inside a field")
	errHPACKSize     = errors.New("hpack: dynamic table size update above the limit")
	errHPACKLateSize = errors.New("hpack: dynamic table size update after a field")
)

// decode decodes block, a whole header block, into hd.
func (d *reqDecoder) decode(block []byte, hd fieldSink) error {
	first := true
	for len(block) > 0 {
		b := block[0]
		var err error
		switch {
		case b&0x80 != 0: // indexed field (§6.1)
			var idx uint64
			if idx, block, err = readInt(block, 7); err != nil {
				return err
			}
			e := d.at(idx)
			if e == nil {
				return errHPACKIndex
			}
			hd.judged(e.name, e.value, e.v)
		case b&0xe0 == 0x20: // dynamic table size update (§6.3)
			// As hpack.Decoder: only first in the block, or while the
			// table is empty (so "0, then the new size", §4.2, passes).
			if !first && d.size > 0 {
				return errHPACKLateSize
			}
			var v uint64
			if v, block, err = readInt(block, 5); err != nil {
				return err
			}
			if v > uint64(d.allowed) {
				return errHPACKSize
			}
			d.maxSize = uint32(v)
			d.evict()
		default: // a literal field (§6.2): 01 indexing, 0000 not, 0001 never
			n := uint8(4)
			if b&0x40 != 0 {
				n = 6
			}
			var idx uint64
			if idx, block, err = readInt(block, n); err != nil {
				return err
			}
			var name, value string
			if idx > 0 {
				e := d.at(idx)
				if e == nil {
					return errHPACKIndex
				}
				name = e.name
			} else if name, block, err = d.readString(block, &d.sh.hname); err != nil {
				return err
			}
			if value, block, err = d.readValue(block); err != nil {
				return err
			}
			if n == 6 {
				// The table keeps its own copies; a name from a table
				// is one already.
				if idx == 0 {
					name = strings.Clone(name)
				}
				value = strings.Clone(value)
				v := judge(name, value)
				d.add(tableEntry{name, value, v})
				hd.judged(name, value, v)
			} else {
				hd.field(name, value)
			}
		}
		first = false
	}
	return nil
}

// at returns the field at index idx of the static and dynamic tables
// (RFC 7541 §2.3.3).
func (d *reqDecoder) at(idx uint64) *tableEntry {
	switch {
	case idx == 0:
		return nil
	case idx <= staticLen:
		return &staticTable[idx-1]
	case idx-staticLen <= uint64(len(d.ents)):
		return &d.ents[uint64(len(d.ents))-(idx-staticLen)]
	}
	return nil
}

// add inserts a field into the dynamic table (§4.4): the oldest entries
// go until it fits; one larger than the table empties it.
func (d *reqDecoder) add(e tableEntry) {
	d.ents = append(d.ents, e)
	d.size += uint32(len(e.name) + len(e.value) + 32)
	d.evict()
}

// evict drops the oldest entries until the table fits its size (§4.3).
func (d *reqDecoder) evict() {
	n := 0
	for d.size > d.maxSize && n < len(d.ents) {
		e := &d.ents[n]
		d.size -= uint32(len(e.name) + len(e.value) + 32)
		n++
	}
	if n > 0 {
		k := copy(d.ents, d.ents[n:])
		clear(d.ents[k:])
		d.ents = d.ents[:k]
	}
}

// readString reads a string literal (§5.2): a view of p, or, when
// Huffman-coded, decoded into scratch.
func (d *reqDecoder) readString(p []byte, scratch **appendWriter) (string, []byte, error) {
	if len(p) == 0 {
		return "", p, errHPACKShort
	}
	huff := p[0]&0x80 != 0
	n, p, err := readInt(p, 7)
	if err != nil {
		return "", p, err
	}
	if n > uint64(len(p)) {
		return "", p, errHPACKShort
	}
	raw, p := p[:n], p[n:]
	if !huff {
		return unsafe.String(unsafe.SliceData(raw), len(raw)), p, nil
	}
	if *scratch == nil {
		*scratch = new(appendWriter)
	}
	w := *scratch
	if cap(w.b) > headKeep {
		w.b = nil // a large field's buffer is not kept
	}
	w.b = w.b[:0]
	if _, err := hpack.HuffmanDecode(w, raw); err != nil {
		return "", p, err
	}
	return unsafe.String(unsafe.SliceData(w.b), len(w.b)), p, nil
}

// readValue reads a field value's string literal as readString does,
// keeping the decoding of a short Huffman-coded one: nghttp2's clients
// (curl, h2load) never index :path, so the same path comes Huffman-coded
// with every request, and decoding it took 3.6 % of the worker's samples
// at 10 connections × 8 streams of 1 KiB. The string returned is valid
// until the next call.
func (d *reqDecoder) readValue(p []byte) (string, []byte, error) {
	if len(p) == 0 || p[0]&0x80 == 0 || p[0]&0x7f > litMax || int(p[0]&0x7f) >= len(p) {
		return d.readString(p, &d.sh.hvalue)
	}
	n := int(p[0] & 0x7f)
	raw, rest := p[1:1+n], p[1+n:]
	m := &d.sh.huffs[litSlot(0, raw)&(len(d.sh.huffs)-1)]
	if m.w == nil || !bytes.Equal(raw, m.raw) {
		if m.w == nil {
			m.w = new(appendWriter)
		}
		m.raw = append(m.raw[:0], raw...)
		m.w.b = m.w.b[:0]
		if _, err := hpack.HuffmanDecode(m.w, raw); err != nil {
			m.w = nil
			return "", rest, err
		}
	}
	return unsafe.String(unsafe.SliceData(m.w.b), len(m.w.b)), rest, nil
}

// huffMemo is a Huffman-coded value and its decoding (readValue).
type huffMemo struct {
	raw []byte
	w   *appendWriter
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readInt reads an integer with an n-bit prefix (§5.1). As hpack.Decoder,
// it takes at most 63 bits of continuation.
func readInt(p []byte, n uint8) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, p, errHPACKShort
	}
	limit := uint64(1)<<n - 1
	v := uint64(p[0]) & limit
	p = p[1:]
	if v < limit {
		return v, p, nil
	}
	var m uint
	for i, b := range p {
		v += uint64(b&0x7f) << m
		if b&0x80 == 0 {
			return v, p[i+1:], nil
		}
		m += 7
		if m >= 63 {
			return 0, p, errHPACKVarint
		}
	}
	return 0, p, errHPACKShort
}

// staticLen is the size of the static table (RFC 7541 Appendix A).
const staticLen = 61

func init() {
	for i := range staticTable {
		e := &staticTable[i]
		e.v = judge(e.name, e.value)
	}
}

var staticTable = [staticLen]tableEntry{
	{":authority", "", 0},
	{":method", "GET", 0},
	{":method", "POST", 0},
	{":path", "/", 0},
	{":path", "/index.html", 0},
	{":scheme", "http", 0},
	{":scheme", "https", 0},
	{":status", "200", 0},
	{":status", "204", 0},
	{":status", "206", 0},
	{":status", "304", 0},
	{":status", "400", 0},
	{":status", "404", 0},
	{":status", "500", 0},
	{"accept-charset", "", 0},
	{"accept-encoding", "gzip, deflate", 0},
	{"accept-language", "", 0},
	{"accept-ranges", "", 0},
	{"accept", "", 0},
	{"access-control-allow-origin", "", 0},
	{"age", "", 0},
	{"allow", "", 0},
	{"authorization", "", 0},
	{"cache-control", "", 0},
	{"content-disposition", "", 0},
	{"content-encoding", "", 0},
	{"content-language", "", 0},
	{"content-length", "", 0},
	{"content-location", "", 0},
	{"content-range", "", 0},
	{"content-type", "", 0},
	{"cookie", "", 0},
	{"date", "", 0},
	{"etag", "", 0},
	{"expect", "", 0},
	{"expires", "", 0},
	{"from", "", 0},
	{"host", "", 0},
	{"if-match", "", 0},
	{"if-modified-since", "", 0},
	{"if-none-match", "", 0},
	{"if-range", "", 0},
	{"if-unmodified-since", "", 0},
	{"last-modified", "", 0},
	{"link", "", 0},
	{"location", "", 0},
	{"max-forwards", "", 0},
	{"proxy-authenticate", "", 0},
	{"proxy-authorization", "", 0},
	{"range", "", 0},
	{"referer", "", 0},
	{"refresh", "", 0},
	{"retry-after", "", 0},
	{"server", "", 0},
	{"set-cookie", "", 0},
	{"strict-transport-security", "", 0},
	{"transfer-encoding", "", 0},
	{"user-agent", "", 0},
	{"vary", "", 0},
	{"via", "", 0},
	{"www-authenticate", "", 0},
}
