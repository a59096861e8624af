package filters

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

// unchunk decodes a chunked body that must end with the last chunk and
// no trailers.
func unchunk(b []byte) ([]byte, error) {
	var out []byte
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return nil, io.ErrUnexpectedEOF
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if string(rest) != "\r\n" {
				return nil, io.ErrShortBuffer
			}
			return out, nil
		}
		if int64(len(rest)) < n+2 || string(rest[n:n+2]) != "\r\n" {
			return nil, io.ErrUnexpectedEOF
		}
		out = append(out, rest[:n]...)
		b = rest[n+2:]
	}
}

// TestChunked checks the chunked filter on bodies of unknown length.
func TestChunked(t *testing.T) {
	cases := []struct {
		version   Version
		headOnly  bool
		status    int
		parts     []string
		chunked   bool
		keepAlive bool
		wire      string
	}{
		{HTTP11, false, 200, []string{"hello", ", world"}, true, true, "c\r\nhello, world\r\n0\r\n\r\n"},
		{HTTP11, false, 200, nil, true, true, "0\r\n\r\n"},
		{HTTP11, true, 200, []string{"hello"}, false, true, "hello"},
		{HTTP11, false, 204, nil, false, true, ""},
		{HTTP11, false, 304, nil, false, true, ""},
		{HTTP10, false, 200, []string{"hello"}, false, false, "hello"},
		{HTTP10, true, 200, []string{"hello"}, false, true, "hello"},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(nil))
		tx.Req.Version = c.version
		r := &tx.Resp
		r.Status, r.ContentLength, r.HeaderOnly = c.status, -1, c.headOnly
		for _, p := range c.parts {
			r.Body.AddMem([]byte(p))
		}
		ChunkedFilter{}.Header(tx)
		if r.Chunked != c.chunked || r.KeepAlive != c.keepAlive || string(bodyBytes(t, &r.Body)) != c.wire {
			t.Errorf("%d: chunked %v keep-alive %v body %q", i, r.Chunked, r.KeepAlive, bodyBytes(t, &r.Body))
		}
		HeaderFilter{}.Header(tx)
		if strings.Contains(string(tx.Head), "Transfer-Encoding: chunked\r\n") != c.chunked {
			t.Errorf("%d: head %q", i, tx.Head)
		}
	}
}

// pieces is a producer that hands out its strings one per call, with an
// Again before each to test the chunker's bookkeeping.
type pieces struct {
	left     []string
	waited   bool
	released bool
}

func (p *pieces) Produce(t *Txn) Result {
	if !p.waited {
		p.waited = true
		t.Wait = WaitPost
		return Again
	}
	p.waited = false
	if p.left[0] != "" {
		t.Resp.Body.AddMem([]byte(p.left[0]))
	}
	p.left = p.left[1:]
	if len(p.left) == 0 {
		return Done
	}
	return OK
}

func (p *pieces) Release(*Txn) { p.released = true }

func TestChunker(t *testing.T) {
	for i, c := range []struct {
		parts []string
		wire  string
	}{
		{[]string{"a", "bc"}, "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"},
		{[]string{"a", "", "0123456789abcdef"}, "1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"},
		{[]string{"a", ""}, "1\r\na\r\n0\r\n\r\n"},
		{[]string{""}, "0\r\n\r\n"},
	} {
		tx := newTxn(testLoc(nil))
		p := &pieces{left: c.parts}
		r := &tx.Resp
		r.Status, r.ContentLength, r.Body.Producer = 200, -1, p
		ChunkedFilter{}.Header(tx)
		var wire []byte
		for r.Body.Producer != nil {
			turn := false
			res, more := tx.refill(&turn)
			if !more && res == Done {
				break
			}
			if !more && res != Again {
				t.Fatalf("%d: %v", i, res)
			}
			wire = append(wire, bodyBytes(t, &r.Body)...)
		}
		if string(wire) != c.wire || !p.released {
			t.Errorf("%d: %q released %v, want %q", i, wire, p.released, c.wire)
		}
	}
}
