package event

import (
	"encoding/binary"
	"math/bits"
)

// sipHash13 is SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012, with one compression and three finalization
// rounds) of m under the key (k0, k1): a keyed hash that an attacker who
// does not know the key cannot make collide. It is the variant that
// Rust's standard HashMap and, on 64-bit machines, the Linux kernel's
// hsiphash (lib/siphash.c) use for hash tables fed by the network: half
// the rounds of SipHash-2-4, whose margin a PRF for MACs needs and a
// table's flooding resistance does not.
func sipHash13(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	n := len(m)
	for ; len(m) >= 8; m = m[8:] {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= w
	}
	// The last 0 to 7 bytes, with the length in the top byte.
	var w uint64
	for i := len(m) - 1; i >= 0; i-- {
		w = w<<8 | uint64(m[i])
	}
	w |= uint64(n) << 56
	v3 ^= w
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= w
	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is SipHash's round; a function of values rather than a
// closure over them, so that the compiler keeps them in registers.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
