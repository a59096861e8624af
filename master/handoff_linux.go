//go:build linux

package master

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// The hand-off from the master to a worker. A worker is the master's own
// running binary (/proc/self/exe) started with WorkerEnv in its
// environment; everything else it needs comes as inherited descriptors at
// fixed numbers:
//
//	fd 3  FDShared  the shared memory (memfd): accept lock and counters
//	fd 4  FDConfig  the configuration snapshot (memfd, JSON, see snapshot)
//	fd 5  FDParent  the read end of a pipe the master never writes: EOF
//	                means the master is gone, and the worker quits
//	fd 6  FDChannel the worker's end of its channel with the master
//	                (channel_linux.go): ready, cannot start, reopen
//	fd 7… FDListen  one listening socket per bound address, in the order
//	                of Config.HTTP.Bound(): the shared socket, or for a
//	                reuseport address this worker's own one
//	then            the log files, in LogPaths order (logs_linux.go)
//	then            the session ticket keys zone (tickets_linux.go), when
//	                Keys is 1
//	then            one shared table per limit_req or limit_conn zone, in
//	                the order of Config.HTTP.Zones (zones_linux.go)
//
// The environment variable carries what is not a descriptor. Its value is
// "slot=S,index=I,gen=G,listeners=N,workers=W,logs=L,zones=Z".
//
// A worker that cannot start (its hand-off or its configuration does not
// work out) says why on its channel and exits with ExitCannotStart.
// Everything else the master treats as a crash, and replaces the worker.
const (
	// WorkerEnv names the worker role and its parameters.
	WorkerEnv = "TERN_WORKER"
	FDShared  = 3
	FDConfig  = 4
	FDParent  = 5
	FDChannel = 6
	FDListen  = 7
	// ExitCannotStart is the exit status of a worker that cannot start.
	// The Go runtime never exits with it by itself: a panic, a fatal
	// error (out of memory, a concurrent map write) and SIGABRT or
	// SIGSEGV exit with status 2, log.Fatal with 1. (nginx uses 2 for
	// "cannot start", which in a Go program would also mean every
	// crash.)
	ExitCannotStart = 3
)

// WorkerParams are a worker's parameters from WorkerEnv.
type WorkerParams struct {
	// Slot is the worker's counters slot in the shared memory.
	Slot int
	// Index is the worker's number in its generation, 0-based: it picks
	// the CPU and the reuseport sockets, and a respawned worker keeps it.
	Index int
	// Gen is the configuration generation (1 at start, +1 per reload).
	Gen int
	// Listeners is how many listening sockets follow FDListen.
	Listeners int
	// Workers is the size of the worker's generation: one worker alone
	// needs no accept lock.
	Workers int
	// Logs is how many log files follow the listening sockets.
	Logs int
	// Keys is 1 when the ticket keys zone follows the log files.
	Keys int
	// Zones is how many zone tables follow the log files and the ticket
	// keys.
	Zones int
}

func (p WorkerParams) String() string {
	return fmt.Sprintf("slot=%d,index=%d,gen=%d,listeners=%d,workers=%d,logs=%d,keys=%d,zones=%d", p.Slot, p.Index, p.Gen, p.Listeners, p.Workers, p.Logs, p.Keys, p.Zones)
}

// WorkerRole reports whether this process was started as a worker, and
// with what parameters. It removes WorkerEnv from the environment, so
// that nothing the worker might start inherits it.
func WorkerRole() (WorkerParams, bool, error) {
	v, ok := os.LookupEnv(WorkerEnv)
	if !ok {
		return WorkerParams{}, false, nil
	}
	os.Unsetenv(WorkerEnv)
	var p WorkerParams
	fields := map[string]*int{"slot": &p.Slot, "index": &p.Index, "gen": &p.Gen, "listeners": &p.Listeners, "workers": &p.Workers, "logs": &p.Logs, "keys": &p.Keys, "zones": &p.Zones}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		dst := fields[k]
		n, err := strconv.Atoi(val)
		if dst == nil || err != nil || n < 0 {
			return p, true, fmt.Errorf("%s=%q: bad field %q", WorkerEnv, v, kv)
		}
		*dst = n
	}
	return p, true, nil
}

// snapshot is the configuration as the master validated it: every file's
// text, decoded again by the worker with conf.LoadSnapshot so that it
// never reads a file that may have changed since.
type snapshot struct {
	File    string            `json:"file"`
	Prefix  string            `json:"prefix"`
	Sources map[string][]byte `json:"sources"`
}

// writeSnapshot puts cfg's snapshot in a new memfd (close-on-exec) and
// returns it.
func writeSnapshot(cfg *conf.Config) (int, error) {
	b, err := json.Marshal(snapshot{File: cfg.File, Prefix: cfg.Prefix, Sources: cfg.Sources})
	if err != nil {
		return -1, err
	}
	fd, err := unix.MemfdCreate("tern-conf", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("memfd_create", err)
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("pwrite", err)
		}
		off += n
	}
	return fd, nil
}

// ReadSnapshot decodes the configuration snapshot inherited as fd, and
// closes fd.
func ReadSnapshot(fd int) (*conf.Config, error) {
	f := os.NewFile(uintptr(fd), "tern-conf")
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	b := make([]byte, st.Size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("reading the configuration snapshot: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decoding the configuration snapshot: %w", err)
	}
	return conf.LoadSnapshot(s.File, s.Prefix, s.Sources)
}

// InheritedListeners returns the n listening sockets a worker inherited,
// made close-on-exec (the exec that started the worker cleared the flag).
func InheritedListeners(n int) []int {
	fds := make([]int, n)
	for i := range fds {
		fds[i] = FDListen + i
		unix.CloseOnExec(fds[i])
	}
	return fds
}

// InheritedTicketKeys returns the ticket keys zone a worker inherited,
// made close-on-exec, or -1 when it has none.
func InheritedTicketKeys(p WorkerParams) int {
	if p.Keys != 1 {
		return -1
	}
	fd := FDListen + p.Listeners + p.Logs
	unix.CloseOnExec(fd)
	return fd
}

// InheritedZones maps the zone tables a worker inherited after its
// listening sockets and log files.
func InheritedZones(p WorkerParams) ([]*event.Table, error) {
	tables := make([]*event.Table, p.Zones)
	for i := range tables {
		fd := FDListen + p.Listeners + p.Logs + p.Keys + i
		unix.CloseOnExec(fd)
		t, err := event.MapTable(fd)
		if err != nil {
			for _, t := range tables[:i] {
				t.Close()
			}
			return nil, err
		}
		tables[i] = t
	}
	return tables, nil
}
