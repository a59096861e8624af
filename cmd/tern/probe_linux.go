//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"tern/conf"
)

// The health check of tern -s upgrade: is the new master serving? Old
// and new workers accept on the same sockets, so an answer alone does
// not say which generation gave it, and a version string need not
// differ. The probe therefore asks the kernel: it connects, sends the
// first lines of an ordinary request, and looks up which process holds
// the server's side of that connection (/proc/net/tcp gives the socket's
// inode, /proc/PID/fd the process that has it open). When a worker of
// the new master holds it, the probe finishes the request and counts any
// HTTP response as the answer. Nothing is added to what clients can see:
// the request is "HEAD / HTTP/1.1" with User-Agent tern-upgrade-probe,
// logged like any other; a connection an old worker took is closed and
// the probe tries again.

const (
	// probeUserAgent marks the probe's requests in the access log.
	probeUserAgent = "tern-upgrade-probe"
	// acceptSettle is how long the probe waits, once the connection
	// has left the listen queue, for the accepting process's fd to show
	// in /proc: accept4 installs it right after taking the socket.
	acceptSettle = 50 * time.Millisecond
	// probePoll is the pause between two looks at /proc.
	probePoll = 2 * time.Millisecond
)

// probeResult is a probe answered by a worker of the new master.
type probeResult struct {
	worker int
	status int
	server string
}

// errOtherWorker: a worker of another master took the connection.
var errOtherWorker = errors.New("taken by a worker of another master")

// probeAddress is the address to probe: cfg's first listening address,
// a wildcard replaced by the loopback address of its family.
func probeAddress(cfg *conf.Config) (string, error) {
	bound := cfg.HTTP.Bound()
	if len(bound) == 0 {
		return "", errors.New("no listen address configured")
	}
	ap, err := netip.ParseAddrPort(bound[0].Addr)
	if err != nil {
		return "", err
	}
	if ip := ap.Addr(); ip.IsUnspecified() {
		if ip.Is4() {
			ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port())
		} else {
			ap = netip.AddrPortFrom(netip.IPv6Loopback(), ap.Port())
		}
	}
	return ap.String(), nil
}

// probe makes one health request to addr within d and reports whether a
// worker of newMaster answered it (errOtherWorker when a worker of
// oldMaster, or another process, took the connection).
func probe(addr string, newMaster, oldMaster int, d time.Duration) (probeResult, error) {
	deadline := time.Now().Add(d)
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return probeResult{}, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	// The request line and Host, not the blank line that ends the
	// header: the worker that accepts waits for the rest meanwhile.
	head := "HEAD / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + probeUserAgent + "\r\n"
	if _, err := c.Write([]byte(head)); err != nil {
		return probeResult{}, err
	}
	w, err := servedBy(c.(*net.TCPConn), workersOf(newMaster), workersOf(oldMaster), deadline)
	if err != nil {
		return probeResult{}, err
	}
	if _, err := c.Write([]byte("Connection: close\r\n\r\n")); err != nil {
		return probeResult{}, err
	}
	status, server, err := readHead(bufio.NewReader(c))
	if err != nil {
		return probeResult{}, fmt.Errorf("worker %d of the new master: %w", w, err)
	}
	return probeResult{worker: w, status: status, server: server}, nil
}

// servedBy waits until some process accepted c, and returns the worker
// among newWorkers that did.
func servedBy(c *net.TCPConn, newWorkers, oldWorkers []int, deadline time.Time) (int, error) {
	server := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	var acceptedAt time.Time
	for {
		ino, err := socketInode(server, client)
		if err != nil {
			return 0, err
		}
		if ino != 0 {
			if w := holder(ino, newWorkers); w != 0 {
				return w, nil
			}
			if holder(ino, oldWorkers) != 0 {
				return 0, errOtherWorker
			}
			// A worker respawned since the lists were made, or the
			// fd not installed yet: look again for a moment.
			if acceptedAt.IsZero() {
				acceptedAt = time.Now()
			} else if time.Since(acceptedAt) > acceptSettle {
				return 0, errOtherWorker
			}
		}
		if time.Now().After(deadline) {
			return 0, errors.New("no worker accepted the connection")
		}
		time.Sleep(probePoll)
	}
}

// readHead reads a response's status line and header, and returns the
// status and the Server field.
func readHead(br *bufio.Reader) (int, string, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return 0, "", err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return 0, "", fmt.Errorf("not an HTTP response: %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return 0, "", err
	}
	return status, h.Get("Server"), nil
}
