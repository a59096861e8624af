package ssl

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// clientHello returns the first flight of a Go client: its ClientHello
// record(s).
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	se, ce := newPipe()
	go tls.Client(ce, cfg).Handshake()
	se.mu.Lock()
	for se.in.Len() == 0 {
		se.cond.Wait()
	}
	b := bytes.Clone(se.in.Bytes())
	se.mu.Unlock()
	return b
}

// refragment splits a handshake record's payload into records of n bytes.
func refragment(rec []byte, n int) []byte {
	payload := rec[recordHeaderLen:]
	var out []byte
	for len(payload) > 0 {
		k := min(n, len(payload))
		out = append(out, rec[0], rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return out
}

func TestScanHello(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "example.com", InsecureSkipVerify: true})
	frag := refragment(hello, 7)
	tests := []struct {
		in   []byte
		max  int
		want HelloStatus
	}{
		{nil, 4096, HelloMore},
		{hello[:1], 4096, HelloMore},
		{hello[:4], 4096, HelloMore},
		{hello[:9], 4096, HelloMore},
		{hello[:len(hello)-1], 4096, HelloMore},
		{hello, 4096, HelloDone},
		{append(bytes.Clone(hello), 0x17, 3, 3), 4096, HelloDone},
		{hello, 64, HelloTooLarge},
		{frag[:len(frag)-1], 4096, HelloMore},
		{frag, 4096, HelloDone},
		{[]byte("GET / HTTP/1.1\r\n"), 4096, HelloPlain},
		{[]byte("\x00\x01garbage"), 4096, HelloBad},
		{[]byte("get / HTTP/1.1"), 4096, HelloPlain},
		{[]byte{0x15, 3, 3, 0, 2, 2, 40}, 4096, HelloBad}, // an alert
		{[]byte{0x80, 0x2e, 0x01}, 4096, HelloBad},
		{[]byte{0x16, 3, 1, 0x40, 0x01}, 4096, HelloBad},                           // 16385-byte record
		{[]byte{0x16, 3, 1, 0, 0}, 4096, HelloBad},                                 // empty record
		{[]byte{0x16, 3, 1, 0, 4, 2, 0, 0, 0}, 4096, HelloBad},                     // a ServerHello
		{append([]byte{0x16, 3, 1, 0, 2, 1, 0}, 0x15, 3, 3, 0, 2), 4096, HelloBad}, // an alert mid-hello
		{[]byte{0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff}, 1 << 16, HelloTooLarge},
	}
	for i, tt := range tests {
		if got := ScanHello(tt.in, tt.max); got != tt.want {
			t.Errorf("%d: ScanHello(%x…) = %d, want %d", i, tt.in[:min(len(tt.in), 12)], got, tt.want)
		}
	}
}

// FuzzScanHello: any bytes get an answer, never a panic, and a hello
// reported complete stays complete with more bytes after it.
func FuzzScanHello(f *testing.F) {
	hello := clientHello(f, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true})
	f.Add(hello)
	f.Add(refragment(hello, 100))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := ScanHello(b, 1<<14)
		if st == HelloDone && ScanHello(append(bytes.Clone(b), 0x16, 3, 3), 1<<14) != HelloDone {
			t.Fatal("a complete hello became incomplete with more bytes")
		}
	})
}
