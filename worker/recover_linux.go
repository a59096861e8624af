//go:build linux

package worker

import (
	"fmt"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"tern/conf"
)

// A panic is a bug, but one connection's bug must not take the worker's
// other connections with it. Every entry point of a connection — its
// epoll events (Event), its timer (Timeout), a posted resumption
// (Posted), a thread-pool completion (Resume, openDone, unpark) — defers
// recoverPanic: the panic is logged with its stack at alert, the
// connection is closed with everything it holds (its request, buffers,
// files and socket), and the loop goes on with the next event. A
// deferred call costs a few nanoseconds and allocates nothing until a
// panic.

// recoverPanic ends a panic at a connection's entry point.
func (c *conn) recoverPanic() {
	if v := recover(); v != nil {
		c.w.connPanicked(c, v)
	}
}

// connPanicked logs a panic serving c and closes c.
func (w *Worker) connPanicked(c *conn, v any) {
	w.log.WithLevel(conf.LogAlert).Uint64("conn", c.id).Int("fd", int(c.fd)).
		Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).
		Msg("panic serving a connection; the connection is closed, the worker goes on")
	c.abort()
}

// abort closes c after a panic left it in an unknown state. close does
// it as for any connection — waiting, if a pool thread still uses the
// socket or a file, for the task to come back — and a second panic in it
// falls back to closing the socket and leaving the rest to the garbage
// collector.
func (c *conn) abort() {
	defer func() {
		if v := recover(); v != nil {
			c.w.log.WithLevel(conf.LogAlert).Uint64("conn", c.id).Str("panic", fmt.Sprint(v)).
				Msg("panic closing a connection after a panic; closing its socket only")
			c.forceClose()
		}
	}()
	c.close()
}

// forceClose closes c's socket and forgets the rest of its state: the
// request and buffers, which a panic may have left inconsistent, are not
// reused.
func (c *conn) forceClose() {
	w := c.w
	c.rq, c.buf = nil, nil
	w.idle.remove(c)
	w.loop.StopTimer(&c.Timer)
	w.loop.Forget(int(c.fd))
	unix.Close(int(c.fd))
	c.setState(stClosed)
	c.posted, c.closing = false, false
	w.active--
	w.updateDisabled()
}
