// Package proxyproto reads the PROXY protocol header that a load balancer
// (HAProxy, AWS and GCP load balancers, ...) sends before the client's
// bytes, to say whose connection it relays: version 1 (a text line) and
// version 2 (binary), as HAProxy's specification "The PROXY protocol,
// versions 1 & 2" defines them. It does no I/O and allocates nothing.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Header is what a PROXY protocol header says.
type Header struct {
	// Version is 1 or 2.
	Version int8
	// Local is set when the header names no addresses — version 1's
	// "UNKNOWN", version 2's LOCAL command or an address family other
	// than IPv4 and IPv6 — and the connection's own addresses stand.
	Local bool
	// Src is the client's address and port, Dst the address and port it
	// connected to.
	Src, Dst netip.AddrPort
}

const (
	// MaxV1 is the longest version 1 line, CRLF included (the spec's
	// 107 bytes: "PROXY TCP6" and two full IPv6 addresses and ports).
	MaxV1 = 107
	// v2HeaderLen is version 2's fixed part: signature, version and
	// command, family and transport, length.
	v2HeaderLen = 16
)

// v2Sig is version 2's signature, chosen so that no HTTP request or TLS
// handshake can start with it.
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// ErrMore is the error of a buffer that holds the start of a header
// that may still be valid: read more and call Parse again.
var ErrMore = errors.New("incomplete PROXY protocol header")

// Error is a malformed header: the connection is to be closed.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "broken PROXY protocol header: " + e.Reason }

func bad(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Parse reads the header at the start of b and returns it with its
// length in bytes; what follows belongs to the client. It returns ErrMore
// while b is too short to tell, and an *Error for anything that is not a
// valid header of either version.
func Parse(b []byte) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, ErrMore
	}
	if b[0] == v2Sig[0] {
		return parseV2(b)
	}
	return parseV1(b)
}

// parseV1 reads "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
// "PROXY UNKNOWN ...\r\n".
func parseV1(b []byte) (Header, int, error) {
	const prefix = "PROXY "
	if len(b) < len(prefix) {
		if !bytes.HasPrefix([]byte(prefix), b) {
			return Header{}, 0, bad("neither version 1 nor 2")
		}
		return Header{}, 0, ErrMore
	}
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return Header{}, 0, bad("neither version 1 nor 2")
	}
	end := bytes.IndexByte(b[:min(len(b), MaxV1)], '\n')
	if end < 0 {
		if len(b) >= MaxV1 {
			return Header{}, 0, bad("version 1 line longer than %d bytes", MaxV1)
		}
		return Header{}, 0, ErrMore
	}
	n := end + 1
	if end == 0 || b[end-1] != '\r' {
		return Header{}, 0, bad("version 1 line not ended by CRLF")
	}
	line := b[len(prefix) : end-1]
	h := Header{Version: 1}
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		// The sender cannot say (e.g. a health check): whatever
		// follows is ignored.
		h.Local = true
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, bad("unknown protocol %q", proto)
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		if i < 3 {
			f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		} else {
			f[i], ok = rest, bytes.IndexByte(rest, ' ') < 0
		}
		if !ok || len(f[i]) == 0 {
			return Header{}, 0, bad("version 1 line is not PROTO SRC DST SPORT DPORT")
		}
	}
	v6 := proto[3] == '6'
	src, err1 := parseAddr(f[0], v6)
	dst, err2 := parseAddr(f[1], v6)
	sport, ok1 := parsePort(f[2])
	dport, ok2 := parsePort(f[3])
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return Header{}, 0, bad("bad address or port in %q", line)
	}
	h.Src = netip.AddrPortFrom(src, sport)
	h.Dst = netip.AddrPortFrom(dst, dport)
	return h, n, nil
}

// parseAddr parses an address of the family proto named (TCP6: IPv6).
// IPv4, the common case, is parsed here without allocating.
func parseAddr(s []byte, v6 bool) (netip.Addr, error) {
	if !v6 {
		return parseIPv4(s)
	}
	a, err := netip.ParseAddr(string(s))
	if err != nil {
		return a, err
	}
	if a.Is6() != v6 || a.Zone() != "" {
		return a, errors.New("wrong family")
	}
	return a.Unmap(), nil
}

// parseIPv4 parses a dotted quad: four decimal numbers up to 255,
// without leading zeros (as netip.ParseAddr).
func parseIPv4(s []byte) (netip.Addr, error) {
	var ip [4]byte
	part, digits := 0, 0
	val := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || part > 3 {
				return netip.Addr{}, errors.New("bad IPv4 address")
			}
			ip[part] = byte(val)
			part++
			val, digits = 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || digits > 0 && val == 0 {
			return netip.Addr{}, errors.New("bad IPv4 address")
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, errors.New("bad IPv4 address")
		}
	}
	if part != 4 {
		return netip.Addr{}, errors.New("bad IPv4 address")
	}
	return netip.AddrFrom4(ip), nil
}

// parsePort parses a decimal port, 0 to 65535, without sign or spaces.
func parsePort(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// parseV2 reads the binary header: signature, version 2 and a command,
// a family and transport, the length of what follows, the addresses, and
// TLVs, which are skipped.
func parseV2(b []byte) (Header, int, error) {
	if len(b) < len(v2Sig) {
		if !bytes.HasPrefix(v2Sig, b) {
			return Header{}, 0, bad("neither version 1 nor 2")
		}
		return Header{}, 0, ErrMore
	}
	if !bytes.Equal(b[:len(v2Sig)], v2Sig) {
		return Header{}, 0, bad("neither version 1 nor 2")
	}
	if len(b) < v2HeaderLen {
		return Header{}, 0, ErrMore
	}
	verCmd, famProto := b[12], b[13]
	if verCmd>>4 != 2 {
		return Header{}, 0, bad("unknown version %d", verCmd>>4)
	}
	n := v2HeaderLen + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < n {
		return Header{}, 0, ErrMore
	}
	body := b[v2HeaderLen:n]
	h := Header{Version: 2}
	switch verCmd & 0x0f {
	case 0x0: // LOCAL: the proxy's own connection (a health check)
		h.Local = true
		return h, n, nil
	case 0x1: // PROXY
	default:
		// "Receivers must drop connections presenting unexpected
		// values here."
		return Header{}, 0, bad("unknown command %d", verCmd&0x0f)
	}
	switch famProto {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return Header{}, 0, bad("IPv4 addresses cut short")
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10]))
		h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12]))
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return Header{}, 0, bad("IPv6 addresses cut short")
		}
		src := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34]))
		h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36]))
	default:
		// An unspecified family, UDP, UNIX sockets: nothing tern can use as a client
		// address; the connection's own stands (nginx does the same).
		h.Local = true
	}
	return h, n, nil
}
