//go:build linux

package worker

import (
	"sync/atomic"

	"tern/conf"
	"tern/event"
	"tern/filters"
)

// The worker's labelled counters (event/labels_linux.go): per server
// label and per thread pool, in its slot of the shared memory, found once
// at start so that counting a response is a map lookup and a few stores.
type labelled struct {
	servers map[*conf.Server]*event.ServerCounters
	pools   map[string]*event.PoolCounters
	// Without shared memory (tests), private counters and their names.
	names     []string
	private   []event.ServerCounters
	poolNames []string
	poolPriv  []event.PoolCounters
}

// initLabels points each server and pool of the configuration at its
// counters: in slot's part of sh, by the ids the master registered, or
// private ones when sh is nil.
func (w *Worker) initLabels(sh *event.Shared, slot int) {
	cfg := w.cfg
	labels, pools := cfg.ServerLabels(), cfg.PoolLabels()
	l := &w.labels
	l.servers = make(map[*conf.Server]*event.ServerCounters, len(cfg.HTTP.Servers))
	l.pools = make(map[string]*event.PoolCounters, len(pools))
	var sids, pids []int
	if sh != nil {
		sids, pids = sh.LabelIDs(event.ServerLabels, labels), sh.LabelIDs(event.PoolLabels, pools)
	} else {
		l.names, l.poolNames = labels, pools
		l.private, l.poolPriv = make([]event.ServerCounters, len(labels)), make([]event.PoolCounters, len(pools))
	}
	for _, s := range cfg.HTTP.Servers {
		i := indexOf(labels, s.Label())
		if sh != nil {
			l.servers[s] = sh.ServerSlot(slot, sids[i])
		} else {
			l.servers[s] = &l.private[i]
		}
	}
	for i, name := range pools {
		if sh != nil {
			l.pools[name] = sh.PoolSlot(slot, pids[i])
		} else {
			l.pools[name] = &l.poolPriv[i]
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

// serverDone counts a finished response for srv: its code, the bytes
// sent, and the bytes received since the last one counted.
func (w *Worker) serverDone(srv *conf.Server, status int, sent, received uint64) {
	sc := w.labels.servers[srv]
	if sc == nil {
		return
	}
	event.Inc(&sc.Codes[event.CodeIndex(filters.WireStatus(status))])
	event.Add(&sc.BytesSent, sent)
	event.Add(&sc.BytesReceived, received)
}

// publishPools copies each thread pool's queue, running tasks and
// rejections into its counters.
func (w *Worker) publishPools() {
	for name, p := range w.env.Pools {
		pc := w.labels.pools[name]
		if pc == nil {
			continue
		}
		ps := p.Stats()
		atomic.StoreUint64(&pc.Queued, uint64(ps.Queued))
		atomic.StoreUint64(&pc.Running, uint64(ps.Running))
		atomic.StoreUint64(&pc.Rejected, ps.Rejected)
	}
}

// serverTotals returns the server labels and their counters summed over
// every worker (this one's only without shared memory).
func (w *Worker) serverTotals() ([]string, []event.ServerCounters) {
	if w.shm != nil {
		return w.shm.Labels(event.ServerLabels), w.shm.SumServers()
	}
	return w.labels.names, w.labels.private
}

// poolTotals returns the pool labels and their counters.
func (w *Worker) poolTotals() ([]string, []event.PoolCounters) {
	if w.shm != nil {
		return w.shm.Labels(event.PoolLabels), w.shm.SumPools()
	}
	return w.labels.poolNames, w.labels.poolPriv
}
