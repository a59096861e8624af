//go:build linux

package worker

import (
	"strconv"
	"sync/atomic"
	"time"

	"tern/event"
	"tern/filters"
)

// publishEvery is how often a worker copies its loop-owned counters (file
// sends, thread-pool queues) into its shared slot: metrics lag them by at
// most this much, and the hot path pays nothing for them.
const publishEvery = time.Second

// publisher is the worker's publishing timer.
type publisher struct{ w *Worker }

// Timeout publishes and re-arms.
func (p publisher) Timeout() {
	p.w.publish()
	p.w.loop.SetTimer(&p.w.publishTick, publishEvery, p)
}

// publish copies the write filter's send counters and the thread pools'
// queue depth into the worker's slot.
func (w *Worker) publish() {
	st := w.stats
	atomic.StoreUint64(&st.InlineSends, w.env.Stats.InlineSends)
	atomic.StoreUint64(&st.OffloadedSends, w.env.Stats.OffloadedSends)
	atomic.StoreUint64(&st.OffloadedOpens, w.env.Stats.OffloadedOpens)
	var queued, rejected uint64
	for _, p := range w.env.Pools {
		ps := p.Stats()
		queued += uint64(ps.Queued)
		rejected += ps.Rejected
	}
	atomic.StoreUint64(&st.PoolQueued, queued)
	atomic.StoreUint64(&st.PoolRejected, rejected)
	logErrs := w.logErrBase
	for _, lw := range w.writers {
		logErrs += lw.Errors()
	}
	atomic.StoreUint64(&st.LogWriteErrors, logErrs)
}

// metricsType is the Prometheus text exposition format's media type.
const metricsType = "text/plain; version=0.0.4; charset=utf-8"

// serveMetrics answers a location with metrics = true: the counters of
// every worker, summed, in Prometheus' text exposition format. It answers
// GET and HEAD, else 405.
func (w *Worker) serveMetrics(rq *request) int {
	switch rq.Req.Method {
	case filters.MethodGET, filters.MethodHEAD:
	default:
		return 405
	}
	w.publish()
	t := w.Totals()
	if t.Reading > 0 { // this request, as in stub_status
		t.Reading--
		t.Writing++
	}
	// Not the hot path: a buffer per response (two may be in flight).
	var mc event.MasterCounters
	if w.shm != nil {
		mc = w.shm.MasterTotals()
	}
	b := appendMetrics(make([]byte, 0, 4096), &t)
	b = appendMasterMetrics(b, &mc)
	resp := &rq.Resp
	resp.Status = 200
	resp.ContentType = metricsType
	resp.ContentLength = int64(len(b))
	resp.Body.AddMem(b)
	return 0
}

// appendMetrics writes t in the text exposition format.
func appendMetrics(b []byte, t *event.Counters) []byte {
	metric := func(name, typ, help string) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
	}
	sample := func(name, labels string, v uint64) {
		b = append(b, name...)
		if labels != "" {
			b = append(b, '{')
			b = append(b, labels...)
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	metric("tern_connections", "gauge", "Open client connections by state.")
	sample("tern_connections", `state="reading"`, t.Reading)
	sample("tern_connections", `state="writing"`, t.Writing)
	sample("tern_connections", `state="waiting"`, t.Waiting())
	metric("tern_connections_accepted_total", "counter", "Connections accepted.")
	sample("tern_connections_accepted_total", "", t.Accepts)
	metric("tern_connections_handled_total", "counter", "Connections accepted and served (not refused for lack of worker_connections).")
	sample("tern_connections_handled_total", "", t.Handled)
	metric("tern_http_requests_total", "counter", "Requests begun.")
	sample("tern_http_requests_total", "", t.Requests)
	metric("tern_http_responses_total", "counter", "Responses finished, by status class.")
	for i, class := range [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		sample("tern_http_responses_total", `code="`+class+`"`, t.Status[i])
	}
	metric("tern_http_sent_bytes_total", "counter", "Bytes sent to clients, heads included.")
	sample("tern_http_sent_bytes_total", "", t.BytesSent)
	b = appendHistogram(b, t)
	metric("tern_file_sends_total", "counter", "File sends by where they ran: the event loop (inline) or a thread pool (offloaded).")
	sample("tern_file_sends_total", `mode="inline"`, t.InlineSends)
	sample("tern_file_sends_total", `mode="offloaded"`, t.OffloadedSends)
	metric("tern_file_opens_offloaded_total", "counter", "Paths resolved on a thread pool because resolving them would have read the disk.")
	sample("tern_file_opens_offloaded_total", "", t.OffloadedOpens)
	metric("tern_thread_pool_queue_depth", "gauge", "Tasks waiting in the thread pools.")
	sample("tern_thread_pool_queue_depth", "", t.PoolQueued)
	metric("tern_thread_pool_rejected_total", "counter", "Tasks refused by a full thread-pool queue.")
	sample("tern_thread_pool_rejected_total", "", t.PoolRejected)
	metric("tern_log_write_errors_total", "counter", "Failed writes to the error and access logs (a full disk, a broken log pipe).")
	sample("tern_log_write_errors_total", "", t.LogWriteErrors)
	return b
}

// appendMasterMetrics writes the master's counters: worker deaths,
// respawns and crash loops, reloads.
func appendMasterMetrics(b []byte, m *event.MasterCounters) []byte {
	for _, c := range []struct {
		name, typ, help, labels string
		v                       uint64
	}{
		{"tern_worker_crashes_total", "counter", "Worker processes that exited without being told to (a signal, a Go panic or fatal error, a worker that could not start).", "", m.Crashes},
		{"tern_worker_respawns_total", "counter", "Worker processes started in place of one that died.", "", m.Respawns},
		{"tern_worker_respawns_delayed", "gauge", "Worker processes waiting out a respawn back-off because they kept dying soon after their start (a crash loop).", "", m.Delayed},
		{"tern_reloads_total", "counter", "Configuration reloads by outcome: new workers serving (ok), or the old ones kept (failed).", `result="ok"`, m.ReloadsOK},
		{"tern_reloads_total", "", "", `result="failed"`, m.ReloadsFailed},
	} {
		if c.typ != "" {
			b = append(b, "# HELP "+c.name+" "+c.help+"\n# TYPE "+c.name+" "+c.typ+"\n"...)
		}
		b = append(b, c.name...)
		if c.labels != "" {
			b = append(b, "{"+c.labels+"}"...)
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, c.v, 10)
		b = append(b, '\n')
	}
	return b
}

// appendHistogram writes the request-time histogram: cumulative buckets
// in seconds, the sum and the count.
func appendHistogram(b []byte, t *event.Counters) []byte {
	const name = "tern_http_request_duration_seconds"
	b = append(b, "# HELP "+name+" Request time, from the first byte of the head to the last byte of the response.\n# TYPE "+name+" histogram\n"...)
	var cum uint64
	for i, bound := range event.HistBounds {
		cum += t.Hist[i]
		b = append(b, name+`_bucket{le="`...)
		b = strconv.AppendFloat(b, bound.Seconds(), 'g', -1, 64)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	cum += t.Hist[len(event.HistBounds)]
	b = append(b, name+`_bucket{le="+Inf"} `...)
	b = strconv.AppendUint(b, cum, 10)
	b = append(b, "\n"+name+"_sum "...)
	b = strconv.AppendFloat(b, float64(t.RequestTimeMicros)/1e6, 'f', 6, 64)
	b = append(b, "\n"+name+"_count "...)
	b = strconv.AppendUint(b, cum, 10)
	return append(b, '\n')
}
