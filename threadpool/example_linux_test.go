//go:build linux

package threadpool_test

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"tern/event"
	"tern/threadpool"
)

// readTask reads a file region in the pool and reports on the loop. It
// embeds TaskState so that posting it twice is caught.
type readTask struct {
	threadpool.TaskState
	fd  int
	off int64
	buf []byte
	// Run's results, read by Done.
	n   int
	err error
	// done is loop-owned: Done may touch anything of the worker's.
	done bool
}

// Run is on a pool goroutine: only the task's own fields.
func (r *readTask) Run() { r.n, r.err = unix.Pread(r.fd, r.buf, r.off) }

// Done is on the loop goroutine.
func (r *readTask) Done() {
	r.done = true
	fmt.Printf("read %d bytes: %s\n", r.n, r.buf[:r.n])
}

func Example() {
	loop, err := event.New()
	if err != nil {
		panic(err)
	}
	defer loop.Close() // after the pool's Close: its goroutines write the eventfd
	pool := threadpool.New("default", 32, 65536, loop)
	loop.OnWake(pool) // the loop calls pool.Drain after each wake-up
	defer pool.Close()

	f, err := os.CreateTemp("", "threadpool-example")
	if err != nil {
		panic(err)
	}
	defer os.Remove(f.Name())
	f.WriteString("hello, pool")
	f.Close()
	fd, err := unix.Open(f.Name(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	defer unix.Close(fd)

	task := &readTask{fd: fd, buf: make([]byte, 5)}
	if err := pool.Post(task); errors.Is(err, threadpool.ErrQueueFull) {
		fmt.Println(err) // the request fails with 500
		return
	}
	for !task.done {
		loop.RunOnce()
	}
	// Output: read 5 bytes: hello
}
