//go:build linux

package event

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Labelled counters: per virtual server and per thread pool, for the
// metrics' server and pool labels. They live in the shared memory after
// the slots (see Shared):
//
//	offLabels          the names: MaxServerLabels server names, then
//	                   MaxPoolLabels pool names, labelLen bytes each
//	offLabelSlots      per slot: MaxServerLabels ServerCounters, then
//	                   MaxPoolLabels PoolCounters
//
// A name's index is its label id, the same in every worker: the master
// registers the names of a configuration before it starts that
// configuration's workers, appending those it has not seen (a reload
// keeps every id), and workers look them up. Id 0 of each table is
// "other": what does not fit. The label values are therefore the names a
// configuration has, never what a client sends, and bounded by the
// tables. The mapping is sparse: a slot's pages are touched only when its
// worker counts, and readers sum slots [0, InUse) only.

// Label tables.
const (
	// MaxServerLabels bounds the server label's values: servers beyond
	// it are counted as "other".
	MaxServerLabels = 64
	// MaxPoolLabels bounds the pool label's values.
	MaxPoolLabels = 16
	// labelLen is the room of one name, NUL-padded; a longer name is
	// cut (label values stay bounded).
	labelLen = 64
	// OtherLabel is the label of what does not fit a table.
	OtherLabel = "other"
)

// Codes are the statuses tern sends, each counted under its own code in
// ServerCounters.Codes; any other status is counted under its class
// ("1xx" ... "5xx", or "other" outside 100-599), after them.
var Codes = [...]uint16{
	200, 204, 206, 301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 408, 412, 413, 414, 416, 421, 429, 444,
	500, 501, 502, 503, 504, 505,
}

// NumCodes is the size of ServerCounters.Codes: the exact codes, the five
// classes and "other".
const NumCodes = len(Codes) + 6

// codeIndex maps a status to its ServerCounters.Codes index.
var codeIndex [600]uint8

func init() {
	for s := range codeIndex {
		codeIndex[s] = uint8(len(Codes) + 5) // "other"
		if s >= 100 {
			codeIndex[s] = uint8(len(Codes) + s/100 - 1)
		}
	}
	for i, c := range Codes {
		codeIndex[c] = uint8(i)
	}
}

// CodeIndex is the ServerCounters.Codes index of an HTTP status.
func CodeIndex(status int) int {
	if status < 0 || status >= len(codeIndex) {
		return len(Codes) + 5
	}
	return int(codeIndex[status])
}

// CodeLabel is the code label of ServerCounters.Codes[i]: "404", or a
// class such as "5xx", or "other".
func CodeLabel(i int) string {
	switch {
	case i < len(Codes):
		return fmt.Sprint(Codes[i])
	case i < len(Codes)+5:
		return fmt.Sprintf("%dxx", i-len(Codes)+1)
	}
	return OtherLabel
}

// ServerCounters are one worker's counters for one server label.
type ServerCounters struct {
	// BytesSent and BytesReceived count the bytes of the requests this
	// server answered, heads included.
	BytesSent     uint64
	BytesReceived uint64
	// Codes counts finished responses by status (see Codes).
	Codes [NumCodes]uint64
}

// PoolCounters are one worker's gauges and counters for one thread pool.
type PoolCounters struct {
	Queued   uint64 // tasks waiting for a thread (gauge)
	Running  uint64 // tasks running on a thread (gauge)
	Rejected uint64 // tasks a full queue refused
}

// Label kinds.
const (
	ServerLabels = iota
	PoolLabels
)

var labelMax = [...]int{ServerLabels: MaxServerLabels, PoolLabels: MaxPoolLabels}

const (
	offLabels     = offSlots + MaxSlots*SlotSize
	offLabelSlots = offLabels + (MaxServerLabels+MaxPoolLabels)*labelLen
	labelSlotSize = MaxServerLabels*int(unsafe.Sizeof(ServerCounters{})) + MaxPoolLabels*int(unsafe.Sizeof(PoolCounters{}))
	labelsSize    = offLabelSlots - offLabels + MaxSlots*labelSlotSize
)

// name returns the bytes of entry id of kind's table.
func (s *Shared) name(kind, id int) []byte {
	off := offLabels + id*labelLen
	if kind == PoolLabels {
		off += MaxServerLabels * labelLen
	}
	return s.mem[off : off+labelLen : off+labelLen]
}

// nameAt reads entry id: "" when free. The first word is written last
// (RegisterLabels), so a reader that sees it sees the whole name.
func (s *Shared) nameAt(kind, id int) string {
	b := s.name(kind, id)
	first := atomic.LoadUint64((*uint64)(unsafe.Pointer(&b[0])))
	if first == 0 {
		return ""
	}
	var buf [labelLen]byte
	*(*uint64)(unsafe.Pointer(&buf[0])) = first
	copy(buf[8:], b[8:])
	n := 0
	for n < labelLen && buf[n] != 0 {
		n++
	}
	return string(buf[:n])
}

// labelName cuts a name to what an entry holds; "" is not a name.
func labelName(n string) string {
	if len(n) >= labelLen {
		n = n[:labelLen-1]
	}
	if n == "" {
		n = OtherLabel
	}
	return n
}

// RegisterLabels gives each name an id of kind's table, appending the
// names not there yet; a name that does not fit gets 0, "other". Only
// the master calls it, before it starts the workers that use the names.
func (s *Shared) RegisterLabels(kind int, names []string) []int {
	if s.nameAt(kind, 0) == "" {
		s.writeName(kind, 0, OtherLabel)
	}
	ids := make([]int, len(names))
	for i, n := range names {
		n = labelName(n)
		if n == OtherLabel {
			continue
		}
		for id := 1; id < labelMax[kind]; id++ {
			got := s.nameAt(kind, id)
			if got == "" {
				s.writeName(kind, id, n)
			}
			if got == "" || got == n {
				ids[i] = id
				break
			}
		}
	}
	return ids
}

func (s *Shared) writeName(kind, id int, n string) {
	b := s.name(kind, id)
	var buf [labelLen]byte
	copy(buf[:], n)
	copy(b[8:], buf[8:])
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&b[0])), *(*uint64)(unsafe.Pointer(&buf[0])))
}

// LabelIDs looks names up in kind's table: a name not registered is 0.
func (s *Shared) LabelIDs(kind int, names []string) []int {
	ids := make([]int, len(names))
	for i, n := range names {
		n = labelName(n)
		for id := 1; id < labelMax[kind]; id++ {
			got := s.nameAt(kind, id)
			if got == "" {
				break
			}
			if got == n {
				ids[i] = id
				break
			}
		}
	}
	return ids
}

// Labels returns kind's table: the name of each id in use.
func (s *Shared) Labels(kind int) []string {
	var names []string
	for id := 0; id < labelMax[kind]; id++ {
		n := s.nameAt(kind, id)
		if n == "" && id > 0 {
			break
		}
		names = append(names, n)
	}
	return names
}

func (s *Shared) labelSlot(i int) int {
	if i < 0 || i >= MaxSlots {
		panic(fmt.Sprintf("event: shared slot %d out of range", i))
	}
	return offLabelSlots + i*labelSlotSize
}

// ServerSlot returns slot i's counters of server label id.
func (s *Shared) ServerSlot(i, id int) *ServerCounters {
	off := s.labelSlot(i) + id*int(unsafe.Sizeof(ServerCounters{}))
	return (*ServerCounters)(unsafe.Pointer(&s.mem[off]))
}

// PoolSlot returns slot i's counters of pool label id.
func (s *Shared) PoolSlot(i, id int) *PoolCounters {
	off := s.labelSlot(i) + MaxServerLabels*int(unsafe.Sizeof(ServerCounters{})) + id*int(unsafe.Sizeof(PoolCounters{}))
	return (*PoolCounters)(unsafe.Pointer(&s.mem[off]))
}

// vacateLabels zeroes slot i's pool gauges (Vacate).
func (s *Shared) vacateLabels(i int) {
	for id := 0; id < MaxPoolLabels; id++ {
		p := s.PoolSlot(i, id)
		atomic.StoreUint64(&p.Queued, 0)
		atomic.StoreUint64(&p.Running, 0)
	}
}

// SumServers adds up the server counters of every slot in use, by label
// id, for the ids in use (len(Labels(ServerLabels))).
func (s *Shared) SumServers() []ServerCounters {
	out := make([]ServerCounters, len(s.Labels(ServerLabels)))
	n := int(atomic.LoadUint64(&s.header().InUse))
	for i := 0; i < n && i < MaxSlots; i++ {
		for id := range out {
			out[id].add(s.ServerSlot(i, id))
		}
	}
	return out
}

// SumPools adds up the pool counters of every slot in use, by label id.
func (s *Shared) SumPools() []PoolCounters {
	out := make([]PoolCounters, len(s.Labels(PoolLabels)))
	n := int(atomic.LoadUint64(&s.header().InUse))
	for i := 0; i < n && i < MaxSlots; i++ {
		for id := range out {
			p := s.PoolSlot(i, id)
			out[id].Queued += atomic.LoadUint64(&p.Queued)
			out[id].Running += atomic.LoadUint64(&p.Running)
			out[id].Rejected += atomic.LoadUint64(&p.Rejected)
		}
	}
	return out
}

// add adds o's counters to c (c private, o shared).
func (c *ServerCounters) add(o *ServerCounters) {
	c.BytesSent += atomic.LoadUint64(&o.BytesSent)
	c.BytesReceived += atomic.LoadUint64(&o.BytesReceived)
	for i := range c.Codes {
		c.Codes[i] += atomic.LoadUint64(&o.Codes[i])
	}
}
