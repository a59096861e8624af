package filters

import (
	"time"

	"tern/threadpool"
)

// ServerVersion is tern's version, sent in Server and on error pages when
// server_tokens is on. A var so that a build can stamp it:
// go build -ldflags "-X tern/filters.ServerVersion=1.2.3".
var ServerVersion = "0.1.0"

// httpDate is RFC 9110 §5.6.7's IMF-fixdate layout.
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// Env is the state a worker's filters share: the cached clock strings and
// the worker's counters. It belongs to the worker's loop goroutine.
type Env struct {
	// Now is the loop's wall clock in seconds.
	Now int64
	// Date is Now as an IMF-fixdate, refreshed once a second.
	Date []byte
	// Stats counts what the write filter does.
	Stats Stats
	// Pools are the worker's thread pools by name (aio = "threads").
	Pools map[string]*threadpool.Pool

	dateBuf [len(httpDate)]byte
}

// Stats are a worker's write-filter counters.
type Stats struct {
	// InlineSends counts file sends (sendfile, or pread+write with
	// sendfile off) made on the loop's thread.
	InlineSends uint64
	// OffloadedSends counts file sends made on a pool thread.
	OffloadedSends uint64
}

// Tick refreshes the cached clock strings when the second changes.
func (e *Env) Tick(now time.Time) {
	s := now.Unix()
	if s == e.Now && e.Date != nil {
		return
	}
	e.Now = s
	e.Date = now.UTC().AppendFormat(e.dateBuf[:0], httpDate)
}

// AppendHTTPDate appends sec (seconds since the epoch) as an IMF-fixdate.
func AppendHTTPDate(b []byte, sec int64) []byte {
	return time.Unix(sec, 0).UTC().AppendFormat(b, httpDate)
}

// ParseHTTPDate parses an HTTP date in any of the three forms RFC 9110
// §5.6.7 says a recipient must accept. ok is false for anything else.
func ParseHTTPDate(b []byte) (sec int64, ok bool) {
	for _, layout := range dateLayouts {
		if len(b) < len(layout)-4 || len(b) > len(layout)+4 {
			continue
		}
		if t, err := time.Parse(layout, string(b)); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

var dateLayouts = [...]string{
	httpDate,                         // IMF-fixdate
	"Monday, 02-Jan-06 15:04:05 GMT", // obsolete RFC 850
	"Mon Jan _2 15:04:05 2006",       // obsolete asctime
}
