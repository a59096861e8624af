package ssl

// The loop reads a connection's ClientHello itself before a handshake
// goroutine is started for it: a connection that never sends one, or
// sends it a byte a second, costs a buffer and a timer, not a goroutine;
// garbage, an oversized hello and plain HTTP are told apart without
// crypto/tls.

// HelloStatus is what the bytes read so far on a TLS listener are.
type HelloStatus int8

const (
	// HelloMore: a TLS ClientHello has begun and is not complete.
	HelloMore HelloStatus = iota
	// HelloDone: the ClientHello is complete; the handshake can start.
	HelloDone
	// HelloPlain: not TLS but what starts an HTTP request, a letter.
	// nginx answers such a request with 400 "The plain HTTP request was
	// sent to HTTPS port", after reading its head as HTTP.
	HelloPlain
	// HelloTooLarge: the ClientHello is larger than the limit.
	HelloTooLarge
	// HelloBad: neither TLS nor HTTP (nginx would try to read it as a
	// request; tern closes at once), or a record that no client sends
	// first (not a handshake record, or longer than TLS allows).
	HelloBad
)

const (
	recordHeaderLen = 5
	// recordHandshake is the content type of handshake records (RFC 8446
	// §5.1); every record of a ClientHello has it.
	recordHandshake = 0x16
	// sslv2Hello is the first byte of an SSLv2-compatible ClientHello,
	// which crypto/tls refuses; it is no plain HTTP either.
	sslv2Hello = 0x80
	// maxPlaintext is the largest record payload (RFC 8446 §5.1: 2^14).
	maxPlaintext = 1 << 14
	// typeClientHello is the handshake message type of a ClientHello.
	typeClientHello = 1
)

// ScanHello looks at the bytes read so far on a TLS listener and says
// whether they hold a whole ClientHello, spread over as many handshake
// records as the client likes (RFC 8446 §5.1 allows any fragmentation).
// A hello whose message is longer than max bytes is HelloTooLarge.
func ScanHello(b []byte, max int) HelloStatus {
	if len(b) == 0 {
		return HelloMore
	}
	switch c := b[0]; {
	case c == recordHandshake:
	case 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
		return HelloPlain // a method, as far as one byte tells
	default:
		return HelloBad // an SSLv2 hello (0x80), an alert, garbage
	}
	var hdr [4]byte // the handshake message header, maybe across records
	got := 0        // message bytes seen
	want := -1      // the message's length with its header, once known
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			return HelloMore
		}
		if b[0] != recordHandshake {
			return HelloBad
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > maxPlaintext {
			return HelloBad
		}
		payload := b[recordHeaderLen:]
		if len(payload) > n {
			payload = payload[:n]
		}
		for _, c := range payload {
			if got < len(hdr) {
				hdr[got] = c
			}
			got++
			if got == len(hdr) {
				if hdr[0] != typeClientHello {
					return HelloBad
				}
				want = len(hdr) + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
				if want-len(hdr) > max {
					return HelloTooLarge
				}
			}
			if want >= 0 && got >= want {
				return HelloDone
			}
		}
		if len(payload) < n {
			return HelloMore
		}
		b = b[recordHeaderLen+n:]
	}
	return HelloMore
}
