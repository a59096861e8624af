//go:build linux

package ssl

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// An idle TLS connection keeps its keys and its records' state, but not
// the buffers crypto/tls grew to read the handshake: tls.Conn.rawInput
// (the ciphertext read but not yet decrypted, about 2 KiB after a
// ClientHello with a post-quantum key share) and tls.Conn.hand (the
// handshake messages not yet parsed, about 1.5 KiB). crypto/tls never
// shrinks them and has no API to, so the Conn finds them by name and
// type once (connFields) and, on the loop, when both are empty, sets
// them to empty buffers: a zero bytes.Buffer is what a new tls.Conn
// starts with. rawInput's array goes to the engine's pool and comes
// back on the connection's next read. The plaintext that tls.Conn.input
// points to is decrypted in place inside rawInput's array, so the array
// is only given up when input is empty too, and input is reset with it.
//
// The same access lets Conn.fill read the socket into rawInput before
// crypto/tls reads, as crypto/tls's readFromUntil would, but without its
// allocation.
//
// If a Go release renames or retypes these fields, connFields.ok is
// false: connections keep their buffers and reads allocate, as before;
// TestConnFieldsFound fails so that this is noticed.

// connFields are the offsets of the buffers in a tls.Conn.
var connFields = func() (f struct {
	rawInput, input, hand uintptr
	ok                    bool
}) {
	t := reflect.TypeFor[tls.Conn]()
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		sf, ok := t.FieldByName(name)
		return sf.Offset, ok && sf.Type == typ && len(sf.Index) == 1
	}
	buffer, reader := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	var ok1, ok2, ok3 bool
	f.rawInput, ok1 = field("rawInput", buffer)
	f.input, ok2 = field("input", reader)
	f.hand, ok3 = field("hand", buffer)
	f.ok = ok1 && ok2 && ok3
	return f
}()

func rawInputOf(tc *tls.Conn) *bytes.Buffer {
	return (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), connFields.rawInput))
}

func inputOf(tc *tls.Conn) *bytes.Reader {
	return (*bytes.Reader)(unsafe.Add(unsafe.Pointer(tc), connFields.input))
}

func handOf(tc *tls.Conn) *bytes.Buffer {
	return (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), connFields.hand))
}

// dropHand lets go of the handshake messages' buffer once the handshake
// is over, when it holds nothing (a post-handshake message, rare, grows
// a new one).
func (c *Conn) dropHand() {
	if !connFields.ok {
		return
	}
	if h := handOf(c.tc); h.Len() == 0 {
		*h = bytes.Buffer{}
	}
}

// park gives rawInput's array to the engine's pool when crypto/tls holds
// no input at all: the socket is drained and every record was read.
func (c *Conn) park() {
	if c.parked || !connFields.ok {
		return
	}
	raw, in := rawInputOf(c.tc), inputOf(c.tc)
	if raw.Len() != 0 || in.Len() != 0 {
		return
	}
	raw.Reset()
	c.e.putIn(raw.AvailableBuffer())
	*raw = bytes.Buffer{}
	*in = bytes.Reader{}
	c.parked = true
}

// fillMin is the room fill makes in rawInput: a request head of a few
// KiB in one read.
const fillMin = 4 << 10

// fill reads the socket once into crypto/tls's rawInput before Conn.Read
// asks crypto/tls for plaintext. A Read that finds its record whole in
// rawInput does not reach the transport, and one that reaches it
// allocates (readFromUntil's &atLeastReader{}, TestReadAllocatesOnce):
// so a request that arrives in whole records is read without an
// allocation. What the socket answers besides data (its end, an error)
// waits in rerr for crypto/tls's next read of the transport.
func (c *Conn) fill() {
	if !c.readable || !connFields.ok {
		return
	}
	raw := rawInputOf(c.tc)
	if raw.Available() < fillMin {
		raw.Grow(fillMin)
	}
	b := raw.AvailableBuffer()
	n, err := (*transport)(c).Read(b[:cap(b)])
	raw.Write(b[:n])
	if err != nil && err != errWouldBlock {
		c.rerr = err
	}
}

// unpark gives rawInput an array from the engine's pool before
// crypto/tls reads again; with none free, crypto/tls grows its own.
func (c *Conn) unpark() {
	if !c.parked {
		return
	}
	c.parked = false
	if b := c.e.getIn(); b != nil {
		*rawInputOf(c.tc) = *bytes.NewBuffer(b)
	}
}
