//go:build linux

package worker

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"tern/conf"
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
// gauges into the worker's slot.
func (w *Worker) publish() {
	st := w.stats
	atomic.StoreUint64(&st.InlineSends, w.env.Stats.InlineSends)
	atomic.StoreUint64(&st.OffloadedSends, w.env.Stats.OffloadedSends)
	atomic.StoreUint64(&st.OffloadedOpens, w.env.Stats.OffloadedOpens)
	logErrs := w.logErrBase
	for _, lw := range w.writers {
		logErrs += lw.Errors()
	}
	atomic.StoreUint64(&st.LogWriteErrors, logErrs)
	w.publishPools()
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
	e := &exposition{b: make([]byte, 0, 8192)}
	e.buildInfo()
	appendCounters(e, &t)
	names, servers := w.serverTotals()
	appendServers(e, names, servers)
	pools, pcs := w.poolTotals()
	appendPools(e, pools, pcs)
	var mc event.MasterCounters
	if w.shm != nil {
		mc = w.shm.MasterTotals()
	}
	appendMaster(e, &mc)
	w.appendCertificates(e)
	resp := &rq.Resp
	resp.Status = 200
	resp.ContentType = metricsType
	resp.ContentLength = int64(len(e.b))
	resp.Body.AddMem(e.b)
	return 0
}

// exposition writes Prometheus' text format.
type exposition struct{ b []byte }

// metric writes a family's HELP and TYPE lines.
func (e *exposition) metric(name, typ, help string) {
	e.b = append(e.b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
}

// sample writes one sample; labels are name, value pairs.
func (e *exposition) sample(name string, v uint64, labels ...string) {
	e.b = append(e.b, name...)
	e.labels(labels)
	e.b = append(e.b, ' ')
	e.b = strconv.AppendUint(e.b, v, 10)
	e.b = append(e.b, '\n')
}

func (e *exposition) labels(labels []string) {
	if len(labels) == 0 {
		return
	}
	e.b = append(e.b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, labels[i]...)
		e.b = append(e.b, `="`...)
		e.b = appendLabelValue(e.b, labels[i+1])
		e.b = append(e.b, '"')
	}
	e.b = append(e.b, '}')
}

// appendLabelValue escapes a label value as the text format wants:
// backslash, double quote and line feed.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// buildLabels are tern_build_info's labels, read once.
var buildLabels = func() []string {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	return []string{"version", filters.ServerVersion, "goversion", runtime.Version(), "revision", revision}
}()

func (e *exposition) buildInfo() {
	e.metric("tern_build_info", "gauge", "Always 1; the labels say which tern serves: its version, the Go release it was built with, and the VCS revision when the build knew it.")
	e.sample("tern_build_info", 1, buildLabels...)
}

// appendCounters writes the counters that have no server or pool label.
func appendCounters(e *exposition, t *event.Counters) {
	e.metric("tern_connections", "gauge", "Open client connections by state.")
	e.sample("tern_connections", t.Reading, "state", "reading")
	e.sample("tern_connections", t.Writing, "state", "writing")
	e.sample("tern_connections", t.Waiting(), "state", "waiting")
	e.metric("tern_connections_accepted_total", "counter", "Connections accepted.")
	e.sample("tern_connections_accepted_total", t.Accepts)
	e.metric("tern_connections_handled_total", "counter", "Connections accepted and served (not refused for lack of worker_connections).")
	e.sample("tern_connections_handled_total", t.Handled)
	e.metric("tern_http_requests_total", "counter", "Requests begun.")
	e.sample("tern_http_requests_total", t.Requests)
	appendHistogram(e, t)
	e.metric("tern_file_sends_total", "counter", "File sends from the event loop (inline), and chunks a thread pool read from the disk first (offloaded).")
	e.sample("tern_file_sends_total", t.InlineSends, "mode", "inline")
	e.sample("tern_file_sends_total", t.OffloadedSends, "mode", "offloaded")
	e.metric("tern_file_opens_offloaded_total", "counter", "Paths resolved on a thread pool because resolving them would have read the disk.")
	e.sample("tern_file_opens_offloaded_total", t.OffloadedOpens)
	e.metric("tern_log_write_errors_total", "counter", "Failed writes to the error and access logs (a full disk, a broken log pipe).")
	e.sample("tern_log_write_errors_total", t.LogWriteErrors)
}

// appendMaster writes the master's counters: worker deaths, respawns and
// crash loops, reloads and binary upgrades with when each outcome last
// happened.
func appendMaster(e *exposition, m *event.MasterCounters) {
	e.metric("tern_worker_crashes_total", "counter", "Worker processes that exited without being told to (a signal, a Go panic or fatal error, a worker that could not start).")
	e.sample("tern_worker_crashes_total", m.Crashes)
	e.metric("tern_worker_respawns_total", "counter", "Worker processes started in place of one that died.")
	e.sample("tern_worker_respawns_total", m.Respawns)
	e.metric("tern_worker_respawns_delayed", "gauge", "Worker processes waiting out a respawn back-off because they kept dying soon after their start (a crash loop).")
	e.sample("tern_worker_respawns_delayed", m.Delayed)
	e.metric("tern_reloads_total", "counter", "Configuration reloads by outcome: new workers serving (ok), or the old ones kept (failed).")
	e.sample("tern_reloads_total", m.ReloadsOK, "result", "ok")
	e.sample("tern_reloads_total", m.ReloadsFailed, "result", "failed")
	e.metric("tern_reload_last_timestamp_seconds", "gauge", "When a reload last had each outcome (Unix time; 0: never since this master started).")
	e.sample("tern_reload_last_timestamp_seconds", m.ReloadOKAt, "result", "ok")
	e.sample("tern_reload_last_timestamp_seconds", m.ReloadFailedAt, "result", "failed")
	e.metric("tern_upgrades_total", "counter", "Binary upgrades by outcome: ok counts the upgrade that started this master, failed the new binaries this master saw exit (rolled back).")
	e.sample("tern_upgrades_total", m.UpgradesOK, "result", "ok")
	e.sample("tern_upgrades_total", m.UpgradesFailed, "result", "failed")
	e.metric("tern_upgrade_last_timestamp_seconds", "gauge", "When a binary upgrade last had each outcome (Unix time; 0: never).")
	e.sample("tern_upgrade_last_timestamp_seconds", m.UpgradeOKAt, "result", "ok")
	e.sample("tern_upgrade_last_timestamp_seconds", m.UpgradeFailedAt, "result", "failed")
}

// appendServers writes the counters labelled by server: responses by
// exact code, bytes sent and received.
func appendServers(e *exposition, names []string, s []event.ServerCounters) {
	e.metric("tern_http_responses_total", "counter", "Responses finished, by server (its first server_name, else its first listen address) and status code (a code tern does not send itself by class, e.g. 5xx).")
	for i, name := range names {
		for c, n := range s[i].Codes {
			if n > 0 || c < len(event.Codes) && event.Codes[c] == 200 {
				e.sample("tern_http_responses_total", n, "server", name, "code", event.CodeLabel(c))
			}
		}
	}
	e.metric("tern_http_sent_bytes_total", "counter", "Bytes sent to clients, heads included, by server.")
	for i, name := range names {
		e.sample("tern_http_sent_bytes_total", s[i].BytesSent, "server", name)
	}
	e.metric("tern_http_received_bytes_total", "counter", "Bytes received from clients, heads and bodies, by server.")
	for i, name := range names {
		e.sample("tern_http_received_bytes_total", s[i].BytesReceived, "server", name)
	}
}

// appendPools writes the thread pools' gauges and counters by pool.
func appendPools(e *exposition, names []string, p []event.PoolCounters) {
	e.metric("tern_thread_pool_queue_depth", "gauge", "Tasks waiting for a thread, by thread pool.")
	for i, name := range names {
		e.sample("tern_thread_pool_queue_depth", p[i].Queued, "pool", name)
	}
	e.metric("tern_thread_pool_tasks_running", "gauge", "Tasks running on a thread, by thread pool.")
	for i, name := range names {
		e.sample("tern_thread_pool_tasks_running", p[i].Running, "pool", name)
	}
	e.metric("tern_thread_pool_rejected_total", "counter", "Tasks refused by a full queue, by thread pool.")
	for i, name := range names {
		e.sample("tern_thread_pool_rejected_total", p[i].Rejected, "pool", name)
	}
}

// appendHistogram writes the request-time histogram: cumulative buckets
// in seconds, the sum and the count.
func appendHistogram(e *exposition, t *event.Counters) {
	const name = "tern_http_request_duration_seconds"
	e.metric(name, "histogram", "Request time, from the first byte of the head to the last byte of the response.")
	var cum uint64
	for i, bound := range event.HistBounds {
		cum += t.Hist[i]
		e.sample(name+"_bucket", cum, "le", strconv.FormatFloat(bound.Seconds(), 'g', -1, 64))
	}
	cum += t.Hist[len(event.HistBounds)]
	e.sample(name+"_bucket", cum, "le", "+Inf")
	e.b = append(e.b, name+"_sum "...)
	e.b = strconv.AppendFloat(e.b, float64(t.RequestTimeMicros)/1e6, 'f', 6, 64)
	e.b = append(e.b, '\n')
	e.sample(name+"_count", cum)
}

// appendCertificates writes when the certificates of the TLS servers
// expire (the earliest of each server's, by server label: the one
// served now, an ACME certificate included once issued) and the
// outcomes of the master's ACME orders.
func (w *Worker) appendCertificates(e *exposition) {
	if w.cfg.HTTP == nil {
		return
	}
	var labels []string
	expiry := map[string]time.Time{}
	for _, a := range w.cfg.HTTP.Addrs {
		if !a.SSL {
			continue
		}
		for _, srv := range a.Servers {
			for _, na := range w.notAfter(srv) {
				l := srv.Label()
				if t, seen := expiry[l]; !seen || na.Before(t) {
					if !seen {
						labels = append(labels, l)
					}
					expiry[l] = na
				}
			}
		}
	}
	e.metric("tern_tls_certificate_expiry_timestamp_seconds", "gauge", "When the certificate a TLS server presents expires (Unix time; the earliest of its certificates), by server.")
	for _, l := range labels {
		e.sample("tern_tls_certificate_expiry_timestamp_seconds", uint64(expiry[l].Unix()), "server", l)
	}
	if w.acme == nil {
		return
	}
	ok, failed := w.acme.Orders()
	e.metric("tern_acme_orders_total", "counter", "Certificate orders the master placed with ACME servers, by outcome (ok: issued and stored; failed: retried after a back-off).")
	e.sample("tern_acme_orders_total", ok, "result", "ok")
	e.sample("tern_acme_orders_total", failed, "result", "failed")
}

// notAfter are the expiry times of the certificates srv presents: its
// files', or its ACME certificate once issued.
func (w *Worker) notAfter(srv *conf.Server) []time.Time {
	var out []time.Time
	if srv.ACME != nil {
		if w.acme != nil {
			if c := w.acme.Certificate(srv.ACME.ID()); c != nil {
				out = append(out, c.Leaf.NotAfter)
			}
		}
		return out
	}
	for _, c := range srv.Root.SSL.Certificates {
		if c.TLS.Leaf != nil {
			out = append(out, c.TLS.Leaf.NotAfter)
		}
	}
	return out
}
