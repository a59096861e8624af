package threadpool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The completion hand-off had two candidates: what the pool does — append
// to a slice under a mutex and let the loop swap the slice out — and a
// lock-free MPSC list (a Treiber stack the consumer empties with one
// Swap and reverses). A lock-free list is zero-allocation only if it is
// intrusive: each task would carry its link, which Task (Run, Done) does
// not expose. BenchmarkHandoff prices both hand-offs alone, many
// producers and one consumer, so that the choice rests on a number.

// hNode is a completion record; the lock-free list links through next.
type hNode struct {
	next     *hNode
	consumed atomic.Bool
}

type handoff interface {
	push(n *hNode)
	// consume marks every node handed over so far consumed and returns
	// how many there were.
	consume() int
}

type mutexHandoff struct {
	mu           sync.Mutex
	items, spare []*hNode
}

func (m *mutexHandoff) push(n *hNode) {
	m.mu.Lock()
	m.items = append(m.items, n)
	m.mu.Unlock()
}

func (m *mutexHandoff) consume() int {
	m.mu.Lock()
	batch := m.items
	m.items = m.spare[:0]
	m.mu.Unlock()
	for i, n := range batch {
		batch[i] = nil
		n.consumed.Store(true)
	}
	m.spare = batch[:0]
	return len(batch)
}

type lockFreeHandoff struct{ head atomic.Pointer[hNode] }

func (l *lockFreeHandoff) push(n *hNode) {
	for {
		h := l.head.Load()
		n.next = h
		if l.head.CompareAndSwap(h, n) {
			return
		}
	}
}

func (l *lockFreeHandoff) consume() int {
	var fifo *hNode
	for n := l.head.Swap(nil); n != nil; { // reverse into arrival order
		next := n.next
		n.next, fifo = fifo, n
		n = next
	}
	c := 0
	for n := fifo; n != nil; c++ {
		next := n.next
		n.next = nil
		n.consumed.Store(true)
		n = next
	}
	return c
}

// producerNodes is each producer's ring of completion records: a record
// is reused only once the consumer has taken it, as a task is.
const producerNodes = 1024

func benchHandoff(b *testing.B, h handoff) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the loop
		defer wg.Done()
		for {
			select {
			case <-stop:
				h.consume()
				return
			default:
			}
			if h.consume() == 0 {
				runtime.Gosched()
			}
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		nodes := make([]hNode, producerNodes)
		for i := range nodes {
			nodes[i].consumed.Store(true)
		}
		for i := 0; pb.Next(); i++ {
			n := &nodes[i%producerNodes]
			for !n.consumed.Load() {
				runtime.Gosched()
			}
			n.consumed.Store(false)
			h.push(n)
		}
	})
	close(stop)
	wg.Wait()
}

func BenchmarkHandoff(b *testing.B) {
	b.Run("mutex", func(b *testing.B) { benchHandoff(b, &mutexHandoff{}) })
	b.Run("lockfree", func(b *testing.B) { benchHandoff(b, &lockFreeHandoff{}) })
}

func TestHandoffsDeliverEverything(t *testing.T) {
	for i, h := range []handoff{&mutexHandoff{}, &lockFreeHandoff{}} {
		const producers, each = 4, 1000
		nodes := make([]hNode, producers*each)
		var wg sync.WaitGroup
		for g := 0; g < producers; g++ {
			wg.Add(1)
			go func(ns []hNode) {
				defer wg.Done()
				for j := range ns {
					h.push(&ns[j])
				}
			}(nodes[g*each : (g+1)*each])
		}
		got := 0
		for got < len(nodes) {
			got += h.consume()
			runtime.Gosched()
		}
		wg.Wait()
		if got != len(nodes) || h.consume() != 0 {
			t.Errorf("#%d: consumed %d of %d", i, got, len(nodes))
		}
	}
}
