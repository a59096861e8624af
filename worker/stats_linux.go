//go:build linux

package worker

import (
	"sync/atomic"
	"time"

	"tern/conf"
	"tern/event"
)

// The worker's counters live in its slot of the shared memory (see
// event.Shared), written only by the loop goroutine, so that any worker —
// and the master — can read every worker's: stub_status and metrics
// answer for the whole server. A worker started without shared memory
// (tests, benchmarks) counts into a private slot.

// UseShared connects the worker to the master's shared memory, before
// Run: its counters go to slot, and when mutex is set (accept_mutex on,
// more than one worker) it polls the shared listening sockets only while
// it holds the accept lock.
func (w *Worker) UseShared(sh *event.Shared, slot int, mutex bool) {
	w.shm = sh
	w.stats = sh.Slot(slot)
	w.logErrBase = atomic.LoadUint64(&w.stats.LogWriteErrors)
	w.initLabels(sh, slot)
	if mutex {
		w.mutex = event.NewAcceptMutex(w.loop, w.acc, sh, slot, w.pid, w.cfg.AcceptMutexDelay)
	}
}

// Totals adds up the counters of every worker (only this one's without
// shared memory): what stub_status and metrics report. The reading API
// for the metrics endpoint; see event.Counters for the fields.
func (w *Worker) Totals() event.Counters {
	if w.shm != nil {
		return w.shm.Sum()
	}
	var c event.Counters
	c = *w.stats // the loop goroutine owns the private slot
	c.PID = 0
	return c
}

// stateClass is which gauge a connection state counts in.
func stateClass(s connState) int {
	switch s {
	case stHead:
		return 1 // Reading
	case stWrite, stBody, stOpen, stWait:
		return 2 // Writing
	}
	return 0
}

// setState moves c to state s and keeps the gauges: Reading counts
// connections reading a request head, Writing requests past their head,
// Active open connections. Requests counts each request as it begins,
// as nginx.
func (c *conn) setState(s connState) {
	st := c.w.stats
	from := c.state
	c.state = s
	if f, t := stateClass(from), stateClass(s); f != t {
		switch f {
		case 1:
			event.Dec(&st.Reading)
		case 2:
			event.Dec(&st.Writing)
		}
		switch t {
		case 1:
			event.Inc(&st.Reading)
			event.Inc(&st.Requests)
		case 2:
			event.Inc(&st.Writing)
		}
	}
	if s == stClosed {
		event.Dec(&st.Active)
	}
}

// accepted counts a connection that Accepted took.
func (w *Worker) accepted() {
	event.Inc(&w.stats.Handled)
	event.Inc(&w.stats.Active)
	w.updateDisabled()
}

// updateDisabled keeps nginx's accept-disabled figure as connections open
// and close: positive while fewer than 1/8 of worker_connections are
// free.
func (w *Worker) updateDisabled() { w.acc.Disabled = w.maxConns/8 - (w.maxConns - w.active) }

// requestDone counts a finished response: its status class, the bytes
// sent and the request time, and, for its server, its code and the bytes
// sent and received.
func (w *Worker) requestDone(rq *request, srv *conf.Server, received uint64) {
	w.serverDone(srv, rq.Resp.Status, uint64(max(rq.Sent, 0)), received)
	st := w.stats
	event.Inc(&st.Status[event.StatusClass(rq.Resp.Status)])
	event.Add(&st.BytesSent, uint64(max(rq.Sent, 0)))
	d := time.Duration(w.loop.Now() - rq.start)
	event.Add(&st.RequestTimeMicros, uint64(max(d, 0)/time.Microsecond))
	event.Inc(&st.Hist[event.HistBucket(d)])
}
