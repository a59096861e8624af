//go:build linux && ternpanic

package worker

import "bytes"

// A test-only build: `go build -tags ternpanic ./cmd/tern` makes a tern
// whose connections panic where a request's path asks them to, so that
// t/panic_test.go can check that a panic closes that connection only.
// Never built otherwise: testpanic_off_linux.go's testPanic is empty.

// testPanic panics at the entry point named where when c's request path
// contains "/panic-" + where.
func testPanic(c *conn, where string) {
	if c.rq != nil && bytes.Contains(c.rq.Req.Path, []byte("/panic-"+where)) {
		panic("test panic at " + where)
	}
}
