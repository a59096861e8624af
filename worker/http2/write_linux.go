//go:build linux

package http2

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// iovMax is the most buffers one Writev takes (filters' Socket: 64).
const iovMax = 64

// errTruncated: sendfile sent nothing before the region's end; the frame
// it was the payload of cannot be completed.
var errTruncated = errors.New("file was truncated while being sent")

// Write sends what the connection has to send: the batch being written,
// then new batches, until nothing is left (Idle), the socket is full
// (Blocked), the turn's budget is spent or a stream waits for the next
// turn (Yield), or the connection broke (Broken; WriteErr says why).
func (c *Conn) Write() Status {
	c.turn++
	c.again = false
	budget := c.cfg.Budget
	if budget <= 0 {
		budget = 1 << 62
	}
	for {
		if c.pi >= len(c.pieces) {
			if c.pieces != nil {
				c.batchDone()
			}
			if !c.failed {
				c.fill()
			}
			if c.pi >= len(c.pieces) {
				if c.again {
					return Yield
				}
				return Idle
			}
		}
		n, st := c.writeBatch()
		if n > 0 {
			c.blocked = 0
		}
		switch st {
		case Blocked:
			if c.blocked == 0 {
				c.blocked = c.shared.now()
			}
			c.closeWritten()
			return st
		case Broken:
			return st
		}
		if budget -= n; budget <= 0 {
			c.closeWritten()
			return Yield
		}
	}
}

// WriteErr is the error that broke the connection in Write.
func (c *Conn) WriteErr() error { return c.werr }

// writeBatch writes the batch from where it stopped: runs of memory
// pieces with one writev each, file pieces with sendfile.
func (c *Conn) writeBatch() (int64, Status) {
	var total int64
	for c.pi < len(c.pieces) {
		if c.pieces[c.pi].kind == pieceFile {
			n, st := c.sendPiece()
			total += n
			if st != Idle {
				return total, st
			}
			continue
		}
		iov := c.shared.iov[:0]
		var want int64
		i := c.pi
		for ; i < len(c.pieces) && len(iov) < iovMax && c.pieces[i].kind != pieceFile; i++ {
			b := c.pieceBytes(i)
			if i == c.pi {
				b = b[c.pOff:]
			}
			iov = append(iov, b)
			want += int64(len(b))
		}
		// More follows at once: let the kernel hold a partial segment
		// back (MSG_MORE), so a DATA frame's header leaves with its
		// sendfile payload.
		n, err := c.tr.Writev(iov, i < len(c.pieces))
		clear(iov)
		if n > 0 {
			c.advance(int64(n))
			total += int64(n)
		}
		switch {
		case err == unix.EAGAIN || err == nil && int64(n) < want:
			return total, Blocked
		case err == unix.EINTR:
		case err != nil:
			c.werr = err
			return total, Broken
		}
	}
	switch err := c.tr.Flush(); {
	case err == unix.EAGAIN:
		return total, Blocked
	case err != nil:
		c.werr = err
		return total, Broken
	}
	return total, Idle
}

// pieceBytes is the memory of piece i.
func (c *Conn) pieceBytes(i int) []byte {
	p := &c.pieces[i]
	if p.kind == pieceBuf {
		return c.wbuf[p.lo:p.hi]
	}
	return p.mem
}

// advance moves the write position n bytes through memory pieces.
func (c *Conn) advance(n int64) {
	c.written += n
	for n > 0 && c.pi < len(c.pieces) {
		rest := c.pieces[c.pi].size() - c.pOff
		if n < rest {
			c.pOff += n
			return
		}
		n -= rest
		c.pi++
		c.pOff = 0
	}
}

// slowSend is how long one sendfile on the loop may take before the
// connection's disk (Conn.slowDisk), and the file's for every response
// sending it (filters.File.SlowDisk), count as slow: a send from the page
// cache takes well under a millisecond, one that waited for a page
// still being read took the disk's time; the write filter draws the same
// line for HTTP/1.1 (slowFill in package filters).
const slowSend = 10 * time.Millisecond

// sendPiece sends a file piece with sendfile, on the loop: fill chose it
// only for pages in the page cache.
func (c *Conn) sendPiece() (int64, Status) {
	p := &c.pieces[c.pi]
	off := p.off + c.pOff
	rest := p.n - c.pOff
	var total int64
	for rest > 0 {
		start := time.Now()
		n, err := unix.Sendfile(c.tr.SendfileFD(), p.file.FD, &off, int(rest))
		if time.Since(start) >= slowSend {
			c.slowDisk = true
			p.file.MarkSlowDisk(c.shared.now())
		}
		if n > 0 {
			c.advance(int64(n))
			total += int64(n)
			rest -= int64(n)
		}
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return total, Blocked
		case err != nil:
			c.werr = err
			return total, Broken
		case n == 0:
			c.werr = errTruncated
			return total, Broken
		}
		// A short count without EAGAIN happens (sendfile is
		// interruptible since Linux 4.3): the next call says whether
		// the socket is full.
	}
	return total, Idle
}
