package http2

import (
	"encoding/binary"
	"strconv"
)

// The framing layer of RFC 9113 §4 and §6.

// frameHeaderLen is the fixed header before every frame's payload.
const frameHeaderLen = 9

// frameType is a frame's type (RFC 9113 §6).
type frameType uint8

const (
	frameData         frameType = 0x0
	frameHeaders      frameType = 0x1
	framePriority     frameType = 0x2
	frameRSTStream    frameType = 0x3
	frameSettings     frameType = 0x4
	framePushPromise  frameType = 0x5
	framePing         frameType = 0x6
	frameGoAway       frameType = 0x7
	frameWindowUpdate frameType = 0x8
	frameContinuation frameType = 0x9
)

var frameNames = [...]string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
	"PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}

func (t frameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return "UNKNOWN_" + strconv.Itoa(int(t))
}

// Frame flags; each is defined for some types only.
const (
	flagEndStream  = 0x1  // DATA, HEADERS
	flagAck        = 0x1  // SETTINGS, PING
	flagEndHeaders = 0x4  // HEADERS, CONTINUATION
	flagPadded     = 0x8  // DATA, HEADERS
	flagPriority   = 0x20 // HEADERS
)

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 §7).
type ErrCode uint32

// The error codes tern sends or names.
const (
	ErrNo                 ErrCode = 0x0
	ErrProtocol           ErrCode = 0x1
	ErrInternal           ErrCode = 0x2
	ErrFlowControl        ErrCode = 0x3
	ErrSettingsTimeout    ErrCode = 0x4
	ErrStreamClosed       ErrCode = 0x5
	ErrFrameSize          ErrCode = 0x6
	ErrRefusedStream      ErrCode = 0x7
	ErrCancel             ErrCode = 0x8
	ErrCompression        ErrCode = 0x9
	ErrConnect            ErrCode = 0xa
	ErrEnhanceYourCalm    ErrCode = 0xb
	ErrInadequateSecurity ErrCode = 0xc
	ErrHTTP11Required     ErrCode = 0xd
)

var errNames = [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
	"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

func (e ErrCode) String() string {
	if int(e) < len(errNames) {
		return errNames[e]
	}
	return "UNKNOWN_" + strconv.FormatUint(uint64(e), 10)
}

// SETTINGS parameters (RFC 9113 §6.5.2).
const (
	settingHeaderTableSize      = 0x1
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6
)

const (
	// defaultWindow is every window's size before SETTINGS say
	// otherwise (RFC 9113 §6.9.2).
	defaultWindow = 65535
	// maxWindow is the largest a window may grow (RFC 9113 §6.9.1).
	maxWindow = 1<<31 - 1
	// minMaxFrameSize and maxMaxFrameSize bound SETTINGS_MAX_FRAME_SIZE
	// (RFC 9113 §6.5.2); the smaller is also every peer's default.
	minMaxFrameSize = 1 << 14
	maxMaxFrameSize = 1<<24 - 1
	// defaultTableSize is HPACK's dynamic table size until SETTINGS
	// change it (RFC 7541 §4.2, RFC 9113 §6.5.2).
	defaultTableSize = 4096
	// maxStreamID is the largest stream identifier (31 bits).
	maxStreamID = 1<<31 - 1
)

// clientPreface opens every HTTP/2 connection (RFC 9113 §3.4).
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// IsPreface reports whether b could be the start of the client preface:
// b is a prefix of it, or begins with all of it. A connection on a
// plain address whose first bytes are the preface speaks HTTP/2 with
// prior knowledge (RFC 9113 §3.3).
func IsPreface(b []byte) (match, complete bool) {
	n := min(len(b), len(clientPreface))
	return string(b[:n]) == clientPreface[:n], n == len(clientPreface)
}

// frameHeader is a parsed frame header.
type frameHeader struct {
	length   uint32
	typ      frameType
	flags    uint8
	streamID uint32
}

func (h *frameHeader) has(f uint8) bool { return h.flags&f != 0 }

// parseFrameHeader reads the frame header at the start of b, which holds
// at least frameHeaderLen bytes. The reserved bit of the stream
// identifier is ignored (RFC 9113 §4.1).
func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      frameType(b[3]),
		flags:    b[4],
		streamID: binary.BigEndian.Uint32(b[5:9]) & maxStreamID,
	}
}

// appendFrameHeader appends a frame header.
func appendFrameHeader(b []byte, length int, typ frameType, flags uint8, streamID uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(typ), flags,
		byte(streamID>>24), byte(streamID>>16), byte(streamID>>8), byte(streamID))
}

// putFrameHeader writes a frame header into b[:frameHeaderLen].
func putFrameHeader(b []byte, length int, typ frameType, flags uint8, streamID uint32) {
	appendFrameHeader(b[:0], length, typ, flags, streamID)
}

// setting is one SETTINGS parameter.
type setting struct {
	id  uint16
	val uint32
}

func appendSettings(b []byte, ss []setting) []byte {
	b = appendFrameHeader(b, 6*len(ss), frameSettings, 0, 0)
	for _, s := range ss {
		b = binary.BigEndian.AppendUint16(b, s.id)
		b = binary.BigEndian.AppendUint32(b, s.val)
	}
	return b
}

func appendSettingsAck(b []byte) []byte {
	return appendFrameHeader(b, 0, frameSettings, flagAck, 0)
}

func appendPingAck(b []byte, data []byte) []byte {
	b = appendFrameHeader(b, 8, framePing, flagAck, 0)
	return append(b, data[:8]...)
}

func appendRSTStream(b []byte, id uint32, code ErrCode) []byte {
	b = appendFrameHeader(b, 4, frameRSTStream, 0, id)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

func appendGoAway(b []byte, lastID uint32, code ErrCode) []byte {
	b = appendFrameHeader(b, 8, frameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, lastID)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

func appendWindowUpdate(b []byte, id uint32, incr uint32) []byte {
	b = appendFrameHeader(b, 4, frameWindowUpdate, 0, id)
	return binary.BigEndian.AppendUint32(b, incr)
}

// unpad removes a PADDED frame's padding (RFC 9113 §6.1, §6.2): the pad
// length byte in front and the padding behind. ok is false when the
// padding is as long as the payload or longer, a PROTOCOL_ERROR.
func unpad(h *frameHeader, p []byte) (data []byte, ok bool) {
	if !h.has(flagPadded) {
		return p, true
	}
	if len(p) == 0 {
		return nil, false
	}
	pad := int(p[0])
	if pad >= len(p) {
		return nil, false
	}
	return p[1 : len(p)-pad], true
}
