//go:build linux

package http2

import (
	"encoding/binary"
)

// The input side: the worker reads the socket into the worker's shared
// buffer (ReadBuffer), and Received parses the whole frames in it. A
// frame cut by the end of the read is carried over in a small buffer the
// connection borrows until the rest comes, so an idle connection holds
// no buffer (nginx keeps such a state buffer too).

// outLimit is the output a connection may have waiting before it stops
// reading: a client that floods control frames while not reading the
// answers is not served faster than it reads.
const outLimit = 256 << 10

// WantsRead reports whether the connection reads more input.
func (c *Conn) WantsRead() bool {
	return !c.failed && len(c.wbuf) < outLimit
}

// ReadBuffer returns the space to read into: the worker's shared
// buffer, after the partial frame carried over from the last read.
func (c *Conn) ReadBuffer() []byte {
	n := copy(c.shared.recv, c.left)
	if c.left != nil {
		c.shared.putLeft(c.left)
		c.left = nil
	}
	c.shared.recv = c.shared.recv[:cap(c.shared.recv)]
	c.leftLen = n
	return c.shared.recv[n:]
}

// Received parses the n bytes just read into ReadBuffer's space.
func (c *Conn) Received(n int) {
	b := c.shared.recv[:c.leftLen+n]
	c.leftLen = 0
	c.newStreams = 0
	for !c.failed {
		if c.preface < len(clientPreface) {
			if len(b) == 0 {
				break
			}
			k := min(len(b), len(clientPreface)-c.preface)
			if string(b[:k]) != clientPreface[c.preface:c.preface+k] {
				c.fail(ErrProtocol, "client sent an invalid connection preface")
				return
			}
			c.preface += k
			b = b[k:]
			continue
		}
		if len(b) < frameHeaderLen {
			break
		}
		h := parseFrameHeader(b)
		if h.length > minMaxFrameSize {
			// Larger than the SETTINGS_MAX_FRAME_SIZE we announced
			// (the default): RFC 9113 §4.2.
			c.fail(ErrFrameSize, "client sent a frame larger than SETTINGS_MAX_FRAME_SIZE")
			return
		}
		end := frameHeaderLen + int(h.length)
		if len(b) < end {
			break
		}
		c.frame(&h, b[frameHeaderLen:end])
		b = b[end:]
	}
	if len(b) > 0 && !c.failed {
		c.left = append(c.shared.getLeft(), b...)
	}
}

// frame acts on one whole frame.
func (c *Conn) frame(h *frameHeader, p []byte) {
	if c.cont != 0 && (h.typ != frameContinuation || h.streamID != c.cont) {
		// RFC 9113 §6.10: a header block is a contiguous sequence.
		c.fail(ErrProtocol, "client interleaved a frame with a header block")
		return
	}
	if !c.settings && h.typ != frameSettings {
		// RFC 9113 §3.4: the preface ends with a SETTINGS frame —
		// which may be the ACK of ours, as nginx's test client sends
		// and nginx takes.
		c.fail(ErrProtocol, "client did not start with SETTINGS")
		return
	}
	switch h.typ {
	case frameData:
		c.data(h, p)
	case frameHeaders:
		c.headers(h, p)
	case frameContinuation:
		c.continuation(h, p)
	case framePriority:
		c.priority(h, p)
	case frameRSTStream:
		c.rstStream(h, p)
	case frameSettings:
		c.settingsFrame(h, p)
	case framePing:
		c.ping(h, p)
	case frameGoAway:
		c.goAway(h, p)
	case frameWindowUpdate:
		c.windowUpdate(h, p)
	case framePushPromise:
		// RFC 9113 §8.4: a client cannot push.
		c.fail(ErrProtocol, "client sent PUSH_PROMISE")
	default:
		// RFC 9113 §4.1: unknown types are ignored — and counted, as
		// frames that cost us work for nothing.
		c.flood("unknown frames")
	}
}

// data discards a request body (tern serves no request bodies), keeping
// flow control and the content-length check (RFC 9113 §8.1.1).
func (c *Conn) data(h *frameHeader, p []byte) {
	if h.streamID == 0 {
		c.fail(ErrProtocol, "client sent DATA on stream 0")
		return
	}
	body, ok := unpad(h, p)
	if !ok {
		c.fail(ErrProtocol, "client sent DATA with too much padding")
		return
	}
	// The whole payload counts, padding included (RFC 9113 §6.9.1).
	n := int64(h.length)
	if n > c.recvWindow {
		c.fail(ErrFlowControl, "client sent more DATA than the connection window")
		return
	}
	c.recvWindow -= n
	c.consumed(n)
	s := c.stream(h.streamID)
	switch {
	case s == nil && c.idle(h.streamID):
		c.fail(ErrProtocol, "client sent DATA on an idle stream")
		return
	case s == nil || s.remoteClosed:
		c.flood("DATA frames on closed streams")
		if s != nil {
			c.resetStream(s, ErrStreamClosed)
		} else {
			c.streamError(h.streamID, ErrStreamClosed)
		}
		return
	case n > s.recvWindow:
		c.resetStream(s, ErrFlowControl)
		return
	}
	s.recvWindow -= n
	s.bodyRecv += int64(len(body))
	cl := s.head.ContentLength
	end := h.has(flagEndStream)
	if cl >= 0 && (s.bodyRecv > cl || end && s.bodyRecv != cl) {
		// RFC 9113 §8.1.1: a malformed request.
		c.resetStream(s, ErrProtocol)
		return
	}
	if end {
		s.remoteClosed = true
		s.bodyBy = 0
		if s.localClosed {
			c.remove(s)
		}
		return
	}
	if n == 0 {
		c.flood("empty DATA frames")
	}
	if s.bodyBy > 0 {
		s.bodyBy = c.shared.now() + int64(c.cfg.BodyTimeout)
	}
	// Give the window back while the body stays within
	// client_max_body_size, so that the client can finish sending it.
	s.recvUnacked += n
	if (s.MaxBody <= 0 || s.bodyRecv < s.MaxBody) && s.recvUnacked >= int64(c.cfg.Window)/2 {
		c.queue(appendWindowUpdate(c.wbufTail(), s.id, uint32(s.recvUnacked)))
		s.recvWindow += s.recvUnacked
		s.recvUnacked = 0
	}
	if s.localClosed && s.MaxBody > 0 && s.bodyRecv >= s.MaxBody {
		c.resetStream(s, ErrNo)
	}
}

// consumed gives the connection window back once half of it is used.
func (c *Conn) consumed(n int64) {
	c.recvUnacked += n
	if c.recvUnacked >= defaultWindow/2 {
		c.queue(appendWindowUpdate(c.wbufTail(), 0, uint32(c.recvUnacked)))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
	}
}

// headers opens a stream, or takes a trailer section.
func (c *Conn) headers(h *frameHeader, p []byte) {
	id := h.streamID
	if id == 0 {
		c.fail(ErrProtocol, "client sent HEADERS on stream 0")
		return
	}
	frag, ok := unpad(h, p)
	if !ok {
		c.fail(ErrProtocol, "client sent HEADERS with too much padding")
		return
	}
	var code ErrCode
	if h.has(flagPriority) {
		if len(frag) < 5 {
			c.fail(ErrFrameSize, "client sent HEADERS too short for its priority")
			return
		}
		if binary.BigEndian.Uint32(frag)&maxStreamID == id {
			code = ErrProtocol // RFC 9113 §5.3.1: depends on itself
		}
		frag = frag[5:]
	}
	s := c.stream(id)
	trailer := false
	switch {
	case s != nil:
		// RFC 9113 §8.1: trailers end the stream; HEADERS on a stream
		// whose client half is closed is STREAM_CLOSED (§5.1).
		trailer = true
		if s.remoteClosed {
			code = ErrStreamClosed
		} else if !h.has(flagEndStream) {
			code = ErrProtocol
		}
	case id&1 == 0:
		c.fail(ErrProtocol, "client opened an even-numbered stream")
		return
	case id <= c.lastID:
		// An identifier that went backwards (RFC 9113 §5.1.1), or the
		// stream was closed: tern does not remember closed streams,
		// and nginx answers both so too.
		c.fail(ErrProtocol, "client sent HEADERS with a stream identifier not above the last")
		return
	default:
		c.lastID = id
		if code == 0 {
			s = c.openStream(id)
		}
	}
	c.beginBlock(id, s, trailer, h.has(flagEndStream), code)
	c.blockFragment(h, frag)
}

// openStream opens stream id for a new request, or refuses it (nil).
func (c *Conn) openStream(id uint32) *Stream {
	c.newStreams++
	switch {
	case c.goaway:
		// RFC 9113 §6.8: streams above the GOAWAY's last stream are
		// ignored; the client retries them on a new connection.
		return nil
	case c.open >= int(c.cfg.MaxStreams) || c.newStreams > 2*int(c.cfg.MaxStreams):
		// RFC 9113 §5.1.2. Streams opened by one read beyond twice the
		// limit are refused too, as nginx does against rapid reset,
		// and counted as cancelled: the client opens streams faster
		// than they finish.
		c.streamError(id, ErrRefusedStream)
		c.cancelled()
		return nil
	}
	s := c.newStream(id)
	if id == maxStreamID {
		// No identifier is left for the client's next stream: it must
		// open a new connection (RFC 9113 §5.1.1).
		c.sendGoAway(ErrNo)
	}
	return s
}

// beginBlock starts decoding a header block for s (nil: decoded and
// dropped); code, when not 0, is the stream error to answer it with.
func (c *Conn) beginBlock(id uint32, s *Stream, trailer, end bool, code ErrCode) {
	c.cont = id
	c.contEnd = end
	c.contErr = code
	c.contStream = s
	c.blockBytes = 0
	c.blockStart = c.shared.now()
	c.hd = headDecoder{lim: &c.cfg, trailer: trailer}
	if s != nil && !trailer {
		c.hd.head = &s.head
	}
}

// continuation goes on with a header block.
func (c *Conn) continuation(h *frameHeader, p []byte) {
	if c.cont == 0 {
		c.fail(ErrProtocol, "client sent CONTINUATION without HEADERS")
		return
	}
	c.blockFragment(h, p)
}

// blockFragment decodes one fragment of the header block. The block's
// bytes, with each frame's header, count against the header list limit:
// a client that sends CONTINUATION frames without end (CVE-2024-27316
// and kin), or empty ones, reaches it.
func (c *Conn) blockFragment(h *frameHeader, frag []byte) {
	c.blockBytes += frameHeaderLen + len(frag)
	if c.hd.head != nil {
		c.hd.head.BlockLen += len(frag)
	}
	if c.blockBytes > c.cfg.ListLimit+frameHeaderLen*8 {
		c.fail(ErrEnhanceYourCalm, "client sent a header block larger than large_client_header_buffers")
		return
	}
	if len(frag) == 0 && !h.has(flagEndHeaders) {
		c.flood("empty header block fragments")
	}
	if !h.has(flagEndHeaders) {
		// The block goes on in CONTINUATION frames: it is decoded
		// whole, at its end (the limit above bounds what is kept).
		if c.block == nil {
			c.block = c.shared.getLeft()
		}
		c.block = append(c.block, frag...)
		return
	}
	block := frag // the usual case: one frame, decoded where it was read
	if c.block != nil {
		c.block = append(c.block, frag...)
		block = c.block
	}
	err := c.dec.decode(block, &c.hd)
	c.dropBlock()
	switch {
	case err == errHPACKShort:
		c.fail(ErrCompression, "client sent a truncated HPACK header block")
	case err != nil:
		c.fail(ErrCompression, "client sent an invalid HPACK header block")
	case c.hd.calm:
		c.fail(ErrEnhanceYourCalm, "client sent a header list larger than large_client_header_buffers")
	default:
		c.endBlock()
	}
}

// dropBlock lets go of a header block kept across frames.
func (c *Conn) dropBlock() {
	if c.block == nil {
		return
	}
	if cap(c.block) == frameHeaderLen+minMaxFrameSize {
		c.shared.putLeft(c.block)
	}
	c.block = nil
}

// endBlock acts on a complete header block.
func (c *Conn) endBlock() {
	id := c.cont
	c.cont = 0
	s := c.contStream
	c.contStream = nil
	if c.contErr != 0 {
		c.streamOrConnError(id, c.contErr)
		return
	}
	if s == nil {
		return
	}
	d := &c.hd
	d.finish()
	switch {
	case d.malformed:
		c.resetStream(s, ErrProtocol)
	case d.trailer:
		c.endRemote(s)
	default:
		s.head.EndStream = c.contEnd
		if c.contEnd && s.head.ContentLength > 0 {
			c.resetStream(s, ErrProtocol) // RFC 9113 §8.1.1
			return
		}
		if c.contEnd {
			s.remoteClosed = true
		}
		s.withWorker = true
		c.h.Request(s)
	}
}

// endRemote takes the END_STREAM of a trailer section.
func (c *Conn) endRemote(s *Stream) {
	if cl := s.head.ContentLength; cl >= 0 && s.bodyRecv != cl {
		c.resetStream(s, ErrProtocol)
		return
	}
	s.remoteClosed = true
	s.bodyBy = 0
	if s.localClosed {
		c.remove(s)
	}
}

// priority is parsed and ignored: RFC 9113 §5.3.2 deprecates RFC 7540's
// priority scheme (nginx still orders streams by it; tern serves them in
// turn).
func (c *Conn) priority(h *frameHeader, p []byte) {
	switch {
	case h.streamID == 0:
		c.fail(ErrProtocol, "client sent PRIORITY on stream 0")
		return
	case len(p) != 5:
		c.streamOrConnError(h.streamID, ErrFrameSize)
		return
	case binary.BigEndian.Uint32(p)&maxStreamID == h.streamID:
		c.streamOrConnError(h.streamID, ErrProtocol)
		return
	}
	c.flood("PRIORITY frames")
}

// streamOrConnError answers a stream error on a stream that may or may
// not be open.
func (c *Conn) streamOrConnError(id uint32, code ErrCode) {
	if s := c.stream(id); s != nil {
		c.resetStream(s, code)
		return
	}
	c.streamError(id, code)
}

// rstStream ends a stream the client no longer wants.
func (c *Conn) rstStream(h *frameHeader, p []byte) {
	switch {
	case len(p) != 4:
		c.fail(ErrFrameSize, "client sent RST_STREAM of the wrong size")
		return
	case h.streamID == 0:
		c.fail(ErrProtocol, "client sent RST_STREAM on stream 0")
		return
	case c.idle(h.streamID):
		c.fail(ErrProtocol, "client sent RST_STREAM on an idle stream")
		return
	}
	s := c.stream(h.streamID)
	if s == nil {
		c.closedFrame("RST_STREAM frames on closed streams")
		return
	}
	if !s.localClosed {
		c.cancelled()
	}
	s.reset = true
	c.remove(s)
}

// settingsFrame applies the client's SETTINGS (RFC 9113 §6.5).
func (c *Conn) settingsFrame(h *frameHeader, p []byte) {
	switch {
	case h.streamID != 0:
		c.fail(ErrProtocol, "client sent SETTINGS on a stream")
		return
	case h.has(flagAck):
		if len(p) != 0 {
			c.fail(ErrFrameSize, "client sent a SETTINGS ACK with a payload")
		}
		c.settings = true
		return
	case len(p)%6 != 0:
		c.fail(ErrFrameSize, "client sent SETTINGS of the wrong size")
		return
	}
	if c.settings {
		c.flood("SETTINGS frames")
	}
	c.settings = true
	for ; len(p) > 0 && !c.failed; p = p[6:] {
		c.setting(binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:]))
	}
	if !c.failed {
		c.queue(appendSettingsAck(c.wbufTail()))
	}
}

func (c *Conn) setting(id uint16, v uint32) {
	switch id {
	case settingHeaderTableSize:
		c.enc.SetMaxDynamicTableSizeLimit(v)
		c.tableGen++ // entries may be evicted (see indexed)
	case settingEnablePush:
		if v > 1 {
			c.fail(ErrProtocol, "client sent an invalid SETTINGS_ENABLE_PUSH")
		}
	case settingInitialWindowSize:
		if v > maxWindow {
			c.fail(ErrFlowControl, "client sent too large a SETTINGS_INITIAL_WINDOW_SIZE")
			return
		}
		// RFC 9113 §6.9.2: every stream's window moves by the change.
		delta := int64(v) - c.peerWindow
		c.peerWindow = int64(v)
		for _, s := range c.streams {
			s.sendWindow += delta
			if s.sendWindow > maxWindow {
				c.fail(ErrFlowControl, "client made a stream window too large")
				return
			}
			if delta > 0 && s.txn != nil {
				c.activate(s)
			}
		}
	case settingMaxFrameSize:
		if v < minMaxFrameSize || v > maxMaxFrameSize {
			c.fail(ErrProtocol, "client sent an invalid SETTINGS_MAX_FRAME_SIZE")
			return
		}
		c.peerMaxFrame = int(v)
	}
	// SETTINGS_MAX_CONCURRENT_STREAMS limits pushed streams (tern
	// pushes none); SETTINGS_MAX_HEADER_LIST_SIZE is advisory; unknown
	// settings are ignored (§6.5.2).
}

func (c *Conn) ping(h *frameHeader, p []byte) {
	switch {
	case h.streamID != 0:
		c.fail(ErrProtocol, "client sent PING on a stream")
	case len(p) != 8:
		c.fail(ErrFrameSize, "client sent PING of the wrong size")
	case !h.has(flagAck):
		c.flood("PING frames")
		c.queue(appendPingAck(c.wbufTail(), p))
	}
}

func (c *Conn) goAway(h *frameHeader, p []byte) {
	switch {
	case h.streamID != 0:
		c.fail(ErrProtocol, "client sent GOAWAY on a stream")
	case len(p) < 8:
		c.fail(ErrFrameSize, "client sent GOAWAY too short")
	default:
		// The client will open no more streams; those it opened are
		// finished, then the connection closes.
		c.peerGoaway = true
	}
}

func (c *Conn) windowUpdate(h *frameHeader, p []byte) {
	if len(p) != 4 {
		c.fail(ErrFrameSize, "client sent WINDOW_UPDATE of the wrong size")
		return
	}
	incr := int64(binary.BigEndian.Uint32(p) & maxWindow)
	if h.streamID == 0 {
		if incr == 0 {
			c.fail(ErrProtocol, "client sent a zero WINDOW_UPDATE")
			return
		}
		if c.sendWindow += incr; c.sendWindow > maxWindow {
			c.fail(ErrFlowControl, "client made the connection window too large")
			return
		}
		for _, s := range c.streams {
			if s.txn != nil && s.stalled > 0 {
				c.activate(s)
			}
		}
		return
	}
	if c.idle(h.streamID) {
		c.fail(ErrProtocol, "client sent WINDOW_UPDATE on an idle stream")
		return
	}
	s := c.stream(h.streamID)
	switch {
	case s == nil:
		c.closedFrame("WINDOW_UPDATE frames on closed streams")
	case incr == 0:
		c.resetStream(s, ErrProtocol)
	default:
		if s.sendWindow += incr; s.sendWindow > maxWindow {
			c.resetStream(s, ErrFlowControl)
			return
		}
		if s.txn != nil {
			c.activate(s)
		}
	}
}
