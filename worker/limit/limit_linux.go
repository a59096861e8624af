//go:build linux

// Package limit is nginx's limit_req and limit_conn over the zones the
// master shares with every worker (event.Table): the leaky bucket of
// ngx_http_limit_req_module, with its accounting across several zones
// and its eviction of the least recently used keys, and the requests in
// progress per key of ngx_http_limit_conn_module. The worker computes the
// keys; this package only counts.
package limit

import (
	"time"

	"tern/conf"
	"tern/event"
)

// Zone is a zone's table as a worker uses it.
type Zone struct {
	Conf *conf.LimitZone
	t    *event.Table
}

// NewZone wraps the table the master made for z.
func NewZone(z *conf.LimitZone, t *event.Table) *Zone { return &Zone{Conf: z, t: t} }

// Table is the zone's shared table.
func (z *Zone) Table() *event.Table { return z.t }

// The words of a limit_req entry, as nginx's ngx_http_limit_req_node_t:
// excess is in thousandths of a request (the bucket's level), last the
// time of the last accounted request in milliseconds, count how many
// requests hold the entry between their lookup and their accounting (so
// that it is not evicted under them).
const (
	wExcess = 0
	wLast   = 1
	wCount  = 2
	// wConns is a limit_conn entry's requests in progress.
	wConns = 0
)

// expireAfter is how long an entry must have been idle, with an empty
// bucket, before a lookup may evict it (nginx's 60 s).
const expireAfter = 60000

// Status is $limit_req_status.
type Status int8

const (
	// None: no limit_req applies.
	None Status = iota
	Passed
	Delayed
	Rejected
	DelayedDryRun
	RejectedDryRun
)

var statusNames = [...]string{None: "", Passed: "PASSED", Delayed: "DELAYED", Rejected: "REJECTED",
	DelayedDryRun: "DELAYED_DRY_RUN", RejectedDryRun: "REJECTED_DRY_RUN"}

// String is the value of $limit_req_status.
func (s Status) String() string { return statusNames[s] }

// MaxLimits bounds the limit_req (and limit_conn) of one location that a
// request applies; nginx has no bound, no configuration needs more.
const MaxLimits = 8

// Outcome is what the limit_req of a request decided.
type Outcome struct {
	// Status is PASSED, DELAYED or REJECTED.
	Status Status
	// Delay is how long a DELAYED request waits.
	Delay time.Duration
	// Excess is the bucket level that decided, in thousandths of a
	// request, for the log.
	Excess int64
	// Zone is the zone that decided.
	Zone *conf.LimitZone
	// Full is set when a zone had no room for a new key (the request is
	// REJECTED, nginx's "could not allocate node").
	Full bool
}

// lookup result codes, as nginx's.
const (
	rcOK       = iota // accounted
	rcAgain           // reserved (count++), to be accounted
	rcBusy            // over the burst
	rcError           // no room for the key
	rcDeclined        // no key
)

// Req applies limits to a request whose key for limits[i] is keys[i]
// (empty: that limit does not apply), at now (milliseconds on a clock
// every worker shares): nginx's ngx_http_limit_req_handler. zones[i] is
// limits[i].Zone's table.
func Req(limits []conf.LimitReq, zones []*Zone, keys [][]byte, now int64) Outcome {
	var reserved [MaxLimits]int32
	for i := range reserved {
		reserved[i] = -1
	}
	n := min(len(limits), MaxLimits)
	rc := rcDeclined
	var excess int64
	i := 0
	for ; i < n; i++ {
		if len(keys[i]) == 0 {
			continue
		}
		z := zones[i]
		z.t.Lock()
		var e int32
		rc, e, excess = z.lookup(&limits[i], keys[i], now, i == n-1)
		z.t.Unlock()
		if rc == rcAgain {
			reserved[i] = e
			continue
		}
		break
	}
	if rc == rcDeclined {
		return Outcome{Status: None}
	}
	if rc == rcBusy || rc == rcError {
		unreserve(zones, reserved[:min(i, n)])
		return Outcome{Status: Rejected, Excess: excess, Zone: limits[min(i, n-1)].Zone, Full: rc == rcError}
	}
	if rc == rcAgain {
		// Every key was reserved, none accounted (the last limit had
		// no key): nginx accounts from an excess of 0.
		excess = 0
		i = n - 1
	}
	decider := min(i, n-1)
	delay := account(limits, zones, reserved[:n], now, &excess, &decider)
	if delay == 0 {
		return Outcome{Status: Passed, Zone: limits[decider].Zone}
	}
	return Outcome{Status: Delayed, Delay: time.Duration(delay) * time.Millisecond, Excess: excess, Zone: limits[decider].Zone}
}

// lookup is ngx_http_limit_req_lookup: find or add key, leak the bucket
// since the last request, and either account this request (the last
// limit) or reserve the entry for account.
func (z *Zone) lookup(l *conf.LimitReq, key []byte, now int64, last bool) (rc int, e int32, excess int64) {
	t := z.t
	rate := z.Conf.Rate
	if e, ok := t.Get(key); ok {
		w := t.Words(e)
		ms := elapsed(now, int64(w[wLast]))
		excess = max(int64(w[wExcess])-rate*ms/1000+1000, 0)
		if excess > l.Burst {
			return rcBusy, e, excess
		}
		if last {
			w[wExcess] = uint64(excess)
			if ms != 0 {
				w[wLast] = uint64(now)
			}
			return rcOK, e, excess
		}
		w[wCount]++
		return rcAgain, e, excess
	}
	z.expire(now, false)
	e, ok := t.Put(key)
	if !ok {
		z.expire(now, true)
		if e, ok = t.Put(key); !ok {
			return rcError, -1, 0
		}
	}
	w := t.Words(e)
	if last {
		w[wLast] = uint64(now)
		return rcOK, e, 0
	}
	// nginx's last = 0 for a reserved new entry: its first accounting
	// sees a bucket that leaked for ever, empty.
	w[wCount] = 1
	return rcAgain, e, 0
}

// elapsed is the milliseconds since last, as nginx: a clock that went
// back a little counts as no time, one that went back a lot as 1 ms.
func elapsed(now, last int64) int64 {
	ms := now - last
	switch {
	case ms < -60000:
		return 1
	case ms < 0:
		return 0
	case ms > maxElapsed:
		return maxElapsed
	}
	return ms
}

// maxElapsed caps an idle time so that rate × ms cannot overflow; any
// bucket is empty after it.
const maxElapsed = 1 << 30

// expire is ngx_http_limit_req_expire: from the least recently used
// end, drop up to two entries that no request holds, idle for a minute
// with an empty bucket; force also drops the oldest unheld one whatever
// its state, to make room.
func (z *Zone) expire(now int64, force bool) {
	t := z.t
	n := 1
	if force {
		n = 0
	}
	for ; n < 3; n++ {
		e, ok := t.Oldest()
		if !ok {
			return
		}
		w := t.Words(e)
		if w[wCount] != 0 {
			return // entries are bumped on lookup: the rest are newer
		}
		if n != 0 {
			ms := now - int64(w[wLast])
			if ms < 0 {
				ms = -ms
			}
			ms = min(ms, maxElapsed)
			if ms < expireAfter || int64(w[wExcess])-z.Conf.Rate*ms/1000 > 0 {
				return
			}
		}
		t.Remove(e)
	}
}

// unreserve releases entries reserved before a refusal
// (ngx_http_limit_req_unlock).
func unreserve(zones []*Zone, reserved []int32) {
	for i, e := range reserved {
		if e < 0 {
			continue
		}
		t := zones[i].t
		t.Lock()
		t.Words(e)[wCount]--
		t.Unlock()
	}
}

// account is ngx_http_limit_req_account: the request counts in every
// zone that reserved it; the delay is the longest any limit asks for.
// excess and decider come in as the last limit's and go out as those of
// the limit with the longest delay.
func account(limits []conf.LimitReq, zones []*Zone, reserved []int32, now int64, excess *int64, decider *int) int64 {
	l := &limits[*decider]
	var maxDelay int64
	if *excess > l.Delay {
		maxDelay = (*excess - l.Delay) * 1000 / l.Zone.Rate
	}
	for i := len(reserved) - 1; i >= 0; i-- {
		e := reserved[i]
		if e < 0 {
			continue
		}
		z := zones[i]
		t := z.t
		t.Lock()
		w := t.Words(e)
		ms := elapsed(now, int64(w[wLast]))
		ex := max(int64(w[wExcess])-z.Conf.Rate*ms/1000+1000, 0)
		if ms != 0 {
			w[wLast] = uint64(now)
		}
		w[wExcess] = uint64(ex)
		w[wCount]--
		t.Unlock()
		if ex <= limits[i].Delay {
			continue
		}
		if d := (ex - limits[i].Delay) * 1000 / z.Conf.Rate; d > maxDelay {
			maxDelay, *excess, *decider = d, ex, i
		}
	}
	return maxDelay
}

// Conn takes one of the requests in progress that key may have in the
// zone, if it has fewer than max (ngx_http_limit_conn_handler). It
// returns the entry to Release when the request ends; full is set when
// the zone had no room for a new key.
func (z *Zone) Conn(key []byte, max int) (e int32, ok, full bool) {
	t := z.t
	t.Lock()
	defer t.Unlock()
	e, _, found := t.GetOrPut(key)
	if !found {
		return -1, false, true
	}
	w := t.Words(e)
	if int(w[wConns]) >= max {
		return -1, false, false
	}
	w[wConns]++
	return e, true, false
}

// Release gives back a request in progress that Conn counted; the key's
// entry goes when its last request does (ngx_http_limit_conn_cleanup).
func (z *Zone) Release(e int32) {
	t := z.t
	t.Lock()
	w := t.Words(e)
	if w[wConns] > 0 {
		w[wConns]--
	}
	if w[wConns] == 0 {
		t.Remove(e)
	}
	t.Unlock()
}
