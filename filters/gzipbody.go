package filters

import "compress/gzip"

const (
	// gzipTurnInput is how much of the body one turn of the event loop
	// compresses: at level 1 about a quarter of a millisecond of work,
	// so a large compressed response yields as often as a sendfile
	// turn would, and its output buffer stays near this size.
	gzipTurnInput = 64 << 10
	// maxIdleCompressors is how many idle compressors a worker keeps per
	// level. Each holds about 800 KiB (compress/flate's hash chains and
	// window) and 128 KiB of buffers; the ones beyond are left to the
	// garbage collector, so a burst of compressed responses does not pin
	// its memory.
	maxIdleCompressors = 4
	// gzipOSUnix is the OS byte of the gzip header nginx writes (RFC
	// 1952 §2.3.1: 3 = Unix); Go's default is 255, unknown.
	gzipOSUnix = 3
)

// gzipPool is a worker's idle compressors, by level. It belongs to the
// loop goroutine, as Env.
type gzipPool struct {
	idle [gzip.BestCompression + 1][]*gzipBody
}

// gzipBody compresses a response body as the write filter asks for it
// (Producer): gzipTurnInput of input per call, from memory or through
// readFileAt, into a buffer the next call reuses.
type gzipBody struct {
	pool  *gzipPool
	level int
	zw    *gzip.Writer
	out   outBuf
	// in holds file data read for compression; one read at most per
	// call fills it.
	in []byte
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

// gzipBody returns a compressor for level from the worker's pool.
func (e *Env) gzipBody(level int) *gzipBody {
	level = min(max(level, gzip.BestSpeed), gzip.BestCompression)
	if e.gzip == nil {
		e.gzip = &gzipPool{}
	}
	p := e.gzip
	if n := len(p.idle[level]); n > 0 {
		g := p.idle[level][n-1]
		p.idle[level][n-1] = nil
		p.idle[level] = p.idle[level][:n-1]
		return g
	}
	g := &gzipBody{pool: p, level: level, in: make([]byte, gzipTurnInput)}
	g.out.b = make([]byte, 0, gzipTurnInput+gzipTurnInput/8)
	g.zw, _ = gzip.NewWriterLevel(&g.out, level) // level is valid
	return g
}

// start readies g for a body made of segs, which it copies.
func (g *gzipBody) start(segs []Segment) {
	g.src = append(g.src[:0], segs...)
	g.seg, g.off = 0, 0
	g.out.b = g.out.b[:0]
	g.emitted = false
	g.zw.Reset(&g.out)
	g.zw.OS = gzipOSUnix
}

// Produce compresses the next piece of the body.
func (g *gzipBody) Produce(t *Txn) Result {
	if g.emitted {
		g.out.b = g.out.b[:0]
		g.emitted = false
	}
	for budget := int64(gzipTurnInput); budget > 0 && g.seg < len(g.src); {
		s := &g.src[g.seg]
		n := min(budget, s.Size()-g.off)
		var p []byte
		if s.InMemory() {
			p = s.Bytes()[g.off : g.off+n]
		} else {
			m, r := readFileAt(t, s.File, s.Off+g.off, g.in[:n])
			if r != OK {
				return r
			}
			p = g.in[:m]
		}
		g.zw.Write(p) // outBuf never fails
		g.off += int64(len(p))
		budget -= int64(len(p))
		if g.off == s.Size() {
			g.seg++
			g.off = 0
		}
	}
	if g.seg < len(g.src) {
		g.emit(t)
		return OK
	}
	g.zw.Close()
	g.emit(t)
	return Done
}

func (g *gzipBody) emit(t *Txn) {
	if len(g.out.b) > 0 {
		t.Resp.Body.AddMem(g.out.b)
		g.emitted = true
	}
}

// Release puts g back in its pool, or leaves it to the collector when
// the pool has enough.
func (g *gzipBody) Release(*Txn) {
	clear(g.src)
	g.src = g.src[:0]
	p := g.pool
	if len(p.idle[g.level]) < maxIdleCompressors {
		p.idle[g.level] = append(p.idle[g.level], g)
	}
}
