//go:build linux

package filters

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkBodyMemoryOrSendfile measures what one response of each size
// costs the sending thread over loopback TCP, both ways the write filter
// can send it: the head and the body from memory in one writev (the
// small-file cache), or the head with MSG_MORE and the body by sendfile
// from a cached file. cpu-ns/op is the sending thread's CPU time
// (RUSAGE_THREAD), which the machine's other load does not inflate the
// way it does wall time; a reader on another goroutine drains the socket.
// Run with -benchtime 20000x and compare cpu-ns/op per size.
func BenchmarkBodyMemoryOrSendfile(b *testing.B) {
	head := []byte("HTTP/1.1 200 OK\r\nServer: tern\r\nContent-Type: application/octet-stream\r\nContent-Length: 65536\r\nLast-Modified: Mon, 30 Nov 2026 21:00:00 GMT\r\nETag: \"1-2\"\r\nAccept-Ranges: bytes\r\n\r\n")
	for _, size := range []int{1 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10} {
		body := make([]byte, size)
		path := filepath.Join(b.TempDir(), "f")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			b.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, way := range []string{"writev", "sendfile"} {
			b.Run(fmt.Sprintf("size=%dk/%s", size>>10, way), func(b *testing.B) {
				sock, stop := loopbackSender(b, int64(b.N)*int64(len(head)+size))
				defer stop()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var iov [2]unix.Iovec
				iov[0].Base, iov[1].Base = &head[0], &body[0]
				iov[0].SetLen(len(head))
				iov[1].SetLen(size)
				var ru0, ru1 unix.Rusage
				unix.Getrusage(unix.RUSAGE_THREAD, &ru0)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if way == "writev" {
						writeAll(b, sock, iov[:])
						continue
					}
					writeAll(b, sock, iov[:1], true)
					for off := int64(0); off < int64(size); {
						if _, err := unix.Sendfile(sock, fd, &off, size-int(off)); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				unix.Getrusage(unix.RUSAGE_THREAD, &ru1)
				cpu := (ru1.Utime.Nano() + ru1.Stime.Nano()) - (ru0.Utime.Nano() + ru0.Stime.Nano())
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			})
		}
		unix.Close(fd)
	}
}

// writeAll writes iov to the blocking socket sock with sendmsg, with
// MSG_MORE when more is given. Through Syscall, not the loop's raw
// calls: a raw call blocked on a full socket would hold its P through a
// stop-the-world and the reader could never drain it.
func writeAll(b *testing.B, sock int, iov []unix.Iovec, more ...bool) {
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	flags := unix.MSG_NOSIGNAL
	if len(more) > 0 && more[0] {
		flags |= unix.MSG_MORE
	}
	if _, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(sock), uintptr(unsafe.Pointer(&msg)), uintptr(flags)); e != 0 {
		b.Fatal(e)
	}
}

// loopbackSender connects a blocking TCP socket over loopback to a reader
// goroutine that drains want bytes; stop closes both ends.
func loopbackSender(b *testing.B, want int64) (int, func()) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		for n := int64(0); n < want; {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n += int64(k)
		}
	}()
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := unix.Connect(sock, sa); err != nil {
		b.Fatal(err)
	}
	unix.SetsockoptInt(sock, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return sock, func() {
		<-done
		unix.Close(sock)
		ln.Close()
	}
}
