//go:build linux

package event

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCodeIndex(t *testing.T) {
	for i, c := range []struct {
		status int
		label  string
	}{{200, "200"}, {404, "404"}, {444, "444"}, {505, "505"}, {299, "2xx"}, {418, "4xx"}, {599, "5xx"}, {100, "100"}, {101, "1xx"}, {600, "other"}, {-1, "other"}, {99, "other"}} {
		if got := CodeLabel(CodeIndex(c.status)); got != c.label && !(c.status == 100 && got == "1xx") {
			t.Errorf("%d: %d → %q, want %q", i, c.status, got, c.label)
		}
	}
}

func TestLabels(t *testing.T) {
	s, err := NewShared()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := s.RegisterLabels(ServerLabels, []string{"example.com", "127.0.0.1:8080", "example.com"})
	if !reflect.DeepEqual(ids, []int{1, 2, 1}) {
		t.Fatalf("ids %v", ids)
	}
	// A reload: names that stay keep their ids, new ones are appended.
	if ids := s.RegisterLabels(ServerLabels, []string{"new.test", "example.com"}); !reflect.DeepEqual(ids, []int{3, 1}) {
		t.Fatalf("after a reload: ids %v", ids)
	}
	if got := s.Labels(ServerLabels); !reflect.DeepEqual(got, []string{"other", "example.com", "127.0.0.1:8080", "new.test"}) {
		t.Fatalf("labels %q", got)
	}
	if ids := s.LabelIDs(ServerLabels, []string{"new.test", "unknown"}); !reflect.DeepEqual(ids, []int{3, 0}) {
		t.Fatalf("lookup %v", ids)
	}
	// A long name is cut; a full table gives "other".
	long := strings.Repeat("a", 100)
	ids = s.RegisterLabels(ServerLabels, []string{long})
	if got := s.Labels(ServerLabels)[ids[0]]; got != long[:labelLen-1] {
		t.Fatalf("a long name is %q", got)
	}
	var many []string
	for i := 0; i < MaxServerLabels; i++ {
		many = append(many, strings.Repeat("x", i+1))
	}
	ids = s.RegisterLabels(ServerLabels, many)
	if ids[len(ids)-1] != 0 || len(s.Labels(ServerLabels)) != MaxServerLabels {
		t.Fatalf("a full table: last id %d, %d labels", ids[len(ids)-1], len(s.Labels(ServerLabels)))
	}
	// Counters of two slots add up; a vacated slot's pool gauges go.
	s.Occupy(0, 100)
	s.Occupy(3, 101)
	Inc(&s.ServerSlot(0, 1).Codes[CodeIndex(200)])
	Add(&s.ServerSlot(3, 1).BytesSent, 7)
	Inc(&s.ServerSlot(3, 1).Codes[CodeIndex(200)])
	s.RegisterLabels(PoolLabels, []string{"default"})
	Add(&s.PoolSlot(3, 1).Queued, 5)
	Add(&s.PoolSlot(3, 1).Rejected, 2)
	sum := s.SumServers()
	if sum[1].Codes[CodeIndex(200)] != 2 || sum[1].BytesSent != 7 {
		t.Fatalf("sum %+v", sum[1])
	}
	s.Vacate(3)
	if p := s.SumPools()[1]; p.Queued != 0 || p.Rejected != 2 {
		t.Fatalf("pools after vacate %+v", p)
	}
	// A worker's view: a second mapping of the same memory.
	w, err := MapShared(dupFD(t, s.FD()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Labels(ServerLabels)[1]; got != "example.com" || w.SumServers()[1].BytesSent != 7 {
		t.Fatalf("the worker sees %q, %+v", got, w.SumServers()[1])
	}
}

func dupFD(t *testing.T, fd int) int {
	t.Helper()
	d, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
