//go:build linux

package http2

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestFloods: every known HTTP/2 flood ends with GOAWAY
// ENHANCE_YOUR_CALM, and the same frames at a browser's pace do not.
func TestFloods(t *testing.T) {
	tests := []struct {
		name string
		send func(r *rig, i int)
	}{
		{"PING", func(r *rig, i int) { r.fr.WritePing(false, [8]byte{byte(i)}) }},
		{"SETTINGS", func(r *rig, i int) { r.fr.WriteSettings() }},
		{"PRIORITY", func(r *rig, i int) { r.fr.WritePriority(uint32(2*i+1), http2.PriorityParam{Weight: 1}) }},
		{"empty DATA", func(r *rig, i int) {
			if i == 0 {
				r.get(1, "/", false)
			}
			r.fr.WriteData(1, false, nil)
		}},
		{"empty CONTINUATION", func(r *rig, i int) {
			if i == 0 {
				r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":method", "GET")})
			}
			r.fr.WriteContinuation(1, false, nil)
		}},
		{"WINDOW_UPDATE on closed streams", func(r *rig, i int) {
			if i == 0 {
				r.get(1, "/", true)
				r.pump(0)
			}
			r.fr.WriteWindowUpdate(1, 1)
		}},
		{"unknown frames", func(r *rig, i int) { r.fr.WriteRawFrame(0xfa, 0, 0, []byte("x")) }},
		// CVE-2023-44487: a stream opened and reset at once, again
		// and again.
		{"rapid reset", func(r *rig, i int) {
			id := uint32(2*i + 1)
			r.get(id, "/", true)
			r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}},
	}
	for _, tt := range tests {
		r := newRig(t, nil, false)
		for i := 0; i < 1200; i++ {
			tt.send(r, i)
		}
		r.pump(0)
		if code, _, ok := goAway(r.frames()); !ok || code != http2.ErrCodeEnhanceYourCalm || !r.c.Finished() {
			t.Errorf("%s flood: GOAWAY %v (%v)", tt.name, code, ok)
		}

		// A second's worth at a time, a thousand times less: fine.
		r = newRig(t, nil, false)
		for i := 0; i < 1200; i++ {
			tt.send(r, i)
			if i%50 == 49 {
				r.pump(0)
				r.now += int64(time.Second)
			}
		}
		r.pump(0)
		if code, _, ok := goAway(r.frames()); ok {
			t.Errorf("%s at 50 a second: GOAWAY %v", tt.name, code)
		}
	}
}

// TestRapidResetBounded: the streams a read opens beyond twice
// http2_max_concurrent_streams are refused before any work, as nginx
// does.
func TestRapidResetBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxStreams = 4
	r := newRig(t, &cfg, false)
	for i := 0; i < 20; i++ {
		id := uint32(2*i + 1)
		r.get(id, "/", true)
		r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	r.pump(0)
	if len(r.h.requests) != 8 {
		t.Errorf("%d requests served from one read, want 8", len(r.h.requests))
	}
	if code, ok := rst(r.frames(), 39); !ok || code != http2.ErrCodeRefusedStream {
		t.Errorf("stream 39: RST_STREAM %v %v, want REFUSED_STREAM", code, ok)
	}
}

// TestContinuationFlood: a header block that never ends (CVE-2024-27316
// and kin) is cut once it outgrows large_client_header_buffers.
func TestContinuationFlood(t *testing.T) {
	r := newRig(t, nil, false)
	block := r.headers(":method", "GET", ":scheme", "http", ":path", "/", "x-big", strings.Repeat("a", 60000))
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:100]})
	for off := 100; off < len(block); off += 1000 {
		r.fr.WriteContinuation(1, false, block[off:min(off+1000, len(block))])
	}
	r.pump(0)
	if code, _, ok := goAway(r.frames()); !ok || code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v (%v)", code, ok)
	}
	if r.c.blockBytes > 40<<10 {
		t.Errorf("took %d bytes of header block", r.c.blockBytes)
	}
}

// TestHPACKBomb: a small block that makes the decoder emit a huge header
// list — one large table entry referenced again and again — ends the
// connection before any of it is kept.
func TestHPACKBomb(t *testing.T) {
	r := newRig(t, nil, false)
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"x", strings.Repeat("b", 4000)}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i < 1000; i++ {
		b.WriteByte(0x80 | 62) // the newest dynamic table entry, again
	}
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: true})
	r.pump(0)
	if code, _, ok := goAway(r.frames()); !ok || code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v (%v)", code, ok)
	}
	if len(r.h.requests) != 0 {
		t.Fatal("the request was served")
	}
}

// TestLargeField: one field longer than a header buffer makes the
// request get 494 (as over HTTP/1.1); the connection goes on.
func TestLargeField(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.hold = true
	r.get(1, "/", true, "cookie", strings.Repeat("c", 9000))
	r.pump(0)
	if len(r.h.heads) != 1 || !r.h.heads[0].TooLarge {
		t.Fatalf("heads %+v", r.h.heads)
	}
	if _, _, ok := goAway(r.frames()); ok {
		t.Fatal("GOAWAY")
	}
}

// TestZeroWindow: a client that keeps its windows shut holds streams
// only until send_timeout; then the connection ends with GOAWAY.
func TestZeroWindow(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.bodies["/big"] = bytes.Repeat([]byte("z"), 1<<20)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	for id := uint32(1); id < 200; id += 2 {
		r.get(id, "/big", true)
	}
	r.pump(0)
	fs := r.frames()
	for _, f := range fs {
		if f.typ == http2.FrameData {
			t.Fatalf("DATA on stream %d with a zero window", f.stream)
		}
	}
	if d := r.c.Deadline(); d != r.now+int64(time.Minute) {
		t.Fatalf("deadline in %v, want send_timeout", time.Duration(d-r.now))
	}
	r.now += int64(time.Minute)
	r.c.Timeout()
	r.write()
	if code, _, ok := goAway(r.frames()); !ok || code != http2.ErrCodeEnhanceYourCalm || !r.c.Finished() {
		t.Fatalf("GOAWAY %v (%v)", code, ok)
	}
}

// TestLastStreamID: the last stream identifier there is gets its answer,
// and GOAWAY: the client must go to a new connection.
func TestLastStreamID(t *testing.T) {
	r := newRig(t, nil, false)
	r.get(maxStreamID, "/", true)
	r.pump(0)
	fs := r.frames()
	if got := responseOf(fs, maxStreamID); got.status != "200" || !got.ended {
		t.Fatalf("response %+v", got)
	}
	if code, last, ok := goAway(fs); !ok || code != http2.ErrCodeNo || last != maxStreamID || !r.c.Finished() {
		t.Fatalf("GOAWAY %v last %d (%v)", code, last, ok)
	}
}

// TestBoundedOutput: a client that sends PINGs but reads nothing makes
// the connection stop reading once the answers it did not read pile up.
func TestBoundedOutput(t *testing.T) {
	r := newRig(t, nil, false)
	r.p.blocked = true
	for i := 0; i < 20000 && r.c.WantsRead(); i++ {
		r.fr.WritePing(false, [8]byte{})
		r.pump(0)
		if i%900 == 0 {
			r.now += int64(time.Second)
		}
	}
	if r.c.WantsRead() {
		t.Fatal("still reading with the answers piling up")
	}
	if n := len(r.c.wbuf); n > outLimit+1<<10 {
		t.Fatalf("%d bytes of output held", n)
	}
}

// TestClosedStreamFramesOfBusyClient: a client that gives back each
// finished stream's window (WINDOW_UPDATE after the server's END_STREAM,
// as Go's client does) or cancels it (RST_STREAM), thousands of streams a
// second, is no flood: RFC 9113 §5.1 lets these frames follow a stream's
// close. Beyond one for each DATA frame and one for each stream ended,
// they still count.
func TestClosedStreamFramesOfBusyClient(t *testing.T) {
	r := newRig(t, nil, false)
	r.h.bodies["/f"] = []byte("hello")
	for i := uint32(0); i < 3000; i++ {
		id := 2*i + 1
		r.get(id, "/f", true)
		r.pump(0)
		r.fr.WriteWindowUpdate(id, 5)
		r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	r.pump(0)
	if code, _, ok := goAway(r.frames()); ok {
		t.Fatalf("GOAWAY %v for 3000 streams, each followed by WINDOW_UPDATE and RST_STREAM", code)
	}
	// Twenty frames for each of the next hundred streams: a flood.
	for i := uint32(3000); i < 3100; i++ {
		id := 2*i + 1
		r.get(id, "/f", true)
		r.pump(0)
		for j := 0; j < 20; j++ {
			r.fr.WriteWindowUpdate(id, 5)
		}
	}
	r.pump(0)
	if code, _, ok := goAway(r.frames()); !ok || code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v (%v) for twenty frames on each closed stream", code, ok)
	}
}

// TestMaxFields: max_headers counts a request's regular fields, not its
// pseudo-header fields; one more is TooMany (400, as over HTTP/1.1).
func TestMaxFields(t *testing.T) {
	cfg := testConfig()
	cfg.MaxFields = 5
	for _, n := range []int{5, 6} {
		r := newRig(t, &cfg, false)
		r.h.hold = true
		var extra []string
		for i := 0; i < n; i++ {
			extra = append(extra, "x-blah", "v")
		}
		r.get(1, "/", true, extra...)
		r.pump(0)
		if len(r.h.heads) != 1 || r.h.heads[0].TooMany != (n > 5) || r.h.heads[0].TooLarge {
			t.Fatalf("%d fields: heads %+v", n, r.h.heads)
		}
	}
}
