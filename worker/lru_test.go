package worker

import "testing"

type lruItem struct {
	id   int
	node lruNode[lruItem]
}

func TestLRUList(t *testing.T) {
	var l lruList[lruItem]
	l.init()
	if l.oldest() != nil {
		t.Fatal("empty list has an oldest")
	}
	items := make([]*lruItem, 4)
	for i := range items {
		items[i] = &lruItem{id: i}
		l.pushFront(&items[i].node, items[i])
	}
	steps := []struct {
		do   func()
		want int // oldest id, -1 for none
	}{
		{func() {}, 0},
		{func() { l.touch(&items[0].node) }, 1},
		{func() { l.unlink(&items[1].node) }, 2},
		{func() { l.unlink(&items[1].node) }, 2}, // twice is harmless
		{func() { l.touch(&items[0].node) }, 2},  // already the most recent
		{func() { l.unlink(&items[2].node); l.unlink(&items[3].node) }, 0},
		{func() { l.unlink(&items[0].node) }, -1},
	}
	for i, s := range steps {
		s.do()
		got := -1
		if o := l.oldest(); o != nil {
			got = o.id
		}
		if got != s.want {
			t.Fatalf("step %d: oldest %d, want %d", i, got, s.want)
		}
	}
}
