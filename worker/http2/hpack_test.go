//go:build linux

package http2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// fieldList records decoded fields as "name: value" lines.
type fieldList struct{ lines []string }

func (l *fieldList) field(name, value string) {
	l.lines = append(l.lines, name+": "+value)
}

func (l *fieldList) judged(name, value string, v verdict) {
	if v != judge(name, value) {
		panic(fmt.Sprintf("%q %q: verdict %d, judge says %d", name, value, v, judge(name, value)))
	}
	l.field(name, value)
}

// TestStaticTable: the static table is RFC 7541 Appendix A, entry for
// entry as hpack.Decoder has it.
func TestStaticTable(t *testing.T) {
	for i := 1; i <= staticLen; i++ {
		var got hpack.HeaderField
		d := hpack.NewDecoder(defaultTableSize, func(f hpack.HeaderField) { got = f })
		if _, err := d.Write([]byte{0x80 | byte(i)}); err != nil {
			t.Fatal(err)
		}
		if e := staticTable[i-1]; e.name != got.Name || e.value != got.Value {
			t.Errorf("static entry %d: %q %q, want %q %q", i, e.name, e.value, got.Name, got.Value)
		}
	}
}

// TestReqDecoderRFCExamples: the request examples of RFC 7541 Appendix
// C.3 (without Huffman coding) and C.4 (with it): three blocks on one
// connection, each field, and the dynamic table after each.
func TestReqDecoderRFCExamples(t *testing.T) {
	blocks := []struct {
		hex    string
		fields []string
		table  []string // newest first
		size   uint32
	}{
		{"828684410f7777772e6578616d706c652e636f6d",
			[]string{":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com"},
			[]string{":authority: www.example.com"}, 57},
		{"828684be58086e6f2d6361636865",
			[]string{":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com", "cache-control: no-cache"},
			[]string{"cache-control: no-cache", ":authority: www.example.com"}, 110},
		{"828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
			[]string{":method: GET", ":scheme: https", ":path: /index.html", ":authority: www.example.com", "custom-key: custom-value"},
			[]string{"custom-key: custom-value", "cache-control: no-cache", ":authority: www.example.com"}, 164},
	}
	huffman := []string{
		"828684418cf1e3c2e5f23a6ba0ab90f4ff",
		"828684be5886a8eb10649cbf",
		"828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
	}
	for pass, hexes := range [][]string{{blocks[0].hex, blocks[1].hex, blocks[2].hex}, huffman} {
		d := newReqDecoder(NewShared(0, func() int64 { return 0 }), defaultTableSize)
		for i, h := range hexes {
			b, _ := hex.DecodeString(h)
			var got fieldList
			if err := d.decode(b, &got); err != nil {
				t.Fatalf("pass %d block %d: %v", pass, i, err)
			}
			want := blocks[i]
			if fmt.Sprint(got.lines) != fmt.Sprint(want.fields) {
				t.Errorf("pass %d block %d: fields %q, want %q", pass, i, got.lines, want.fields)
			}
			var table []string
			for j := len(d.ents) - 1; j >= 0; j-- {
				table = append(table, d.ents[j].name+": "+d.ents[j].value)
			}
			if fmt.Sprint(table) != fmt.Sprint(want.table) || d.size != want.size {
				t.Errorf("pass %d block %d: table %q (%d bytes), want %q (%d)", pass, i, table, d.size, want.table, want.size)
			}
		}
	}
}

// decodeBoth decodes blocks, one connection's, with reqDecoder and with
// hpack.Decoder (Write and Close per block, as tern used it), and fails
// where they differ: a field, or whether a block is refused. It stops at
// the first refused block, which ends the connection.
func decodeBoth(t *testing.T, blocks [][]byte) {
	t.Helper()
	d := newReqDecoder(NewShared(0, func() int64 { return 0 }), defaultTableSize)
	var want fieldList
	ref := hpack.NewDecoder(defaultTableSize, func(f hpack.HeaderField) { want.field(f.Name, f.Value) })
	for i, b := range blocks {
		var got fieldList
		want.lines = want.lines[:0]
		err := d.decode(b, &got)
		_, refErr := ref.Write(b)
		if refErr == nil {
			refErr = ref.Close()
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("block %d %x: error %v, hpack.Decoder's %v", i, b, err, refErr)
		}
		if err != nil {
			return
		}
		if fmt.Sprint(got.lines) != fmt.Sprint(want.lines) {
			t.Fatalf("block %d %x: %q, hpack.Decoder %q", i, b, got.lines, want.lines)
		}
	}
}

// splitBlocks cuts fuzz input into header blocks, each preceded by its
// length byte.
func splitBlocks(data []byte) [][]byte {
	var blocks [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		blocks = append(blocks, data[1:1+n])
		data = data[1+n:]
	}
	return blocks
}

// joinBlocks is splitBlocks' inverse, for seeds.
func joinBlocks(blocks ...[]byte) []byte {
	var out []byte
	for _, b := range blocks {
		out = append(out, byte(len(b)))
		out = append(out, b...)
	}
	return out
}

// encodeFields encodes "name", "value" pairs with hpack.Encoder, whose
// dynamic table carries over between the calls on enc.
func encodeFields(enc *hpack.Encoder, buf *bytes.Buffer, kv ...string) []byte {
	buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1], Sensitive: kv[i] == "cookie"})
	}
	return bytes.Clone(buf.Bytes())
}

func hpackSeeds() [][]byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	req := []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/a/b.css?v=1",
		"user-agent", "Mozilla/5.0", "accept", "*/*", "cookie", "a=b", "x-custom", strings.Repeat("v", 120)}
	b1 := encodeFields(enc, &buf, req...)
	b2 := encodeFields(enc, &buf, req...)
	enc.SetMaxDynamicTableSizeLimit(64)
	b3 := encodeFields(enc, &buf, req...)
	enc.SetMaxDynamicTableSizeLimit(4096)
	b4 := encodeFields(enc, &buf, req...)
	return [][]byte{
		joinBlocks(b1, b2, b3, b4),
		joinBlocks([]byte{0x20, 0x3f, 0xe1, 0x1f, 0x82}, []byte{0x82, 0x20}),                 // size 0 then 4096; late update, empty table
		joinBlocks([]byte{0x41, 0x01, 'a', 0x20}),                                            // late update, a table entry
		joinBlocks([]byte{0x3f, 0xe2, 0x1f}),                                                 // 4097: above the limit
		joinBlocks([]byte{0x80}, []byte{0xbf}),                                               // index 0; past the table
		joinBlocks([]byte{0x41, 0x83, 0xff, 0xff, 0xff}),                                     // Huffman with EOS
		joinBlocks([]byte{0x44, 0x81}),                                                       // truncated
		joinBlocks([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), // varint overflow
		joinBlocks([]byte{0x40, 0x01, 'a', 0x01, 'b', 0xbe, 0x10, 0x01, 'c', 0x00}),          // new name, never indexed
	}
}

// TestReqDecoderMatchesHPACK: the seed blocks (requests through a
// shrinking and growing table, and each error) decode as hpack.Decoder
// decodes them.
func TestReqDecoderMatchesHPACK(t *testing.T) {
	for _, s := range hpackSeeds() {
		decodeBoth(t, splitBlocks(s))
	}
}

// FuzzReqDecoder holds reqDecoder to hpack.Decoder on any sequence of
// blocks.
func FuzzReqDecoder(f *testing.F) {
	for _, s := range hpackSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBoth(t, splitBlocks(data))
	})
}
