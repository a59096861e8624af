// Package threadpool runs blocking work — a sendfile or pread that may hit
// a cold disk, an open or fstat in a cold directory — off the event loop,
// on a bounded set of goroutines, and hands each finished task back to the
// loop goroutine. It is nginx's thread_pool (src/core/ngx_thread_pool.c),
// one pool per worker process.
//
// # Ownership
//
// A Pool belongs to the goroutine that runs its event loop: Post and Drain
// are called there and nowhere else. Close and Stats are safe from any
// goroutine.
//
// A Task belongs to the loop goroutine too, except from the moment Post
// accepts it until the moment Drain calls its Done. In between, one pool
// goroutine calls its Run, which may touch the task's own record (the fd,
// offset and count it was given; the result it leaves behind) and nothing
// else of the worker's: no connection, no buffer pool, no timer, no logger.
//
// Everything that crosses between goroutines passes through one mutex,
// Pool.mu, and the loop's eventfd:
//
//	loop:  Post ──▶ [task queue] ──▶ pool goroutine: Run
//	                                     │
//	loop:  Drain ◀── [done list] ◀───────┘ then Waker.Wake (eventfd)
//
// Post appends the task to the task queue under mu and signals an idle pool
// goroutine. That goroutine runs the task, then under mu appends it to the
// done list and takes the next task, then calls Wake, which writes the
// loop's eventfd unless a wake-up is already on its way. The loop calls
// Drain, which swaps the done list out under mu and calls Done for each
// task, in the order their Runs finished. The mutex gives the hand-over
// its happens-before edge both ways, so the task's fields need no atomics.
//
// One mutex, not a lock-free done list: a pool goroutine takes mu anyway
// to get its next task (nginx's task queue is a mutex and a condition
// variable too), and appending its finished task inside that same
// critical section costs nothing more, where a lock-free list would add a
// CAS and, to stay allocation-free, a link inside every task. Measured
// alone (BenchmarkHandoff, 2 vCPUs, GOMAXPROCS=2) the lock-free push costs
// 9–17 ns and the mutex 17–20 ns, and the mutex falls further behind only
// with more running producers than CPUs — pool goroutines blocked in
// syscalls hold no P and do not contend. Against that, a whole task in a
// burst costs about 50 ns (BenchmarkBurst, mutex included) and a lone
// round trip through the eventfd about 30 µs (BenchmarkRoundTrip, the
// same as BenchmarkWakeFloor, which is that trip without the pool): the
// lock is not where the time goes.
//
// Each pool goroutine keeps an OS thread of its own (LockOSThread) and
// marks it SCHED_BATCH once, when it starts: a task never pays for a
// sched_setattr, and a marked thread never runs other goroutines. A pool
// of N goroutines costs N threads. Waking an idle one is a futex wake of
// its thread — which it was already in a worker, whose loop keeps one
// of the two Ps busy, so that running any other goroutine takes waking
// another thread.
package threadpool
