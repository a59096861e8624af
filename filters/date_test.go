package filters

import (
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	const nov6 = 784111777 // Sun, 06 Nov 1994 08:49:37 GMT
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", nov6, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", nov6, true},
		{"Sun Nov  6 08:49:37 1994", nov6, true},
		{"Sun Nov 06 08:49:37 1994", nov6, true},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"Thu, 01 Jan 1970 00:00:01 GMT", 1, true},
		{"Wed, 31 Dec 1969 23:59:59 GMT", -1, true},
		{"Thu, 31 Dec 2037 23:55:55 GMT", 2145916555, true},
		{"Tue, 29 Feb 2000 12:00:00 GMT", 951825600, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799, true},
		// The day name is checked for form only, as Go's time.Parse.
		{"Mon, 06 Nov 1994 08:49:37 GMT", nov6, true},
		{"Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 6 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 8:49:37 GMT ", 0, false},
		{"Sun, 06 Nov 1994 24:00:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 23:60:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 23:59:60 GMT", 0, false},
		{"Sun, 31 Nov 1994 08:49:37 GMT", 0, false},
		{"Mon, 29 Feb 1900 08:49:37 GMT", 0, false},
		{"Sun, 00 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 19x4 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT;", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", 0, false},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", 0, false},
		{"Sun, 06-Nov-94 08:49:37 GMT", 0, false},
		{"Sun Nov  6 08:49:37 94", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"Sunday, 06-Nov-94 08:49:37 GMT\x00", 0, false},
	}
	for i, c := range cases {
		got, ok := ParseHTTPDate([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("%d: ParseHTTPDate(%q) = %d, %v; want %d, %v", i, c.in, got, ok, c.want, c.ok)
		}
		if !c.ok {
			continue
		}
		// Agree with the time package, which reads every form.
		for _, layout := range []string{httpDate, time.RFC850, time.ANSIC} {
			if tt, err := time.Parse(layout, c.in); err == nil && tt.Unix() != got {
				t.Errorf("%d: %q: time.Parse says %d", i, c.in, tt.Unix())
			}
		}
	}
}

// TestRFC850Year checks RFC 9110 §5.6.7's rule for two-digit years: no
// more than 50 years in the future.
func TestRFC850Year(t *testing.T) {
	year := time.Now().UTC().Year()
	for i, d := range []int{-49, -1, 0, 1, 49, 50, 51} {
		y := year + d
		want := y
		if d > 50 {
			want -= 100
		}
		in := time.Date(y, 3, 1, 0, 0, 0, 0, time.UTC).Format("Monday, 02-Jan-06 15:04:05 GMT")
		got, ok := ParseHTTPDate([]byte(in))
		if !ok || time.Unix(got, 0).UTC().Year() != want {
			t.Errorf("%d: %q: %v %v, want year %d", i, in, time.Unix(got, 0).UTC(), ok, want)
		}
	}
}

func TestAppendHTTPDate(t *testing.T) {
	for i, sec := range []int64{0, 1, -1, 784111777, 951825600, 2145916555, 253402300799, 253402300800, -62135596800, -62135596801, 1 << 40} {
		want := time.Unix(sec, 0).UTC().Format(httpDate)
		if got := string(AppendHTTPDate(nil, sec)); got != want {
			t.Errorf("%d: AppendHTTPDate(%d) = %q, want %q", i, sec, got, want)
		}
	}
	// Every day for a few centuries round-trips.
	for sec := int64(-200 * 365 * secondsPerDay); sec < 300*365*secondsPerDay; sec += secondsPerDay + 3601 {
		b := AppendHTTPDate(nil, sec)
		if got, ok := ParseHTTPDate(b); !ok || got != sec {
			t.Fatalf("%d: %q parses as %d, %v", sec, b, got, ok)
		}
	}
}

func TestDateAllocs(t *testing.T) {
	in := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		ParseHTTPDate(in)
		buf = AppendHTTPDate(buf[:0], 784111777)
	})
	if n != 0 {
		t.Fatalf("%v allocations per parse and format", n)
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Tue, 29 Feb 2000 12:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 0000 00:00:00 GMT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, ok := ParseHTTPDate([]byte(s))
		if !ok {
			return
		}
		// What parses is a real date: formatted and parsed again, it
		// is the same second (the day name may differ from the input).
		if len(s) == imfLen && s[3] == ',' {
			b := AppendHTTPDate(nil, sec)
			if string(b[5:]) != s[5:] {
				t.Fatalf("%q parsed as %d, which formats as %q", s, sec, b)
			}
		}
		if back, ok := ParseHTTPDate(AppendHTTPDate(nil, sec)); !ok || back != sec {
			t.Fatalf("%q: %d does not round-trip (%d, %v)", s, sec, back, ok)
		}
	})
}

func BenchmarkParseHTTPDate(b *testing.B) {
	in := []byte("Sun, 06 Nov 1994 08:49:37 GMT")
	b.ReportAllocs()
	for b.Loop() {
		ParseHTTPDate(in)
	}
}
