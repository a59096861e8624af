package filters

import (
	"testing"
	"time"

	"tern/conf"
)

// TestHeaderBytes checks serialised heads byte for byte, in nginx's
// order.
func TestHeaderBytes(t *testing.T) {
	const pre = "Server: tern/0.1.0\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	cases := []struct {
		set  func(*Txn)
		want string
	}{
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.ContentLength, r.LastModified = 200, "text/plain", 5, testMTime
			r.ETag, r.AcceptRanges = []byte(`"x"`), true
		}, "HTTP/1.1 200 OK\r\n" + pre + "Content-Type: text/plain\r\nContent-Length: 5\r\n" +
			"Last-Modified: Sat, 05 Nov 1994 08:49:37 GMT\r\nConnection: keep-alive\r\nETag: \"x\"\r\nAccept-Ranges: bytes\r\n\r\n"},
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.Charset, r.ContentLength, r.LastModified = 206, "text/html", "utf-8", 9, testMTime
			r.LastModifiedText = []byte("Sat, 05 Nov 1994 08:49:37 GMT")
			r.ETag, r.ContentRange, r.KeepAlive = []byte(`"x"`), []byte("bytes 0-8/1000"), false
			r.AddHeader("Expires", []byte("Thu, 01 Jan 1970 00:00:01 GMT"))
			r.AddHeader("X-A", []byte("1"))
		}, "HTTP/1.1 206 Partial Content\r\n" + pre + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n" +
			"Last-Modified: Sat, 05 Nov 1994 08:49:37 GMT\r\nConnection: close\r\nETag: \"x\"\r\n" +
			"Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nX-A: 1\r\nContent-Range: bytes 0-8/1000\r\n\r\n"},
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.ContentLength, r.Chunked, r.Vary = 200, "text/html", -1, true, true
			r.ContentEncoding, r.ETag = "gzip", []byte(`W/"x"`)
		}, "HTTP/1.1 200 OK\r\n" + pre + "Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n" +
			"Connection: keep-alive\r\nVary: Accept-Encoding\r\nETag: W/\"x\"\r\nContent-Encoding: gzip\r\n\r\n"},
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.ContentLength, r.LastModified = 304, "text/html", 5, testMTime
			r.ETag = []byte(`"x"`)
		}, "HTTP/1.1 304 Not Modified\r\n" + pre + "Last-Modified: Sat, 05 Nov 1994 08:49:37 GMT\r\n" +
			"Connection: keep-alive\r\nETag: \"x\"\r\n\r\n"},
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.ContentLength, r.LastModified = 416, "text/html", 10, testMTime
			r.ContentRange = []byte("bytes */1000")
		}, "HTTP/1.1 416 Requested Range Not Satisfiable\r\n" + pre + "Content-Type: text/html\r\nContent-Length: 10\r\n" +
			"Connection: keep-alive\r\nContent-Range: bytes */1000\r\n\r\n"},
		{func(t *Txn) {
			r := &t.Resp
			r.Status, r.ContentType, r.Charset, r.ContentLength = 206, "text/plain", "utf-8", 300
			r.ContentTypeBytes = []byte("multipart/byteranges; boundary=00000000000000000001")
		}, "HTTP/1.1 206 Partial Content\r\n" + pre + "Content-Type: multipart/byteranges; boundary=00000000000000000001\r\n" +
			"Content-Length: 300\r\nConnection: keep-alive\r\n\r\n"},
		{func(t *Txn) {
			t.Send100 = true
			t.Loc.ServerTokens = false
			r := &t.Resp
			r.Status, r.ContentLength, r.Allow = 405, 0, "GET, HEAD"
		}, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 405 Not Allowed\r\nServer: tern\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n" +
			"Content-Length: 0\r\nConnection: keep-alive\r\nAllow: GET, HEAD\r\n\r\n"},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(nil))
		c.set(tx)
		HeaderFilter{}.Header(tx)
		if string(tx.Head) != c.want || tx.HeadLen != len(c.want) {
			t.Errorf("%d: head\n%q\nwant\n%q", i, tx.Head, c.want)
		}
	}
}

// TestConditionalAllocs: a 304 through the whole chain up to the
// serialised head allocates nothing, nor does a 200 that is not one.
func TestConditionalAllocs(t *testing.T) {
	loc := testLoc(func(s *conf.Settings) {
		s.Expires = conf.Expires{Mode: conf.ExpiresAfter, After: time.Hour}
		s.AddHeaders = []conf.Header{{Name: "X-A", Value: tpl("1")}}
	})
	tx := newTxn(loc)
	env := tx.Env
	f := &File{FD: 5, Size: 1 << 20, MTime: testMTime}
	etag := []byte(`"2e8b2e01-100000"`)
	inm := []byte(`"a", W/"2e8b2e01-100000"`)
	ims := []byte("Sat, 05 Nov 1994 08:49:37 GMT")
	for i, c := range []struct {
		inm, ims []byte
		status   int
	}{{inm, nil, 304}, {nil, ims, 304}, {[]byte(`"b"`), ims, 200}} {
		run := func() {
			tx.Reset()
			tx.Loc, tx.Env = loc, env
			tx.Req.Method, tx.Req.Version = MethodGET, HTTP11
			tx.Req.IfNoneMatch, tx.Req.IfModifiedSince = c.inm, c.ims
			r := &tx.Resp
			r.Status, r.ContentLength, r.AcceptRanges, r.ETag, r.LastModified = 200, f.Size, true, etag, f.MTime
			r.ContentType = "text/plain"
			r.Body.AddFile(f, 0, f.Size)
			runChain(tx)
			HeaderFilter{}.Header(tx)
		}
		run()
		if tx.Resp.Status != c.status {
			t.Fatalf("%d: status %d", i, tx.Resp.Status)
		}
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%d: %v allocations per response", i, n)
		}
	}
}

// FuzzConditional evaluates any If-None-Match / If-Match value against a
// strong and a weak ETag, and any date: never panics, and the
// comparisons keep their defining properties.
func FuzzConditional(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, `*`, `"a", "b"`, ` ,"x",W/"a" ,`, `"a`, `W/`, `"a" "b"`, `"\x7f"`} {
		f.Add(s, "Sun, 06 Nov 1994 08:49:37 GMT")
	}
	f.Fuzz(func(t *testing.T, list, date string) {
		l := []byte(list)
		strong, weak := []byte(`"a"`), []byte(`W/"a"`)
		if matchList(l, weak, strongMatch) && !containsStar(l) {
			t.Fatalf("%q matches a weak tag strongly", list)
		}
		if matchList(l, strong, strongMatch) && !matchList(l, strong, weakMatch) {
			t.Fatalf("%q: strong match without weak match", list)
		}
		if matchList(l, strong, weakMatch) != matchList(l, weak, weakMatch) {
			t.Fatalf("%q: weak comparison sees W/", list)
		}
		for tag, rest := scanETag(l); tag != nil; tag, rest = scanETag(trimLeftOWS(rest)) {
			if len(tag) < 2 || tag[len(tag)-1] != '"' || len(rest) > len(l) {
				t.Fatalf("scanETag(%q) = %q", l, tag)
			}
			l = trimLeftOWS(rest)
			if len(l) > 0 && l[0] == ',' {
				l = l[1:]
			}
		}
		if sec, ok := ParseHTTPDate([]byte(date)); ok {
			lm := sec
			if lm == 0 {
				lm = 1
			}
			if checkIfModifiedSince(AppendHTTPDate(nil, lm), lm, conf.IMSExact) != condFalse {
				t.Fatalf("%d is modified since itself", lm)
			}
			if checkIfUnmodifiedSince([]byte(date), lm) == condFalse && lm <= sec {
				t.Fatalf("%q: %d is not unmodified since", date, lm)
			}
		}
	})
}

func containsStar(l []byte) bool {
	for _, c := range l {
		if c == '*' {
			return true
		}
	}
	return false
}
