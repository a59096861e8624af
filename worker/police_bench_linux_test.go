//go:build linux

package worker

import (
	"net/netip"
	"testing"
	"time"
)

// policeRequest is a request from 127.0.0.1 for /1k.txt routed in a
// worker with t/bench's -police directives (allow/deny, limit_req with
// $binary_remote_addr, limit_conn), ready for the preaccess and access
// phases.
func policeRequest(tb testing.TB) (*Worker, *request) {
	rig := newPathRigHTTP(tb, "off", `
  limit_req_zone "r" {
    key  = "$binary_remote_addr"
    size = "10m"
    rate = "1000000r/s"
  }
  limit_conn_zone "c" {
    key  = "$binary_remote_addr"
    size = "1m"
  }`, `
    allow      = ["127.0.0.0/8"]
    deny       = "all"
    limit_req  = { zone = "r", burst = 1000000, nodelay = true }
    limit_conn = { c = 1000 }`)
	w := rig.w
	rq := w.getRequest()
	rq.peer = netip.MustParseAddrPort("127.0.0.1:40000")
	rq.Req.Path = []byte("/1k.txt")
	rq.findLocation(w.cfg.HTTP.Servers[0])
	if !rq.Loc.Guard {
		tb.Fatal("location without the police directives")
	}
	return w, rq
}

// policePhases runs the preaccess and access phases of rq as a new
// request would, and gives back what limit_conn counted.
func policePhases(tb testing.TB, w *Worker, rq *request) {
	rq.reqLimited, rq.connLimited = false, false
	if st := w.preaccess(rq); st != 0 {
		tb.Fatalf("preaccess: %d", st)
	}
	if st := w.access(rq); st != 0 {
		tb.Fatalf("access: %d", st)
	}
	w.releaseConns(rq)
}

// TestPolicePhasesAllocs: allow/deny, limit_req and limit_conn on a
// request that passes allocate nothing.
func TestPolicePhasesAllocs(t *testing.T) {
	w, rq := policeRequest(t)
	policePhases(t, w, rq)
	if n := testing.AllocsPerRun(1000, func() { w.monoBase += int64(time.Millisecond); policePhases(t, w, rq) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

// BenchmarkPolicePhases measures what t/bench -police adds to a request:
// the preaccess phase (limit_req and limit_conn in shared zones) and the
// access phase (allow/deny).
func BenchmarkPolicePhases(b *testing.B) {
	w, rq := policeRequest(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			// A millisecond passes every 64 requests, as at 64k
			// requests a second.
			w.monoBase += int64(time.Millisecond)
		}
		policePhases(b, w, rq)
	}
}
