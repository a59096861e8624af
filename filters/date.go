package filters

import "time"

// HTTP dates (RFC 9110 §5.6.7) are parsed and formatted here by hand: a
// conditional request parses one or two per response, and the time
// package's Parse allocates and tries layouts in turn.

const (
	secondsPerDay = 86400
	// imfLen is the length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
	imfLen = len(httpDate)
	// asctimeLen is the length of "Sun Nov  6 08:49:37 1994".
	asctimeLen = 24
	// rfc850Tail is the length of "06-Nov-94 08:49:37 GMT", what
	// follows the day name and ", " of an RFC 850 date.
	rfc850Tail = 22
)

var (
	dayNames   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays   = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// AppendHTTPDate appends sec (seconds since the epoch) as an IMF-fixdate.
func AppendHTTPDate(b []byte, sec int64) []byte {
	days := floorDiv(sec, secondsPerDay)
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.Unix(sec, 0).UTC().AppendFormat(b, httpDate)
	}
	rem := sec - days*secondsPerDay
	b = append(b, dayNames[(days%7+11)%7]...) // 1970-01-01 was a Thursday
	b = append(b, ", "...)
	b = append2(b, d)
	b = append(b, ' ')
	b = append(b, monthNames[m-1]...)
	b = append(b, ' ')
	b = append2(b, int(y/100))
	b = append2(b, int(y%100))
	b = append(b, ' ')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	return append(b, " GMT"...)
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// ParseHTTPDate parses an HTTP date in any of the three forms RFC 9110
// §5.6.7 says a recipient must accept: IMF-fixdate, and the obsolete
// RFC 850 and asctime forms. Names are case-sensitive, as the grammar
// says; ok is false for anything else, including a day of the month the
// month does not have. The day name is checked for form only.
func ParseHTTPDate(b []byte) (sec int64, ok bool) {
	switch {
	case len(b) == imfLen && b[3] == ',':
		return parseIMF(b)
	case len(b) == asctimeLen && b[3] == ' ':
		return parseAsctime(b)
	}
	return parseRFC850(b)
}

// parseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMF(b []byte) (int64, bool) {
	if !isName(b[0:3], dayNames[:]) || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || string(b[25:]) != " GMT" {
		return 0, false
	}
	d, ok1 := digits(b[5:7])
	y, ok2 := digits(b[12:16])
	if !ok1 || !ok2 {
		return 0, false
	}
	return dateTime(int64(y), b[8:11], d, b[17:25])
}

// parseAsctime parses "Sun Nov  6 08:49:37 1994" (the day may also be
// two digits).
func parseAsctime(b []byte) (int64, bool) {
	if !isName(b[0:3], dayNames[:]) || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
		return 0, false
	}
	day := b[8:10]
	if day[0] == ' ' {
		day = day[1:]
	}
	d, ok1 := digits(day)
	y, ok2 := digits(b[20:24])
	if !ok1 || !ok2 {
		return 0, false
	}
	return dateTime(int64(y), b[4:7], d, b[11:19])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT". Its two-digit
// year is the one RFC 9110 §5.6.7 prescribes: not more than 50 years in
// the future.
func parseRFC850(b []byte) (int64, bool) {
	i := len(b) - rfc850Tail - 2
	if i < 6 || b[i] != ',' || b[i+1] != ' ' || !isName(b[:i], longDays[:]) {
		return 0, false
	}
	t := b[i+2:]
	if t[2] != '-' || t[6] != '-' || t[9] != ' ' || string(t[18:]) != " GMT" {
		return 0, false
	}
	d, ok1 := digits(t[0:2])
	yy, ok2 := digits(t[7:9])
	if !ok1 || !ok2 {
		return 0, false
	}
	now := time.Now().UTC().Year()
	y := now - now%100 + yy
	if y > now+50 {
		y -= 100
	}
	return dateTime(int64(y), t[3:6], d, t[10:18])
}

// dateTime checks and combines a date's parts; clock is "08:49:37".
func dateTime(y int64, month []byte, d int, clock []byte) (int64, bool) {
	m := 0
	for i := range monthNames {
		if string(month) == monthNames[i] {
			m = i + 1
			break
		}
	}
	if m == 0 || d < 1 || d > daysIn(y, m) || clock[2] != ':' || clock[5] != ':' {
		return 0, false
	}
	hh, ok1 := digits(clock[0:2])
	mm, ok2 := digits(clock[3:5])
	ss, ok3 := digits(clock[6:8])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	return days(y, m, d)*secondsPerDay + int64(hh*3600+mm*60+ss), true
}

func isName(b []byte, names []string) bool {
	for _, n := range names {
		if string(b) == n {
			return true
		}
	}
	return false
}

// digits parses 1 to 4 decimal digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func daysIn(y int64, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// days counts the days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (Howard Hinnant's days_from_civil).
func days(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of days.
func civil(z int64) (y int64, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int((mp+2)%12) + 1
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
