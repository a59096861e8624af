package worker

import "tern/conf"

// connChunk conns share one allocation of the connection table, so a
// worker with few connections holds little, and a conn never moves (the
// event loop and timers hold pointers to it). 512 conns of 144 bytes
// fill 9 pages of the Go heap exactly: a large allocation takes whole
// 8 KiB pages, and 256 of them left half a page in each chunk unused
// (TestIdleConnSize).
const connChunk = 512

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

// at returns the state of fd, whose chunk exists.
func (t *connTable) at(fd int32) *conn {
	return &t.chunks[fd/connChunk][fd%connChunk]
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
// The links are fds, found in the connection table: 4 bytes in each conn
// where a pointer takes 8.
type connList struct {
	t          *connTable
	head, tail *conn
}

// link is the idlePrev or idleNext value for c: its fd plus one, 0 for
// none.
func link(c *conn) int32 {
	if c == nil {
		return 0
	}
	return c.fd + 1
}

// conn returns the connection a link names, nil for 0.
func (l *connList) conn(link int32) *conn {
	if link == 0 {
		return nil
	}
	return l.t.at(link - 1)
}

func (l *connList) pushBack(c *conn) {
	if c.inIdle {
		return
	}
	c.inIdle = true
	c.idlePrev = link(l.tail)
	c.idleNext = 0
	if l.tail != nil {
		l.tail.idleNext = link(c)
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
	prev, next := l.conn(c.idlePrev), l.conn(c.idleNext)
	if prev != nil {
		prev.idleNext = c.idleNext
	} else {
		l.head = next
	}
	if next != nil {
		next.idlePrev = c.idlePrev
	} else {
		l.tail = prev
	}
	c.idlePrev, c.idleNext = 0, 0
}

func (l *connList) front() *conn { return l.head }

// each calls f for every connection in the list; f may remove it.
func (l *connList) each(f func(*conn)) {
	for c := l.head; c != nil; {
		next := l.conn(c.idleNext)
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
