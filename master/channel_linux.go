//go:build linux

package master

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The channel between the master and one worker: a SOCK_SEQPACKET
// socketpair (one message per send, file descriptors passed alongside),
// as nginx's ngx_channel. The worker inherits its end as FDChannel; the
// master keeps the other, close-on-exec. A message is one kind byte and
// an optional text:
//
//	worker → master  msgReady    serving: its listening sockets are polled
//	                 msgFail     it cannot start; the text says why
//	                 msgReopen   it got USR1 directly: reopen the logs
//	master → worker  msgReopen   with SCM_RIGHTS: its log files opened
//	                             anew, in LogPaths order
//
// The master reads its ends only from its own goroutine, without
// blocking (MSG_DONTWAIT); a notifier goroutine merely wakes it when one
// becomes readable (channels.wait). Sends never block either side: a
// message that does not fit the peer's buffer is lost, and the master's
// timeouts cover a lost "ready".
const (
	msgReady  = 'R'
	msgFail   = 'F'
	msgReopen = 'O'
	// maxMsg bounds a message's text (a failure's reason).
	maxMsg = 2048
	// maxPassedFDs is the kernel's SCM_MAX_FD: the most descriptors one
	// message carries.
	maxPassedFDs = 253
)

// newChannel makes a worker's channel: the master's end (close-on-exec)
// and the worker's end, which spawn passes as FDChannel and the master
// then closes.
func newChannel() (mine, theirs int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, os.NewSyscallError("socketpair", err)
	}
	return fds[0], fds[1], nil
}

// message is one message read from a worker's channel.
type message struct {
	kind byte
	text string
}

// readMessages reads the messages waiting on a master's end, without
// blocking. eof reports that the worker's end is closed (it exited).
func readMessages(fd int) (msgs []message, eof bool) {
	var buf [maxMsg + 1]byte
	for {
		n, _, _, _, err := unix.Recvmsg(fd, buf[:], nil, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return msgs, err != unix.EAGAIN
		case n == 0:
			return msgs, true
		}
		msgs = append(msgs, message{kind: buf[0], text: string(buf[1:n])})
	}
}

// sendFiles sends msgReopen with files to a worker.
func sendFiles(fd int, files []*os.File) error {
	if len(files) > maxPassedFDs {
		return errors.New("more log files than one message can pass")
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, []byte{msgReopen}, oob, nil, unix.MSG_DONTWAIT)
}

// channels wakes the master when a worker's channel turns readable: an
// epoll set of the master's ends, edge-triggered, waited on by one
// goroutine that only signals wake. The master's goroutine adds, removes
// and reads the ends; stop ends the goroutine.
type channels struct {
	ep   int
	stop int // an eventfd in the set: written to end the goroutine
	wake chan struct{}
}

func newChannels() (*channels, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ep)
		return nil, os.NewSyscallError("eventfd", err)
	}
	c := &channels{ep: ep, stop: stop, wake: make(chan struct{}, 1)}
	if err := c.add(stop); err != nil {
		unix.Close(ep)
		unix.Close(stop)
		return nil, err
	}
	go c.wait()
	return c, nil
}

// add watches a master's end. A closed fd leaves the set by itself.
func (c *channels) add(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(c.ep, unix.EPOLL_CTL_ADD, fd, &ev))
}

// wait runs on its own goroutine until close.
func (c *channels) wait() {
	events := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(c.ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == c.stop {
				unix.Close(c.ep)
				unix.Close(c.stop)
				return
			}
		}
		select {
		case c.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// close ends the goroutine, which closes the set.
func (c *channels) close() {
	var one = [8]byte{1}
	unix.Write(c.stop, one[:])
}

// Channel is a worker's end of its channel to the master.
type Channel struct{ fd int }

// WorkerChannel returns the channel a worker inherited, made
// close-on-exec.
func WorkerChannel() *Channel {
	unix.CloseOnExec(FDChannel)
	return &Channel{fd: FDChannel}
}

// Ready tells the master that the worker serves: a reload retires the
// old workers only once every new one said so.
func (c *Channel) Ready() error { return c.send(msgReady, "") }

// Fail tells the master why the worker cannot start, before it exits
// with ExitCannotStart.
func (c *Channel) Fail(reason string) error { return c.send(msgFail, reason) }

// AskReopen asks the master to reopen the logs (USR1 sent to a worker):
// only the master may open them.
func (c *Channel) AskReopen() error { return c.send(msgReopen, "") }

func (c *Channel) send(kind byte, text string) error {
	if len(text) > maxMsg {
		text = text[:maxMsg]
	}
	for {
		err := unix.Sendmsg(c.fd, append([]byte{kind}, text...), nil, nil, unix.MSG_DONTWAIT)
		if err != unix.EINTR {
			return os.NewSyscallError("sendmsg", err)
		}
	}
}

// Receive waits for the master's next message, a reopen, and returns the
// files it carries (close-on-exec). It returns io.EOF once the master is
// gone. Call it from one goroutine; it blocks that goroutine's thread.
func (c *Channel) Receive() ([]*os.File, error) {
	var buf [maxMsg + 1]byte
	oob := make([]byte, unix.CmsgSpace(maxPassedFDs*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf[:], oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, os.NewSyscallError("recvmsg", err)
		case n == 0:
			return nil, io.EOF
		}
		files, err := parseRights(oob[:oobn])
		if err != nil {
			return nil, err
		}
		if buf[0] != msgReopen {
			for _, f := range files {
				f.Close()
			}
			continue // not for this version: ignored
		}
		return files, nil
	}
}

// parseRights returns the descriptors of SCM_RIGHTS messages as files.
func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, os.NewSyscallError("recvmsg", err)
	}
	var files []*os.File
	for i := range cmsgs {
		fds, err := unix.ParseUnixRights(&cmsgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "log"))
		}
	}
	return files, nil
}
