package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// v2 builds a version 2 header: command, family/transport, body.
func v2(cmd, fam byte, body []byte) []byte {
	b := append([]byte{}, v2Sig...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func v2inet(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).AsSlice(), netip.MustParseAddr(dst).AsSlice()
	b := append(append([]byte{}, s...), d...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func TestParse(t *testing.T) {
	tlv := []byte{0x05, 0x00, 0x03, 'a', 'b', 'c'} // a UNIQUE_ID TLV
	tests := []struct {
		in       []byte
		n        int // header length; 0 for an error
		more     bool
		local    bool
		src, dst string
	}{
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n"), n: 45, src: "192.0.2.1:56324", dst: "198.51.100.2:443"},
		{in: []byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"), n: 44, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:65535"},
		{in: []byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 0 80\r\n"), n: 38, src: "192.0.2.1:0", dst: "[::1]:80"},
		{in: []byte("PROXY UNKNOWN\r\n"), n: 15, local: true},
		{in: []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nGET"), n: 35, local: true},
		// Incomplete: more may come.
		{in: []byte("P"), more: true},
		{in: []byte("PROXY"), more: true},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r"), more: true},
		{in: v2Sig[:5], more: true},
		{in: v2(1, 0x11, v2inet("192.0.2.1", "192.0.2.2", 1, 2))[:20], more: true},
		// Malformed.
		{in: []byte("GET / HTTP/1.1\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n")},
		{in: []byte("PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 192.0.2.001 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 example.com 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 1.2.3 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 1.2.3.4.5 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 1.2.3.256 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 1..3.4 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 1.2.3.4. 198.51.100.2 1 2\r\n")},
		{in: []byte("PROXY TCP4 0.0.0.0 255.255.255.255 1 2\r\n"), n: 40, src: "0.0.0.0:1", dst: "255.255.255.255:2"},
		{in: []byte("PROXY UNKNOWN " + string(make([]byte, 100)))},
		// Version 2.
		{in: v2(1, 0x11, v2inet("192.0.2.1", "192.0.2.2", 50000, 80)), n: 28, src: "192.0.2.1:50000", dst: "192.0.2.2:80"},
		{in: v2(1, 0x21, append(v2inet("2001:db8::1", "2001:db8::2", 1, 443), tlv...)), n: 58, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:443"},
		{in: append(v2(1, 0x11, append(v2inet("192.0.2.1", "192.0.2.2", 1, 2), tlv...)), "GET"...), n: 34, src: "192.0.2.1:1", dst: "192.0.2.2:2"},
		{in: v2(0, 0x00, nil), n: 16, local: true},
		{in: v2(0, 0x11, v2inet("192.0.2.1", "192.0.2.2", 1, 2)), n: 28, local: true},
		{in: v2(1, 0x31, make([]byte, 216)), n: 232, local: true},                     // UNIX
		{in: v2(1, 0x12, v2inet("192.0.2.1", "192.0.2.2", 1, 2)), n: 28, local: true}, // UDP
		{in: v2(2, 0x11, v2inet("192.0.2.1", "192.0.2.2", 1, 2))},                     // unknown command
		{in: v2(1, 0x11, make([]byte, 11))},
		{in: v2(1, 0x21, make([]byte, 35))},
		{in: append(append([]byte{}, v2Sig...), 0x11, 0x11, 0, 0)}, // version 1 in binary
		{in: append([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 0)},
	}
	for i, tt := range tests {
		h, n, err := Parse(tt.in)
		switch {
		case tt.more:
			if err != ErrMore {
				t.Errorf("%d: %q: %v, want ErrMore", i, tt.in, err)
			}
			continue
		case tt.n == 0:
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%d: %q: %v %+v, want an *Error", i, tt.in, err, h)
			}
			continue
		case err != nil:
			t.Errorf("%d: %q: %v", i, tt.in, err)
			continue
		}
		if n != tt.n || h.Local != tt.local {
			t.Errorf("%d: %q: n=%d local=%v, want %d %v", i, tt.in, n, h.Local, tt.n, tt.local)
		}
		if !tt.local && (h.Src.String() != tt.src || h.Dst.String() != tt.dst) {
			t.Errorf("%d: %q: %v → %v, want %s → %s", i, tt.in, h.Src, h.Dst, tt.src, tt.dst)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
		v2(1, 0x21, v2inet("2001:db8::1", "2001:db8::2", 1, 443)),
	} {
		if n := testing.AllocsPerRun(100, func() { Parse(in) }); n != 0 {
			t.Errorf("%q: %v allocations", in, n)
		}
	}
}

// FuzzParse: no panic; a header is never longer than the input; a
// prefix of a valid header is ErrMore, never an error or a shorter
// header.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x21, v2inet("2001:db8::1", "2001:db8::2", 1, 443)))
	f.Add(v2(0, 0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("length %d of %d bytes", n, len(b))
		}
		if !h.Local && (!h.Src.IsValid() || !h.Dst.IsValid()) {
			t.Fatalf("addresses %v %v", h.Src, h.Dst)
		}
		for i := 0; i < n; i++ {
			if _, _, err := Parse(b[:i]); err != ErrMore {
				t.Fatalf("the prefix %q of a valid header: %v", b[:i], err)
			}
		}
	})
}
