package worker

// lruList keeps a cache's entries in use order, most recent first. The
// links live in each entry (an embedded lruNode), so adding, touching and
// removing cost no allocation. Both file caches use it.
type lruList[T any] struct {
	root lruNode[T] // sentinel: root.next is the most recent
}

// lruNode is an entry's place in an lruList.
type lruNode[T any] struct {
	prev, next *lruNode[T]
	val        *T
}

func (l *lruList[T]) init() {
	l.root.next = &l.root
	l.root.prev = &l.root
}

// pushFront adds v, whose node is n, as the most recent.
func (l *lruList[T]) pushFront(n *lruNode[T], v *T) {
	n.val = v
	n.next = l.root.next
	n.prev = &l.root
	n.next.prev = n
	l.root.next = n
}

// touch makes n the most recent.
func (l *lruList[T]) touch(n *lruNode[T]) {
	if l.root.next == n {
		return
	}
	l.unlink(n)
	l.pushFront(n, n.val)
}

// unlink takes n out of the list.
func (l *lruList[T]) unlink(n *lruNode[T]) {
	if n.prev == nil {
		return // not in the list
	}
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
}

// oldest is the least recently used entry, nil when empty.
func (l *lruList[T]) oldest() *T {
	if l.root.prev == &l.root {
		return nil
	}
	return l.root.prev.val
}
