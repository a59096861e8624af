//go:build linux

package http2

import (
	"bytes"
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
	// dateVal is the Date of the last response encoded, dateEnc its
	// field (dateField).
	dateVal, dateEnc []byte
}

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

// dateField appends the date field with value v, a literal without
// indexing by its static name (RFC 7541 §6.2.2), encoded once per value:
// Date changes once a second, and Huffman-coding its 29 bytes for every
// response was the largest single cost of a small h2 response's head
// (hpack.AppendHuffmanString, 4 % of the worker's samples at 10
// connections × 8 streams of 1 KiB, with the other literals).
func (sh *Shared) dateField(b, v []byte) []byte {
	if sh.dateEnc == nil || !bytes.Equal(v, sh.dateVal) {
		sh.dateVal = append(sh.dateVal[:0], v...)
		sh.dateEnc = appendString(appendVarInt(sh.dateEnc[:0], 4, 0, idxDate),
			unsafe.String(unsafe.SliceData(sh.dateVal), len(sh.dateVal)))
	}
	return append(b, sh.dateEnc...)
}
