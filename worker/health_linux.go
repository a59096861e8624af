//go:build linux

package worker

import "tern/filters"

// Bodies of a health location's answers.
var (
	healthOK       = []byte("ok\n")
	healthDraining = []byte("draining\n")
)

// serveHealth answers a location with health = true, before return and
// try_files and without touching the disk: 200 "ok" while the server
// serves, 503 "draining" from the moment the master begins to drain it
// (QUIT, WINCH — the hand-over of a binary upgrade) or this worker finds
// its master gone, so that a load balancer stops sending new requests
// while the responses in flight finish. It answers GET and HEAD, else
// 405, and returns 0 or the error status.
func (w *Worker) serveHealth(rq *request) int {
	switch rq.Req.Method {
	case filters.MethodGET, filters.MethodHEAD:
	default:
		return 405
	}
	resp := &rq.Resp
	resp.Status, resp.ContentType = 200, "text/plain"
	body := healthOK
	if w.Draining() {
		// The connection closes too, so that a checker that keeps it
		// alive reconnects, to whichever process still accepts.
		resp.Status, body = 503, healthDraining
		rq.closeAfter = true
	}
	resp.ContentLength = int64(len(body))
	resp.Body.AddMem(body)
	return 0
}

// Draining reports whether the server is draining: the master said so in
// the shared memory, or the master is gone. A worker without shared
// memory (tests) drains when it quits.
func (w *Worker) Draining() bool {
	if w.shm == nil || w.orphaned {
		return w.quitting
	}
	return w.shm.Draining()
}

// Orphaned is the master's death, seen by the worker: it stops gracefully
// and its health locations answer 503. Call it on the loop goroutine.
func (w *Worker) Orphaned() {
	w.orphaned = true
	w.Quit()
}
