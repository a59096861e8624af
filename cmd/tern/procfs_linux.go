//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What tern -s upgrade reads in /proc about the processes of a running
// tern: who is whose child, which process holds a connection's socket.
// It needs what signalling the master needs: the same user, or root.

// procStat is the part of /proc/PID/stat the upgrade uses.
type procStat struct {
	state byte
	ppid  int
	start uint64 // starttime, field 22: tells a pid from its reuse
}

// readStat reads /proc/PID/stat; ok is false when pid does not exist.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// comm (field 2) may hold spaces and parentheses: count fields
	// from the last ')'. The first one after it is field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "" {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{state: f[0][0], ppid: ppid, start: start}, true
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z'
}

// children lists the live processes whose parent is ppid.
func children(ppid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.ppid == ppid && st.state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isWorker reports whether pid shows a worker's title.
func isWorker(pid int) bool {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return bytes.HasPrefix(b, []byte("tern: worker process"))
}

// servingWorkersOf lists the workers of master not shutting down.
func servingWorkersOf(master int) []int {
	var w []int
	for _, pid := range children(master) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if string(bytes.TrimRight(b, "\x00 ")) == "tern: worker process" {
			w = append(w, pid)
		}
	}
	return w
}

// workersOf lists the children of master that are workers.
func workersOf(master int) []int {
	var w []int
	for _, pid := range children(master) {
		if isWorker(pid) {
			w = append(w, pid)
		}
	}
	return w
}

// procNetAddr writes an address as /proc/net/tcp{,6} shows it: the IP
// as 32-bit words in host byte order, each as 8 hex digits, then ":" and
// the port as 4 hex digits.
func procNetAddr(ap netip.AddrPort) string {
	var ip []byte
	if a := ap.Addr().Unmap(); a.Is4() {
		b := a.As4()
		ip = b[:]
	} else {
		b := a.As16()
		ip = b[:]
	}
	var s strings.Builder
	for i := 0; i < len(ip); i += 4 {
		fmt.Fprintf(&s, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&s, ":%04X", ap.Port())
	return s.String()
}

// socketInode returns the inode of the TCP socket whose local address is
// local and remote address remote, from /proc/net/tcp (or tcp6): the
// server's side of a connection this process made. 0 means no such
// socket, or one still waiting in the listen queue (it has no inode
// until a process accepts it).
func socketInode(local, remote netip.AddrPort) (uint64, error) {
	table := "/proc/net/tcp"
	if local.Addr().Unmap().Is6() {
		table = "/proc/net/tcp6"
	}
	f, err := os.Open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	l, r := procNetAddr(local), procNetAddr(remote)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
		// retrnsmt uid timeout inode ...
		fl := strings.Fields(sc.Text())
		if len(fl) >= 10 && fl[1] == l && fl[2] == r {
			return strconv.ParseUint(fl[9], 10, 64)
		}
	}
	return 0, sc.Err()
}

// holder returns the process among pids that has the socket inode ino
// open, or 0.
func holder(ino uint64, pids []int) int {
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == want {
				return pid
			}
		}
	}
	return 0
}
