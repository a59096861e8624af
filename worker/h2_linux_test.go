//go:build linux

package worker

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"

	"tern/event"
)

// h2client speaks HTTP/2 with prior knowledge to a rig's worker: its
// frames are made and read by golang.org/x/net/http2's Framer, and it
// runs the worker's loop while it waits.
type h2client struct {
	r      *rig
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	out    bytes.Buffer // frames to send
	in     bytes.Buffer // bytes read, not yet parsed
	rd     *http2.Framer
	next   uint32
	resps  map[uint32]*h2resp
	// goaway is the code of the GOAWAY the server sent, if gotGoaway.
	goaway     http2.ErrCode
	goawayLast uint32
	gotGoaway  bool
}

func newH2Client(t testing.TB, r *rig) *h2client {
	c := &h2client{r: r, next: 1}
	c.fr = http2.NewFramer(&c.out, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.rd = http2.NewFramer(nil, &c.in)
	c.rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.out.WriteString(http2.ClientPreface)
	// Windows wide open: the client reads everything at once.
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	c.fr.WriteWindowUpdate(0, 1<<30)
	return c
}

// h2resp is a response as the client read it.
type h2resp struct {
	status string
	fields map[string]string
	body   []byte
	rst    http2.ErrCode
	reset  bool
	done   bool
}

// request sends a request (name, value pairs after the pseudo-header
// fields) and returns its response.
func (c *h2client) request(t testing.TB, method, path string, fields ...string) h2resp {
	t.Helper()
	id := c.next
	c.next += 2
	c.encBuf.Reset()
	all := append([]string{":method", method, ":scheme", "http", ":path", path, ":authority", "localhost"}, fields...)
	for i := 0; i < len(all); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true})
	c.flush(t)
	return c.read(t, id)
}

func (c *h2client) flush(t testing.TB) {
	t.Helper()
	if _, err := unix.Write(c.r.client, c.out.Bytes()); err != nil {
		t.Fatal(err)
	}
	c.out.Reset()
}

// read runs the loop and reads frames until stream id ends; the frames
// of other streams are kept for their turn.
func (c *h2client) read(t testing.TB, id uint32) h2resp {
	t.Helper()
	buf := make([]byte, 64<<10)
	for deadline := time.Now().Add(10 * time.Second); ; {
		for c.complete() {
			f, err := c.rd.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			c.take(f)
		}
		if r := c.resps[id]; r != nil && r.done {
			delete(c.resps, id)
			return *r
		}
		c.r.w.loop.CapWait(time.Millisecond)
		if err := c.r.w.loop.RunOnce(); err != nil {
			t.Fatal(err)
		}
		n, _ := unix.Read(c.r.client, buf)
		if n > 0 {
			c.in.Write(buf[:n])
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %d: no end after 10s", id)
		}
	}
}

// take adds a frame to its stream's response.
func (c *h2client) take(f http2.Frame) {
	id := f.Header().StreamID
	if c.resps == nil {
		c.resps = map[uint32]*h2resp{}
	}
	resp := c.resps[id]
	if resp == nil {
		resp = &h2resp{fields: map[string]string{}}
		c.resps[id] = resp
	}
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		for _, hf := range f.Fields {
			if hf.Name == ":status" {
				resp.status = hf.Value
			} else {
				resp.fields[hf.Name] = hf.Value
			}
		}
		resp.done = f.StreamEnded()
	case *http2.DataFrame:
		resp.body = append(resp.body, f.Data()...)
		resp.done = f.StreamEnded()
	case *http2.RSTStreamFrame:
		resp.reset, resp.rst, resp.done = true, f.ErrCode, true
	case *http2.GoAwayFrame:
		c.goaway, c.goawayLast = f.ErrCode, f.LastStreamID
		c.gotGoaway = true
	}
}

// complete reports whether a whole frame is buffered.
func (c *h2client) complete() bool {
	b := c.in.Bytes()
	return len(b) >= 9 && len(b) >= 9+int(binary.BigEndian.Uint32(b[:4])>>8)
}

func newH2Rig(t testing.TB, http, server string) (*rig, *h2client) {
	r := newPathRigHTTP(t, "off", "  http2 = true\n"+http, server)
	return r, newH2Client(t, r)
}

// TestH2Static: a stream gets what an HTTP/1.1 request gets — the file
// with its headers, ranges, conditionals, errors pages, HEAD, add_header
// — from the same handler and filters.
func TestH2Static(t *testing.T) {
	r, c := newH2Rig(t, "", `    add_header = { "X-Frame-Options" = "DENY" }
    error_page = { "404" = "/1k.txt" }
    location "/gone/" {
      return = "410"
    }`)
	resp := c.request(t, "GET", "/big.bin")
	if resp.status != "200" || len(resp.body) != 1<<20 || resp.fields["content-length"] != "1048576" ||
		resp.fields["accept-ranges"] != "bytes" || resp.fields["x-frame-options"] != "DENY" ||
		resp.fields["etag"] == "" || resp.fields["last-modified"] == "" || resp.fields["content-type"] != "application/octet-stream" {
		t.Fatalf("GET: %s %v, %d bytes", resp.status, resp.fields, len(resp.body))
	}
	etag := resp.fields["etag"]
	if resp := c.request(t, "GET", "/big.bin", "if-none-match", etag); resp.status != "304" || len(resp.body) != 0 {
		t.Errorf("If-None-Match: %s, %d bytes", resp.status, len(resp.body))
	}
	resp = c.request(t, "GET", "/big.bin", "range", "bytes=10-19")
	if resp.status != "206" || string(resp.body) != "xxxxxxxxxx" || resp.fields["content-range"] != "bytes 10-19/1048576" {
		t.Errorf("Range: %s %v %q", resp.status, resp.fields, resp.body)
	}
	resp = c.request(t, "GET", "/1k.txt", "range", "bytes=0-1,5-6")
	if ct := resp.fields["content-type"]; resp.status != "206" || !strings.HasPrefix(ct, "multipart/byteranges; boundary=") ||
		!bytes.Contains(resp.body, []byte("Content-Range: bytes 5-6/1024")) {
		t.Errorf("multipart: %s %v %q", resp.status, resp.fields, resp.body)
	}
	if resp := c.request(t, "HEAD", "/big.bin"); resp.status != "200" || len(resp.body) != 0 || resp.fields["content-length"] != "1048576" {
		t.Errorf("HEAD: %s %v %d", resp.status, resp.fields, len(resp.body))
	}
	if resp := c.request(t, "GET", "/missing"); resp.status != "404" || len(resp.body) != 1024 {
		t.Errorf("error_page: %s, %d bytes", resp.status, len(resp.body))
	}
	if resp := c.request(t, "GET", "/gone/x"); resp.status != "410" || !bytes.Contains(resp.body, []byte("410 Gone")) {
		t.Errorf("return 410: %s %q", resp.status, resp.body)
	}
	if resp := c.request(t, "POST", "/1k.txt"); resp.status != "405" || resp.fields["allow"] != "GET, HEAD" {
		t.Errorf("POST: %s %v", resp.status, resp.fields)
	}
	if resp := c.request(t, "GET", "/1k.txt", "cookie", strings.Repeat("c", 9000)); resp.status != "400" ||
		!bytes.Contains(resp.body, []byte("Request Header Or Cookie Too Large")) {
		t.Errorf("a field over a header buffer: %s %q", resp.status, resp.body)
	}
	if resp := c.request(t, "GET", "/../x"); resp.status != "400" {
		t.Errorf("a path above the root: %s", resp.status)
	}
	_ = r
}

// TestH2Gzip: a compressed response has no content-length and no chunked
// framing: the stream's end ends the body.
func TestH2Gzip(t *testing.T) {
	r, c := newH2Rig(t, `  gzip = true
  gzip_types = ["text/plain"]
  types = { "text/plain" = ["txt"] }`, "")
	text := strings.Repeat("tern speaks HTTP/2 on the event loop. ", 4000)
	if err := os.WriteFile(filepath.Join(r.dir, "t.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	resp := c.request(t, "GET", "/t.txt", "accept-encoding", "gzip")
	if resp.status != "200" || resp.fields["content-encoding"] != "gzip" || resp.fields["content-length"] != "" ||
		resp.fields["vary"] != "Accept-Encoding" || resp.fields["transfer-encoding"] != "" {
		t.Fatalf("gzip: %s %v", resp.status, resp.fields)
	}
	zr, err := gzip.NewReader(bytes.NewReader(resp.body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != text {
		t.Fatalf("gunzip: %v, %d bytes of %d", err, len(got), len(text))
	}
}

// TestH2StreamAllocs: a request on an HTTP/2 stream for a cached small
// file allocates nothing, as over HTTP/1.1 (TestCachedRequestAllocs):
// the stream, its request, the batch's buffers come from free lists, and
// the fields of a repeated request are indexed in the HPACK table.
func TestH2StreamAllocs(t *testing.T) {
	r, c := newH2Rig(t, "", "")
	if resp := c.request(t, "GET", "/1k.txt", "user-agent", "h2load"); resp.status != "200" || len(resp.body) != 1024 {
		t.Fatalf("first response: %s %d", resp.status, len(resp.body))
	}
	// From now on the same request is all indexed fields.
	c.encBuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/1k.txt"}, {":authority", "localhost"}, {"user-agent", "h2load"}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := bytes.Clone(c.encBuf.Bytes())
	req := make([]byte, 9+len(block))
	copy(req[9:], block)
	id := c.next
	frame := func() []byte {
		req[0], req[1], req[2], req[3], req[4] = 0, byte(len(block)>>8), byte(len(block)), 1, 5
		binary.BigEndian.PutUint32(req[5:], id)
		id += 2
		return req
	}
	// The second response sends its per-response values again, so
	// they enter the HPACK table; from the third on they are indexed.
	// (A new second's Date does the same, with one allocation, once a
	// second.)
	for range 2 {
		if n := r.roundTripH2(t, frame()); n < 1024 || r.resp[3] != 1 {
			t.Fatalf("response of %d bytes: % x", n, r.resp[:min(n, 32)])
		}
	}
	allocs := testing.AllocsPerRun(200, func() { r.roundTripH2(t, frame()) })
	if allocs != 0 {
		t.Fatalf("%v allocations per HTTP/2 request", allocs)
	}
}

// roundTripH2 sends req, one stream's request, and runs the loop until
// the frames read back end with a DATA frame that ends its stream; it
// returns the bytes read.
func (r *rig) roundTripH2(tb testing.TB, req []byte) int {
	return r.exchange(tb, req, endsStream)
}

// endsStream reports whether the frames in p include a DATA frame with
// END_STREAM.
func endsStream(p []byte) bool {
	for len(p) >= 9 {
		n := 9 + (int(p[0])<<16 | int(p[1])<<8 | int(p[2]))
		if n > len(p) {
			return false
		}
		if p[3] == 0 && p[4]&1 != 0 {
			return true
		}
		p = p[n:]
	}
	return false
}

// TestH2ManyStreams: streams sent in one read are answered in one batch,
// and every response is whole.
func TestH2ManyStreams(t *testing.T) {
	_, c := newH2Rig(t, "", "")
	for i := 0; i < 100; i++ {
		c.encBuf.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/1k.txt"}, {":authority", "localhost"}} {
			c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true})
	}
	c.flush(t)
	for i := 0; i < 100; i++ {
		if resp := c.read(t, uint32(2*i+1)); resp.status != "200" || len(resp.body) != 1024 {
			t.Fatalf("stream %d: %s, %d bytes", 2*i+1, resp.status, len(resp.body))
		}
	}
}

// TestH2KeepaliveLimits: keepalive_requests and keepalive_time end an
// HTTP/2 connection as nginx does: the stream past the limit is served,
// with a GOAWAY naming it, and the client opens a new connection.
func TestH2KeepaliveLimits(t *testing.T) {
	_, c := newH2Rig(t, "", "    keepalive_requests = 3")
	for i := 0; i < 3; i++ {
		if resp := c.request(t, "GET", "/1k.txt"); resp.status != "200" || len(resp.body) != 1024 {
			t.Fatalf("request %d: %s, %d bytes", i+1, resp.status, len(resp.body))
		}
		if got := c.gotGoaway; got != (i == 2) {
			t.Fatalf("request %d: GOAWAY %v", i+1, got)
		}
	}
	if c.goaway != http2.ErrCodeNo || c.goawayLast != 5 {
		t.Fatalf("GOAWAY %v, last stream %d; want NO_ERROR, 5", c.goaway, c.goawayLast)
	}

	// keepalive_time counts from the connection's start: long enough
	// that a loaded machine (the race detector, other tests) serves the
	// first request within it.
	_, c = newH2Rig(t, "", `    keepalive_time = "1s"`)
	if resp := c.request(t, "GET", "/1k.txt"); resp.status != "200" || c.gotGoaway {
		t.Fatalf("first request: %s, GOAWAY %v", resp.status, c.gotGoaway)
	}
	time.Sleep(1100 * time.Millisecond)
	if resp := c.request(t, "GET", "/1k.txt"); resp.status != "200" || !c.gotGoaway || c.goawayLast != 3 {
		t.Fatalf("after keepalive_time: %s, GOAWAY %v, last stream %d", resp.status, c.gotGoaway, c.goawayLast)
	}
}

// TestH2Budget: an HTTP/2 connection's turn is eight HTTP/1.1 turns, so
// the default stays 2 MiB, and "no limit" stays no limit.
func TestH2Budget(t *testing.T) {
	for _, c := range []struct{ chunk, want int64 }{
		{256 << 10, 2 << 20}, // the default (conf's TestDefaults)
		{0, 0},
		{1 << 20, 8 << 20},
		{math.MaxInt64, math.MaxInt64},
	} {
		if got := h2Budget(c.chunk); got != c.want {
			t.Errorf("h2Budget(%d) = %d, want %d", c.chunk, got, c.want)
		}
	}
}

// TestH2NotsentLowat: an HTTP/2 connection's socket holds at most
// h2NotsentLowat bytes TCP has not sent (TCP_NOTSENT_LOWAT); an
// HTTP/1.1 connection's keeps the system's default.
func TestH2NotsentLowat(t *testing.T) {
	r, _ := newH2Rig(t, "", "")
	lowat := func(fd int) int {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_notsent_lowat")
	if err != nil {
		t.Skip("no net.ipv4.tcp_notsent_lowat:", err)
	}
	def, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for _, h2 := range []bool{false, true} {
		server := tcpClient(t, r)
		if h2 {
			c := newH2Client(t, r)
			if resp := c.request(t, "GET", "/1k.txt"); resp.status != "200" || len(resp.body) != 1024 {
				t.Fatalf("h2: %s, %d bytes", resp.status, len(resp.body))
			}
			if got := lowat(server); got != h2NotsentLowat {
				t.Errorf("HTTP/2: TCP_NOTSENT_LOWAT %d, want %d", got, h2NotsentLowat)
			}
			continue
		}
		if n := r.roundTrip(t, benchReq, 1024); !bytes.HasPrefix(r.resp[:n], []byte("HTTP/1.1 200 OK\r\n")) {
			t.Fatalf("HTTP/1.1: %q", r.resp[:n])
		}
		if got := lowat(server); uint32(got) != uint32(def) { // 4294967295 reads back as -1
			t.Errorf("HTTP/1.1: TCP_NOTSENT_LOWAT %d, want the system's %d", got, def)
		}
	}
}

// tcpClient connects the rig's client to its worker over loopback TCP
// instead of a UNIX-domain socket, and returns the worker's end.
func tcpClient(t testing.TB, r *rig) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	dup := func(c net.Conn) int {
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		defer f.Close()
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	server := dup(accepted)
	r.client = dup(client)
	t.Cleanup(func() { unix.Close(r.client) })
	var rsa unix.RawSockaddrAny
	r.w.Accepted(&event.Listener{FD: -1, Index: 0}, server, &rsa)
	return server
}
