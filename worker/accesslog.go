package worker

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"tern/conf"
	"tern/filters"
)

// accessLog writes one line per finished request, in the JSON of
// docs/reference.md#access_log_format
// (through zerolog, which encodes without allocating) or nginx's combined
// format, into a LogWriter.
type accessLog struct {
	out   *LogWriter
	zl    zerolog.Logger
	pid   int
	buf   []byte // scratch for the combined line and field values
	val   []byte // scratch for one variable of a log_format
	clock *logClock
}

func newAccessLog(out *LogWriter, pid int, clock *logClock) *accessLog {
	return &accessLog{out: out, zl: zerolog.New(out), pid: pid, buf: make([]byte, 0, 512), clock: clock}
}

// logClock holds the worker's local time as $time_iso8601 and
// $time_local, formatted once a second.
type logClock struct {
	sec      int64
	isoB     []byte // 2026-11-23T06:55:00+00:00 ($time_iso8601)
	localB   []byte // 23/Nov/2026:06:55:00 +0000 ($time_local)
	isoBuf   [32]byte
	localBuf [32]byte
}

func (c *logClock) tick(now time.Time) {
	if s := now.Unix(); s != c.sec || c.isoB == nil {
		c.sec = s
		c.isoB = now.AppendFormat(c.isoBuf[:0], "2006-01-02T15:04:05-07:00")
		c.localB = now.AppendFormat(c.localBuf[:0], "02/Jan/2006:15:04:05 -0700")
	}
}

// iso returns now as $time_iso8601.
func (c *logClock) iso(now time.Time) []byte {
	c.tick(now)
	return c.isoB
}

// local returns now as $time_local.
func (c *logClock) local(now time.Time) []byte {
	c.tick(now)
	return c.localB
}

// entry is what one access-log line says.
type entry struct {
	peer     netip.AddrPort
	rq       *request
	connID   uint64
	requests uint32
	now      time.Time
	elapsed  time.Duration
	format   *conf.LogFormat
	// tls is what the handshake agreed, on a TLS connection (by value:
	// a pointer would leak to the heap with rq).
	tls    tlsInfo
	hasTLS bool
}

// tlsInfo is what the access log says of a TLS connection: nginx's
// $ssl_protocol, $ssl_cipher and $ssl_alpn_protocol.
type tlsInfo struct {
	version, cipher uint16
	alpn            string
}

func (a *accessLog) write(e *entry) {
	a.clock.tick(e.now)
	switch e.format {
	case conf.FormatJSON, nil:
		a.writeJSON(e)
	case conf.FormatCombined:
		a.writeCombined(e)
	default:
		a.writeFormat(e.format, e.rq)
	}
}

// writeFormat writes a log_format line: its text as written, each
// variable's value escaped as the format says; a variable the request
// does not have (a header, argument or cookie it did not send) is "-",
// as nginx.
func (a *accessLog) writeFormat(f *conf.LogFormat, rq *request) {
	b := a.buf[:0]
	for i := 0; i < f.Line.Len(); i++ {
		lit, v := f.Line.Part(i)
		if v == nil {
			b = append(b, lit...)
			continue
		}
		a.val = rq.AppendVar(a.val[:0], v)
		if len(a.val) == 0 && dashWhenEmpty(v.Kind) && f.Escape != conf.EscapeJSON {
			b = append(b, '-')
			continue
		}
		switch f.Escape {
		case conf.EscapeDefault:
			b = appendLogValue(b, a.val)
		case conf.EscapeJSON:
			b = appendJSONEscaped(b, a.val)
		default:
			b = append(b, a.val...)
		}
	}
	b = append(b, '\n')
	a.buf = b[:0]
	a.out.Write(b)
}

// dashWhenEmpty lists the variables nginx reports as not found, logged
// as "-", when the request has no value for them.
func dashWhenEmpty(k conf.VarKind) bool {
	switch k {
	case conf.VarArg, conf.VarHTTP, conf.VarCookie, conf.VarSentHTTP, conf.VarRemoteUser,
		conf.VarArgs, conf.VarContentType, conf.VarContentLength, conf.VarUser:
		return true
	}
	return false
}

func (a *accessLog) writeJSON(e *entry) {
	rq := e.rq
	r := &rq.Req
	addr := e.peer.Addr().AppendTo(a.buf[:0])
	ms := e.elapsed.Milliseconds()
	rt := strconv.AppendInt(addr[len(addr):], ms/1000, 10)
	rt = append(rt, '.')
	rt = append(rt, byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
	ev := a.zl.Log().
		Bytes("time", a.clock.isoB).
		Bytes("remote_addr", addr).
		Bytes("method", r.MethodName).
		Bytes("uri", r.Target).
		Str("protocol", protocol(r.Version)).
		Int("status", rq.Resp.Status).
		Int64("bytes_sent", rq.Sent).
		Int64("body_bytes_sent", rq.BodySent()).
		RawJSON("request_time", rt).
		Bytes("host", rq.lowerHost()).
		Bytes("referer", r.Referer).
		Bytes("user_agent", r.UserAgent).
		Int("pid", a.pid).
		Uint64("connection", e.connID).
		Uint32("connection_requests", e.requests)
	if t := &e.tls; e.hasTLS {
		ev = ev.Str("tls_protocol", conf.VersionName(t.version)).
			Str("tls_cipher", conf.CipherName(t.cipher)).
			Str("alpn", t.alpn)
	}
	ev.Msg("")
}

// writeCombined writes nginx's combined format (with $remote_user the
// user of Basic credentials, whether or not they were checked, as nginx):
// $remote_addr - $remote_user [$time_local] "$request" $status
// $body_bytes_sent "$http_referer" "$http_user_agent"
func (a *accessLog) writeCombined(e *entry) {
	rq := e.rq
	r := &rq.Req
	b := e.peer.Addr().AppendTo(a.buf[:0])
	b = append(b, " - "...)
	if user, _, ok := rq.credentials(); ok {
		b = appendLogValue(b, user) // $remote_user
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	b = append(b, a.clock.localB...)
	b = append(b, "] \""...)
	if len(r.MethodName) > 0 {
		b = appendLogValue(b, r.MethodName)
		b = append(b, ' ')
		b = appendLogValue(b, r.Target)
		b = append(b, ' ')
		b = append(b, protocol(r.Version)...)
	}
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(rq.Resp.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rq.BodySent(), 10)
	b = append(b, " \""...)
	b = appendLogValue(b, orDash(r.Referer))
	b = append(b, "\" \""...)
	b = appendLogValue(b, orDash(r.UserAgent))
	b = append(b, "\"\n"...)
	a.buf = b[:0]
	a.out.Write(b)
}

var dash = []byte("-")

func orDash(v []byte) []byte {
	if len(v) == 0 {
		return dash
	}
	return v
}

// appendLogValue escapes '"', '\' and bytes outside printable ASCII as
// \xHH, as nginx's log escaping, so a client cannot forge log lines.
func appendLogValue(b, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func protocol(v filters.Version) string {
	switch v {
	case filters.HTTP10:
		return "HTTP/1.0"
	case filters.HTTP11:
		return "HTTP/1.1"
	case filters.HTTP20:
		return "HTTP/2.0"
	}
	return ""
}
