//go:build linux

package filters

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"tern/event"
)

const (
	// iovMax bounds the iovecs of one writev: the head plus the memory
	// segments of a multipart range response. UIO_MAXIOV is 1024.
	iovMax = 64
	// maxSendfile is the most one sendfile call sends on Linux since
	// 2.6.16 (2 GiB minus a page); larger counts are silently cut.
	maxSendfile = 0x7ffff000
	// copyChunk is what one read+write moves with sendfile off (nginx's
	// output_buffers are 2 × 32k).
	copyChunk = 64 << 10
)

// ErrTruncated is the error of a response whose file shrank while it was
// being sent: sendfile returned 0 before the region's end.
var ErrTruncated = errors.New("file was truncated while being sent")

// WriteFilter ends the chain: it sends the head and memory segments with
// one writev and file regions with sendfile, at most sendfile_max_chunk per
// turn, and says what the response waits for when it cannot finish. It
// writes through the Txn's Transport: over TLS, file regions are read
// into memory (inline when their pages are cached, on a pool thread when
// not) and encrypted on the loop.
type WriteFilter struct {
	bufs [iovMax][]byte
	// copyBuf carries file data when sendfile is off. A partial write
	// does not keep the rest: the next turn reads it again from the
	// file, which the read just brought into the page cache.
	copyBuf []byte
}

var (
	_ Filter  = (*WriteFilter)(nil)
	_ Resumer = (*WriteFilter)(nil)
)

// Header starts sending a response.
func (w *WriteFilter) Header(t *Txn) Result { return w.Resume(t) }

// Resume sends what is left of t, until done, EAGAIN, the turn's budget
// is spent, or limit_rate says to wait.
func (w *WriteFilter) Resume(t *Txn) Result {
	// A response that waited for EPOLLOUT resumes because the socket
	// has room again.
	t.room = roomUnknown
	if t.Wait == WaitWrite {
		t.room = roomSignalled
	}
	t.Wait = WaitNone
	t.filled = filled{} // trusted for the turn after the fill only
	if r := w.finishTask(t); r != OK {
		return r
	}
	// Output the transport held back goes first.
	if r := w.flush(t); r != OK {
		return r
	}
	r := w.send(t)
	if t.nagle && r != Again {
		// Done, or Error: the last partial segment leaves now. The
		// option was set on this socket a moment ago; it cannot fail
		// now unless the socket did, which its next read will say.
		t.nagle = false
		setNagle(t.Conn.SendfileFD(), false)
	}
	if r == Done {
		// The last records may still be in the transport.
		r = w.flush(t)
		if r == OK {
			r = Done
		}
	}
	return r
}

// flush sends what the transport holds back.
func (w *WriteFilter) flush(t *Txn) Result {
	if err := t.Conn.Flush(); err != nil {
		return w.failed(t, err, "write")
	}
	return OK
}

// send sends what is left of the response.
func (w *WriteFilter) send(t *Txn) Result {
	budget := t.Loc.SendfileMaxChunk
	if budget <= 0 || budget > maxSendfile {
		budget = maxSendfile
	}
	limited := t.LimitRate > 0
	if limited {
		allow, ok := t.rateAllowance(t.Env.Clock())
		if !ok {
			t.Wait = WaitTimer
			return Again
		}
		budget = min(budget, allow)
	}
	// slowTurn: see slowTurnChunks. Each send of such a turn stays
	// within one chunk (perSend), with its own look at the page cache.
	perSend := budget
	slowTurn := t.slowPeer && t.room == roomSignalled && !limited
	if slowTurn {
		budget = min(budget*slowTurnChunks, maxSendfile)
	}
	short := false    // the last file send came back short
	refilled := false // a producer makes one piece per turn
	segs := t.Resp.Body.Segs
	if t.Resp.HeaderOnly {
		segs = nil
	}
	pool := offloadable(t)
	sfd := t.Conn.SendfileFD()
	for {
		if pool != nil && sfd >= 0 && t.headSent == 0 && len(t.Head) > 0 && t.seg < len(segs) && !segs[t.seg].InMemory() {
			// The head and the first chunk of a file: if the chunk
			// must come from the disk, the head waits for it, so
			// that a full queue still leaves room for a clean 500.
			// A chunk found cached is remembered as filled: the
			// send below does not ask again.
			s := &segs[t.seg]
			n, r := ready(t, pool, s, min(s.Len-t.segOff, perSend), -1)
			if r != OK {
				return r
			}
			t.filled = filled{file: s.File, off: s.Off + t.segOff, end: s.Off + t.segOff + n}
		}
		memLimit := int64(-1)
		if limited {
			memLimit = budget
		}
		sent := t.Sent
		if r, more := w.writeMem(t, segs, memLimit); !more {
			return r
		}
		if limited {
			budget -= t.Sent - sent
			if budget <= 0 && t.headSent < len(t.Head) {
				return t.pause(limited)
			}
		}
		if t.seg >= len(segs) {
			// Everything is sent: done, unless a producer makes more.
			if r, more := t.refill(&refilled); !more {
				return r
			}
			segs = t.Resp.Body.Segs
			continue
		}
		if budget <= 0 {
			return t.pause(limited)
		}
		if segs[t.seg].InMemory() {
			continue // writeMem stopped at iovMax
		}
		if t.slowPeer && t.room == roomUnknown && sfd >= 0 && (!slowTurn || short) {
			if !hasRoom(sfd) {
				t.Wait = WaitWrite
				return Again
			}
			t.room = roomPolled
		}
		s := &segs[t.seg]
		chunk := min(budget, perSend)
		if pool != nil && sfd >= 0 {
			// Each chunk on its own: sent inline when its pages are
			// cached, else read and sent by the pool (brought in
			// first when sendfile is off).
			sock := -1
			if t.Loc.Sendfile {
				sock = sfd
			}
			n, r := ready(t, pool, s, min(s.Len-t.segOff, chunk), sock)
			if r != OK {
				return r
			}
			chunk = n
		}
		if sfd >= 0 && t.Loc.Sendfile && t.Loc.TCPNopush && !limited && !t.nagle && s.Len-t.segOff > chunk {
			// More than one sendfile: see setNagle. A socket that
			// has no TCP_NODELAY (a UNIX-domain one) refuses it and
			// sends as it always does.
			t.nagle = setNagle(sfd, true) == nil
		}
		send := w.sendFile
		switch {
		case sfd < 0:
			send = w.throughMemory
		case !t.Loc.Sendfile:
			send = w.copyFile
		}
		want := min(s.Len-t.segOff, chunk)
		n, r := send(t, s, chunk)
		t.room = roomUnknown
		if r != OK {
			return r
		}
		short = n < want
		budget -= n
	}
}

// writeMem writes the rest of the head and the memory segments up to the
// next file segment, at most limit bytes when limit >= 0 (limit_rate).
// more is false when the caller must return r.
func (w *WriteFilter) writeMem(t *Txn, segs []Segment, limit int64) (r Result, more bool) {
	n := 0
	total := 0
	if t.headSent < len(t.Head) {
		n, total = w.add(n, total, capped(t.Head[t.headSent:], total, limit))
	}
	i, off := t.seg, t.segOff
	for ; i < len(segs) && segs[i].InMemory() && n < iovMax && (limit < 0 || int64(total) < limit); i++ {
		n, total = w.add(n, total, capped(segs[i].Bytes()[off:], total, limit))
		off = 0
	}
	if n == 0 {
		return OK, true
	}
	fileNext := i < len(segs) && !segs[i].InMemory() && t.Loc.TCPNopush
	written, err := t.Conn.Writev(w.bufs[:n], fileNext)
	clear(w.bufs[:n]) // hold no response's memory between calls
	if err != nil {
		return w.failed(t, err, "writev"), false
	}
	t.Sent += int64(written)
	t.advance(written)
	if written < total {
		// The socket buffer is full; an edge-triggered EPOLLOUT follows
		// when the peer acknowledges enough of it.
		t.Wait = WaitWrite
		return Again, false
	}
	return OK, true
}

// pause ends a turn whose budget is spent: WaitTimer when limit_rate
// allows nothing more for now, else WaitPost (sendfile_max_chunk is
// spent; other connections get a turn).
func (t *Txn) pause(limited bool) Result {
	t.Wait = WaitPost
	if limited {
		if _, ok := t.rateAllowance(t.Env.Clock()); !ok {
			t.Wait = WaitTimer
		}
	}
	return Again
}

// capped cuts p so that total+len(p) stays within limit (no limit when
// limit < 0).
func capped(p []byte, total int, limit int64) []byte {
	if limit >= 0 && int64(total+len(p)) > limit {
		return p[:max(limit-int64(total), 0)]
	}
	return p
}

func (w *WriteFilter) add(n, total int, p []byte) (int, int) {
	if len(p) == 0 {
		return n, total
	}
	w.bufs[n] = p
	return n + 1, total + len(p)
}

// advance moves the write position n bytes past the head and memory
// segments.
func (t *Txn) advance(n int) {
	if rest := len(t.Head) - t.headSent; rest > 0 {
		if n < rest {
			t.headSent += n
			return
		}
		t.headSent = len(t.Head)
		n -= rest
	}
	segs := t.Resp.Body.Segs
	for n > 0 && t.seg < len(segs) {
		rest := int(segs[t.seg].Size() - t.segOff)
		if n < rest {
			t.segOff += int64(n)
			return
		}
		n -= rest
		t.seg++
		t.segOff = 0
	}
	// A memory segment of length 0 never gets here: Body refuses them.
}

// sendFile sends up to budget bytes of a file segment from the loop's
// thread.
func (w *WriteFilter) sendFile(t *Txn, s *Segment, budget int64) (int64, Result) {
	count := s.Len - t.segOff
	if count > budget {
		count = budget
	}
	off := s.Off + t.segOff
	// sendfile may sleep on a page-cache miss, so it goes through
	// Syscall (unix.Sendfile), which lets the runtime run the pool's
	// goroutines meanwhile.
	from, start := off, time.Now()
	n, err := unix.Sendfile(t.Conn.SendfileFD(), s.File.FD, &off, int(count))
	if time.Since(start) >= slowFill {
		t.slowRead(s, from, count)
	}
	t.Env.Stats.InlineSends++
	if err != nil {
		if err == unix.EAGAIN {
			t.Env.Stats.FullSocketSends++
			t.slowPeer = true
		}
		return 0, w.failed(t, err, "sendfile")
	}
	switch {
	case int64(n) < count:
		t.slowPeer = true // see hasRoom
	case t.room == roomPolled:
		t.slowPeer = false // the client keeps up again
	}
	return w.sent(t, s, int64(n))
}

// slowTurnChunks bounds, in sendfile_max_chunk, the turn that EPOLLOUT
// starts for a client that reads slower than the loop sends (slowPeer).
// The socket has just been found to have room again — the kernel
// signals when a third of its buffer is free — so such a turn goes on
// sending, without asking hasRoom between full sends, until a send comes
// back short; the socket's room bounds it, and this bound keeps a client
// that speeds up from holding the loop. Ending it at every chunk instead
// cost, per 256 KiB, a pass through the loop and a poll(2) that said
// yes: with 4 downloads reading 50 MiB/s each, tern made 15,000 system
// calls per GiB where lighttpd made 6,000–7,200, about 4,000 of them
// these polls. A full send that used up the last room exactly makes the
// next one find the socket full: at most one such call per turn, cheaper
// than a poll before every chunk. Each send stays within one chunk and
// asks the page cache first (ready), as any other: one sendfile that
// ran to the turn's 2 MiB could stall the loop on pages evicted since
// ready last looked, eight times as long as a chunk's worth. HTTP/2
// turns carry 8 chunks for the
// same reason (docs/directives/sendfile_max_chunk.md). Measured in
// simultaneous pairs against the previous binary (t/bench -pair-load
// large -large-client paced), CPU per GiB 0.68× and 1/1.43×, and 6,300–
// 6,900 system calls per GiB against 15,000. It needs the event loop's
// bounded waits (event.activeWait): fewer, longer waits alone made the
// runtime's monitor restart at each wake-up, and cost 1.42× the CPU.
const slowTurnChunks = 8

// hasRoom reports whether the socket fd has room for more (poll(2),
// POLLOUT, without waiting). While a response's client reads slower
// than the loop sends (slowPeer: a sendfile came back short or found the
// socket full), each file send that no EPOLLOUT has just vouched for
// asks first: the turn after one that spent sendfile_max_chunk, and the
// send after a short one. A send that the poll let through and that
// goes out whole ends that: the client keeps up again, and the next
// turns send without asking. Sending blind into a full socket costs a
// sendfile that reads its pages into the kernel's pipe and gives them
// back (EAGAIN), or one that sends a sliver: with 4 downloads reading
// 50 MiB/s each (t/bench -large-client paced), 14 % of tern's sendfile
// calls found the socket full and 15 % sent less than 256 KiB, where
// lighttpd, which waits for a level-triggered EPOLLOUT before each call,
// sent 256 KiB with every one; asking first, every call sends 256 KiB
// and the worker's CPU per GiB fell to 0.41× (docs/design.md#filters).
// On a TCP socket without room, the same poll sets SOCK_NOSPACE
// (tcp_poll), so the acknowledgement that frees enough of the buffer
// raises the edge-triggered EPOLLOUT the response then waits for; a
// UNIX-domain socket raises it whenever the peer reads. A poll that
// fails says yes: the send reports the error.
func hasRoom(fd int) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
	var ts unix.Timespec // zero: do not wait
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		return e != 0 || r != 0
	}
}

// setNagle turns Nagle's algorithm on or off (TCP_NODELAY off or on) on a
// socket. Accepted sockets have TCP_NODELAY; with tcp_nopush, a file
// region that takes more than one sendfile goes out with Nagle's
// algorithm on. Every sendfile_max_chunk call ends in a partial segment
// (262,144 bytes over loopback are 4 segments of 65,483 and 212 bytes
// over), which TCP_NODELAY sends at once as a packet of its own, and
// Nagle holds for the next call's bytes while earlier data is
// unacknowledged. Setting TCP_NODELAY again when the response is done
// sends the last partial segment at once (tcp(7)), so no response waits
// for an acknowledgement, as one would under Nagle alone. lighttpd,
// which never sets TCP_NODELAY, sends this way. TCP_CORK, nginx's
// tcp_nopush, holds a partial segment even when nothing is in flight:
// measured here it cost more CPU per GiB, not less. A response paced by
// limit_rate keeps TCP_NODELAY: each quantum leaves at once.
func setNagle(fd int, on bool) error {
	v := 1
	if on {
		v = 0
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, v)
}

// copyFile sends up to budget bytes of a file segment by pread and write,
// for sendfile off.
func (w *WriteFilter) copyFile(t *Txn, s *Segment, budget int64) (int64, Result) {
	if w.copyBuf == nil {
		w.copyBuf = make([]byte, copyChunk)
	}
	count := min(s.Len-t.segOff, budget, copyChunk)
	start := time.Now()
	n, err := unix.Pread(s.File.FD, w.copyBuf[:count], s.Off+t.segOff)
	if time.Since(start) >= slowFill {
		t.slowRead(s, s.Off+t.segOff, count)
	}
	if err != nil {
		t.Err = os.NewSyscallError("pread", err)
		return 0, Error
	}
	if n == 0 {
		return w.sent(t, s, 0)
	}
	w.bufs[0] = w.copyBuf[:n]
	m, err := t.Conn.Writev(w.bufs[:1], false)
	w.bufs[0] = nil
	t.Env.Stats.InlineSends++
	if err != nil {
		return 0, w.failed(t, err, "write")
	}
	if _, r := w.sent(t, s, int64(m)); r != OK {
		return 0, r
	}
	if m < n {
		t.Wait = WaitWrite
		return int64(m), Again
	}
	return int64(m), OK
}

// sent accounts n bytes sent from file segment s.
func (w *WriteFilter) sent(t *Txn, s *Segment, n int64) (int64, Result) {
	if n <= 0 {
		t.Err = fmt.Errorf("sendfile() reported that %q was truncated at %d: %w", s.File.Name, s.Off+t.segOff, ErrTruncated)
		return 0, Error
	}
	t.Sent += n
	t.segOff += n
	if t.segOff == s.Len {
		t.seg++
		t.segOff = 0
	}
	// A short count without EAGAIN can happen (Linux ≥ 4.3 sendfile is
	// interruptible); the loop calls again and gets EAGAIN if the socket
	// really is full.
	return n, OK
}

func (w *WriteFilter) failed(t *Txn, err error, call string) Result {
	if err == unix.EAGAIN {
		t.Wait = WaitWrite
		return Again
	}
	if err == unix.EINTR {
		t.Wait = WaitPost
		return Again
	}
	t.Err = os.NewSyscallError(call, err)
	return Error
}

// readFileAt reads file data that a filter transforms (gzip's input) at
// off into p: from the cache when the file's contents are there, else
// with pread on the loop's thread. Every such read goes through here, so
// that it can move to the thread pool (aio threads) and answer Again with
// WaitThread. A file that ends before off+len(p) was truncated since it
// was opened: Error, as sendfile's short count.
func readFileAt(t *Txn, f *File, off int64, p []byte) (int, Result) {
	if f.Data != nil {
		if off >= int64(len(f.Data)) {
			return 0, truncated(t, f, off)
		}
		return copy(p, f.Data[off:]), OK
	}
	n, done, err := takeRead(t, f, off, p)
	if !done {
		if pool := offloadable(t); pool != nil && !resident(f.FD, off, int64(len(p))) {
			// Not in the page cache: read on a pool thread, and be
			// called again when the data is there.
			return 0, postRead(t, pool, f, off, p)
		}
		for {
			n, err = unix.Pread(f.FD, p, off)
			if err != unix.EINTR {
				break
			}
		}
	}
	switch {
	case err != nil:
		t.Err = os.NewSyscallError("pread", err)
		return 0, Error
	case n == 0 && len(p) > 0:
		return 0, truncated(t, f, off)
	}
	return n, OK
}

func truncated(t *Txn, f *File, off int64) Result {
	t.Err = fmt.Errorf("pread() reported that %q was truncated at %d: %w", f.Name, off, ErrTruncated)
	return Error
}

// NewChain returns a worker's filter chain, in nginx's order (its
// auto/modules): not-modified, headers (add_header, expires), charset,
// gzip, range, recode, chunked, then header serialisation and the write
// filter. The order matters: charset before gzip, which leaves a recoded
// response alone; gzip before range, so that a compressed response is
// never ranged; recode after range, so that an 8-bit recoding is ranged
// as the file is; range after not-modified, so that a 304 is never ranged;
// chunked after both, when the length is final.
func NewChain() Chain {
	return Chain{
		NotModifiedFilter{},
		HeadersFilter{},
		CharsetFilter{},
		GzipFilter{},
		RangeFilter{},
		RecodeFilter{},
		ChunkedFilter{},
		HeaderFilter{},
		&WriteFilter{},
	}
}

// throughMemory sends up to budget bytes of a file segment through a
// transport that cannot take file data directly (TLS): a chunk is read
// into the Txn's buffer — inline when its pages are cached, on a pool
// thread when not, each chunk on its own, as the sendfile path does —
// and written with Writev, which encrypts it on the loop. The inline read is itself the test (preadv2 with RWF_NOWAIT, on
// which resident's probes are built): one system call where probing and
// then reading would be five. A partial write keeps nothing: the next
// turn reads the rest again from the page cache.
func (w *WriteFilter) throughMemory(t *Txn, s *Segment, budget int64) (int64, Result) {
	count := min(s.Len-t.segOff, budget, copyChunk)
	if t.memBuf == nil {
		t.memBuf = make([]byte, copyChunk)
	}
	buf := t.memBuf[:count]
	off := s.Off + t.segOff
	n, done, err := takeRead(t, s.File, off, buf)
	if !done {
		if pool := offloadable(t); pool != nil {
			n, err = preadNoWait(s.File.FD, buf, off)
			if err == unix.EAGAIN {
				// Not in the page cache: this chunk is the disk's
				// turn; the next one is asked again.
				return 0, postRead(t, pool, s.File, off, buf)
			}
		} else {
			for {
				n, err = unix.Pread(s.File.FD, buf, off)
				if err != unix.EINTR {
					break
				}
			}
		}
		t.Env.Stats.InlineSends++
	}
	if err != nil {
		t.Err = os.NewSyscallError("pread", err)
		return 0, Error
	}
	if n == 0 {
		return w.sent(t, s, 0)
	}
	w.bufs[0] = buf[:n]
	m, err := t.Conn.Writev(w.bufs[:1], false)
	w.bufs[0] = nil
	if err != nil {
		return 0, w.failed(t, err, "write")
	}
	if m == 0 {
		t.Wait = WaitWrite
		return 0, Again
	}
	if _, r := w.sent(t, s, int64(m)); r != OK {
		return 0, r
	}
	if m < n {
		t.Wait = WaitWrite
		return int64(m), Again
	}
	return int64(m), OK
}

// Socket is the Transport of a plain TCP connection: writev straight to
// the socket, and file data by sendfile.
type Socket struct {
	FD int
}

var _ Transport = (*Socket)(nil)

// Writev writes bufs with one writev, or with MSG_MORE when more follows
// at once: the kernel holds a partial segment back for the file data —
// tcp_nopush without the two setsockopt calls of TCP_CORK.
func (s *Socket) Writev(bufs [][]byte, more bool) (int, error) {
	var iov [iovMax]unix.Iovec
	n := 0
	for _, b := range bufs[:min(len(bufs), iovMax)] {
		if len(b) == 0 {
			continue
		}
		iov[n].Base = (*byte)(unsafe.Pointer(&b[0]))
		iov[n].SetLen(len(b))
		n++
	}
	if more {
		return event.WritevMore(s.FD, iov[:n])
	}
	return event.Writev(s.FD, iov[:n])
}

// SendfileFD is the socket: file data goes to it by sendfile.
func (s *Socket) SendfileFD() int { return s.FD }

// Flush has nothing to do: a socket holds nothing back.
func (s *Socket) Flush() error { return nil }
