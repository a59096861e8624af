//go:build linux

package http2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tern/filters"
)

// TestPreface: the server's SETTINGS go out at once; the client's are
// acknowledged; a request gets its response.
func TestPreface(t *testing.T) {
	for _, step := range []int{0, 1, 7} {
		r := newRig(t, nil, false)
		r.get(1, "/", true)
		r.pump(step)
		fs := r.frames()
		if fs[0].typ != http2.FrameSettings || fs[0].flags.Has(http2.FlagSettingsAck) {
			t.Fatalf("step %d: first frame %+v, want SETTINGS", step, fs[0])
		}
		want := map[http2.SettingID]uint32{http2.SettingMaxConcurrentStreams: 128,
			http2.SettingInitialWindowSize: 64 << 10, http2.SettingMaxHeaderListSize: 32 << 10}
		if !reflect.DeepEqual(fs[0].settings, want) {
			t.Errorf("step %d: settings %v, want %v", step, fs[0].settings, want)
		}
		// The connection's window opens wide at once, as nginx's: a
		// request body is bounded by its stream's window, read and
		// dropped as it comes, so the connection's costs nothing.
		if fs[1].typ != http2.FrameWindowUpdate || fs[1].stream != 0 || fs[1].incr != maxWindow-defaultWindow {
			t.Errorf("step %d: second frame %+v, want WINDOW_UPDATE to the largest connection window", step, fs[1])
		}
		if fs[2].typ != http2.FrameSettings || !fs[2].flags.Has(http2.FlagSettingsAck) {
			t.Errorf("step %d: third frame %+v, want the SETTINGS ACK", step, fs[2])
		}
		resp := responseOf(fs, 1)
		if resp.status != "200" || string(resp.body) != "hello" || !resp.ended || resp.fields["content-length"] != "5" {
			t.Errorf("step %d: response %+v", step, resp)
		}
		if len(r.h.done) != 1 || r.h.done[0] != 1 || len(r.c.streams) != 0 {
			t.Errorf("step %d: done %v, streams %d", step, r.h.done, len(r.c.streams))
		}
	}
}

// TestSettingsAckFirst: a client whose first frame after the preface is
// the SETTINGS ACK of the server's SETTINGS (nginx's own test client,
// Test::Nginx::HTTP2, does that) has sent a SETTINGS frame, as RFC 9113
// §3.4 asks, and is served, as nginx serves it.
func TestSettingsAckFirst(t *testing.T) {
	r := newRig(t, nil, true)
	r.in.WriteString(http2.ClientPreface)
	r.fr.WriteSettingsAck()
	r.get(1, "/", true)
	r.pump(0)
	fs := r.frames()
	if resp := responseOf(fs, 1); resp.status != "200" || string(resp.body) != "hello" {
		t.Fatalf("response %+v", resp)
	}
	if code, _, ok := goAway(fs); ok {
		t.Fatalf("GOAWAY %v", code)
	}
}

// TestPrefaceInPieces: a preface that comes a few bytes at a time, with
// reads that bring nothing in between (a TLS record that held no
// plaintext), is waited for; this spun forever once.
func TestPrefaceInPieces(t *testing.T) {
	r := newRig(t, nil, true)
	for _, p := range []string{"PRI * HT", "", "TP/2.0\r\n\r\nSM", "", "\r\n\r\n"} {
		r.c.ReadBuffer()
		n := copy(r.c.ReadBuffer(), p)
		r.c.Received(n)
	}
	r.fr.WriteSettings()
	r.get(1, "/", true)
	r.pump(0)
	if resp := responseOf(r.frames(), 1); resp.status != "200" {
		t.Fatalf("response %+v", resp)
	}
}

// TestHeadFields: the head the worker gets — pseudo-header fields,
// fields as HTTP/1.1 lines, cookies joined, host from :authority, the
// length.
func TestHeadFields(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.hold = true
	r.get(1, "/a?b=c", false, "cookie", "a=1", "user-agent", "ua", "cookie", "b=2", "content-length", "3")
	r.get(3, "/", true, "host", "other.example")
	r.pump(0)
	if len(r.h.heads) != 2 {
		t.Fatalf("%d requests", len(r.h.heads))
	}
	h := r.h.heads[0]
	if string(h.Method) != "GET" || string(h.Scheme) != "https" || string(h.Path) != "/a?b=c" ||
		string(h.Authority) != "example.com" || h.ContentLength != 3 || h.EndStream {
		t.Errorf("head %+v", h)
	}
	if want := "user-agent: ua\r\ncontent-length: 3\r\ncookie: a=1; b=2\r\nhost: example.com\r\n"; string(h.Fields) != want {
		t.Errorf("fields %q, want %q", h.Fields, want)
	}
	if h := r.h.heads[1]; string(h.Fields) != "host: other.example\r\n" || !h.EndStream || h.ContentLength != -1 {
		t.Errorf("second head %+v %q", h, h.Fields)
	}
}

// TestMalformed: requests RFC 9113 §8 calls malformed are stream errors
// (PROTOCOL_ERROR); the connection goes on. Each is sent twice: the
// second time its fields are indexes into the dynamic table, whose
// entries keep their verdicts.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
	}{
		{"upper-case name", []string{":method", "GET", ":scheme", "https", ":path", "/", "User-Agent", "x"}},
		{"connection", []string{":method", "GET", ":scheme", "https", ":path", "/", "connection", "close"}},
		{"keep-alive", []string{":method", "GET", ":scheme", "https", ":path", "/", "keep-alive", "5"}},
		{"transfer-encoding", []string{":method", "GET", ":scheme", "https", ":path", "/", "transfer-encoding", "chunked"}},
		{"upgrade", []string{":method", "GET", ":scheme", "https", ":path", "/", "upgrade", "h2c"}},
		{"te gzip", []string{":method", "GET", ":scheme", "https", ":path", "/", "te", "gzip"}},
		{"pseudo after regular", []string{":method", "GET", ":scheme", "https", "accept", "*/*", ":path", "/"}},
		{"unknown pseudo", []string{":method", "GET", ":scheme", "https", ":path", "/", ":protocol", "x"}},
		{"response pseudo", []string{":method", "GET", ":scheme", "https", ":path", "/", ":status", "200"}},
		{"no :path", []string{":method", "GET", ":scheme", "https"}},
		{"empty :path", []string{":method", "GET", ":scheme", "https", ":path", ""}},
		{"no :method", []string{":scheme", "https", ":path", "/"}},
		{"no :scheme", []string{":method", "GET", ":path", "/"}},
		{"two :path", []string{":method", "GET", ":scheme", "https", ":path", "/", ":path", "/"}},
		{"bad method", []string{":method", "G T", ":scheme", "https", ":path", "/"}},
		{"NUL in value", []string{":method", "GET", ":scheme", "https", ":path", "/", "x", "a\x00b"}},
		{"CR in value", []string{":method", "GET", ":scheme", "https", ":path", "/", "x", "a\rb"}},
		{"leading space", []string{":method", "GET", ":scheme", "https", ":path", "/", "x", " a"}},
		{"trailing tab", []string{":method", "GET", ":scheme", "https", ":path", "/", "x", "a\t"}},
		{"space in name", []string{":method", "GET", ":scheme", "https", ":path", "/", "x y", "a"}},
		{"bad content-length", []string{":method", "GET", ":scheme", "https", ":path", "/", "content-length", "1x"}},
		{"two content-lengths", []string{":method", "GET", ":scheme", "https", ":path", "/", "content-length", "1", "content-length", "2"}},
		{"content-length without body", []string{":method", "GET", ":scheme", "https", ":path", "/", "content-length", "2"}},
	}
	for i, tt := range tests {
		r := newRig(t, nil, false)
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(tt.fields...), EndStream: true, EndHeaders: true})
		r.get(3, "/", true)
		block := r.headers(tt.fields...)
		if len(tt.fields) > 6 && len(block) >= len(tt.fields)/2+2 {
			t.Fatalf("%d %s: the second block, %x, is not all indexes", i, tt.name, block)
		}
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block, EndStream: true, EndHeaders: true})
		r.pump(0)
		fs := r.frames()
		for _, id := range []uint32{1, 5} {
			if code, ok := rst(fs, id); !ok || code != http2.ErrCodeProtocol {
				t.Errorf("%d %s: stream %d: RST_STREAM %v %v, want PROTOCOL_ERROR", i, tt.name, id, code, ok)
			}
		}
		if len(r.h.heads) != 1 || responseOf(fs, 3).status != "200" {
			t.Errorf("%d %s: the next stream was not served", i, tt.name)
		}
		if _, _, ok := goAway(fs); ok {
			t.Errorf("%d %s: GOAWAY", i, tt.name)
		}
	}
}

// TestConnectionErrors: frames that break the protocol end the
// connection with GOAWAY and the code RFC 9113 gives.
func TestConnectionErrors(t *testing.T) {
	tests := []struct {
		name  string
		send  func(r *rig)
		code  http2.ErrCode
		noSet bool // do not send the client's SETTINGS first
	}{
		{"first frame not SETTINGS", func(r *rig) { r.fr.WritePing(false, [8]byte{}) }, http2.ErrCodeProtocol, true},
		{"DATA on stream 0", func(r *rig) { r.fr.WriteData(0, false, []byte("x")) }, http2.ErrCodeProtocol, false},
		{"DATA on idle stream", func(r *rig) { r.fr.WriteData(1, false, []byte("x")) }, http2.ErrCodeProtocol, false},
		{"HEADERS on stream 0", func(r *rig) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 0, BlockFragment: r.headers(":method", "GET"), EndHeaders: true})
		}, http2.ErrCodeProtocol, false},
		{"even stream", func(r *rig) { r.get(2, "/", true) }, http2.ErrCodeProtocol, false},
		{"stream ID going back", func(r *rig) { r.get(5, "/", true); r.get(3, "/", true) }, http2.ErrCodeProtocol, false},
		{"frame too large", func(r *rig) { r.fr.WriteData(1, false, make([]byte, 16385)) }, http2.ErrCodeFrameSize, false},
		{"PING on a stream", func(r *rig) { r.fr.WriteRawFrame(http2.FramePing, 0, 1, make([]byte, 8)) }, http2.ErrCodeProtocol, false},
		{"PING short", func(r *rig) { r.fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7)) }, http2.ErrCodeFrameSize, false},
		{"SETTINGS on a stream", func(r *rig) { r.fr.WriteRawFrame(http2.FrameSettings, 0, 1, nil) }, http2.ErrCodeProtocol, false},
		{"SETTINGS odd length", func(r *rig) { r.fr.WriteRawFrame(http2.FrameSettings, 0, 0, make([]byte, 5)) }, http2.ErrCodeFrameSize, false},
		{"SETTINGS ACK with payload", func(r *rig) { r.fr.WriteRawFrame(http2.FrameSettings, 1, 0, make([]byte, 6)) }, http2.ErrCodeFrameSize, false},
		{"ENABLE_PUSH 2", func(r *rig) { r.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2}) }, http2.ErrCodeProtocol, false},
		{"INITIAL_WINDOW_SIZE too large", func(r *rig) {
			r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, http2.ErrCodeFlowControl, false},
		{"MAX_FRAME_SIZE too small", func(r *rig) {
			r.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16383})
		}, http2.ErrCodeProtocol, false},
		{"WINDOW_UPDATE 0 on the connection", func(r *rig) { r.fr.WriteWindowUpdate(0, 0) }, http2.ErrCodeProtocol, false},
		{"connection window overflow", func(r *rig) { r.fr.WriteWindowUpdate(0, 1<<31-1) }, http2.ErrCodeFlowControl, false},
		{"WINDOW_UPDATE on idle stream", func(r *rig) { r.fr.WriteWindowUpdate(1, 1) }, http2.ErrCodeProtocol, false},
		{"WINDOW_UPDATE short", func(r *rig) { r.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, make([]byte, 3)) }, http2.ErrCodeFrameSize, false},
		{"RST_STREAM on idle stream", func(r *rig) { r.fr.WriteRSTStream(1, http2.ErrCodeCancel) }, http2.ErrCodeProtocol, false},
		{"RST_STREAM on stream 0", func(r *rig) { r.fr.WriteRSTStream(0, http2.ErrCodeCancel) }, http2.ErrCodeProtocol, false},
		{"RST_STREAM long", func(r *rig) { r.get(1, "/", false); r.fr.WriteRawFrame(http2.FrameRSTStream, 0, 1, make([]byte, 5)) }, http2.ErrCodeFrameSize, false},
		{"PRIORITY on stream 0", func(r *rig) { r.fr.WritePriority(0, http2.PriorityParam{StreamDep: 1}) }, http2.ErrCodeProtocol, false},
		{"CONTINUATION without HEADERS", func(r *rig) { r.fr.WriteContinuation(1, true, r.headers(":method", "GET")) }, http2.ErrCodeProtocol, false},
		{"frame inside a header block", func(r *rig) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":method", "GET")})
			r.fr.WritePing(false, [8]byte{})
		}, http2.ErrCodeProtocol, false},
		{"CONTINUATION of another stream", func(r *rig) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":method", "GET")})
			r.fr.WriteContinuation(3, true, r.headers(":path", "/"))
		}, http2.ErrCodeProtocol, false},
		{"PUSH_PROMISE", func(r *rig) {
			r.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: r.headers(":method", "GET"), EndHeaders: true})
		}, http2.ErrCodeProtocol, false},
		{"bad HPACK index", func(r *rig) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0x7f}, EndHeaders: true, EndStream: true})
		}, http2.ErrCodeCompression, false},
		{"padding too long", func(r *rig) {
			r.get(1, "/", false)
			r.fr.WriteRawFrame(http2.FrameData, 0x8, 1, []byte{5, 'a'})
		}, http2.ErrCodeProtocol, false},
	}
	for i, tt := range tests {
		r := newRig(t, nil, true)
		r.in.WriteString(http2.ClientPreface)
		if !tt.noSet {
			r.fr.WriteSettings()
		}
		tt.send(r)
		r.pump(0)
		code, _, ok := goAway(r.frames())
		if !ok || code != tt.code {
			t.Errorf("%d %s: GOAWAY %v (%v), want %v", i, tt.name, code, ok, tt.code)
		}
		if !r.c.Finished() {
			t.Errorf("%d %s: the connection goes on", i, tt.name)
		}
	}
}

// TestStreamErrors: errors that concern one stream reset it.
func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name string
		send func(r *rig)
		id   uint32
		code http2.ErrCode
	}{
		{"DATA after END_STREAM", func(r *rig) { r.get(1, "/slow", true); r.fr.WriteData(1, false, []byte("x")) }, 1, http2.ErrCodeStreamClosed},
		{"HEADERS after END_STREAM", func(r *rig) { r.get(1, "/slow", true); r.get(1, "/", true) }, 1, http2.ErrCodeStreamClosed},
		{"trailers without END_STREAM", func(r *rig) {
			r.get(1, "/slow", false)
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers("x", "y"), EndHeaders: true})
		}, 1, http2.ErrCodeProtocol},
		{"pseudo-header in trailers", func(r *rig) {
			r.get(1, "/slow", false)
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":path", "/"), EndHeaders: true, EndStream: true})
		}, 1, http2.ErrCodeProtocol},
		{"depends on itself", func(r *rig) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":method", "GET", ":scheme", "http", ":path", "/"),
				EndHeaders: true, EndStream: true, Priority: http2.PriorityParam{StreamDep: 1, Weight: 1}})
		}, 1, http2.ErrCodeProtocol},
		{"PRIORITY on itself", func(r *rig) { r.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1}) }, 1, http2.ErrCodeProtocol},
		{"PRIORITY wrong size", func(r *rig) { r.fr.WriteRawFrame(http2.FramePriority, 0, 1, make([]byte, 4)) }, 1, http2.ErrCodeFrameSize},
		{"WINDOW_UPDATE 0 on a stream", func(r *rig) { r.get(1, "/slow", true); r.fr.WriteWindowUpdate(1, 0) }, 1, http2.ErrCodeProtocol},
		{"stream window overflow", func(r *rig) { r.get(1, "/slow", true); r.fr.WriteWindowUpdate(1, 1<<31-1) }, 1, http2.ErrCodeFlowControl},
		{"DATA longer than content-length", func(r *rig) {
			r.get(1, "/slow", false, "content-length", "1")
			r.fr.WriteData(1, false, []byte("ab"))
		}, 1, http2.ErrCodeProtocol},
		{"DATA shorter than content-length", func(r *rig) {
			r.get(1, "/slow", false, "content-length", "3")
			r.fr.WriteData(1, true, []byte("ab"))
		}, 1, http2.ErrCodeProtocol},
		{"DATA over the stream window", func(r *rig) {
			// Past client_max_body_size tern gives no window back.
			r.get(1, "/nobody", false)
			for i := 0; i < 5; i++ {
				r.fr.WriteData(1, false, make([]byte, 16384))
			}
		}, 1, http2.ErrCodeFlowControl},
	}
	for i, tt := range tests {
		r := newRig(t, nil, false)
		r.h.bodies["/slow"] = bytes.Repeat([]byte("x"), 100<<10) // waits for windows
		tt.send(r)
		r.pump(0)
		fs := r.frames()
		if code, ok := rst(fs, tt.id); !ok || code != tt.code {
			t.Errorf("%d %s: RST_STREAM %v (%v), want %v", i, tt.name, code, ok, tt.code)
		}
		if code, _, ok := goAway(fs); ok {
			t.Errorf("%d %s: GOAWAY %v", i, tt.name, code)
		}
	}
}

// TestConcurrency: streams beyond http2_max_concurrent_streams are
// refused; a finished stream frees its place.
func TestConcurrency(t *testing.T) {
	cfg := testConfig()
	cfg.MaxStreams = 2
	r := newRig(t, &cfg, false)
	r.h.hold = true
	r.get(1, "/", true)
	r.get(3, "/", true)
	r.get(5, "/", true)
	r.pump(0)
	fs := r.frames()
	if code, ok := rst(fs, 5); !ok || code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream 5: %v %v, want REFUSED_STREAM", code, ok)
	}
	r.h.respond(r.h.requests[0])
	r.write()
	r.get(7, "/", true)
	r.pump(0)
	if len(r.h.requests) != 3 || r.h.requests[2].ID() != 7 {
		t.Fatalf("stream 7 was not taken: %d requests", len(r.h.requests))
	}
}

// TestFlowControl: a response stops at the client's windows and goes on
// as it opens them; the stream window and the connection window both
// count; a window shrunk by SETTINGS can go below zero.
func TestFlowControl(t *testing.T) {
	r := newRig(t, nil, false)
	body := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160000 bytes
	r.h.bodies["/big"] = body
	r.get(1, "/big", true)
	r.pump(0)
	resp := responseOf(r.frames(), 1)
	if len(resp.body) != 65535 || resp.ended {
		t.Fatalf("sent %d bytes before any WINDOW_UPDATE, want 65535", len(resp.body))
	}
	// The stream's window opens, the connection's not yet.
	r.fr.WriteWindowUpdate(1, 100000)
	r.pump(0)
	if got := responseOf(r.frames(), 1); len(got.body) != 0 {
		t.Fatalf("%d bytes past the connection window", len(got.body))
	}
	r.fr.WriteWindowUpdate(0, 30000)
	r.pump(0)
	got := responseOf(r.frames(), 1)
	if len(got.body) != 30000 {
		t.Fatalf("%d bytes, want 30000", len(got.body))
	}
	r.fr.WriteWindowUpdate(0, 100000)
	r.fr.WriteWindowUpdate(1, 100000)
	r.pump(0)
	rest := responseOf(r.frames(), 1)
	all := append(append(resp.body, got.body...), rest.body...)
	if !bytes.Equal(all, body) || !rest.ended {
		t.Fatalf("body of %d bytes, ended %v", len(all), rest.ended)
	}
	if rest.frames > 0 && len(rest.body)/rest.frames > 8<<10 {
		t.Errorf("DATA frames of %d bytes, more than http2_chunk_size", len(rest.body)/rest.frames)
	}

	// SETTINGS_INITIAL_WINDOW_SIZE 0: a new stream waits; raising it
	// lets it go.
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	r.get(3, "/", true)
	r.pump(0)
	if got := responseOf(r.frames(), 3); got.status != "200" || len(got.body) != 0 {
		t.Fatalf("with a zero window: %+v", got)
	}
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	r.pump(0)
	if got := responseOf(r.frames(), 3); string(got.body) != "hello" || !got.ended {
		t.Fatalf("after the window opened: %+v", got)
	}
}

// TestPartialWrites: a socket that takes a few bytes at a time gets every
// frame whole and in order.
func TestPartialWrites(t *testing.T) {
	r := newRig(t, nil, false)
	r.p.limit = 61
	body := bytes.Repeat([]byte("x"), 20000)
	r.h.bodies["/b"] = body
	r.fr.WriteWindowUpdate(0, 1<<20)
	for id := uint32(1); id <= 9; id += 2 {
		r.get(id, "/b", true)
	}
	r.pump(0)
	fs := r.frames()
	for id := uint32(1); id <= 9; id += 2 {
		if got := responseOf(fs, id); !bytes.Equal(got.body, body) || !got.ended {
			t.Errorf("stream %d: %d bytes, ended %v", id, len(got.body), got.ended)
		}
	}
	if r.p.calls < 1500 {
		t.Errorf("%d writes: the limit did not apply", r.p.calls)
	}
}

// TestBlockedSocket: Write says Blocked while the socket takes nothing,
// and send_timeout later ends the connection.
func TestBlockedSocket(t *testing.T) {
	r := newRig(t, nil, false)
	r.p.blocked = true
	r.get(1, "/", true)
	r.pump(0)
	if st := r.c.Write(); st != Blocked {
		t.Fatalf("Write %v, want Blocked", st)
	}
	d := r.c.Deadline()
	if d != r.now+int64(time.Minute) {
		t.Fatalf("deadline in %v, want send_timeout", time.Duration(d-r.now))
	}
	r.now = d
	if r.c.Timeout() {
		t.Fatal("the connection outlived send_timeout with a full socket")
	}
}

// TestHeadAndEmpty: a HEAD response and an empty body end the stream
// with HEADERS.
func TestHeadAndEmpty(t *testing.T) {
	r := newRig(t, nil, false)
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: r.headers(":method", "HEAD", ":scheme", "http", ":path", "/")})
	r.get(3, "/empty", true)
	r.pump(0)
	fs := r.frames()
	for _, id := range []uint32{1, 3} {
		if got := responseOf(fs, id); !got.ended || got.frames != 0 || got.status != "200" {
			t.Errorf("stream %d: %+v", id, got)
		}
	}
	if got := responseOf(fs, 1); got.fields["content-length"] != "5" {
		t.Errorf("HEAD: content-length %q", got.fields["content-length"])
	}
}

// TestLargeHead: a head larger than the peer's frame size goes out in
// HEADERS and CONTINUATION frames.
func TestLargeHead(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.hold = true
	r.get(1, "/", true)
	r.pump(0)
	s := r.h.requests[0]
	txn := r.h.respondTxn(s)
	big := strings.Repeat("v", 20000)
	txn.Resp.AddHeader("X-Big", []byte(big))
	s.Respond(txn)
	r.write()
	fs := r.frames()
	got := responseOf(fs, 1)
	if got.fields["x-big"] != big || string(got.body) != "hello" {
		t.Fatalf("x-big of %d bytes, body %q", len(got.fields["x-big"]), got.body)
	}
}

// TestBodyDiscarded: a request body is read and thrown away within the
// windows, which tern gives back; after the response, a body past
// client_max_body_size is cut with RST_STREAM NO_ERROR.
func TestBodyDiscarded(t *testing.T) {
	r := newRig(t, nil, false)
	r.get(1, "/", false)
	r.pump(0)
	r.frames()
	for i := 0; i < 8; i++ {
		r.fr.WriteData(1, false, make([]byte, 16384))
	}
	r.fr.WriteData(1, true, []byte("end"))
	r.pump(0)
	fs := r.frames()
	var conn, stream uint32
	for _, f := range fs {
		if f.typ == http2.FrameWindowUpdate {
			if f.stream == 0 {
				conn += f.incr
			} else {
				stream += f.incr
			}
		}
	}
	if conn < 100000 || stream < 64<<10 {
		t.Errorf("windows given back: connection %d, stream %d", conn, stream)
	}
	if len(r.c.streams) != 0 {
		t.Errorf("%d streams left", len(r.c.streams))
	}

	r.get(3, "/", false)
	r.pump(0)
	r.c.streams[0].MaxBody = 20000
	r.fr.WriteData(3, false, make([]byte, 16384))
	r.fr.WriteData(3, false, make([]byte, 16384))
	r.pump(0)
	if code, ok := rst(r.frames(), 3); !ok || code != http2.ErrCodeNo {
		t.Errorf("a body past client_max_body_size: RST_STREAM %v %v, want NO_ERROR", code, ok)
	}
}

// TestShutdown: GOAWAY names the last stream taken; streams in flight
// finish; new ones are ignored; then the connection is finished.
func TestShutdown(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.hold = true
	r.get(1, "/", true)
	r.get(3, "/", true)
	r.pump(0)
	r.c.Shutdown()
	r.get(5, "/", true)
	r.pump(0)
	fs := r.frames()
	if code, last, ok := goAway(fs); !ok || code != http2.ErrCodeNo || last != 3 {
		t.Fatalf("GOAWAY %v last %d (%v)", code, last, ok)
	}
	if len(r.h.requests) != 2 || r.c.Finished() {
		t.Fatalf("%d requests, finished %v", len(r.h.requests), r.c.Finished())
	}
	for _, s := range r.h.requests {
		r.h.respond(s)
	}
	r.write()
	fs = r.frames()
	if responseOf(fs, 1).status != "200" || responseOf(fs, 3).status != "200" || !r.c.Finished() {
		t.Fatalf("streams in flight: finished %v", r.c.Finished())
	}
}

// TestKeepalive: a connection without streams says GOAWAY after
// keepalive_timeout; one with a stream does not.
func TestKeepalive(t *testing.T) {
	r := newRig(t, nil, false)
	r.get(1, "/", true)
	r.pump(0)
	r.frames()
	d := r.c.Deadline()
	if d != r.now+int64(75*time.Second) {
		t.Fatalf("deadline in %v, want keepalive_timeout", time.Duration(d-r.now))
	}
	r.now = d
	if !r.c.Timeout() {
		t.Fatal("closed without GOAWAY")
	}
	r.write()
	if code, last, ok := goAway(r.frames()); !ok || code != http2.ErrCodeNo || last != 1 || !r.c.Finished() {
		t.Fatalf("GOAWAY %v %d %v, finished %v", code, last, ok, r.c.Finished())
	}
}

// TestFirstStreamWait: before its first stream a connection waits
// client_header_timeout, as for an HTTP/1.1 request's head, and only
// then keepalive_timeout between streams: with keepalive_timeout 0 the
// first request is served, then GOAWAY, as nginx.
func TestFirstStreamWait(t *testing.T) {
	cfg := testConfig()
	cfg.KeepaliveTimeout = 0
	r := newRig(t, &cfg, false)
	r.pump(0)
	r.frames()
	if d := r.c.Deadline(); d != r.now+int64(time.Minute) {
		t.Fatalf("deadline in %v before the first stream, want client_header_timeout", time.Duration(d-r.now))
	}
	r.now += int64(time.Second)
	r.get(1, "/", true)
	r.pump(0)
	fs := r.frames()
	if resp := responseOf(fs, 1); resp.status != "200" {
		t.Fatalf("response %+v", resp)
	}
	if _, _, ok := goAway(fs); ok {
		t.Fatal("GOAWAY before the first request")
	}
	if d := r.c.Deadline(); d != r.now {
		t.Fatalf("deadline in %v after it, want keepalive_timeout 0", time.Duration(d-r.now))
	}
	r.c.Timeout()
	r.write()
	if code, last, ok := goAway(r.frames()); !ok || code != http2.ErrCodeNo || last != 1 {
		t.Fatalf("GOAWAY %v %d %v", code, last, ok)
	}
}

// respondTxn builds the response respond sends, without sending it.
func (h *handler) respondTxn(s *Stream) *filters.Txn {
	hold := h.hold
	h.hold = false
	defer func() { h.hold = hold }()
	t := &filters.Txn{}
	t.Reset()
	t.Loc, t.Env = h.loc, h.env
	t.Resp.Status = 200
	t.Resp.ContentType = "text/plain"
	t.Resp.ContentLength = 5
	t.Resp.Body.AddMem([]byte("hello"))
	return t
}

// TestControlInValue: a control character other than NUL, CR and LF in
// a field value does not make the request malformed in RFC 9113's terms
// (§8.2.1); the stream is served, and the worker answers 400, as nginx
// does for a Host with one.
func TestControlInValue(t *testing.T) {
	for _, fields := range [][]string{
		{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "localhost\x02"},
		{":method", "GET", ":scheme", "https", ":path", "/", "host", "localhost\x02"},
		{":method", "GET", ":scheme", "https", ":path", "/", "x-note", "a\x7fb"},
	} {
		r := newRig(t, nil, false)
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(fields...), EndStream: true, EndHeaders: true})
		r.pump(0)
		fs := r.frames()
		if code, ok := rst(fs, 1); ok {
			t.Errorf("%q: RST_STREAM %v", fields[7], code)
		}
		if len(r.h.heads) != 1 || !r.h.heads[0].Control {
			t.Errorf("%q: %d requests, want 1 marked Control", fields[7], len(r.h.heads))
		}
	}
}

// TestBlockLen: a request's BlockLen is the size of its header block,
// HEADERS and CONTINUATION fragments together, padding not counted
// ($request_length, as nginx's).
func TestBlockLen(t *testing.T) {
	r := newRig(t, nil, false)
	block := r.headers(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "example.com", "user-agent", "rig")
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:5], EndStream: true, PadLength: 7})
	r.fr.WriteContinuation(1, true, block[5:])
	r.pump(0)
	if len(r.h.heads) != 1 || r.h.heads[0].BlockLen != len(block) {
		t.Fatalf("%d requests, BlockLen %+v, want %d", len(r.h.heads), r.h.heads, len(block))
	}
}

// TestWrittenEndFreesPlace: a stream whose END_STREAM has been written
// no longer counts against http2_max_concurrent_streams while the rest
// of its batch is still being written: the client has seen it end and
// may open the next stream in its place (RFC 9113 §5.1.2). Counted
// until the whole batch was out, a client that kept every place busy got
// REFUSED_STREAM whenever a batch left in more than one write.
func TestWrittenEndFreesPlace(t *testing.T) {
	cfg := testConfig()
	cfg.MaxStreams = 2
	r := newRig(t, &cfg, false)
	r.h.bodies["/big"] = bytes.Repeat([]byte("x"), 12000)
	r.pump(0)
	r.frames()
	receive := func() {
		for r.in.Len() > 0 {
			b := r.c.ReadBuffer()
			n, _ := r.in.Read(b)
			r.c.Received(n)
		}
	}
	r.get(1, "/", true)
	r.get(3, "/big", true)
	receive()
	r.p.limit = 16
	for !endedIn(r.p.out.Bytes(), 1) {
		if st := r.c.Write(); st != Blocked && st != Yield {
			t.Fatalf("Write: %v before stream 1 ended", st)
		}
	}
	if endedIn(r.p.out.Bytes(), 3) {
		t.Fatal("stream 3 ended in the same write as stream 1: nothing left to test")
	}
	r.get(5, "/", true)
	receive()
	r.p.limit = 0
	r.write()
	fs := r.frames()
	if code, ok := rst(fs, 5); ok {
		t.Fatalf("stream 5: RST_STREAM %v, though stream 1 had ended", code)
	}
	for _, id := range []uint32{1, 3, 5} {
		if resp := responseOf(fs, id); resp.status != "200" || !resp.ended {
			t.Errorf("stream %d: status %q, ended %v", id, resp.status, resp.ended)
		}
	}
}

// endedIn reports whether the whole frames at the start of b include one
// that ends stream id.
func endedIn(b []byte, id uint32) bool {
	for len(b) >= 9 {
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+n {
			return false
		}
		typ, flags := b[3], b[4]
		sid := binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1)
		if sid == id && (typ == 0 || typ == 1) && flags&1 != 0 {
			return true
		}
		b = b[9+n:]
	}
	return false
}

// TestLiteralFieldMemo: the literal fields a worker keeps the encodings
// of come out byte for byte as encoding them afresh gives, through
// repeats, more values than the memo has slots, one value under several
// names, values longer than the memo keeps, and a caller's buffer that
// changes under the memo; and a reused field allocates nothing.
func TestLiteralFieldMemo(t *testing.T) {
	sh := NewShared(0, func() int64 { return 0 })
	fresh := func(idx uint64, v []byte) []byte {
		return appendString(appendVarInt(nil, 4, 0, idx), string(v))
	}
	idxs := []uint64{idxDate, idxContentLength, idxLastModified, idxETag}
	var vals [][]byte
	for i := range 3 * litSlots {
		vals = append(vals, fmt.Appendf(nil, "\"%x-%x\"", i*7919, 1024+i))
	}
	vals = append(vals, nil, []byte("Tue, 01 Dec 2026 10:00:00 GMT"), bytes.Repeat([]byte("e"), litMax), bytes.Repeat([]byte("f"), litMax+1))
	rnd := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 0, 2*litMax)
	for i := 0; i < 20000; i++ {
		idx := idxs[rnd.IntN(len(idxs))]
		// Mostly a few hot values, as a busy site's pages; sometimes any.
		v := vals[rnd.IntN(8)]
		if rnd.IntN(4) == 0 {
			v = vals[rnd.IntN(len(vals))]
		}
		buf = append(buf[:0], v...) // the caller's buffer, reused
		if got, want := sh.literalField(nil, idx, buf), fresh(idx, v); !bytes.Equal(got, want) {
			t.Fatalf("step %d: field %d %q: %x, want %x", i, idx, v, got, want)
		}
		for j := range buf {
			buf[j] ^= 0x55 // changes under the memo before the next call
		}
	}
	// The same value under another name, in the slot the first one filled.
	v := []byte("1024")
	sh.literalField(nil, idxContentLength, v)
	for i := range sh.lits {
		if m := &sh.lits[i]; m.idx == idxContentLength && bytes.Equal(m.val, v) {
			for j := range sh.lits {
				sh.lits[j] = *m
			}
		}
	}
	if got, want := sh.literalField(nil, idxETag, v), fresh(idxETag, v); !bytes.Equal(got, want) {
		t.Errorf("etag 1024 after content-length 1024: %x, want %x", got, want)
	}
	v = []byte("Tue, 01 Dec 2026 10:00:01 GMT")
	sh.literalField(nil, idxDate, v)
	if n := testing.AllocsPerRun(100, func() { sh.literalField(make([]byte, 0, 64), idxDate, v) }); n > 1 {
		t.Errorf("%.0f allocations per reused field, want the caller's buffer only", n)
	}
}

// TestIndexedMemo: the fields indexed keeps the encoding of come out
// byte for byte as the HPACK encoder alone writes them, through repeats,
// new values that enter the dynamic table, evictions from a small table
// and a client's SETTINGS_HEADER_TABLE_SIZE.
func TestIndexedMemo(t *testing.T) {
	r := newRig(t, nil, false)
	c := r.c
	var want bytes.Buffer
	ref := hpack.NewEncoder(&want)
	types := []string{"text/html", "text/plain", "image/png", "application/octet-stream", "text/css",
		strings.Clone("text/html")} // equal to the first, elsewhere in memory
	statuses := []string{"200", "304", "404", "200"}
	rnd := rand.New(rand.NewPCG(1, 2))
	c.wbuf = nil
	for i := 0; i < 5000; i++ {
		switch n := rnd.IntN(100); {
		case n < 2:
			v := uint32(rnd.IntN(3)) * 64 // 0, 64 or 128 bytes: evictions
			c.setting(settingHeaderTableSize, v)
			ref.SetMaxDynamicTableSizeLimit(v)
			continue
		case n < 30:
			v := statuses[rnd.IntN(len(statuses))]
			c.indexed(memoStatus, ":status", v)
			ref.WriteField(hpack.HeaderField{Name: ":status", Value: v})
		case n < 50:
			c.indexed(memoServer, "server", "tern")
			ref.WriteField(hpack.HeaderField{Name: "server", Value: "tern"})
		case n < 80:
			v := types[rnd.IntN(len(types))]
			c.indexed(memoContentType, "content-type", v)
			ref.WriteField(hpack.HeaderField{Name: "content-type", Value: v})
		default:
			c.indexed(memoAcceptRanges, "accept-ranges", "bytes")
			ref.WriteField(hpack.HeaderField{Name: "accept-ranges", Value: "bytes"})
		}
		if !bytes.Equal(c.wbuf, want.Bytes()) {
			t.Fatalf("step %d: %x\nwant %x", i, c.wbuf, want.Bytes())
		}
	}
}

// TestRepeatableFields: per-response values decode as sent, through
// repeats that enter the dynamic table, values that come once, table
// size changes and a caller's buffer that changes after each call; a
// value sent a third time, the table unchanged, is one indexed byte.
func TestRepeatableFields(t *testing.T) {
	r := newRig(t, nil, false)
	c := r.c
	c.wbuf = nil
	var got []string
	dec := hpack.NewDecoder(defaultTableSize, func(f hpack.HeaderField) { got = append(got, f.Name+": "+f.Value) })
	sites := []struct {
		site int
		idx  uint64
		name string
	}{{memoDate, idxDate, "date"}, {memoContentLength, idxContentLength, "content-length"},
		{memoLastModified, idxLastModified, "last-modified"}, {memoETag, idxETag, "etag"}}
	rnd := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 0, 128)
	for i := 0; i < 20000; i++ {
		if rnd.IntN(100) == 0 {
			c.setting(settingHeaderTableSize, uint32(rnd.IntN(3))*128)
		}
		f := sites[rnd.IntN(len(sites))]
		var v string
		switch n := rnd.IntN(10); {
		case n < 6: // a few hot values
			v = fmt.Sprintf("%d", 1000+rnd.IntN(3))
		case n < 9: // many that come once or rarely
			v = fmt.Sprintf("\"%x-%x\"", rnd.Uint32(), rnd.IntN(1000))
		default: // longer than the memo keeps
			v = strings.Repeat("w", litMax+1+rnd.IntN(4))
		}
		buf = append(buf[:0], v...)
		start := len(c.wbuf)
		c.repeatable(f.site, f.idx, f.name, buf)
		for j := range buf {
			buf[j] = 'X' // the caller's buffer is reused
		}
		got = got[:0]
		if _, err := dec.Write(c.wbuf[start:]); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := dec.Close(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if want := f.name + ": " + v; len(got) != 1 || got[0] != want {
			t.Fatalf("step %d: decoded %q, want %q", i, got, want)
		}
	}
	// Another value with the same hash is not sent for this one.
	c = newRig(t, nil, false).c
	c.sent[0] = sentField{key: litHash(idxContentLength, []byte("1001")), idx: idxContentLength, val: "9999", again: true}
	c.wbuf = c.wbuf[:0]
	c.repeatable(memoContentLength, idxContentLength, "content-length", []byte("1001"))
	got = got[:0]
	dec = hpack.NewDecoder(defaultTableSize, func(f hpack.HeaderField) { got = append(got, f.Name+": "+f.Value) })
	if _, err := dec.Write(c.wbuf); err != nil || len(got) != 1 || got[0] != "content-length: 1001" {
		t.Errorf("a hash collision: decoded %q (%v), want content-length: 1001", got, err)
	}
	// A table with room (a new connection: the encoder's table does not
	// grow back after a client shrank it): the first two times
	// literal, then one byte.
	c = newRig(t, nil, false).c
	for i, want := range []int{0, 0, 1, 1} {
		start := len(c.wbuf)
		c.repeatable(memoETag, idxETag, "etag", []byte(`"5f5e100-400"`))
		out := c.wbuf[start:]
		if n := len(out); want == 1 && (n != 1 || out[0]&0x80 == 0) || want == 0 && n < 8 {
			t.Errorf("sending %d: %x", i+1, out)
		}
	}
}

// TestRingLen: the ring's counted length follows its streams through
// random activations and deactivations.
func TestRingLen(t *testing.T) {
	c := &Conn{}
	streams := make([]*Stream, 50)
	for i := range streams {
		streams[i] = &Stream{id: uint32(2*i + 1)}
	}
	rnd := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 10000; i++ {
		s := streams[rnd.IntN(len(streams))]
		if rnd.IntN(2) == 0 {
			c.activate(s)
		} else {
			c.deactivate(s)
		}
		n := 0
		for r := c.ring; r != nil; r = r.next {
			n++
			if r.next == c.ring {
				break
			}
		}
		if n != c.ringLen {
			t.Fatalf("step %d: %d streams in the ring, ringLen %d", i, n, c.ringLen)
		}
	}
}
