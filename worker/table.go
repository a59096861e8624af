package worker

import "tern/conf"

// connChunk conns share one allocation of the connection table, so a
// worker with few connections holds little, and a conn never moves (the
// event loop and timers hold pointers to it).
const connChunk = 256

// connTable holds every connection's state, indexed by its fd: no
// allocation per connection, no map.
type connTable struct {
	chunks [][]conn
}

// slot returns the state for fd, creating its chunk on first use.
func (t *connTable) slot(fd int) *conn {
	i := fd / connChunk
	for i >= len(t.chunks) {
		t.chunks = append(t.chunks, nil)
	}
	if t.chunks[i] == nil {
		t.chunks[i] = make([]conn, connChunk)
	}
	return &t.chunks[i][fd%connChunk]
}

// each calls f for every open connection.
func (t *connTable) each(f func(*conn)) {
	for _, ch := range t.chunks {
		for i := range ch {
			if ch[i].w != nil && ch[i].state != stClosed {
				f(&ch[i])
			}
		}
	}
}

// connList is an intrusive doubly linked list of idle connections, least
// recently idle first: the ones to close first when connections run out.
type connList struct {
	head, tail *conn
}

func (l *connList) pushBack(c *conn) {
	if c.inIdle {
		return
	}
	c.inIdle = true
	c.idlePrev = l.tail
	c.idleNext = nil
	if l.tail != nil {
		l.tail.idleNext = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) remove(c *conn) {
	if !c.inIdle {
		return
	}
	c.inIdle = false
	if c.idlePrev != nil {
		c.idlePrev.idleNext = c.idleNext
	} else {
		l.head = c.idleNext
	}
	if c.idleNext != nil {
		c.idleNext.idlePrev = c.idlePrev
	} else {
		l.tail = c.idlePrev
	}
	c.idlePrev, c.idleNext = nil, nil
}

func (l *connList) front() *conn { return l.head }

// each calls f for every connection in the list; f may remove it.
func (l *connList) each(f func(*conn)) {
	for c := l.head; c != nil; {
		next := c.idleNext
		f(c)
		c = next
	}
}

// rbuf is a read buffer borrowed by a connection while it reads a request
// or discards a body: b[start:end] holds the bytes not yet consumed.
type rbuf struct {
	b          []byte
	start, end int
}

func (b *rbuf) len() int { return b.end - b.start }

// bufPool keeps the two sizes of read buffer: the first one a request is
// read into (client_header_buffer_size, at least minBuf) and the large
// one a head that outgrows it moves to (all of large_client_header_buffers).
type bufPool struct {
	smallSize, largeSize int
	small, large         []*rbuf
}

// minBuf is the smallest first buffer: a read of 1 KiB would split the
// pipelined requests of a busy client into more syscalls.
const minBuf = 4 << 10

// newBufPool sizes the buffers for the largest limits of any server.
func newBufPool(h *conf.HTTP) bufPool {
	p := bufPool{smallSize: minBuf}
	for _, srv := range h.Servers {
		s := &srv.Root.Settings
		p.smallSize = max(p.smallSize, s.ClientHeaderBufferSize)
		p.largeSize = max(p.largeSize, s.LargeClientHeaderBuffers.Num*s.LargeClientHeaderBuffers.Size)
	}
	p.largeSize = max(p.largeSize, p.smallSize)
	return p
}

func (p *bufPool) get(large bool) *rbuf {
	list, size := &p.small, p.smallSize
	if large {
		list, size = &p.large, p.largeSize
	}
	if n := len(*list); n > 0 {
		b := (*list)[n-1]
		*list = (*list)[:n-1]
		return b
	}
	return &rbuf{b: make([]byte, size)}
}

func (p *bufPool) put(b *rbuf) {
	b.start, b.end = 0, 0
	if len(b.b) == p.largeSize && p.largeSize != p.smallSize {
		p.large = append(p.large, b)
		return
	}
	p.small = append(p.small, b)
}
