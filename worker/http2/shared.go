//go:build linux

package http2

import (
	"bytes"
	"encoding/binary"
	"unsafe"
)

// Shared is what a worker's HTTP/2 connections share: the buffer every
// connection reads into (http2_recv_buffer_size, as nginx's per-worker
// buffer) and free lists of streams and output buffers, so that an idle
// connection holds no buffer and a busy one allocates nothing once the
// lists are warm. It belongs to the worker's loop goroutine.
type Shared struct {
	recv    []byte
	now     func() int64
	streams []*Stream
	wbufs   [][]byte
	pieces  [][]piece
	lefts   [][]byte
	bufs    [][]byte
	iov     [][]byte // one writev's buffers
	// lits keeps the encodings of recent literal fields (literalField).
	lits [litSlots]litMemo
	// hname and hvalue hold the Huffman-decoded name and value of the
	// field being decoded (reqDecoder).
	hname, hvalue *appendWriter
	huffs         [16]huffMemo
}

// litMemo is one literal field's value and its encoding.
type litMemo struct {
	idx      uint64
	val, enc []byte
}

// The literal memo: litSlots entries, each for values up to litMax bytes.
const (
	litBits  = 6
	litSlots = 1 << litBits
	litMax   = 64
)

// minRecv is the smallest read buffer: a whole frame of the largest size
// tern accepts, twice, so that a partial frame carried over leaves room
// to read.
const minRecv = 2 * (frameHeaderLen + minMaxFrameSize)

// Free-list bounds: what a worker keeps for its next connections.
const (
	keepStreams = 1024
	keepBufs    = 256
	// wbufKeep bounds an output buffer kept for reuse: a batch of
	// frames is at most about batchBytes.
	wbufKeep = 4 * batchBytes
)

// NewShared makes a worker's shared state; recv is
// http2_recv_buffer_size, now the loop's clock.
func NewShared(recv int, now func() int64) *Shared {
	return &Shared{recv: make([]byte, max(recv, minRecv)), now: now, iov: make([][]byte, 0, iovMax)}
}

func (sh *Shared) getStream() *Stream {
	if n := len(sh.streams); n > 0 {
		s := sh.streams[n-1]
		sh.streams = sh.streams[:n-1]
		return s
	}
	return &Stream{}
}

func (sh *Shared) putStream(s *Stream) {
	s.release()
	if len(sh.streams) < keepStreams {
		sh.streams = append(sh.streams, s)
	}
}

func (sh *Shared) getWbuf() []byte {
	if n := len(sh.wbufs); n > 0 {
		b := sh.wbufs[n-1]
		sh.wbufs = sh.wbufs[:n-1]
		return b[:0]
	}
	return make([]byte, 0, batchBytes+batchBytes/4)
}

func (sh *Shared) putWbuf(b []byte) {
	if cap(b) <= wbufKeep && len(sh.wbufs) < keepBufs {
		sh.wbufs = append(sh.wbufs, b[:0])
	}
}

func (sh *Shared) getPieces() []piece {
	if n := len(sh.pieces); n > 0 {
		p := sh.pieces[n-1]
		sh.pieces = sh.pieces[:n-1]
		return p[:0]
	}
	return make([]piece, 0, batchPieces+8)
}

func (sh *Shared) putPieces(p []piece) {
	clear(p[:cap(p)])
	if cap(p) <= 4*batchPieces && len(sh.pieces) < keepBufs {
		sh.pieces = append(sh.pieces, p[:0])
	}
}

func (sh *Shared) getLeft() []byte {
	if n := len(sh.lefts); n > 0 {
		b := sh.lefts[n-1]
		sh.lefts = sh.lefts[:n-1]
		return b[:0]
	}
	return make([]byte, 0, frameHeaderLen+minMaxFrameSize)
}

func (sh *Shared) putLeft(b []byte) {
	if len(sh.lefts) < keepBufs {
		sh.lefts = append(sh.lefts, b[:0])
	}
}

// getBuf returns a buffer of at least n bytes for a stream's file data.
func (sh *Shared) getBuf(n int) []byte {
	for i := len(sh.bufs) - 1; i >= 0; i-- {
		if b := sh.bufs[i]; cap(b) >= n {
			sh.bufs[i] = sh.bufs[len(sh.bufs)-1]
			sh.bufs = sh.bufs[:len(sh.bufs)-1]
			return b[:n]
		}
	}
	return make([]byte, n)
}

func (sh *Shared) putBuf(b []byte) {
	if len(sh.bufs) < keepBufs {
		sh.bufs = append(sh.bufs, b)
	}
}

// literalField appends a literal field without indexing (RFC 7541
// §6.2.2) whose name is static table entry idx and whose value is v.
// Such a field does not touch the dynamic table, so its encoding depends
// on idx and v alone and any connection of the worker can reuse it: the
// worker keeps the last litSlots encodings, found by a hash of v and
// checked byte for byte. Date changes once a second; a file's
// Content-Length, Last-Modified and ETag stay as long as the file does.
// Huffman-coding them for every response was the largest single cost of
// a small h2 response's head (hpack.AppendHuffmanString and
// HuffmanEncodeLength, 4 % of the worker's samples at 10 connections × 8
// streams of 1 KiB).
func (sh *Shared) literalField(b []byte, idx uint64, v []byte) []byte {
	if len(v) > litMax {
		b = appendVarInt(b, 4, 0, idx)
		return appendString(b, unsafe.String(unsafe.SliceData(v), len(v)))
	}
	m := &sh.lits[litSlot(idx, v)]
	if m.enc == nil || m.idx != idx || !bytes.Equal(v, m.val) {
		m.idx = idx
		m.val = append(m.val[:0], v...)
		m.enc = appendString(appendVarInt(m.enc[:0], 4, 0, idx),
			unsafe.String(unsafe.SliceData(m.val), len(m.val)))
	}
	return append(b, m.enc...)
}

// litSlot picks the memo slot of field idx with value v from a hash of
// its first, middle and last eight bytes, which cover the digits that
// tell one length, date or ETag from another; a value it confuses with
// another only costs encoding them afresh. (hash/maphash here took 1 %
// of the worker's samples, as much as the rest of the memo.)
func litSlot(idx uint64, v []byte) int {
	return int(litHash(idx, v) >> (64 - litBits))
}

// litHash hashes field idx with value v (litSlot).
func litHash(idx uint64, v []byte) uint64 {
	h := idx*0x9e3779b97f4a7c15 ^ uint64(len(v))
	if n := len(v); n >= 8 {
		h ^= binary.LittleEndian.Uint64(v)
		h = (h ^ binary.LittleEndian.Uint64(v[n/2-4:])) * 0xff51afd7ed558ccd
		h ^= binary.LittleEndian.Uint64(v[n-8:])
	} else {
		for _, c := range v {
			h = h<<8 | uint64(c)
		}
	}
	return h * 0xc4ceb9fe1a85ec53
}
