package main

// The HTTP/2 phases, with h2load (Debian's nghttp2-client): tern, nginx
// and lighttpd (1.4.56 and later speak HTTP/2) with HTTP/2 on, each with
// a cleartext listener (h2c, prior knowledge) and a TLS one (ALPN h2),
// one worker pinned to the server CPU, h2load pinned to the load CPU.
//
//	h2-hot    1 KiB requests over h2c, -h2-c connections of -h2-m
//	          concurrent streams each (h2load -c 10 -m 100 -D):
//	          requests/s, p50 and p99 from h2load's per-request log, and
//	          the server's CPU per request (schedstat)
//	h2-64k    the same with a 64 KiB file
//	h2-large  a cached -large file, one stream at a time on each of 4
//	          connections (h2load -c 4 -m 1 -D), over h2c and over TLS:
//	          MiB/s, and the server's CPU seconds per GiB sent
//	h2-idle   memory per idle h2c connection that served one stream,
//	          -idle connections (Pss of the worker)
//
// Every server's keepalive_requests is raised: tern and nginx end an
// HTTP/2 connection with GOAWAY after 1000 streams by default, and
// h2load counts the streams a GOAWAY refused as failures.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Server is a server under measurement with its TLS port beside the
// cleartext one (server.port).
type h2Server struct {
	*server
	tlsPort int
}

func (s *h2Server) h2URL(tls bool, path string) string {
	if tls {
		return fmt.Sprintf("https://127.0.0.1:%d%s", s.tlsPort, path)
	}
	return s.url(path)
}

// h2Phase reports whether any HTTP/2 phase is asked for.
func h2Phase(o *options) bool {
	return o.phases["h2-hot"] || o.phases["h2-64k"] || o.phases["h2-large"] || o.phases["h2-idle"]
}

// h2Phases runs the HTTP/2 phases the options name.
func h2Phases(o *options, root string) error {
	if _, err := exec.LookPath("h2load"); err != nil {
		fmt.Println("HTTP/2 phases skipped: h2load is not installed (apt-get install nghttp2-client)")
		return nil
	}
	certDir := benchCerts(o)
	servers, err := startH2Servers(o, root, certDir)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	plain := make([]*server, len(servers))
	for i, s := range servers {
		plain[i] = s.server
	}
	byName := map[string]*h2Server{}
	for _, s := range servers {
		byName[s.name] = s
	}
	streams := fmt.Sprintf("%d connections × %d streams", o.h2Conns, o.h2Streams)
	// h2load keeps at most what a server allows in flight on a
	// connection: say so where a server allows fewer than -h2-m.
	for _, s := range servers {
		if n, err := h2MaxStreams(fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil && n < uint32(o.h2Streams) {
			fmt.Printf("note: %s allows %d concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS): h2-hot and h2-64k keep %d in flight on each of its connections, not %d\n", s.name, n, n, o.h2Streams)
		}
	}
	// A second of load first, unmeasured: the first server's first run
	// otherwise pays for every server's start.
	for _, s := range servers {
		exec.Command("h2load", "-t1", "-c"+strconv.Itoa(o.h2Conns), "-m"+strconv.Itoa(o.h2Streams), "-D", "1", s.h2URL(false, "/1k.txt")).Run()
	}
	for _, ph := range []struct{ phase, path, what string }{
		{"h2-hot", "/1k.txt", "1 KiB"},
		{"h2-64k", "/64k.bin", "64 KiB"},
	} {
		if !o.phases[ph.phase] {
			continue
		}
		p50, p99, cpu := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
		med, err := serverRounds(o, plain, func(s *server) (float64, error) {
			w := s.workers()[0]
			before := cpuSeconds(w)
			r, err := runH2load(o, byName[s.name].h2URL(false, ph.path), o.h2Conns, o.h2Streams)
			used := cpuSeconds(w) - before
			p50[s.name] = append(p50[s.name], float64(r.p50))
			p99[s.name] = append(p99[s.name], float64(r.p99))
			if r.rps > 0 {
				cpu[s.name] = append(cpu[s.name], used*1e6/(r.rps*r.elapsed.Seconds()))
			}
			return r.rps, err
		})
		if err != nil {
			return err
		}
		showRatios(fmt.Sprintf("%s: %s requests/s over h2c, %s", ph.phase, ph.what, streams), "requests/s", plain, med, false)
		fmt.Printf("%-16s %10s %10s\n", ph.phase+" latency", "p50", "p99")
		for _, s := range plain {
			fmt.Printf("%-16s %10s %10s\n", s.name, round(time.Duration(medianOf(p50[s.name]))), round(time.Duration(medianOf(p99[s.name]))))
		}
		fmt.Println()
		showRatios(ph.phase+": the server's CPU per request (lower is better)", "CPU µs", plain, mediansOf(cpu), true)
	}
	if o.phases["h2-large"] {
		for _, tls := range []bool{false, true} {
			proto := map[bool]string{false: "h2c", true: "TLS h2"}[tls]
			cpu := map[string][]float64{}
			med, err := serverRounds(o, plain, func(s *server) (float64, error) {
				w := s.workers()[0]
				before := cpuSeconds(w)
				r, err := runH2load(o, byName[s.name].h2URL(tls, "/large.bin"), 4, 1)
				used := cpuSeconds(w) - before
				if r.mbs > 0 {
					cpu[s.name] = append(cpu[s.name], used/(r.mbs*r.elapsed.Seconds()/1024))
				}
				return r.mbs, err
			})
			if err != nil {
				return err
			}
			showRatios(fmt.Sprintf("h2-large: a cached %d MiB file over %s, 4 connections, one stream each", o.largeSize>>20, proto), "MiB/s", plain, med, false)
			showRatios("h2-large over "+proto+": the server's CPU per GiB sent (lower is better)", "CPU s/GiB", plain, mediansOf(cpu), true)
		}
	}
	if o.phases["h2-idle"] {
		h2IdlePhase(o, servers)
	}
	return nil
}

// h2IdlePhase opens o.idle h2c connections, one stream each, and
// reports each worker's Pss growth per connection.
func h2IdlePhase(o *options, servers []*h2Server) {
	fmt.Printf("== h2-idle: memory per idle h2c connection after one stream, %d connections\n", o.idle)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/1k.txt"}, {":authority", "localhost"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	var first bytes.Buffer // what each connection sends: one GET
	first.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&first, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	for _, s := range servers {
		measureIdle(o, s.server, time.Second, func() (io.Closer, error) {
			return h2OneStream(fmt.Sprintf("127.0.0.1:%d", s.port), first.Bytes())
		})
	}
	fmt.Println()
}

// h2OneStream opens an h2c connection, sends first (the preface,
// SETTINGS and a GET on stream 1), and reads frames until the stream ends.
func h2OneStream(addr string, first []byte) (net.Conn, error) {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(first); err != nil {
		c.Close()
		return nil, err
	}
	fr := http2.NewFramer(io.Discard, c)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			c.Close()
			return nil, err
		}
		if f.Header().StreamID == 1 && f.Header().Flags.Has(http2.FlagDataEndStream) {
			c.SetDeadline(time.Time{})
			return c, nil
		}
	}
}

// h2MaxStreams returns the SETTINGS_MAX_CONCURRENT_STREAMS of the h2c
// server at addr, from its first SETTINGS frame; math.MaxUint32 when it
// sets none (no limit, RFC 9113 §6.5.2).
func h2MaxStreams(addr string) (uint32, error) {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fr := http2.NewFramer(c, c)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, err
	}
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); ok {
				return v, nil
			}
			return math.MaxUint32, nil
		}
	}
}

// h2Result is one h2load run.
type h2Result struct {
	rps, mbs float64
	elapsed  time.Duration
	p50, p99 time.Duration
}

var (
	h2FinishedRE = regexp.MustCompile(`finished in ([\d.]+)(ms|s), ([\d.]+) req/s`)
	h2TrafficRE  = regexp.MustCompile(`traffic: \S+ \((\d+)\) total`)
	h2RequestsRE = regexp.MustCompile(`requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed`)
)

// runH2load runs h2load for o.duration with
// conns connections of streams concurrent streams each against url. A
// run in which any stream failed is an error: a GOAWAY or a refused
// stream would be measured as if served.
func runH2load(o *options, url string, conns, streams int) (h2Result, error) {
	log := filepath.Join(o.dir, "h2load.log")
	os.Remove(log) // h2load appends
	out, err := exec.Command("h2load", "-t1", "-c"+strconv.Itoa(conns), "-m"+strconv.Itoa(streams),
		"-D", strconv.Itoa(max(1, int(o.duration.Seconds()))), "--log-file", log, url).CombinedOutput()
	if err != nil {
		return h2Result{}, fmt.Errorf("h2load %s: %v: %s", url, err, out)
	}
	var r h2Result
	// A large file may take longer than the run: no stream done, the
	// traffic counts.
	m := h2RequestsRE.FindSubmatch(out)
	if m == nil || string(m[3]) != "0" {
		return r, fmt.Errorf("h2load %s: streams failed: %s", url, out)
	}
	if m := h2FinishedRE.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second}[string(m[2])]
		r.elapsed = time.Duration(v * float64(unit))
		r.rps, _ = strconv.ParseFloat(string(m[3]), 64)
	}
	if m := h2TrafficRE.FindSubmatch(out); m != nil && r.elapsed > 0 {
		bytes, _ := strconv.ParseFloat(string(m[1]), 64)
		r.mbs = bytes / (1 << 20) / r.elapsed.Seconds()
	}
	if r.mbs == 0 {
		return r, fmt.Errorf("no result from h2load: %s", out)
	}
	r.p50, r.p99 = h2Latencies(log)
	return r, nil
}

// h2Latencies reads h2load's per-request log (start, status, duration in
// microseconds) and returns its p50 and p99.
func h2Latencies(path string) (p50, p99 time.Duration) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var d []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		if us, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
			d = append(d, us)
		}
	}
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return time.Duration(d[int(q*float64(len(d)-1))]) * time.Microsecond }
	return at(0.50), at(0.99)
}

// startH2Servers starts tern, nginx and lighttpd (those installed) with
// HTTP/2 on a cleartext and a TLS listener.
func startH2Servers(o *options, root, certDir string) ([]*h2Server, error) {
	var out []*h2Server
	t, err := startH2Tern(o, root, certDir)
	if err != nil {
		return out, err
	}
	out = append(out, t)
	if _, err := os.Stat(o.nginx); err == nil {
		n, err := startH2Nginx(o, root, certDir)
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
	if _, err := os.Stat(o.lighttpd); err == nil {
		l, err := startH2Lighttpd(o, root, certDir)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

func startH2Tern(o *options, root, certDir string) (*h2Server, error) {
	s := &h2Server{server: &server{name: "tern", port: freePort()}, tlsPort: freePort()}
	server := fmt.Sprintf(`
    listen              = ["127.0.0.1:%d", "127.0.0.1:%d ssl"]
    root                = "%s"
    ssl_certificate     = "%s/cert.pem"
    ssl_certificate_key = "%s/key.pem"`, s.port, s.tlsPort, root, certDir, certDir)
	return s, runTern(o, s.server, o.tern, filepath.Join(o.dir, "tern-h2"), "  http2              = true", server)
}

// startH2Nginx starts nginx tuned as for the other phases, with http2 on
// both listeners (`listen … http2`, which nginx 1.25 still takes).
func startH2Nginx(o *options, root, certDir string) (*h2Server, error) {
	s := &h2Server{server: &server{name: "nginx", port: freePort()}, tlsPort: freePort()}
	server := fmt.Sprintf(`
    listen 127.0.0.1:%d http2;
    listen 127.0.0.1:%d ssl http2;
    root %s;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;`, s.port, s.tlsPort, root, certDir, certDir)
	return s, runNginx(o, s.server, filepath.Join(o.dir, "nginx-h2"), "", server)
}

// startH2Lighttpd starts lighttpd, whose HTTP/2 is on by default since
// 1.4.59, with mod_openssl on the TLS port.
func startH2Lighttpd(o *options, root, certDir string) (*h2Server, error) {
	s := &h2Server{server: &server{name: "lighttpd", port: freePort()}, tlsPort: freePort()}
	d := filepath.Join(o.dir, "lighttpd-h2")
	os.MkdirAll(d, 0o755)
	cfg := fmt.Sprintf(`
server.document-root           = "%s"
server.bind                    = "127.0.0.1"
server.port                    = %d
server.errorlog                = "%s/error.log"
server.modules                += ("mod_openssl")
server.feature-flags          += ("server.h2proto" => "enable", "server.h2c" => "enable")
server.network-backend         = "sendfile"
server.max-fds                 = %d
server.max-connections         = %d
server.max-keep-alive-requests = 1000000000
server.max-keep-alive-idle     = 75
$SERVER["socket"] == "127.0.0.1:%d" {
  ssl.engine  = "enable"
  ssl.pemfile = "%s/cert.pem"
  ssl.privkey = "%s/key.pem"
}
`, root, s.port, d, 2*(o.idle+2048), o.idle+1024, s.tlsPort, certDir, certDir)
	p := filepath.Join(d, "lighttpd.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	s.cmd = exec.Command("taskset", "-c", strconv.Itoa(o.serverCPU), o.lighttpd, "-D", "-f", p)
	return s, startAndWait(s.server)
}
