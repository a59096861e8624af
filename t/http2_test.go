package t

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 end to end: tern with http2 on, over TLS (ALPN h2) and in
// cleartext (prior knowledge), talked to by curl, nghttp, h2spec and Go's
// golang.org/x/net/http2 client. The first listener (PORT) is plain, the
// second (TLSPORT) TLS; both serve the same server.

// h2Server starts a server with http2 on, a plain and a TLS listener,
// and extra server-level lines; files are written by fill before start.
func h2Server(t *testing.T, serverExtra string, fill func(s *server)) (*server, *tlsCerts, int) {
	t.Helper()
	tlsPort := freePort(t)
	cfg := serversConfig(`
  http2 = true
  server {
    listen = ["127.0.0.1:{{PORT}}", "127.0.0.1:` + strconv.Itoa(tlsPort) + ` ssl"]
    root = "{{ROOT}}"
    ssl_certificate = "{{DIR}}/certs/localhost.crt"
    ssl_certificate_key = "{{DIR}}/certs/localhost.key"
` + serverExtra + `
  }`)
	s, certs := newTLSServer(t, cfg)
	if fill != nil {
		fill(s)
	}
	s.start()
	return s, certs, tlsPort
}

// h2Transports are Go's HTTP/2 client over h2c (prior knowledge) and
// over TLS; dials counts the connections each made.
type h2Transports struct {
	h2c, tls     *http2.Transport
	h2cURL, tURL string
	dials        atomic.Int32
}

func newH2Transports(s *server, certs *tlsCerts, tlsPort int) *h2Transports {
	ts := &h2Transports{
		h2cURL: "http://" + s.addr,
		tURL:   "https://localhost:" + strconv.Itoa(tlsPort),
	}
	ts.h2c = &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			ts.dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		},
	}
	cfg := certs.config("localhost")
	cfg.NextProtos = []string{"h2"}
	ts.tls = &http2.Transport{
		TLSClientConfig: cfg,
		DialTLSContext: func(ctx context.Context, network, _ string, c *tls.Config) (net.Conn, error) {
			ts.dials.Add(1)
			d := tls.Dialer{Config: c}
			conn, err := d.DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(tlsPort))
			if err == nil && conn.(*tls.Conn).ConnectionState().NegotiatedProtocol != "h2" {
				conn.Close()
				return nil, fmt.Errorf("ALPN chose %q", conn.(*tls.Conn).ConnectionState().NegotiatedProtocol)
			}
			return conn, err
		},
	}
	return ts
}

// h2Get does one request and returns the response with its whole body.
func h2Get(t *testing.T, tr *http2.Transport, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	rq, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		rq.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tr.RoundTrip(rq)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, body
}

// randomFile writes n random bytes at rel in the docroot and returns
// them.
func randomFile(t *testing.T, s *server, rel string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(s.root, rel)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHTTP2GoClient: the same handlers and filters as over HTTP/1.1 —
// statuses, a large file byte for byte, single and multipart ranges,
// conditional requests, gzip without chunked framing, HEAD, error pages —
// on many concurrent streams of one connection, over h2c and TLS; the
// access log says HTTP/2.0.
func TestHTTP2GoClient(t *testing.T) {
	var big, small []byte
	text := strings.Repeat("tern speaks HTTP/2 on the event loop. ", 200)
	s, certs, tlsPort := h2Server(t, `
    gzip = true
    max_headers = 20
    error_page = { "404" = "/404.html" }
    location "/proto" { return = "200 $http2 $server_protocol" }`, func(s *server) {
		big = randomFile(t, s, "big.bin", 6<<20+12345)
		small = randomFile(t, s, "small.bin", 1000)
		s.file("text.txt", text)
		s.file("404.html", "not here\n")
	})
	ts := newH2Transports(s, certs, tlsPort)
	for _, tc := range []struct {
		name string
		tr   *http2.Transport
		base string
	}{{"h2c", ts.h2c, ts.h2cURL}, {"tls", ts.tls, ts.tURL}} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.dials.Load()
			var wg sync.WaitGroup
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					var want []byte
					path := "/small.bin"
					if want = small; i%10 == 0 {
						path, want = "/big.bin", big
					}
					resp, body := h2Get(t, tc.tr, "GET", tc.base+path)
					if resp.StatusCode != 200 || resp.ProtoMajor != 2 || sha256.Sum256(body) != sha256.Sum256(want) ||
						resp.ContentLength != int64(len(want)) {
						t.Errorf("GET %s: %d %s, %d bytes (want %d), content-length %d", path, resp.StatusCode, resp.Proto, len(body), len(want), resp.ContentLength)
					}
				}(i)
			}
			wg.Wait()
			if n := ts.dials.Load() - before; n != 1 {
				t.Errorf("%d connections for 40 concurrent requests, want 1", n)
			}

			resp, body := h2Get(t, tc.tr, "GET", tc.base+"/big.bin", "Range", "bytes=1000000-1000099")
			if resp.StatusCode != 206 || !bytes.Equal(body, big[1000000:1000100]) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000000-1000099/%d", len(big)) {
				t.Errorf("range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
			}
			resp, body = h2Get(t, tc.tr, "GET", tc.base+"/small.bin", "Range", "bytes=0-9,-10")
			checkMultipart(t, resp, body, [][]byte{small[:10], small[990:]})

			resp, _ = h2Get(t, tc.tr, "GET", tc.base+"/small.bin")
			resp, body = h2Get(t, tc.tr, "GET", tc.base+"/small.bin", "If-None-Match", resp.Header.Get("ETag"))
			if resp.StatusCode != 304 || len(body) != 0 {
				t.Errorf("If-None-Match: %d, %d bytes", resp.StatusCode, len(body))
			}

			resp, body = h2Get(t, tc.tr, "HEAD", tc.base+"/big.bin")
			if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(big)) {
				t.Errorf("HEAD: %d, %d bytes, content-length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
			}

			resp, body = h2Get(t, tc.tr, "GET", tc.base+"/text.txt", "Accept-Encoding", "gzip")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Transfer-Encoding") != "" {
				t.Errorf("gzip: %d %v", resp.StatusCode, resp.Header)
			} else if zr, err := gzip.NewReader(bytes.NewReader(body)); err != nil {
				t.Errorf("gzip: %v", err)
			} else if plain, err := io.ReadAll(zr); err != nil || string(plain) != text {
				t.Errorf("gzip: %v, %d bytes unzipped", err, len(plain))
			}

			resp, body = h2Get(t, tc.tr, "GET", tc.base+"/proto")
			if want := map[string]string{"h2c": "h2c HTTP/2.0", "tls": "h2 HTTP/2.0"}[tc.name]; resp.StatusCode != 200 || string(body) != want {
				t.Errorf("$http2 $server_protocol: %d %q, want %q", resp.StatusCode, body, want)
			}
			var many []string
			for i := 0; i < 21; i++ {
				many = append(many, "X-Blah-"+strconv.Itoa(i), "v")
			}
			if resp, _ = h2Get(t, tc.tr, "GET", tc.base+"/small.bin", many...); resp.StatusCode != 400 {
				t.Errorf("21 fields past max_headers 20: %d, want 400", resp.StatusCode)
			}

			resp, body = h2Get(t, tc.tr, "GET", tc.base+"/nothing")
			if resp.StatusCode != 404 || string(body) != "not here\n" {
				t.Errorf("404: %d %q", resp.StatusCode, body)
			}
		})
	}
	s.signal(syscall.SIGQUIT)
	s.wait(10 * time.Second)
	log := accessLog(t, s)
	if n := strings.Count(log, `"protocol":"HTTP/2.0"`); n < 2*(40+8) {
		t.Errorf("%d access log entries say HTTP/2.0, want %d:\n%.2000s", n, 2*(40+8), log)
	}
}

// checkMultipart checks a multipart/byteranges response's parts.
func checkMultipart(t *testing.T, resp *http.Response, body []byte, want [][]byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil || mt != "multipart/byteranges" {
		t.Errorf("multipart range: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Errorf("part %d: %v", i, err)
			return
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, w) {
			t.Errorf("part %d: %q, want %q", i, got, w)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more parts than %d: %v", len(want), err)
	}
}

// TestHTTP2LargeFrames: a location with http2_chunk_size 256k, to a
// client that allows 1 MiB frames: over h2c the frames go out with
// sendfile after their headers, over TLS they are read into the batch;
// a file and a range of it arrive byte for byte either way.
func TestHTTP2LargeFrames(t *testing.T) {
	var big []byte
	s, certs, tlsPort := h2Server(t, `
    location "/frames/" { http2_chunk_size = "256k" }`, func(s *server) {
		os.MkdirAll(filepath.Join(s.root, "frames"), 0o755)
		big = randomFile(t, s, "frames/big.bin", 3<<20+777)
	})
	ts := newH2Transports(s, certs, tlsPort)
	ts.h2c.MaxReadFrameSize, ts.tls.MaxReadFrameSize = 1<<20, 1<<20
	for _, tc := range []struct {
		name string
		tr   *http2.Transport
		base string
	}{{"h2c", ts.h2c, ts.h2cURL}, {"tls", ts.tls, ts.tURL}} {
		resp, body := h2Get(t, tc.tr, "GET", tc.base+"/frames/big.bin")
		if resp.StatusCode != 200 || !bytes.Equal(body, big) {
			t.Errorf("%s: %d, %d bytes (want %d)", tc.name, resp.StatusCode, len(body), len(big))
		}
		resp, body = h2Get(t, tc.tr, "GET", tc.base+"/frames/big.bin", "Range", "bytes=100001-2200000")
		if resp.StatusCode != 206 || !bytes.Equal(body, big[100001:2200001]) {
			t.Errorf("%s range: %d, %d bytes", tc.name, resp.StatusCode, len(body))
		}
	}
}

// TestHTTP2Curl: curl --http2 chooses h2 through ALPN, curl
// --http2-prior-knowledge speaks h2c, and HTTP/1.1 goes on working on
// both addresses.
func TestHTTP2Curl(t *testing.T) {
	curl := needTool(t, "curl")
	var big []byte
	s, certs, tlsPort := h2Server(t, "", func(s *server) {
		s.file("f", "hello\n")
		big = randomFile(t, s, "big.bin", 3<<20+7)
	})
	tlsURL := "https://localhost:" + strconv.Itoa(tlsPort)
	resolve := "localhost:" + strconv.Itoa(tlsPort) + ":127.0.0.1"
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"TLS h2", []string{"--http2", "--cacert", certs.path("ca.pem"), "--resolve", resolve, tlsURL + "/f"},
			[]string{"ALPN: server accepted h2", "< HTTP/2 200", "< content-length: 6", "\nhello\n"}},
		{"TLS HTTP/1.1", []string{"--http1.1", "--cacert", certs.path("ca.pem"), "--resolve", resolve, tlsURL + "/f"},
			[]string{"ALPN: server accepted http/1.1", "< HTTP/1.1 200 OK", "\nhello\n"}},
		{"h2c", []string{"--http2-prior-knowledge", "http://" + s.addr + "/f"},
			[]string{"< HTTP/2 200", "\nhello\n"}},
		{"plain HTTP/1.1", []string{"http://" + s.addr + "/f"},
			[]string{"< HTTP/1.1 200 OK", "\nhello\n"}},
		{"h2c 404", []string{"--http2-prior-knowledge", "http://" + s.addr + "/none"},
			[]string{"< HTTP/2 404", "<center><h1>404 Not Found</h1></center>"}},
	} {
		out, code := runTool(t, "", curl, append([]string{"-sS", "-v", "--max-time", "20"}, tt.args...)...)
		for _, w := range tt.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%s: exit %d, want %q in:\n%s", tt.name, code, w, out)
				break
			}
		}
	}
	// A large file and a range, byte for byte, over both.
	dir := t.TempDir()
	for i, args := range [][]string{
		{"--http2", "--cacert", certs.path("ca.pem"), "--resolve", resolve, tlsURL + "/big.bin"},
		{"--http2-prior-knowledge", "http://" + s.addr + "/big.bin"},
	} {
		out := filepath.Join(dir, "whole"+strconv.Itoa(i))
		rng := filepath.Join(dir, "range"+strconv.Itoa(i))
		o, code := runTool(t, "", curl, append([]string{"-sS", "--max-time", "20", "-o", out}, args...)...)
		o2, code2 := runTool(t, "", curl, append([]string{"-sS", "--max-time", "20", "-r", "2000000-2000999", "-o", rng}, args...)...)
		got, _ := os.ReadFile(out)
		gotRange, _ := os.ReadFile(rng)
		if code != 0 || code2 != 0 || !bytes.Equal(got, big) || !bytes.Equal(gotRange, big[2000000:2001000]) {
			t.Errorf("%v: exit %d/%d, %d bytes (want %d), range %d bytes: %s%s", args, code, code2, len(got), len(big), len(gotRange), o, o2)
		}
	}
}

// TestHTTP2Nghttp: nghttp sees tern's SETTINGS, the responses of several
// streams on one connection, and the DATA that ends them.
func TestHTTP2Nghttp(t *testing.T) {
	nghttp := needTool(t, "nghttp")
	s, _, tlsPort := h2Server(t, "", func(s *server) {
		s.file("a", "first\n")
		s.file("b", "second\n")
	})
	for _, base := range []string{"http://" + s.addr, "https://127.0.0.1:" + strconv.Itoa(tlsPort)} {
		out, code := runTool(t, "", nghttp, "-nv", "-t", "20", base+"/a", base+"/b", base+"/none")
		for _, w := range []string{
			"[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128]",
			"recv (stream_id=13) :status: 200", "recv (stream_id=15) :status: 200", "recv (stream_id=17) :status: 404",
			"recv DATA frame <length=6, flags=0x01, stream_id=13>",
			"recv DATA frame <length=7, flags=0x01, stream_id=15>",
			"send GOAWAY frame",
		} {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("nghttp %s: exit %d, want %q in:\n%s", base, code, w, out)
				break
			}
		}
		if strings.Contains(out, "recv GOAWAY") || strings.Count(out, "Connected") != 1 {
			t.Errorf("nghttp %s: one connection, no GOAWAY from tern expected:\n%s", base, out)
		}
	}
}

// TestHTTP2Spec runs h2spec, the conformance suite for RFC 9113 and
// RFC 7541, against tern over h2c and TLS: every case passes.
func TestHTTP2Spec(t *testing.T) {
	h2spec := needTool(t, "h2spec")
	s, _, tlsPort := h2Server(t, "", func(s *server) { s.file("index.html", "hello\n") })
	for _, args := range [][]string{
		{"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-o", "5"},
		{"-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "-t", "-k", "-o", "5"},
	} {
		out, code := runTool(t, "", h2spec, args...)
		i := strings.LastIndex(out, "tests, ")
		if code != 0 || i < 0 || !strings.Contains(out[i:], " 0 failed") {
			t.Errorf("h2spec %v: exit %d:\n%s", args, code, out)
			continue
		}
		t.Logf("h2spec %v: %s", args, strings.TrimSpace(out[strings.LastIndex(out[:i], "\n")+1:]))
	}
}

// TestHTTP2ReloadUnderLoad: two reloads while clients keep several
// streams in flight on h2c and TLS: the old workers send GOAWAY and
// finish the streams they took, the clients go on on new connections,
// and no request fails.
func TestHTTP2ReloadUnderLoad(t *testing.T) {
	var body []byte
	s, certs, tlsPort := h2Server(t, "", func(s *server) { body = randomFile(t, s, "f.bin", 20000) })
	ts := newH2Transports(s, certs, tlsPort)
	stop := make(chan struct{})
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		tr, base := ts.h2c, ts.h2cURL
		if i%2 == 1 {
			tr, base = ts.tls, ts.tURL
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rq, _ := http.NewRequest("GET", base+"/f.bin", nil)
				resp, err := tr.RoundTrip(rq)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || !bytes.Equal(b, body)) {
						err = fmt.Errorf("%d, %d bytes", resp.StatusCode, len(b))
					}
				}
				if err != nil {
					if failed.Add(1) <= 5 {
						t.Errorf("request failed: %v", err)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	old := s.waitWorkers(1, nil, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	s.signal(syscall.SIGHUP)
	mid := s.waitWorkers(1, old, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	s.signal(syscall.SIGHUP)
	s.waitWorkers(1, mid, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	dials := ts.dials.Load()
	t.Logf("%d requests, %d failed, %d connections", ok.Load(), failed.Load(), dials)
	if failed.Load() != 0 || ok.Load() < 50 || dials < 4 {
		elog, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
		t.Errorf("%d requests, %d failed, %d connections (want new ones after each GOAWAY); error log:\n%s",
			ok.Load(), failed.Load(), dials, grepLines(elog, "client"))
	}
}

// h2Raw is a cleartext HTTP/2 connection driven frame by frame, to send
// what no well-behaved client sends.
type h2Raw struct {
	t   *testing.T
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func dialH2(t *testing.T, addr string, settings ...http2.Setting) *h2Raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &h2Raw{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.enc = hpack.NewEncoder(&r.hb)
	io.WriteString(c, http2.ClientPreface)
	r.fr.WriteSettings(settings...)
	return r
}

// block is the HPACK block of a GET of path.
func (r *h2Raw) block(path string, extra ...string) []byte {
	r.hb.Reset()
	fields := append([]string{":method", "GET", ":scheme", "http", ":authority", "localhost", ":path", path}, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(r.hb.Bytes())
}

func (r *h2Raw) get(id uint32, path string) {
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(path), EndHeaders: true, EndStream: true})
}

// goAway reads frames until tern's GOAWAY, and returns its code; ok is
// false when the connection ended, or d passed, without one.
func (r *h2Raw) goAway(d time.Duration) (code http2.ErrCode, ok bool) {
	r.c.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			return 0, false
		}
		if ga, is := f.(*http2.GoAwayFrame); is {
			return ga.ErrCode, true
		}
	}
}

// status sends a GET of / with fields (after the pseudo-header fields,
// which the first pairs may replace) on stream id and returns the
// response's :status, or the RST_STREAM code that ended the stream.
func (r *h2Raw) status(id uint32, fields ...string) string {
	r.t.Helper()
	r.hb.Reset()
	all := map[string]string{":method": "GET", ":scheme": "http", ":path": "/", ":authority": "localhost"}
	order := []string{":method", ":scheme", ":path", ":authority"}
	var extra []string
	for i := 0; i+1 < len(fields); i += 2 {
		if _, ok := all[fields[i]]; ok {
			all[fields[i]] = fields[i+1]
		} else {
			extra = append(extra, fields[i], fields[i+1])
		}
	}
	for _, n := range order {
		if v := all[n]; v != "-" {
			r.enc.WriteField(hpack.HeaderField{Name: n, Value: v})
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: bytes.Clone(r.hb.Bytes()), EndHeaders: true, EndStream: true})
	if r.fr.ReadMetaHeaders == nil {
		r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	}
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			r.t.Fatalf("stream %d: GOAWAY %v", id, f.ErrCode)
		}
	}
}

// TestHTTP2Statuses: requests valid in RFC 9113's terms that HTTP
// refuses get the status they get over HTTP/1.1, as nginx's h2_host.t
// expects; what RFC 9113 calls malformed is a stream error; a Host whose
// server has http2 off gets 421 (nginx's h2_http2.t).
func TestHTTP2Statuses(t *testing.T) {
	s := newServer(t, serversConfig(`
  http2 = true
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["localhost"]
    root        = "{{ROOT}}"
  }
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["disabled"]
    http2       = false
    root        = "{{ROOT}}"
  }`))
	s.file("index.html", "hi\n")
	s.start()
	r := dialH2(t, s.addr)
	for i, tc := range []struct {
		fields []string
		want   string
	}{
		{nil, "200"},
		{[]string{"host", "localhost\x02"}, "400"},
		{[]string{":authority", "localhost\x02"}, "400"},
		{[]string{"x-note", "a\x7fb"}, "400"},
		{[]string{"x-note", "a\x00b"}, "PROTOCOL_ERROR"},
		{[]string{":authority", "-", "host", "localhost"}, "200"},
		// A server without http2 on the connection's address: 421
		// (RFC 9110 §15.5.20), as nginx.
		{[]string{":authority", "disabled"}, "421"},
		{[]string{":authority", "-", "host", "disabled"}, "421"},
		{[]string{":authority", "localhost"}, "200"},
	} {
		if got := r.status(uint32(2*i+1), tc.fields...); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.fields, got, tc.want)
		}
	}
}

// TestHTTP2RequestLength: $request_length over HTTP/2 is the size of the
// header block and the DATA of the body, as nginx counts it (its
// h2_variables.t), not the head re-read as HTTP/1.1 lines.
func TestHTTP2RequestLength(t *testing.T) {
	s := newServer(t, serversConfig(`
  http2 = true
  log_format "rl" {
    format = "$request_uri $request_length"
  }
  server {
    listen     = ["127.0.0.1:{{PORT}}"]
    root       = "{{ROOT}}"
    access_log = "{{DIR}}/logs/rl.log rl"
    location "/rl" { return = "200 $request_length" }
  }`))
	s.file("f", "hello\n")
	s.start()
	r := dialH2(t, s.addr)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	get := r.block("/rl", "user-agent", "tern-test")
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: get, EndHeaders: true, EndStream: true})
	// A GET of /f with a body, its HEADERS and DATA in one write.
	var both bytes.Buffer
	fr := http2.NewFramer(&both, nil)
	post := r.block("/f", "content-length", "11")
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: post, EndHeaders: true})
	fr.WriteData(3, true, []byte("hello world"))
	r.c.Write(both.Bytes())
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var body []byte
	for ended := 0; ended < 2; {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			if d.StreamID == 1 {
				body = append(body, d.Data()...)
			}
			if d.StreamEnded() {
				ended++
			}
		}
	}
	if want := strconv.Itoa(len(get)); string(body) != want {
		t.Errorf("$request_length %q, want %s (the header block)", body, want)
	}
	s.signal(syscall.SIGQUIT)
	s.wait(10 * time.Second)
	b, err := os.ReadFile(filepath.Join(s.dir, "logs", "rl.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("/f %d\n", len(post)+11); !strings.Contains(string(b), want) {
		t.Errorf("access log %q, want a line %q (header block and body)", b, want)
	}
}

// TestHTTP2Floods: each known HTTP/2 abuse ends its connection with
// GOAWAY — rapid reset (CVE-2023-44487), an endless CONTINUATION
// (CVE-2024-27316), an HPACK bomb, SETTINGS, PING and empty DATA floods,
// windows kept shut past send_timeout — while another client is served
// throughout by the same worker, which never restarts.
func TestHTTP2Floods(t *testing.T) {
	var big []byte
	s, certs, tlsPort := h2Server(t, `    send_timeout = "2s"`, func(s *server) {
		s.file("f", "hello\n")
		big = randomFile(t, s, "big.bin", 1<<20)
	})
	_ = big
	ts := newH2Transports(s, certs, tlsPort)
	workers := s.waitWorkers(1, nil, 10*time.Second)
	serves := func(what string) {
		t.Helper()
		resp, body := h2Get(t, ts.tls, "GET", ts.tURL+"/f")
		if resp.StatusCode != 200 || string(body) != "hello\n" {
			t.Errorf("after %s: %d %q", what, resp.StatusCode, body)
		}
	}
	serves("nothing")
	for _, tt := range []struct {
		name  string
		flood func(r *h2Raw)
		wait  time.Duration
	}{
		{"rapid reset", func(r *h2Raw) {
			for i := uint32(0); i < 2000; i++ {
				r.get(2*i+1, "/f")
				r.fr.WriteRSTStream(2*i+1, http2.ErrCodeCancel)
			}
		}, 10 * time.Second},
		{"CONTINUATION flood", func(r *h2Raw) {
			b := r.block("/f", "x-big", strings.Repeat("a", 200000))
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:100]})
			for off := 100; off < len(b); off += 1000 {
				if r.fr.WriteContinuation(1, false, b[off:min(off+1000, len(b))]) != nil {
					return // tern stopped reading: it is done with us
				}
			}
		}, 10 * time.Second},
		{"HPACK bomb", func(r *h2Raw) {
			b := r.block("/f", "x", strings.Repeat("b", 4000))
			for i := 0; i < 2000; i++ {
				b = append(b, 0x80|62) // the 4 KB table entry, again
			}
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b, EndHeaders: true, EndStream: true})
		}, 10 * time.Second},
		{"PING flood", func(r *h2Raw) {
			for i := 0; i < 3000; i++ {
				r.fr.WritePing(false, [8]byte{byte(i)})
			}
		}, 10 * time.Second},
		{"SETTINGS flood", func(r *h2Raw) {
			for i := 0; i < 3000; i++ {
				r.fr.WriteSettings()
			}
		}, 10 * time.Second},
		{"empty DATA flood", func(r *h2Raw) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block("/f", "content-length", "10"), EndHeaders: true})
			for i := 0; i < 3000; i++ {
				r.fr.WriteData(1, false, nil)
			}
		}, 10 * time.Second},
		{"zero window", func(r *h2Raw) {
			r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
			for i := uint32(0); i < 100; i++ {
				r.get(2*i+1, "/big.bin")
			}
		}, 20 * time.Second},
	} {
		start := time.Now()
		r := dialH2(t, s.addr)
		tt.flood(r)
		serves(tt.name)
		if code, ok := r.goAway(tt.wait); !ok || code != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("%s: GOAWAY %v (%v), want ENHANCE_YOUR_CALM", tt.name, code, ok)
		}
		t.Logf("%s: GOAWAY after %v", tt.name, time.Since(start).Round(time.Millisecond))
		serves(tt.name)
	}
	if now := s.workers(); fmt.Sprint(now) != fmt.Sprint(workers) {
		t.Errorf("workers %v, were %v", now, workers)
	}
}
