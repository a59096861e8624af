//go:build linux

package http2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// FuzzFrames feeds arbitrary bytes to a connection after a valid preface,
// in two reads cut where the input says, and checks that nothing panics,
// that the connection's bookkeeping holds, and that what it writes is a
// well-formed sequence of frames.
func FuzzFrames(f *testing.F) {
	seed := func(build func(r *rig)) {
		r := newRig(f, nil, true)
		build(r)
		f.Add(r.in.Bytes(), uint16(5))
	}
	seed(func(r *rig) { r.get(1, "/", true) })
	seed(func(r *rig) { r.get(1, "/", false, "content-length", "3"); r.fr.WriteData(1, true, []byte("abc")) })
	seed(func(r *rig) { r.get(1, "/", false); r.fr.WriteRSTStream(1, http2.ErrCodeCancel); r.get(3, "/", true) })
	seed(func(r *rig) {
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.headers(":method", "GET")})
		r.fr.WriteContinuation(1, true, r.headers(":scheme", "http", ":path", "/"))
	})
	seed(func(r *rig) {
		r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		r.get(1, "/", true)
		r.fr.WriteWindowUpdate(1, 10)
		r.fr.WritePing(false, [8]byte{1})
		r.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 9})
		r.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	})
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		r := newRig(t, nil, false)
		r.h.bodies["/big"] = bytes.Repeat([]byte("b"), 100000)
		r.pump(0)
		r.frames()
		k := int(cut) % (len(in) + 1)
		for _, part := range [][]byte{in[:k], in[k:]} {
			r.in.Write(part)
			r.pump(0)
		}
		c := r.c
		counted := 0
		for _, s := range c.streams {
			if s.counted {
				counted++
			}
			if s.reset {
				t.Fatalf("stream %d is reset and still open", s.id)
			}
		}
		if counted != c.open || c.open > int(c.cfg.MaxStreams) {
			t.Fatalf("%d streams counted, open %d", counted, c.open)
		}
		r.frames() // a malformed frame from the server fails here
	})
}
