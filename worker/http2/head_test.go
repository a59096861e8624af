//go:build linux

package http2

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkValueBytewise is checkValue as RFC 9113 §8.2.1 reads, one byte
// at a time: the reference the word-at-a-time scan must agree with.
func checkValueBytewise(v string) int {
	if strings.ContainsAny(v, "\x00\r\n") || strings.Trim(v, " \t") != v {
		return valueMalformed
	}
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return valueControl
		}
	}
	return valueOK
}

// TestCheckValueWords: every byte value at every position of values up
// to 40 bytes long, and random values, get what the bytewise check
// gives, whatever the bytes around them (so that no byte's test borrows
// from its neighbours').
func TestCheckValueWords(t *testing.T) {
	for _, fill := range []byte{'a', 0x80, 0xff, 0x20, '~'} {
		for n := 1; n <= 40; n++ {
			b := []byte(strings.Repeat(string(fill), n))
			for i := range n {
				for c := range 256 {
					b[i] = byte(c)
					if got, want := checkValue(string(b)), checkValueBytewise(string(b)); got != want {
						t.Fatalf("%q: %d, want %d", b, got, want)
					}
				}
				b[i] = fill
			}
		}
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{0, '\t', '\n', '\r', 0x1f, ' ', '!', 'a', 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xff}
	for range 100000 {
		b := make([]byte, rnd.IntN(33))
		for i := range b {
			if rnd.IntN(8) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			} else {
				b[i] = byte(rnd.IntN(256))
			}
		}
		if got, want := checkValue(string(b)), checkValueBytewise(string(b)); got != want {
			t.Fatalf("%q: %d, want %d", b, got, want)
		}
	}
}

func BenchmarkCheckValue(b *testing.B) {
	v := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
	for b.Loop() {
		checkValue(v)
	}
}
