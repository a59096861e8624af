package worker

// chunked decodes a chunked request body (RFC 9112 §7.1) incrementally,
// to discard it: it keeps no data, only where it is in the framing.
//
// A line of the framing (chunk size and extensions, trailer field) ends
// in CRLF, or in a bare LF (RFC 9112 §2.2 lets a recipient accept one).
// A CR anywhere else is an error, as nginx's ngx_http_parse_chunked: a
// front proxy that reads "5\rXX\r\n" differently from us must not be
// able to smuggle a request past either.
type chunked struct {
	state  chunkState
	size   int64 // bytes left in the current chunk; its size while parsing
	digits int
	total  int64 // data bytes so far
	extra  int   // bytes of extensions and trailers so far
}

type chunkState uint8

const (
	csSize      chunkState = iota // chunk-size hex digits
	csExt                         // chunk extensions, up to CRLF or LF
	csSizeLF                      // LF after the CR that ends a size line
	csData                        // chunk data
	csDataCR                      // CRLF after the data
	csDataLF                      //
	csTrailer                     // start of a trailer line, or the final CRLF
	csTrailerLn                   // inside a trailer line
	csTrailerLF                   // LF after the CR that ends a trailer line
	csLastLF                      // LF after the final CR
	csDone
)

const (
	// maxChunkDigits keeps a chunk size within int64.
	maxChunkDigits = 15
	// maxChunkExtra bounds extensions and trailers: they are discarded,
	// but an endless one must not keep the connection busy for free.
	maxChunkExtra = 16 << 10
)

func (c *chunked) reset() { *c = chunked{} }

// feed consumes the framing and data in b. It returns how many bytes it
// used, whether the body ended, and a status when the body is bad: 400 for
// broken framing, 413 when the data passes max (0 = no limit).
func (c *chunked) feed(b []byte, max int64) (n int, done bool, status int) {
	for n < len(b) {
		if c.state == csData {
			k := int64(len(b) - n)
			if k > c.size {
				k = c.size
			}
			n += int(k)
			c.size -= k
			if c.size == 0 {
				c.state = csDataCR
			}
			continue
		}
		ch := b[n]
		n++
		if st := c.step(ch, max); st != 0 {
			return n, false, st
		}
		if c.state == csDone {
			return n, true, 0
		}
	}
	return n, false, 0
}

// step advances the framing by one byte outside chunk data.
func (c *chunked) step(ch byte, max int64) int {
	switch c.state {
	case csSize:
		return c.sizeByte(ch, max)
	case csExt:
		if c.extra++; c.extra > maxChunkExtra {
			return 400
		}
		switch {
		case ch == '\r':
			c.state = csSizeLF
		case ch == '\n':
			c.endSize()
		case ch != '\t' && (ch < ' ' || ch == 0x7f):
			return 400
		}
	case csSizeLF:
		if ch != '\n' {
			return 400
		}
		c.endSize()
	case csDataCR:
		switch ch {
		case '\r':
			c.state = csDataLF
		case '\n':
			c.state = csSize
		default:
			return 400
		}
	case csDataLF:
		if ch != '\n' {
			return 400
		}
		c.state = csSize
	case csTrailer, csTrailerLn:
		return c.trailerByte(ch)
	case csTrailerLF:
		if ch != '\n' {
			return 400
		}
		c.state = csTrailer
	case csLastLF:
		if ch != '\n' {
			return 400
		}
		c.state = csDone
	}
	return 0
}

func (c *chunked) sizeByte(ch byte, max int64) int {
	if d, ok := unhex(ch); ok {
		if c.digits++; c.digits > maxChunkDigits {
			return 400
		}
		c.size = c.size<<4 | int64(d)
		if max > 0 && c.total+c.size > max {
			return 413
		}
		return 0
	}
	if c.digits == 0 {
		return 400
	}
	switch ch {
	case ';', ' ', '\t':
		c.state = csExt
	case '\r':
		c.state = csSizeLF
	case '\n':
		c.endSize()
	default:
		return 400
	}
	return 0
}

// endSize starts the data of the chunk whose size line ended, or the
// trailer after the last chunk.
func (c *chunked) endSize() {
	c.digits = 0
	if c.size == 0 {
		c.state = csTrailer
		return
	}
	c.total += c.size
	c.state = csData
}

func (c *chunked) trailerByte(ch byte) int {
	if c.extra++; c.extra > maxChunkExtra {
		return 400
	}
	switch {
	case ch == '\n':
		if c.state == csTrailer {
			c.state = csDone // the empty line that ends the body
		} else {
			c.state = csTrailer
		}
	case ch == '\r':
		if c.state == csTrailer {
			c.state = csLastLF
		} else {
			c.state = csTrailerLF
		}
	case ch != '\t' && (ch < ' ' || ch == 0x7f):
		return 400
	default:
		c.state = csTrailerLn
	}
	return 0
}
