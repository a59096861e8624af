package filters

import (
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// On-the-fly gzip keeps no compressor per response. A compressor is
// large (compress/flate's hash chains and window: about 800 KiB at any
// level), and a response keeps it for as long as its client takes to read
// — 500 clients that never read held 330 MB. Instead each turn of a
// response is compressed on its own by the one compressor of the worker
// for that level: Reset, the turn's input (gzipTurnInput), then a sync
// flush, which ends the turn on a byte boundary with every input byte in
// the output. The turns' outputs concatenated are one deflate stream (a
// block may point back only into its own turn, so the next turn starting
// afresh is still valid), wrapped in a gzip member whose header and
// trailer (CRC-32, length) the response writes itself.
//
// What a response keeps between turns is its pending output, at most a
// turn's worth, in a buffer of its own; a buffer for file input only while
// a read of it is on a pool thread. The cost, measured on text: output
// 0.7% larger at level 1 (the default), 3-4% at 6 to 9, from the
// history lost at each turn; the speed is the same within the noise of
// our measurements (a Reset is cheap next to compressing 64 KiB).
const (
	// gzipTurnInput is how much of the body one turn of the event loop
	// compresses: at level 1 about a quarter of a millisecond of work,
	// so a large compressed response yields as often as a sendfile
	// turn would.
	gzipTurnInput = 64 << 10
	// gzipBufSize is the size of a response's buffers: a turn's input,
	// or its output — deflate's worst case (stored blocks) is the input
	// and 5 bytes per 64 KiB block, and the sync flush, gzip header and
	// trailer add 23 — rounded up to whole pages.
	gzipBufSize = gzipTurnInput + 4<<10
	// maxIdleGzipBufs is how many idle buffers a worker keeps; the ones
	// beyond go back to the system at once (see mapBuf).
	maxIdleGzipBufs = 8
	// gzipOSUnix is the OS byte of the gzip header nginx writes (RFC
	// 1952 §2.3.1: 3 = Unix); Go's default is 255, unknown.
	gzipOSUnix = 3
)

// gzipHeader is the gzip member header nginx writes (RFC 1952 §2.3): no
// name, no mtime, no extra flags, Unix.
var gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, gzipOSUnix}

// gzipPool is a worker's compression state: a compressor per level,
// used by one turn at a time, idle buffers, and idle gzipBody values. It
// belongs to the loop goroutine, as Env.
type gzipPool struct {
	zw   [flate.BestCompression + 1]*flate.Writer
	bufs []gzipBuf
	idle []*gzipBody
}

// compressor returns the worker's compressor for level, reset to write
// to out.
func (p *gzipPool) compressor(level int, out *outBuf) *flate.Writer {
	zw := p.zw[level]
	if zw == nil {
		zw, _ = flate.NewWriter(out, level) // level is valid
		p.zw[level] = zw
		return zw
	}
	zw.Reset(out)
	return zw
}

// buf returns an idle buffer of gzipBufSize, or a new one.
func (p *gzipPool) buf() gzipBuf {
	if n := len(p.bufs); n > 0 {
		b := p.bufs[n-1]
		p.bufs[n-1] = gzipBuf{}
		p.bufs = p.bufs[:n-1]
		return b
	}
	return mapBuf(gzipBufSize)
}

// putBuf takes back a buffer from buf (none: b.b is nil).
func (p *gzipPool) putBuf(b gzipBuf) {
	switch {
	case b.b == nil:
	case len(p.bufs) < maxIdleGzipBufs:
		p.bufs = append(p.bufs, b)
	default:
		unmapBuf(b)
	}
}

// gzipBody compresses a response body as the write filter asks for it
// (Producer): gzipTurnInput of input per call, from memory or through
// readFileAt.
type gzipBody struct {
	pool  *gzipPool
	level int
	// out is the compressed output of the turn, pending until the write
	// filter has sent it; its buffer (mem) is the response's from the
	// first turn to Release.
	out outBuf
	mem gzipBuf
	// in holds file data read for compression: taken for a turn that
	// reads the file, kept only while a read into it is on a pool
	// thread.
	in gzipBuf
	// crc and size are the gzip trailer's CRC-32 and length (mod 2^32)
	// of the input so far.
	crc  uint32
	size uint32
	// src is the identity body; seg and off say how far it is read.
	src []Segment
	seg int
	off int64
	// emitted says that out is in Body.Segs, so that the next call may
	// reuse it; output of a call that ended in Again stays for the next.
	emitted bool
}

var _ Producer = (*gzipBody)(nil)

// outBuf collects the compressor's output.
type outBuf struct{ b []byte }

func (o *outBuf) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

// gzipBody returns a producer for level from the worker's pool.
func (e *Env) gzipBody(level int) *gzipBody {
	level = min(max(level, flate.BestSpeed), flate.BestCompression)
	if e.gzip == nil {
		e.gzip = &gzipPool{}
	}
	p := e.gzip
	if n := len(p.idle); n > 0 {
		g := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		g.level = level
		return g
	}
	return &gzipBody{pool: p, level: level}
}

// start readies g for a body made of segs, which it copies.
func (g *gzipBody) start(segs []Segment) {
	g.src = append(g.src[:0], segs...)
	g.seg, g.off = 0, 0
	g.crc, g.size = 0, 0
	g.mem = g.pool.buf()
	g.out.b = append(g.mem.b[:0], gzipHeader[:]...)
	g.emitted = false
}

// Produce compresses the next piece of the body: one turn.
func (g *gzipBody) Produce(t *Txn) Result {
	if g.emitted {
		g.out.b = g.out.b[:0]
		g.emitted = false
	}
	zw := g.pool.compressor(g.level, &g.out)
	for budget := int64(gzipTurnInput); budget > 0 && g.seg < len(g.src); {
		s := &g.src[g.seg]
		n := min(budget, s.Size()-g.off)
		var p []byte
		if s.InMemory() {
			p = s.Bytes()[g.off : g.off+n]
		} else {
			if g.in.b == nil {
				g.in = g.pool.buf()
			}
			m, r := readFileAt(t, s.File, s.Off+g.off, g.in.b[:n])
			if r != OK {
				// What this turn compressed so far stays in out
				// for the next; a read on a pool thread keeps in.
				zw.Flush()
				if r != Again {
					g.releaseIn()
				}
				return r
			}
			p = g.in.b[:m]
		}
		zw.Write(p) // outBuf never fails
		g.crc = crc32.Update(g.crc, crc32.IEEETable, p)
		g.size += uint32(len(p))
		g.off += int64(len(p))
		budget -= int64(len(p))
		if g.off == s.Size() {
			g.seg++
			g.off = 0
		}
	}
	g.releaseIn()
	if g.seg < len(g.src) {
		zw.Flush()
		g.emit(t)
		return OK
	}
	zw.Close()
	g.out.b = binary.LittleEndian.AppendUint32(g.out.b, g.crc)
	g.out.b = binary.LittleEndian.AppendUint32(g.out.b, g.size)
	g.emit(t)
	return Done
}

func (g *gzipBody) emit(t *Txn) {
	if len(g.out.b) > 0 {
		t.Resp.Body.AddMem(g.out.b)
		g.emitted = true
	}
}

func (g *gzipBody) releaseIn() {
	g.pool.putBuf(g.in)
	g.in = gzipBuf{}
}

// Release gives back g's buffers and g itself. Nothing refers to them
// any more: the response is over, and no read is on a pool thread (the
// connection waits for one before it ends).
func (g *gzipBody) Release(*Txn) {
	clear(g.src)
	g.src = g.src[:0]
	g.releaseIn()
	g.pool.putBuf(g.mem)
	g.mem = gzipBuf{}
	g.out.b = nil
	p := g.pool
	if len(p.idle) < maxIdleGzipBufs {
		p.idle = append(p.idle, g)
	}
}
