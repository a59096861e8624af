package filters

import (
	"strconv"
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
		// modified: from Last-Modified (testMTime), max-age from now.
		{conf.Expires{Mode: conf.ExpiresModified, After: 48 * time.Hour}, modifiedPlus(48 * time.Hour), maxAgeFrom(48 * time.Hour)},
		{conf.Expires{Mode: conf.ExpiresModified, After: time.Second}, modifiedPlus(time.Second), "no-cache"},
		// @: the next 15:30:33 local time.
		{conf.Expires{Mode: conf.ExpiresDaily, After: 15*time.Hour + 30*time.Minute + 33*time.Second}, dailyAt(55833), dailyMaxAge(55833)},
		// Variables, parsed per request; what does not parse sends
		// nothing.
		{conf.Expires{Mode: conf.ExpiresAfter, Var: tpl("1h")}, "Sun, 06 Nov 1994 09:49:37 GMT", "max-age=3600"},
		{conf.Expires{Mode: conf.ExpiresAfter, Var: tpl("epoch")}, "Thu, 01 Jan 1970 00:00:01 GMT", "no-cache"},
		{conf.Expires{Mode: conf.ExpiresAfter, Var: tpl("off")}, "", ""},
		{conf.Expires{Mode: conf.ExpiresAfter, Var: tpl("soon")}, "", ""},
		{conf.Expires{Mode: conf.ExpiresModified, Var: tpl("@1h")}, "", ""},
		{conf.Expires{Mode: conf.ExpiresModified, Var: tpl("48h")}, modifiedPlus(48 * time.Hour), maxAgeFrom(48 * time.Hour)},
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

// modifiedPlus is the file's Last-Modified plus d, as an HTTP date.
func modifiedPlus(d time.Duration) string {
	return string(AppendHTTPDate(nil, testMTime+int64(d/time.Second)))
}

// maxAgeFrom is the max-age of an expires modified d.
func maxAgeFrom(d time.Duration) string {
	return "max-age=" + strconv.FormatInt(testMTime+int64(d/time.Second)-testNow.Unix(), 10)
}

// dailyAt is the next local time of day secs after testNow.
func dailyAt(secs int64) string {
	return string(AppendHTTPDate(nil, nextTimeOfDay(testNow.Unix(), secs)))
}

func dailyMaxAge(secs int64) string {
	return "max-age=" + strconv.FormatInt(nextTimeOfDay(testNow.Unix(), secs)-testNow.Unix(), 10)
}

func TestNextTimeOfDay(t *testing.T) {
	loc := time.Local
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, loc)
	tests := []struct {
		now  time.Time
		secs int64
		want time.Time
	}{
		{day.Add(10 * time.Hour), 15 * 3600, day.Add(15 * time.Hour)},
		{day.Add(16 * time.Hour), 15 * 3600, time.Date(2026, 3, 11, 15, 0, 0, 0, loc)},
		{day.Add(15 * time.Hour), 15 * 3600, time.Date(2026, 3, 11, 15, 0, 0, 0, loc)},
	}
	for i, tt := range tests {
		if got := nextTimeOfDay(tt.now.Unix(), tt.secs); got != tt.want.Unix() {
			t.Errorf("%d: %v, want %v", i, time.Unix(got, 0), tt.want)
		}
	}
}

// TestAddHeaderAlways: an "always" header goes on every status, the
// others on nginx's list only.
func TestAddHeaderAlways(t *testing.T) {
	loc := testLoc(func(s *conf.Settings) {
		s.AddHeaders = []conf.Header{{Name: "X-A", Value: tpl("a"), Always: true}, {Name: "X-B", Value: tpl("b")}}
	})
	for _, c := range []struct {
		status int
		want   string
	}{{200, "X-A: a|X-B: b"}, {404, "X-A: a"}, {500, "X-A: a"}} {
		tx := newTxn(loc)
		tx.Resp.Status = c.status
		HeadersFilter{}.Header(tx)
		var got []string
		for _, h := range tx.Resp.Headers {
			got = append(got, h.Name+": "+string(h.Value))
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("%d: %q, want %q", c.status, got, c.want)
		}
	}
}

// TestAddHeaderStatuses checks that add_header and expires apply to
// nginx's list of statuses and no other.
func TestAddHeaderStatuses(t *testing.T) {
	loc := testLoc(func(s *conf.Settings) {
		s.Expires = conf.Expires{Mode: conf.ExpiresMax}
		s.AddHeaders = []conf.Header{{Name: "X-A", Value: tpl("1")}, {Name: "X-B", Value: tpl("two words")}}
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
		tx := newTxn(testLoc(func(s *conf.Settings) { s.AddHeaders = []conf.Header{{Name: c.name, Value: tpl(c.value)}} }))
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
		hs = append(hs, conf.Header{Name: "X-" + string(rune('A'+i)), Value: tpl("v")})
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
