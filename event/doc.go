// Package event is tern's event loop: one epoll set per worker, run by one
// goroutine, with timers, posted work, an eventfd
// through which other goroutines hand work back, and accepting from
// listening sockets.
//
// Ownership: a Loop, every Handler registered with it, every Timer it arms
// and every Poster it queues belong to the goroutine that calls Run. Other
// goroutines may only call Wake and Submit.
//
// Connections are registered edge-triggered for input and output at once
// (In|Out|RDHup|ET), so a connection costs one epoll_ctl in its whole life:
// a handler reads until a short read or EAGAIN and writes until done or
// EAGAIN, and remembers which direction is ready, as nginx's ready flags.
// Level-triggered registration would need an epoll_ctl each time a write
// blocks and again when it drains, or it would spin on a writable socket.
// Listening sockets are level-triggered (see Acceptor).
package event
