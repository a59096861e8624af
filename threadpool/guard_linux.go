//go:build linux

package threadpool

import "tern/event"

// The pool plugs into the loop through these two interfaces; the loop is
// Linux-only, the pool is not.
var (
	_ event.Drainer = (*Pool)(nil)
	_ Waker         = (*event.Loop)(nil)
)
