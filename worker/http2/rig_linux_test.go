//go:build linux

package http2

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/filters"
)

// The rig drives a Conn by hand: the client's frames, made with
// golang.org/x/net/http2's Framer (an independent implementation), go
// into Received; what the Conn writes goes to a pipe the client's Framer
// reads back. The handler answers every request from a table of bodies,
// the way the worker would after its phases and filters.

// pipe is the Conn's transport: it keeps what is written, taking at
// most limit bytes per call when limit > 0, and nothing while blocked.
type pipe struct {
	out     bytes.Buffer
	limit   int
	blocked bool
	calls   int
}

func (p *pipe) Writev(bufs [][]byte, more bool) (int, error) {
	if p.blocked {
		return 0, unix.EAGAIN
	}
	p.calls++
	n := 0
	for _, b := range bufs {
		if p.limit > 0 && n+len(b) > p.limit {
			b = b[:p.limit-n]
		}
		p.out.Write(b)
		n += len(b)
		if p.limit > 0 && n == p.limit {
			break
		}
	}
	return n, nil
}

func (p *pipe) SendfileFD() int { return -1 }
func (p *pipe) Flush() error    { return nil }

// handler answers each request with the body bodies names for its path
// (404 without one), unless hold is set: then it keeps the stream.
type handler struct {
	c         *Conn
	loc       *conf.Location
	env       *filters.Env
	bodies    map[string][]byte
	files     map[string]*filters.File // bodies from files
	limitRate int64                    // limit_rate of every response
	requests  []*Stream
	heads     []Head
	done      []uint32
	hold      bool
	txns      []*filters.Txn
}

func (h *handler) Request(s *Stream) {
	h.requests = append(h.requests, s)
	hd := *s.Head()
	hd.Fields = bytes.Clone(hd.Fields)
	h.heads = append(h.heads, hd)
	if string(s.Head().Path) == "/nobody" {
		s.MaxBody = 1 // client_max_body_size 1: the window stays shut
	}
	if h.hold {
		return
	}
	h.respond(s)
}

func (h *handler) respond(s *Stream) {
	t := &filters.Txn{}
	t.Reset()
	t.Loc, t.Env = h.loc, h.env
	body, ok := h.bodies[string(s.Head().Path)]
	t.Resp.Status = 200
	t.Resp.ContentType = "text/plain"
	if f := h.files[string(s.Head().Path)]; f != nil {
		t.Resp.ContentLength = f.Size
		t.Resp.Body.AddFile(f, 0, f.Size)
	} else {
		if !ok {
			t.Resp.Status, body = 404, []byte("not found")
		}
		t.Resp.ContentLength = int64(len(body))
		t.Resp.Body.AddMem(body)
	}
	if string(s.Head().Method) == "HEAD" {
		t.Resp.HeaderOnly = true
	}
	if h.limitRate > 0 {
		t.LimitRate, t.RateStart = h.limitRate, h.env.Clock()
	}
	t.Owner = s // pool reads resume the stream (the worker's request does)
	h.txns = append(h.txns, t)
	s.Respond(t)
}

func (h *handler) Done(s *Stream) { h.done = append(h.done, s.ID()) }

// rig is a Conn, its client and its clock.
type rig struct {
	t      testing.TB
	c      *Conn
	h      *handler
	p      *pipe
	now    int64
	in     bytes.Buffer // what the client sent, not yet received
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	rd     *http2.Framer
	sh     *Shared
	cfg    Config
}

func testLocation() *conf.Location {
	return &conf.Location{Settings: conf.Settings{
		SendTimeout:    time.Minute,
		HTTP2ChunkSize: 8 << 10,
		Sendfile:       true,
		ServerTokens:   true,
	}}
}

func testConfig() Config {
	return Config{
		MaxStreams: 128, LineLimit: 8 << 10, ListLimit: 32 << 10, MaxFields: 1000,
		Window: 64 << 10, KeepaliveTimeout: 75 * time.Second, HeaderTimeout: time.Minute,
		BodyTimeout: time.Minute, SendTimeout: time.Minute, Budget: 2 << 20,
	}
}

// newRig makes a Conn with cfg (testConfig when nil) and has the client
// send its preface and SETTINGS, unless raw.
func newRig(t testing.TB, cfg *Config, raw bool) *rig {
	r := &rig{t: t, p: &pipe{}, now: int64(time.Hour)}
	env := &filters.Env{}
	env.Tick(time.Unix(1700000000, 0))
	env.Clock = func() int64 { return r.now }
	r.h = &handler{loc: testLocation(), env: env, bodies: map[string][]byte{
		"/":      []byte("hello"),
		"/empty": nil,
	}}
	r.sh = NewShared(256<<10, func() int64 { return r.now })
	r.cfg = testConfig()
	if cfg != nil {
		r.cfg = *cfg
	}
	r.c = New(r.h, r.sh, r.p, r.cfg)
	r.h.c = r.c
	r.fr = http2.NewFramer(&r.in, nil)
	r.fr.AllowIllegalWrites = true
	r.enc = hpack.NewEncoder(&r.encBuf)
	r.rd = http2.NewFramer(nil, &r.p.out)
	r.rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.rd.MaxHeaderListSize = 1 << 20
	if !raw {
		r.in.WriteString(http2.ClientPreface)
		r.fr.WriteSettings()
	}
	return r
}

// pump hands what the client sent to the Conn, in reads of at most step
// bytes (0: all at once), and lets the Conn write.
func (r *rig) pump(step int) {
	for r.in.Len() > 0 {
		b := r.c.ReadBuffer()
		n := len(b)
		if step > 0 {
			n = min(n, step)
		}
		n, _ = r.in.Read(b[:n])
		r.c.Received(n)
	}
	r.write()
}

// write runs Write until it has nothing more to do now.
func (r *rig) write() Status {
	for i := 0; i < 100000; i++ {
		st := r.c.Write()
		if st != Yield && (st != Blocked || r.p.blocked) {
			return st
		}
	}
	r.t.Fatal("Write kept yielding")
	return Broken
}

// frame is a frame the Conn wrote, copied out of the client's Framer
// (whose frames live until its next read).
type frame struct {
	typ      http2.FrameType
	stream   uint32
	flags    http2.Flags
	data     []byte
	fields   []hpack.HeaderField
	settings map[http2.SettingID]uint32
	code     http2.ErrCode
	last     uint32
	incr     uint32
}

func (f *frame) ended() bool { return f.flags.Has(http2.FlagDataEndStream) }

// frames reads what the Conn wrote.
func (r *rig) frames() []frame {
	var fs []frame
	for r.p.out.Len() > 0 {
		f, err := r.rd.ReadFrame()
		if err != nil {
			r.t.Fatalf("reading the server's frames: %v", err)
		}
		h := f.Header()
		c := frame{typ: h.Type, stream: h.StreamID, flags: h.Flags}
		switch f := f.(type) {
		case *http2.DataFrame:
			c.data = bytes.Clone(f.Data())
		case *http2.MetaHeadersFrame:
			c.typ = http2.FrameHeaders
			c.fields = f.Fields
		case *http2.SettingsFrame:
			c.settings = map[http2.SettingID]uint32{}
			f.ForeachSetting(func(s http2.Setting) error { c.settings[s.ID] = s.Val; return nil })
		case *http2.GoAwayFrame:
			c.code, c.last = f.ErrCode, f.LastStreamID
		case *http2.RSTStreamFrame:
			c.code = f.ErrCode
		case *http2.WindowUpdateFrame:
			c.incr = f.Increment
		case *http2.PingFrame:
			c.data = bytes.Clone(f.Data[:])
		}
		fs = append(fs, c)
	}
	return fs
}

// headers encodes fields (name, value pairs) as a header block.
func (r *rig) headers(fields ...string) []byte {
	r.encBuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(r.encBuf.Bytes())
}

// get sends a GET for path on stream id.
func (r *rig) get(id uint32, path string, end bool, extra ...string) {
	f := append([]string{":method", "GET", ":scheme", "https", ":path", path, ":authority", "example.com"}, extra...)
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.headers(f...), EndStream: end, EndHeaders: true})
}

// goAway returns the code and last stream of the GOAWAY among fs, and
// whether there is one.
func goAway(fs []frame) (http2.ErrCode, uint32, bool) {
	for _, f := range fs {
		if f.typ == http2.FrameGoAway {
			return f.code, f.last, true
		}
	}
	return 0, 0, false
}

// rst returns the code of the RST_STREAM of stream id among fs.
func rst(fs []frame, id uint32) (http2.ErrCode, bool) {
	for _, f := range fs {
		if f.typ == http2.FrameRSTStream && f.stream == id {
			return f.code, true
		}
	}
	return 0, false
}

// response collects the status, fields and body of stream id among fs,
// and whether its last frame ended the stream.
type response struct {
	status string
	fields map[string]string
	body   []byte
	ended  bool
	frames int
}

func responseOf(fs []frame, id uint32) response {
	resp := response{fields: map[string]string{}}
	for _, f := range fs {
		if f.stream != id {
			continue
		}
		switch f.typ {
		case http2.FrameHeaders:
			for _, hf := range f.fields {
				if hf.Name == ":status" {
					resp.status = hf.Value
				} else {
					resp.fields[hf.Name] = hf.Value
				}
			}
			resp.ended = f.ended()
		case http2.FrameData:
			resp.body = append(resp.body, f.data...)
			resp.ended = f.ended()
			resp.frames++
		}
	}
	return resp
}
