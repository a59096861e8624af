//go:build linux

package worker

import (
	"strconv"

	"tern/filters"
)

// serveStubStatus answers a location with stub_status = true: the
// counters of every worker, summed, in the exact text of nginx's
// ngx_http_stub_status_module (trailing spaces included):
//
//	Active connections: 2 \n
//	server accepts handled requests\n
//	 17 17 42 \n
//	Reading: 0 Writing: 1 Waiting: 1 \n
//
// It answers GET and HEAD, else 405, and returns 0 or the error status.
// The request answering is counted in Writing, as nginx.
func (w *Worker) serveStubStatus(rq *request) int {
	switch rq.Req.Method {
	case filters.MethodGET, filters.MethodHEAD:
	default:
		return 405
	}
	t := w.Totals()
	// This request is past its head but still counted as reading: its
	// connection moves to writing when the response starts.
	if t.Reading > 0 {
		t.Reading--
		t.Writing++
	}
	// Not the hot path: a buffer per response, so that two status
	// responses in flight on different connections never share one.
	b := make([]byte, 0, 160)
	b = append(b, "Active connections: "...)
	b = strconv.AppendUint(b, t.Active, 10)
	b = append(b, " \nserver accepts handled requests\n "...)
	b = strconv.AppendUint(b, t.Accepts, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, t.Handled, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, t.Requests, 10)
	b = append(b, " \nReading: "...)
	b = strconv.AppendUint(b, t.Reading, 10)
	b = append(b, " Writing: "...)
	b = strconv.AppendUint(b, t.Writing, 10)
	b = append(b, " Waiting: "...)
	b = strconv.AppendUint(b, t.Waiting(), 10)
	b = append(b, " \n"...)
	resp := &rq.Resp
	resp.Status = 200
	resp.ContentType = "text/plain"
	resp.ContentLength = int64(len(b))
	resp.Body.AddMem(b)
	return 0
}
