//go:build linux

package worker

import (
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/worker/limit"
)

// nginx's preaccess phase: limit_req, then limit_conn
// (ngx_http_limit_req_module, ngx_http_limit_conn_module), each once per
// request, whatever internal redirects follow. The zones are tables in
// shared memory (event.Table) that the master makes and every worker
// maps, so a limit counts the requests of every worker.

// UseZones gives the worker the master's shared zones, one table per
// entry of the configuration's HTTP.Zones, in that order, before Run.
func (w *Worker) UseZones(tables []*event.Table) {
	w.zones = make([]*limit.Zone, len(w.cfg.HTTP.Zones))
	for i, z := range w.cfg.HTTP.Zones {
		if i < len(tables) {
			w.zones[i] = limit.NewZone(z, tables[i])
		}
	}
}

// zone returns the worker's table for z. A worker the master did not
// give zones (a test, a benchmark) makes private ones.
func (w *Worker) zone(z *conf.LimitZone) *limit.Zone {
	if w.zones == nil {
		w.zones = make([]*limit.Zone, len(w.cfg.HTTP.Zones))
	}
	if lz := w.zones[z.Index]; lz != nil {
		return lz
	}
	t, err := event.NewTable(z.Name, z.Size)
	if err != nil {
		w.log.Error().Err(err).Str("zone", z.Name).Msg("making a private zone")
		return nil
	}
	lz := limit.NewZone(z, t)
	w.zones[z.Index] = lz
	return lz
}

// zoneClock is the millisecond clock limit_req's buckets use: every
// worker's must agree, so it is CLOCK_MONOTONIC, read as the loop's
// clock (which Go reads from it) plus an offset taken at start.
func (w *Worker) zoneClock() int64 {
	return (w.monoBase + w.loop.Now()) / int64(time.Millisecond)
}

// monoOffset is CLOCK_MONOTONIC minus the loop's clock, in nanoseconds.
func monoOffset(loop *event.Loop) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() - loop.Now()
}

// preaccess runs limit_req and limit_conn for rq.Loc. It returns 0 to go
// on, a status to answer with, or statusPark while limit_req delays the
// request.
func (w *Worker) preaccess(rq *request) int {
	loc := rq.Loc
	// nginx's realip runs first in this phase, with the location's
	// settings, if the server's changed nothing.
	rq.realIP(&loc.Settings)
	// Each runs once per request: a delayed request's phases run again,
	// and an internal redirect does not count twice (nginx marks the
	// request once a limit applied, an empty key not counting).
	if len(loc.LimitReq) > 0 && !rq.reqLimited {
		if st := w.limitReq(rq); st != 0 {
			return st
		}
	}
	if len(loc.LimitConn) > 0 && !rq.connLimited {
		if st := w.limitConn(rq); st != 0 {
			return st
		}
	}
	return 0
}

// limitKeys expands the key of each zone into rq.keyBuf and returns them.
func (w *Worker) limitKeys(rq *request, zones []*conf.LimitZone) [][]byte {
	var ends [limit.MaxLimits]int
	b := rq.keyBuf[:0]
	n := min(len(zones), limit.MaxLimits)
	for i := 0; i < n; i++ {
		b = zones[i].Key.Append(b, rq)
		ends[i] = len(b)
	}
	rq.keyBuf = b
	keys := rq.keys[:n]
	start := 0
	for i := 0; i < n; i++ {
		keys[i] = b[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return keys
}

// limitReq is the limit_req handler.
func (w *Worker) limitReq(rq *request) int {
	loc := rq.Loc
	n := min(len(loc.LimitReq), limit.MaxLimits)
	var zs [limit.MaxLimits]*conf.LimitZone
	var tables [limit.MaxLimits]*limit.Zone
	for i := 0; i < n; i++ {
		zs[i] = loc.LimitReq[i].Zone
		if tables[i] = w.zone(zs[i]); tables[i] == nil {
			return 500
		}
	}
	keys := w.limitKeys(rq, zs[:n])
	o := limit.Req(loc.LimitReq[:n], tables[:n], keys, w.zoneClock())
	rq.limitReqStatus = o.Status
	rq.reqLimited = o.Status != limit.None
	switch o.Status {
	case limit.Rejected:
		ev := rq.errLog().WithLevel(loc.LimitReqLogLevel)
		if o.Full {
			ev = rq.errLog().WithLevel(conf.LogAlert)
		}
		dry := ""
		if loc.LimitReqDryRun {
			dry = ", dry run"
			rq.limitReqStatus = limit.RejectedDryRun
		}
		if o.Full {
			ev.Str("zone", o.Zone.Name).Msg("could not allocate node in limit_req zone")
		} else {
			ev.Str("zone", o.Zone.Name).Str("excess", milli(o.Excess)).Stringer("client", rq.peer.Addr()).Msg("limiting requests" + dry)
		}
		if loc.LimitReqDryRun {
			return 0
		}
		return loc.LimitReqStatus
	case limit.Delayed:
		msg := "delaying request"
		if loc.LimitReqDryRun {
			msg = "delaying request, dry run" // as nginx's, which its users grep for
		}
		rq.errLog().WithLevel(lessSevere(loc.LimitReqLogLevel)).Str("zone", o.Zone.Name).Str("excess", milli(o.Excess)).
			Stringer("client", rq.peer.Addr()).Dur("delay", o.Delay).Msg(msg)
		if loc.LimitReqDryRun {
			rq.limitReqStatus = limit.DelayedDryRun
			return 0
		}
		rq.parkedOn = parkDelay
		if rq.stream != nil {
			// An HTTP/2 stream waits alone: the connection's
			// timer is its own (h2stream_linux.go).
			w.loop.SetTimer(&rq.delay, o.Delay, (*streamDelay)(rq))
			return statusPark
		}
		c := rq.conn
		w.loop.SetTimer(&c.Timer, o.Delay, c)
		return statusPark
	}
	return 0
}

// parkDelay is what a request delayed by limit_req is parked on: the
// connection's timer, whose expiry runs its phases again.
var parkDelay = new(int)

// limitConn is the limit_conn handler: each zone counts the request
// until it ends (releaseConns).
func (w *Worker) limitConn(rq *request) int {
	loc := rq.Loc
	n := min(len(loc.LimitConn), limit.MaxLimits)
	var zs [limit.MaxLimits]*conf.LimitZone
	for i := 0; i < n; i++ {
		zs[i] = loc.LimitConn[i].Zone
	}
	keys := w.limitKeys(rq, zs[:n])
	for i := 0; i < n; i++ {
		if len(keys[i]) == 0 {
			continue
		}
		rq.connLimited = true
		z := w.zone(zs[i])
		if z == nil {
			w.releaseConns(rq)
			return 500
		}
		e, ok, full := z.Conn(keys[i], loc.LimitConn[i].Conn)
		if ok {
			rq.connHeld[rq.connHolds] = heldConn{z: z, e: e}
			rq.connHolds++
			rq.limitConnStatus = limit.Passed
			continue
		}
		w.releaseConns(rq)
		dry := ""
		rq.limitConnStatus = limit.Rejected
		if loc.LimitConnDryRun {
			dry = ", dry run"
			rq.limitConnStatus = limit.RejectedDryRun
		}
		if full {
			rq.errLog().WithLevel(conf.LogAlert).Str("zone", zs[i].Name).Msg("could not allocate node in limit_conn zone")
		} else {
			rq.errLog().WithLevel(loc.LimitConnLogLevel).Str("zone", zs[i].Name).Stringer("client", rq.peer.Addr()).Msg("limiting connections" + dry)
		}
		if loc.LimitConnDryRun {
			return 0
		}
		return loc.LimitConnStatus
	}
	return 0
}

// heldConn is a request in progress counted in a limit_conn zone.
type heldConn struct {
	z *limit.Zone
	e int32
}

// releaseConns gives back what limit_conn counted for rq: when the
// request ends, or when one of its zones refuses it.
func (w *Worker) releaseConns(rq *request) {
	for i := 0; i < int(rq.connHolds); i++ {
		rq.connHeld[i].z.Release(rq.connHeld[i].e)
		rq.connHeld[i] = heldConn{}
	}
	rq.connHolds = 0
}

// milli formats thousandths as nginx's "5.000".
func milli(n int64) string {
	b := make([]byte, 0, 16)
	b = appendInt(b, n/1000)
	b = append(b, '.', byte('0'+n%1000/100), byte('0'+n%100/10), byte('0'+n%10))
	return string(b)
}

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// lessSevere is the level below l, as nginx logs delays one level below
// refusals (error: warn; info stays info).
func lessSevere(l zerolog.Level) zerolog.Level {
	switch l {
	case conf.LogError:
		return conf.LogWarn
	case conf.LogWarn:
		return conf.LogNotice
	}
	return conf.LogInfo
}
