package conf

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationUnits are nginx's time units (ngx_parse_time), largest first. A
// duration names each unit at most once and in this order, as nginx
// requires: "1h30m" is valid, "30m1h" and "1m1m" are not. "M" is a month
// of 30 days and "y" a year of 365 days, as in nginx.
var durationUnits = [...]struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour},
	{"M", 30 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
}

// secondsUnit is the index of "s" in durationUnits: a bare trailing number
// counts in seconds and must follow a larger unit, if any.
const secondsUnit = 6

var (
	errEmpty    = errors.New("empty value")
	errNoDigits = errors.New("a number is expected")
	errTooLarge = errors.New("value too large")
)

// ParseDuration parses an nginx time value: a number followed by a unit
// (ms, s, m, h, d, w, M, y), several such pairs from the largest unit to
// the smallest ("1h30m", spaces between pairs allowed), or a bare number of
// seconds ("75", or "1h30" = 1h30s as nginx). A leading "-" makes the
// duration negative; callers that need a non-negative value check it.
// Fractions are refused, as nginx does.
func ParseDuration(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" {
		return 0, errEmpty
	}
	var total time.Duration
	next := 0 // the largest unit still allowed
	for s != "" {
		n, rest, err := leadingInt(s)
		if err != nil {
			return 0, err
		}
		var unit time.Duration
		if rest == "" {
			if next > secondsUnit {
				return 0, errors.New("a bare number of seconds cannot follow seconds or milliseconds")
			}
			unit, s = time.Second, ""
		} else {
			i, width := matchUnit(rest)
			if i < 0 {
				return 0, fmt.Errorf("unknown unit %q (use ms, s, m, h, d, w, M or y)", unitText(rest))
			}
			if i < next {
				return 0, errors.New("units must go from the largest to the smallest, each at most once")
			}
			next, unit = i+1, durationUnits[i].d
			s = strings.TrimLeft(rest[width:], " ")
		}
		if n > uint64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, errTooLarge
		}
		total += time.Duration(n) * unit
	}
	if neg {
		total = -total
	}
	return total, nil
}

// matchUnit returns the index in durationUnits of the unit s starts with
// and its length, or -1. "ms" is tried before "m".
func matchUnit(s string) (int, int) {
	if strings.HasPrefix(s, "ms") {
		return len(durationUnits) - 1, 2
	}
	for i, u := range durationUnits[:len(durationUnits)-1] {
		if s[0] == u.name[0] {
			return i, 1
		}
	}
	return -1, 0
}

// unitText is the unit-like run at the start of s, for error messages.
func unitText(s string) string {
	end := 0
	for end < len(s) && s[end] != ' ' && (s[end] < '0' || s[end] > '9') {
		end++
	}
	if end == 0 {
		end = 1
	}
	return s[:end]
}

// leadingInt consumes the decimal digits at the start of s.
func leadingInt(s string) (uint64, string, error) {
	var n uint64
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if n > (math.MaxInt64-9)/10 {
			return 0, "", errTooLarge
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if i == 0 {
		return 0, "", errNoDigits
	}
	return n, s[i:], nil
}

// formatUnits are the units FormatDuration writes. Months and years are
// left out: "30d" reads better than "1M" and means the same.
var formatUnits = [...]struct {
	name string
	d    time.Duration
}{
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
	{"ms", time.Millisecond},
}

// FormatDuration writes d in the largest nginx unit that divides it
// exactly ("75s", "90m", "30d", "-1h", "500ms"); ParseDuration reads it
// back to the same value. A remainder below a millisecond, which no
// configuration can produce, is dropped.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	for _, u := range formatUnits {
		if d%u.d == 0 {
			return sign + strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return sign + strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// ParseSize parses an nginx size: a number of bytes, optionally followed
// by k, m or g (either case) for KiB, MiB or GiB, as ngx_parse_offset.
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, errEmpty
	}
	n, rest, err := leadingInt(s)
	if err != nil {
		return 0, err
	}
	var scale uint64 = 1
	switch strings.ToLower(rest) {
	case "":
	case "k":
		scale = 1 << 10
	case "m":
		scale = 1 << 20
	case "g":
		scale = 1 << 30
	default:
		return 0, fmt.Errorf("unknown unit %q (use k, m or g)", rest)
	}
	if n > math.MaxInt64/scale {
		return 0, errTooLarge
	}
	return int64(n * scale), nil
}

// FormatSize writes n with the largest of g, m and k that divides it
// exactly, else as a plain number of bytes.
func FormatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "g"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "m"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

// maxCPU is the largest CPU number a CPU list may name: the kernel's
// CPU_SETSIZE (1024) minus one, the size of the mask sched_setaffinity
// takes from Go's unix.CPUSet.
const maxCPU = 1023

// ParseCPUList parses a Linux CPU list as in /sys and taskset -c:
// comma-separated CPU numbers and inclusive ranges, e.g. "0", "0-3",
// "0,2", "0-3,8-11". The result is sorted without duplicates.
//
// nginx writes worker_cpu_affinity as bitmasks ("0101"); tern does not
// accept them, because "10" would read as CPU 10 in one syntax and CPU 1 in
// the other. A number with a leading zero, as a padded mask has, is
// refused so that a mask copied from nginx is not misread.
func ParseCPUList(s string) ([]int, error) {
	if s == "" {
		return nil, errEmpty
	}
	var set [maxCPU + 1]bool
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, err := cpuRange(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		for c := lo; c <= hi; c++ {
			set[c] = true
		}
	}
	var cpus []int
	for c, on := range set {
		if on {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// cpuRange parses "N" or "N-M" of a CPU list.
func cpuRange(item string) (int, int, error) {
	a, b, isRange := strings.Cut(item, "-")
	lo, err := cpuNumber(a)
	if err != nil || !isRange {
		return lo, lo, err
	}
	hi, err := cpuNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("CPU range %q runs backwards", item)
	}
	return lo, hi, nil
}

func cpuNumber(s string) (int, error) {
	n, rest, err := leadingInt(s)
	if err != nil || rest != "" {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	if len(s) > 1 && s[0] == '0' {
		// Most likely an nginx bitmask such as "0101"; read as a list
		// it would pin to CPU 101.
		return 0, fmt.Errorf("%q has a leading zero: nginx bitmasks are not accepted, write CPU lists such as \"0,2\"", s)
	}
	if n > maxCPU {
		return 0, fmt.Errorf("CPU %d is beyond the largest, %d", n, maxCPU)
	}
	return int(n), nil
}

// FormatCPUList writes a sorted CPU list in the syntax ParseCPUList
// reads, folding runs into ranges: [0 1 2 3 8] → "0-3,8".
func FormatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
