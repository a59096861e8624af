package filters

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"tern/conf"
)

func TestNotModified(t *testing.T) {
	lm := string(AppendHTTPDate(nil, testMTime))
	earlier := string(AppendHTTPDate(nil, testMTime-1))
	later := string(AppendHTTPDate(nil, testMTime+1))
	const etag = `"2e8b2e01-5"`
	type hdrs struct{ im, ius, inm, ims string }
	cases := []struct {
		h      hdrs
		method Method
		mode   conf.IMSMode
		noTag  bool // the response has no ETag
		noLM   bool // nor Last-Modified
		status int
	}{
		{h: hdrs{}, status: 200},
		// If-Match: strong comparison, "*", lists.
		{h: hdrs{im: etag}, status: 200},
		{h: hdrs{im: `"other"`}, status: 412},
		{h: hdrs{im: `*`}, status: 200},
		{h: hdrs{im: `W/` + etag}, status: 412},
		{h: hdrs{im: `"a", ` + etag}, status: 200},
		{h: hdrs{im: ` , ,"a",` + etag + ` `}, status: 200},
		{h: hdrs{im: `"a" "b"`}, status: 412},
		{h: hdrs{im: `a, ` + etag}, status: 412}, // malformed first element ends the list
		{h: hdrs{im: etag}, noTag: true, status: 412},
		{h: hdrs{im: `*`}, noTag: true, status: 200},
		// If-Unmodified-Since.
		{h: hdrs{ius: lm}, status: 200},
		{h: hdrs{ius: later}, status: 200},
		{h: hdrs{ius: earlier}, status: 412},
		{h: hdrs{ius: "yesterday"}, status: 200}, // not a date: ignored (nginx: 412)
		{h: hdrs{ius: earlier}, noLM: true, status: 200},
		// RFC 9110 §13.2.2 step 1 before 2: If-Match decides alone.
		{h: hdrs{im: etag, ius: earlier}, status: 200},
		{h: hdrs{im: `"other"`, ius: later}, status: 412},
		// If-None-Match: weak comparison.
		{h: hdrs{inm: etag}, status: 304},
		{h: hdrs{inm: `W/` + etag}, status: 304},
		{h: hdrs{inm: `"other"`}, status: 200},
		{h: hdrs{inm: `*`}, status: 304},
		{h: hdrs{inm: `"a",	W/` + etag}, status: 304},
		{h: hdrs{inm: `"a", "b"`}, status: 200},
		{h: hdrs{inm: `2e8b2e01-5`}, status: 200}, // unquoted: no tag
		{h: hdrs{inm: `*`}, noTag: true, status: 304},
		{h: hdrs{inm: etag}, noTag: true, status: 200},
		{h: hdrs{inm: etag}, method: MethodHEAD, status: 304},
		{h: hdrs{inm: etag}, method: MethodPOST, status: 412},
		{h: hdrs{inm: `*`}, method: MethodPUT, status: 412},
		// If-Modified-Since, by if_modified_since mode.
		{h: hdrs{ims: lm}, status: 304},
		{h: hdrs{ims: later}, status: 200},
		{h: hdrs{ims: later}, mode: conf.IMSBefore, status: 304},
		{h: hdrs{ims: lm}, mode: conf.IMSBefore, status: 304},
		{h: hdrs{ims: earlier}, mode: conf.IMSBefore, status: 200},
		{h: hdrs{ims: earlier}, status: 200},
		{h: hdrs{ims: lm}, mode: conf.IMSOff, status: 200},
		{h: hdrs{ims: "Sun, 06 Nov 1994 08:49:37"}, status: 200},
		{h: hdrs{ims: lm}, noLM: true, status: 200},
		{h: hdrs{ims: lm}, method: MethodHEAD, status: 304},
		{h: hdrs{ims: lm}, method: MethodPOST, status: 200},
		// Step 3 before 4: If-None-Match decides alone.
		{h: hdrs{inm: `"other"`, ims: lm}, status: 200},
		{h: hdrs{inm: etag, ims: earlier}, status: 304},
		// 412 before 304.
		{h: hdrs{im: `"other"`, inm: etag}, status: 412},
		{h: hdrs{ius: earlier, ims: lm}, status: 412},
		{h: hdrs{im: etag, inm: etag}, status: 304},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) { s.IfModifiedSince = c.mode }))
		if c.method != 0 {
			tx.Req.Method = c.method
		}
		tx.Req.IfMatch, tx.Req.IfUnmodifiedSince = bytesOrNil(c.h.im), bytesOrNil(c.h.ius)
		tx.Req.IfNoneMatch, tx.Req.IfModifiedSince = bytesOrNil(c.h.inm), bytesOrNil(c.h.ims)
		fileResponse(tx, []byte("hello"), "text/plain")
		if c.noTag {
			tx.Resp.ETag = nil
		}
		if c.noLM {
			tx.Resp.LastModified = 0
		}
		NotModifiedFilter{}.Header(tx)
		if got := tx.Resp.Status; got != c.status {
			t.Errorf("%d: %+v method %d mode %d: status %d, want %d", i, c.h, c.method, c.mode, got, c.status)
		}
	}
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// TestNotModifiedHead checks what a 304 and a 412 carry, serialised.
func TestNotModifiedHead(t *testing.T) {
	cases := []struct {
		inm, im string
		want    string
	}{
		{inm: `"2e8b2e01-5"`, want: "HTTP/1.1 304 Not Modified\r\nServer: tern/" + ServerVersion +
			"\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nLast-Modified: Sat, 05 Nov 1994 08:49:37 GMT\r\n" +
			"Connection: keep-alive\r\nETag: \"2e8b2e01-5\"\r\nExpires: Sun, 06 Nov 1994 09:49:37 GMT\r\n" +
			"Cache-Control: max-age=3600\r\nX-Frame-Options: DENY\r\n\r\n"},
		{im: `"x"`, want: "HTTP/1.1 412 Precondition Failed\r\nServer: tern/" + ServerVersion +
			"\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/html\r\nContent-Length: " +
			strconv.Itoa(len(ErrorPage(412, true))) + "\r\nConnection: keep-alive\r\n\r\n"},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) {
			s.Expires = conf.Expires{Mode: conf.ExpiresAfter, After: time.Hour}
			s.AddHeaders = []conf.Header{{Name: "X-Frame-Options", Value: tpl("DENY")}}
		}))
		tx.Req.IfNoneMatch, tx.Req.IfMatch = bytesOrNil(c.inm), bytesOrNil(c.im)
		fileResponse(tx, []byte("hello"), "text/plain")
		runChain(tx)
		HeaderFilter{}.Header(tx)
		if got := string(tx.Head); got != c.want {
			t.Errorf("%d: head\n%q\nwant\n%q", i, got, c.want)
		}
		if tx.Resp.Status == 304 && !tx.Resp.HeaderOnly {
			t.Errorf("%d: a 304 with a body", i)
		}
		if tx.Resp.Status == 412 && !strings.Contains(string(bodyBytes(t, &tx.Resp.Body)), "412 Precondition Failed") {
			t.Errorf("%d: 412 body %q", i, bodyBytes(t, &tx.Resp.Body))
		}
	}
}
