package conf

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		err  string // substring of the error; "" when valid
	}{
		{in: "0", want: 0},
		{in: "75", want: 75 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "75s", want: 75 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "2h", want: 2 * time.Hour},
		{in: "30d", want: 30 * day},
		{in: "1w", want: 7 * day},
		{in: "1M", want: 30 * day},
		{in: "1y", want: 365 * day},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1h 30m", want: 90 * time.Minute},
		{in: "1d2h3m4s5ms", want: day + 2*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond},
		{in: "1h30", want: time.Hour + 30*time.Second},
		{in: "1y1M1w1d", want: 365*day + 30*day + 7*day + day},
		{in: "-1h", want: -time.Hour},
		{in: "-0", want: 0},
		{in: "007s", want: 7 * time.Second},
		{in: "", err: "empty"},
		{in: "-", err: "empty"},
		{in: "s", err: "number"},
		{in: "1x", err: `unknown unit "x"`},
		{in: "1.5s", err: `unknown unit "."`},
		{in: "1S", err: `unknown unit "S"`},
		{in: "30m1h", err: "largest to the smallest"},
		{in: "1m1m", err: "largest to the smallest"},
		{in: "1ms1s", err: "largest to the smallest"},
		{in: "30s5", err: "bare number"},
		{in: "1h ", want: time.Hour},
		{in: " 1h", err: "number"},
		{in: "--1h", err: "number"},
		{in: "1h-30m", err: "number"},
		{in: "300y", err: "too large"},
		{in: "9223372036854775807s", err: "too large"},
		{in: "99999999999999999999", err: "too large"},
		{in: "292y6M", err: "too large"},
	}
	for i, tt := range tests {
		got, err := ParseDuration(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%d: ParseDuration(%q): %v", i, tt.in, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("%d: ParseDuration(%q) = %v, want %v", i, tt.in, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%d: ParseDuration(%q) = %v, %v; want an error with %q", i, tt.in, got, err, tt.err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1500ms"},
		{75 * time.Second, "75s"},
		{60 * time.Second, "1m"},
		{90 * time.Minute, "90m"},
		{2 * time.Hour, "2h"},
		{30 * 24 * time.Hour, "30d"},
		{-time.Hour, "-1h"},
		{time.Millisecond + time.Microsecond, "1ms"},
	}
	for i, tt := range tests {
		got := FormatDuration(tt.in)
		if got != tt.want {
			t.Errorf("%d: FormatDuration(%v) = %q, want %q", i, tt.in, got, tt.want)
		}
		if tt.in%time.Millisecond != 0 {
			continue
		}
		if back, err := ParseDuration(got); err != nil || back != tt.in {
			t.Errorf("%d: ParseDuration(%q) = %v, %v; want %v", i, got, back, err, tt.in)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "8k", want: 8 << 10},
		{in: "8K", want: 8 << 10},
		{in: "1m", want: 1 << 20},
		{in: "1M", want: 1 << 20},
		{in: "2g", want: 2 << 30},
		{in: "2G", want: 2 << 30},
		{in: "", err: "empty"},
		{in: "k", err: "number"},
		{in: "-1", err: "number"},
		{in: "1.5m", err: `unknown unit ".5m"`},
		{in: "1kb", err: `unknown unit "kb"`},
		{in: "1t", err: `unknown unit "t"`},
		{in: "1 k", err: `unknown unit " k"`},
		{in: "9000000000g", err: "too large"},
		{in: "99999999999999999999", err: "too large"},
	}
	for i, tt := range tests {
		got, err := ParseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%d: ParseSize(%q) = %d, %v; want %d", i, tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%d: ParseSize(%q) = %d, %v; want an error with %q", i, tt.in, got, err, tt.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"}, {20, "20"}, {1000, "1000"}, {1024, "1k"}, {1536, "1536"},
		{2 << 20, "2m"}, {3 << 30, "3g"}, {1<<30 + 1<<20, "1025m"},
	}
	for i, tt := range tests {
		if got := FormatSize(tt.in); got != tt.want {
			t.Errorf("%d: FormatSize(%d) = %q, want %q", i, tt.in, got, tt.want)
		}
		if back, err := ParseSize(FormatSize(tt.in)); err != nil || back != tt.in {
			t.Errorf("%d: round trip of %d gave %d, %v", i, tt.in, back, err)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		text string // FormatCPUList of the result
		err  string
	}{
		{in: "0", want: []int{0}, text: "0"},
		{in: "1", want: []int{1}, text: "1"},
		{in: "0-3", want: []int{0, 1, 2, 3}, text: "0-3"},
		{in: "0,2", want: []int{0, 2}, text: "0,2"},
		{in: "0-3,8-11", want: []int{0, 1, 2, 3, 8, 9, 10, 11}, text: "0-3,8-11"},
		{in: "3,1,2, 1", want: []int{1, 2, 3}, text: "1-3"},
		{in: "1023", want: []int{1023}, text: "1023"},
		{in: "", err: "empty"},
		{in: "1024", err: "beyond"},
		{in: "3-1", err: "backwards"},
		{in: "a", err: "not a CPU number"},
		{in: "0,", err: "not a CPU number"},
		{in: "0-", err: "not a CPU number"},
		{in: "-1", err: "not a CPU number"},
		{in: "0101", err: "bitmasks are not accepted"},
		{in: "0-03", err: "leading zero"},
	}
	for i, tt := range tests {
		got, err := ParseCPUList(tt.in)
		switch {
		case tt.err == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("%d: ParseCPUList(%q) = %v, %v; want %v", i, tt.in, got, err, tt.want)
		case tt.err == "" && FormatCPUList(got) != tt.text:
			t.Errorf("%d: FormatCPUList(%v) = %q, want %q", i, got, FormatCPUList(got), tt.text)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%d: ParseCPUList(%q) = %v, %v; want an error with %q", i, tt.in, got, err, tt.err)
		}
	}
}

// FuzzParseDuration checks that the parser never panics and that what it
// accepts survives a FormatDuration round trip.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"75s", "1h30m", "500ms", "-1h", "1y1M1w1d1h1m1s1ms", "30", "1h 30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		text := FormatDuration(d)
		back, err := ParseDuration(text)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; FormatDuration = %q; parsed back %v, %v", s, d, text, back, err)
		}
	})
}

// FuzzParseSize checks that the parser never panics and that what it
// accepts survives a FormatSize round trip.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512", "8k", "1M", "2g", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d < 0", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d; round trip gave %d, %v", s, n, back, err)
		}
	})
}
