package filters

import (
	"strings"
	"testing"
	"time"

	"tern/conf"
)

func TestExpires(t *testing.T) {
	cases := []struct {
		exp     conf.Expires
		expires string // "" for none
		cc      string
	}{
		{conf.Expires{Mode: conf.ExpiresOff}, "", ""},
		{conf.Expires{Mode: conf.ExpiresEpoch}, "Thu, 01 Jan 1970 00:00:01 GMT", "no-cache"},
		{conf.Expires{Mode: conf.ExpiresMax}, "Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000"},
		{conf.Expires{Mode: conf.ExpiresAfter, After: time.Hour}, "Sun, 06 Nov 1994 09:49:37 GMT", "max-age=3600"},
		{conf.Expires{Mode: conf.ExpiresAfter, After: 30 * 24 * time.Hour}, "Tue, 06 Dec 1994 08:49:37 GMT", "max-age=2592000"},
		{conf.Expires{Mode: conf.ExpiresAfter}, "Sun, 06 Nov 1994 08:49:37 GMT", "max-age=0"},
		{conf.Expires{Mode: conf.ExpiresAfter, After: 500 * time.Millisecond}, "Sun, 06 Nov 1994 08:49:37 GMT", "max-age=0"},
		{conf.Expires{Mode: conf.ExpiresAfter, After: -time.Hour}, "Sun, 06 Nov 1994 07:49:37 GMT", "no-cache"},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) { s.Expires = c.exp }))
		fileResponse(tx, []byte("hello"), "text/plain")
		HeadersFilter{}.Header(tx)
		e, hasE := header(&tx.Resp, "Expires")
		cc, hasCC := header(&tx.Resp, "Cache-Control")
		if c.expires == "" {
			if hasE || hasCC {
				t.Errorf("%d: Expires %q Cache-Control %q, want none", i, e, cc)
			}
			continue
		}
		if e != c.expires || cc != c.cc {
			t.Errorf("%d: Expires %q Cache-Control %q, want %q %q", i, e, cc, c.expires, c.cc)
		}
	}
}

// TestAddHeaderStatuses checks that add_header and expires apply to
// nginx's list of statuses and no other.
func TestAddHeaderStatuses(t *testing.T) {
	loc := testLoc(func(s *conf.Settings) {
		s.Expires = conf.Expires{Mode: conf.ExpiresMax}
		s.AddHeaders = []conf.Header{{Name: "X-A", Value: "1"}, {Name: "X-B", Value: "two words"}}
	})
	for code := 100; code < 600; code++ {
		if StatusText[code] == "" {
			continue
		}
		tx := newTxn(loc)
		tx.Resp.Status = code
		HeadersFilter{}.Header(tx)
		var got []string
		for _, h := range tx.Resp.Headers {
			got = append(got, h.Name+": "+string(h.Value))
		}
		want := ""
		switch code {
		case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
			want = "Expires: Thu, 31 Dec 2037 23:55:55 GMT|Cache-Control: max-age=315360000|X-A: 1|X-B: two words"
		}
		if strings.Join(got, "|") != want {
			t.Errorf("%d: headers %q, want %q", code, got, want)
		}
	}
}

// TestAddHeaderSpecial checks nginx's special add_header names and the
// empty value, which adds nothing.
func TestAddHeaderSpecial(t *testing.T) {
	cases := []struct {
		name, value string
		etag, lm    string // the response's after the filter
		lmSec       int64
		extra       string // the extra header added, "" for none
	}{
		{"X-Empty", "", `"2e8b2e01-5"`, "", testMTime, ""},
		{"etag", `"mine"`, `"mine"`, "", testMTime, ""},
		{"ETag", "", "", "", testMTime, ""},
		{"Last-Modified", "Thu, 01 Jan 2004 00:00:00 GMT", `"2e8b2e01-5"`, "Thu, 01 Jan 2004 00:00:00 GMT", 1072915200, ""},
		{"Last-Modified", "", `"2e8b2e01-5"`, "", 0, ""},
		{"Last-Modified", "soon", `"2e8b2e01-5"`, "", 0, "Last-Modified: soon"},
	}
	for i, c := range cases {
		tx := newTxn(testLoc(func(s *conf.Settings) { s.AddHeaders = []conf.Header{{Name: c.name, Value: c.value}} }))
		fileResponse(tx, []byte("hello"), "text/plain")
		HeadersFilter{}.Header(tx)
		r := &tx.Resp
		extra := ""
		if len(r.Headers) > 0 {
			extra = r.Headers[0].Name + ": " + string(r.Headers[0].Value)
		}
		if string(r.ETag) != c.etag || string(r.LastModifiedText) != c.lm || r.LastModified != c.lmSec || extra != c.extra {
			t.Errorf("%d: ETag %q Last-Modified %q (%d) extra %q; want %q %q (%d) %q",
				i, r.ETag, r.LastModifiedText, r.LastModified, extra, c.etag, c.lm, c.lmSec, c.extra)
		}
	}
}

// TestManyHeaders checks that a long add_header list stops allocating
// once the Txn's header slice has grown.
func TestManyHeaders(t *testing.T) {
	var hs []conf.Header
	for i := range 20 {
		hs = append(hs, conf.Header{Name: "X-" + string(rune('A'+i)), Value: "v"})
	}
	loc := testLoc(func(s *conf.Settings) {
		s.AddHeaders = hs
		s.Expires = conf.Expires{Mode: conf.ExpiresAfter, After: time.Hour}
	})
	tx := newTxn(loc)
	run := func() {
		tx.Reset()
		tx.Loc = loc
		tx.Resp.Status = 200
		HeadersFilter{}.Header(tx)
	}
	run()
	if n := len(tx.Resp.Headers); n != 22 {
		t.Fatalf("%d headers", n)
	}
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%v allocations per response", n)
	}
}
