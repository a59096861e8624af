//go:build linux

package threadpool

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// burst is how many tasks one burst posts: a worker with 1000 connections
// each starting a cold sendfile at once.
const burst = 1000

// roundTrip posts task and runs l until its Done has run.
func roundTrip(l *testLoop, p *Pool, task *countTask) {
	want := task.dones + 1
	if err := p.Post(task); err != nil {
		panic(err)
	}
	for task.dones < want {
		if err := l.RunOnce(); err != nil {
			panic(err)
		}
	}
}

// postBurst posts every task, then runs l until all are done.
func postBurst(l *testLoop, p *Pool, tasks []countTask) {
	want := p.Stats().Completed + uint64(len(tasks))
	for i := range tasks {
		if err := p.Post(&tasks[i]); err != nil {
			panic(err)
		}
	}
	for p.Stats().Completed < want {
		if err := l.RunOnce(); err != nil {
			panic(err)
		}
	}
}

// TestSteadyStateDoesNotAllocate: once the queue and the done lists have
// grown, Post, Run, the hand-over, the eventfd wake-up and Done allocate
// nothing — in the loop goroutine or in the pool's.
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("-race: event.Loop.Wake's eventfd write allocates under the detector")
	}
	l, p := newLoopPool(t, 4, burst)
	task := &countTask{}
	tasks := make([]countTask, burst)
	for i := 0; i < 10; i++ { // warm up: grow the ring and done lists
		postBurst(l, p, tasks)
	}
	if a := testing.AllocsPerRun(1000, func() { roundTrip(l, p, task) }); a != 0 {
		t.Errorf("round trip: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(20, func() { postBurst(l, p, tasks) }); a != 0 {
		t.Errorf("burst of %d: %v allocs, want 0", burst, a)
	}
}

// BenchmarkRoundTrip is one task's Post → Run → eventfd → Drain → Done
// through a real loop, on a goroutine locked to its thread like the
// worker's loop. Run does nothing, so this is the pool's own overhead.
func BenchmarkRoundTrip(b *testing.B) {
	for _, threads := range []int{1, 4} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l, p := newLoopPool(b, threads, 0)
			task := &countTask{}
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(l, p, task)
			}
		})
	}
}

// BenchmarkBurst posts burst tasks at once and runs the loop until every
// Done has run; ns/task is the amortised cost per task.
func BenchmarkBurst(b *testing.B) {
	for _, threads := range []int{4, 32} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l, p := newLoopPool(b, threads, burst)
			tasks := make([]countTask, burst)
			b.ReportAllocs()
			for b.Loop() {
				postBurst(l, p, tasks)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/task")
			b.ReportMetric(float64(p.Stats().Completed)/float64(b.N*burst), "tasks/task")
		})
	}
}

// BenchmarkPostFull is the overflow path: a rejected Post.
func BenchmarkPostFull(b *testing.B) {
	p := New("full", 1, 0, newFakeWaker())
	gate := make(chan struct{})
	if err := p.Post(&countTask{gate: gate}); err != nil {
		b.Fatal(err)
	}
	task := &countTask{}
	b.ReportAllocs()
	for b.Loop() {
		if p.Post(task) == nil {
			b.Fatal("post accepted")
		}
	}
	close(gate)
	p.Close()
}

// preadBench reads 4 KiB at offset 0 of a page-cached file.
type preadBench struct {
	fd  int
	buf [4096]byte
}

func (r *preadBench) Run() {
	if _, err := unix.Pread(r.fd, r.buf[:], 0); err != nil {
		panic(err)
	}
}
func (r *preadBench) Done() {}

// BenchmarkPread4K prices offloading a read that did not need it (the
// data is in the page cache): inline on the loop, and through the pool,
// which is what nginx's aio threads does for every sendfile on Linux.
func BenchmarkPread4K(b *testing.B) {
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	r := &preadBench{fd: fd}
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			r.Run()
		}
	})
	b.Run("pool", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		l, p := newLoopPool(b, 4, 0)
		b.ReportAllocs()
		for b.Loop() {
			want := p.Stats().Completed + 1
			if err := p.Post(r); err != nil {
				b.Fatal(err)
			}
			for p.Stats().Completed < want {
				l.RunOnce()
			}
		}
	})
}

// chanDrainer receives tokens sent to it before a Wake.
type chanDrainer struct {
	got int
	c   chan struct{}
}

func (d *chanDrainer) Drain() {
	for {
		select {
		case <-d.c:
			d.got++
		default:
			return
		}
	}
}

// wakeRoundTrip hands a token to a goroutine that passes it back through
// d and wakes l, and runs l until it arrives: the cheapest hand-off from
// the loop to another goroutine and back, without the pool.
func wakeRoundTrip(l *testLoop, d *chanDrainer, in chan<- struct{}) {
	want := d.got + 1
	in <- struct{}{}
	for d.got < want {
		if err := l.RunOnce(); err != nil {
			panic(err)
		}
	}
}

// startWaker starts the goroutine of wakeRoundTrip; closing in stops it.
func startWaker(l *testLoop) (*chanDrainer, chan<- struct{}) {
	d := &chanDrainer{c: make(chan struct{}, 1)}
	l.OnWake(d)
	in := make(chan struct{})
	go func() {
		for range in {
			d.c <- struct{}{}
			l.Wake()
		}
	}()
	return d, in
}

// BenchmarkWakeFloor is the floor under BenchmarkRoundTrip: the same trip
// through the loop's eventfd with a channel instead of the pool.
func BenchmarkWakeFloor(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := newLoop(b)
	d, in := startWaker(l)
	defer close(in)
	for b.Loop() {
		wakeRoundTrip(l, d, in)
	}
}

// blockTask sleeps in a real blocking syscall, as a cold read does, and
// is posted again by Done until stop.
type blockTask struct {
	p    *Pool
	stop *bool
}

// blockFor is how long a blockTask holds its thread in the kernel: a
// slow disk read.
const blockFor = 2 * time.Millisecond

func (s *blockTask) Run() {
	ts := unix.NsecToTimespec(int64(blockFor))
	unix.Nanosleep(&ts, nil)
}

func (s *blockTask) Done() {
	if !*s.stop {
		s.p.Post(s)
	}
}

// BenchmarkLoopLatency measures how fast the loop answers a wake-up from
// another goroutine with the pool idle, and with every pool goroutine in a
// blocking syscall. Run it with -cpu 1,2: with GOMAXPROCS=1 the blocked
// goroutines' thread holds the only P until sysmon retakes it (docs/design.md#the-thread-pool).
func BenchmarkLoopLatency(b *testing.B) {
	for _, blocked := range []int{0, 4} {
		b.Run(fmt.Sprintf("blocked=%d", blocked), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l, p := newLoopPool(b, 4, 0)
			stop := false
			defer func() { stop = true }()
			for i := 0; i < blocked; i++ {
				if err := p.Post(&blockTask{p: p, stop: &stop}); err != nil {
					b.Fatal(err)
				}
			}
			d, in := startWaker(l)
			defer close(in)
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				wakeRoundTrip(l, d, in)
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}
