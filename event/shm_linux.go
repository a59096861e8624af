//go:build linux

package event

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared is the memory the master and its workers share: a memfd mapped
// MAP_SHARED in every process (an anonymous shared mapping would not
// survive the exec that starts a worker). The master creates it, workers
// inherit the fd and map it; the layout is fixed by this file, and a
// worker is always the master's own binary (/proc/self/exe), so both
// sides agree on it.
//
// Layout, in 128-byte lines (two cache lines, so that the adjacent-line
// prefetcher never couples two writers):
//
//	offset 0     header: magic, layout version, slot count, slot size,
//	             slots in use (a high-water mark readers sum up to),
//	             the draining flag
//	offset 128   the accept lock word (64 bits): the holder's pid in the
//	             low half, 0 when free, its lease's expiry in the high half
//	offset 256   the master's counters (MasterCounters)
//	offset 384   Slots × SlotSize: one Counters slot per worker process
//	then         the labelled counters: per server and per thread pool
//	             (labels_linux.go)
//
// A slot is written by the one worker that occupies it, with atomic
// stores (single writer, so a load and a store are enough); anybody reads
// it with atomic loads. Cumulative counters (accepts, requests, bytes...)
// stay in a slot after its worker exits, and the next worker to take the
// slot goes on adding to them, so a sum never goes backwards; gauges
// (active, reading, writing) are zeroed by the master when it reaps the
// worker, since the connections died with it.
type Shared struct {
	fd  int
	mem []byte
}

const (
	shmMagic   = 0x314d48534e524554 // "TERNSHM1", little-endian
	shmVersion = 7
	// shmLine is the unit of the layout: two 64-byte cache lines.
	shmLine = 128
	// offLock is the accept lock word's line.
	offLock = shmLine
	// offMaster is the master's counters' line.
	offMaster = 2 * shmLine
	// offSlots is where the first slot starts.
	offSlots = 3 * shmLine
	// SlotSize is one worker's Counters, padded to four lines.
	SlotSize = 512
	// MaxSlots bounds the worker processes alive at once, old generations
	// still draining after reloads included (nginx's NGX_MAX_PROCESSES).
	MaxSlots = 1024
	// shmSize is the whole mapping: the slots (512 KiB), then the
	// labelled counters (labels_linux.go, 19 MiB), touched only as far
	// as the slots and labels in use.
	shmSize = offSlots + MaxSlots*SlotSize + labelsSize
)

// header is the first line of the mapping.
type header struct {
	Magic    uint64
	Version  uint64
	Slots    uint64
	SlotSize uint64
	// InUse is one past the highest slot ever occupied: readers sum
	// slots [0, InUse).
	InUse uint64
	// Draining is 1 from the moment the master begins to drain the
	// server (QUIT, WINCH) until it starts workers again: what a health
	// location answers 503 for. Written by the master.
	Draining uint64
}

// HistBounds are the upper bounds of the request-time histogram buckets:
// Prometheus' default buckets, then up to an hour, which a download of a
// large file over a slow link takes; Counters.Hist has one more bucket
// for the requests slower than the last bound.
var HistBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour,
}

// MasterCounters are the master's line: what only the master knows
// (worker deaths, respawns, reloads), written by the master alone with
// Inc and Add, read by a worker answering metrics.
type MasterCounters struct {
	// Crashes counts the workers that exited without being told to:
	// killed by a signal, a Go panic or fatal error (exit status 2),
	// any other status, a worker that could not start included.
	Crashes uint64
	// Respawns counts the workers started in place of one that died.
	Respawns uint64
	// Delayed is the workers whose respawn waits out a back-off, because
	// they kept dying soon after their start: a crash loop (gauge).
	Delayed uint64
	// ReloadsOK and ReloadsFailed count the reloads (HUP) by outcome:
	// new workers serving, or the old ones kept (an invalid
	// configuration, a file that cannot be opened, new workers that did
	// not start).
	ReloadsOK     uint64
	ReloadsFailed uint64
	// ReloadOKAt and ReloadFailedAt are when a reload last had each
	// outcome (Unix seconds, 0 never).
	ReloadOKAt     uint64
	ReloadFailedAt uint64
	// UpgradesOK is 1 in a master that a binary upgrade started (once
	// it serves); UpgradesFailed counts the new binaries this master saw
	// exit while it lived (rolled back). UpgradeOKAt and UpgradeFailedAt
	// are when (Unix seconds, 0 never).
	UpgradesOK      uint64
	UpgradesFailed  uint64
	UpgradeOKAt     uint64
	UpgradeFailedAt uint64
}

// Compile-time check: the master's counters fit their line.
var _ [shmLine - unsafe.Sizeof(MasterCounters{})]byte

// Status classes of Counters.Status.
const (
	StatusOther = iota // a status outside 100-599 (none today)
	Status1xx
	Status2xx
	Status3xx
	Status4xx
	Status5xx
	statusClasses
)

// Counters is one worker's slot: what stub_status and metrics report,
// summed over every slot. Every field is a uint64 at an 8-byte-aligned
// offset, read and written only with sync/atomic.
type Counters struct {
	// PID is the worker occupying the slot, 0 when free. Written by the
	// master.
	PID uint64
	// Active counts the worker's open client connections (gauge).
	Active uint64
	// Reading counts connections reading a request head (gauge).
	Reading uint64
	// Writing counts requests past their head: being answered, or their
	// body being discarded (gauge). stub_status's Waiting is
	// Active - Reading - Writing: idle keep-alive connections, fresh ones
	// that have not sent a byte, and lingering closes.
	Writing uint64
	// TryAt is when the worker last tried the accept lock (wall clock,
	// ns), 0 when it does not compete: the balance rule of AcceptMutex
	// counts only workers that are alive and trying (gauge).
	TryAt uint64
	// Accepts counts accepted connections.
	Accepts uint64
	// Handled counts accepted connections that were served, not closed
	// at once for lack of worker_connections.
	Handled uint64
	// Requests counts requests begun (nginx counts a request when it
	// starts reading it).
	Requests uint64
	// Status counts finished responses by class (StatusOther,
	// Status1xx, ... Status5xx).
	Status [statusClasses]uint64
	// BytesSent counts bytes written to clients, heads included.
	BytesSent uint64
	// RequestTimeMicros sums the request times (first byte of the head
	// to the last byte of the response) in microseconds.
	RequestTimeMicros uint64
	// Hist counts finished requests by request time: Hist[i] those at or
	// under HistBounds[i] and over the bound before; the last bucket
	// those over every bound. Not cumulative.
	Hist [len(HistBounds) + 1]uint64
	// InlineSends counts file sends made on the loop's thread,
	// OffloadedSends the chunks whose disk read went to a thread-pool
	// thread first (aio = "threads"): a fully cached file costs none.
	InlineSends    uint64
	OffloadedSends uint64
	// OffloadedOpens counts paths resolved on a pool thread because
	// resolving them would have read the disk.
	OffloadedOpens uint64
	// LogWriteErrors counts the writes to the worker's log files (error
	// and access logs) that failed: a full disk, a file system gone
	// read-only, a log pipe whose reader is gone.
	LogWriteErrors uint64
}

// counterFields is how many uint64 fields Counters has; tryAtField is
// TryAt's index among them.
const (
	counterFields = int(unsafe.Sizeof(Counters{}) / 8)
	tryAtField    = int(unsafe.Offsetof(Counters{}.TryAt) / 8)
)

// Compile-time check: a Counters fits its slot.
var _ [SlotSize - unsafe.Sizeof(Counters{})]byte

// NewShared creates the shared memory: a memfd of the layout's size,
// mapped, with its header written. Its fd is close-on-exec: pass it to a
// worker explicitly.
func NewShared() (*Shared, error) {
	fd, err := unix.MemfdCreate("tern-shm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	if err := unix.Ftruncate(fd, int64(shmSize)); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("ftruncate", err)
	}
	s, err := mapShared(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	h := s.header()
	atomic.StoreUint64(&h.Version, shmVersion)
	atomic.StoreUint64(&h.Slots, MaxSlots)
	atomic.StoreUint64(&h.SlotSize, SlotSize)
	atomic.StoreUint64(&h.Magic, shmMagic)
	return s, nil
}

// MapShared maps shared memory inherited as fd and checks its header. The
// Shared owns fd from then on.
func MapShared(fd int) (*Shared, error) {
	s, err := mapShared(fd)
	if err != nil {
		return nil, err
	}
	h := s.header()
	if atomic.LoadUint64(&h.Magic) != shmMagic || atomic.LoadUint64(&h.Version) != shmVersion ||
		atomic.LoadUint64(&h.SlotSize) != SlotSize || atomic.LoadUint64(&h.Slots) != MaxSlots {
		s.Close()
		return nil, fmt.Errorf("shared memory fd %d: not tern's layout version %d", fd, shmVersion)
	}
	return s, nil
}

func mapShared(fd int) (*Shared, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Size != int64(shmSize) {
		return nil, fmt.Errorf("shared memory fd %d: %d bytes, want %d", fd, st.Size, shmSize)
	}
	mem, err := unix.Mmap(fd, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return &Shared{fd: fd, mem: mem}, nil
}

// FD is the memfd, to hand to a worker.
func (s *Shared) FD() int { return s.fd }

// Close unmaps the memory and closes the fd. Nothing may use the Shared,
// its lock or its slots afterwards.
func (s *Shared) Close() error {
	err := unix.Munmap(s.mem)
	unix.Close(s.fd)
	return err
}

func (s *Shared) header() *header { return (*header)(unsafe.Pointer(&s.mem[0])) }

// lockWord is the accept lock.
func (s *Shared) lockWord() *uint64 { return (*uint64)(unsafe.Pointer(&s.mem[offLock])) }

// Master returns the master's counters.
func (s *Shared) Master() *MasterCounters {
	return (*MasterCounters)(unsafe.Pointer(&s.mem[offMaster]))
}

// MasterTotals reads the master's counters, each atomically.
func (s *Shared) MasterTotals() MasterCounters {
	m := s.Master()
	return MasterCounters{
		Crashes:         atomic.LoadUint64(&m.Crashes),
		Respawns:        atomic.LoadUint64(&m.Respawns),
		Delayed:         atomic.LoadUint64(&m.Delayed),
		ReloadsOK:       atomic.LoadUint64(&m.ReloadsOK),
		ReloadsFailed:   atomic.LoadUint64(&m.ReloadsFailed),
		ReloadOKAt:      atomic.LoadUint64(&m.ReloadOKAt),
		ReloadFailedAt:  atomic.LoadUint64(&m.ReloadFailedAt),
		UpgradesOK:      atomic.LoadUint64(&m.UpgradesOK),
		UpgradesFailed:  atomic.LoadUint64(&m.UpgradesFailed),
		UpgradeOKAt:     atomic.LoadUint64(&m.UpgradeOKAt),
		UpgradeFailedAt: atomic.LoadUint64(&m.UpgradeFailedAt),
	}
}

// Slot returns slot i's counters (0 <= i < MaxSlots).
func (s *Shared) Slot(i int) *Counters {
	if i < 0 || i >= MaxSlots {
		panic(fmt.Sprintf("event: shared slot %d out of range", i))
	}
	return (*Counters)(unsafe.Pointer(&s.mem[offSlots+i*SlotSize]))
}

// Occupy gives slot i to the worker pid: the master calls it before the
// worker starts serving. The slot's cumulative counters are kept.
func (s *Shared) Occupy(i, pid int) {
	c := s.Slot(i)
	atomic.StoreUint64(&c.PID, uint64(pid))
	h := s.header()
	for {
		n := atomic.LoadUint64(&h.InUse)
		if uint64(i) < n || atomic.CompareAndSwapUint64(&h.InUse, n, uint64(i)+1) {
			return
		}
	}
}

// Vacate frees slot i after its worker exited: the gauges go to zero (the
// connections they counted are gone), the cumulative counters stay.
func (s *Shared) Vacate(i int) {
	c := s.Slot(i)
	atomic.StoreUint64(&c.Active, 0)
	atomic.StoreUint64(&c.Reading, 0)
	atomic.StoreUint64(&c.Writing, 0)
	atomic.StoreUint64(&c.TryAt, 0)
	atomic.StoreUint64(&c.PID, 0)
	s.vacateLabels(i)
}

// Sum adds up every slot in use: what stub_status and metrics report for
// the whole server. Each field is read atomically, the whole is not a
// snapshot: a request finishing during the sum may be counted in one
// field and not yet in another.
func (s *Shared) Sum() Counters {
	var total Counters
	n := int(atomic.LoadUint64(&s.header().InUse))
	for i := 0; i < n && i < MaxSlots; i++ {
		total.add(s.Slot(i))
	}
	return total
}

// fields views c as its uint64 fields.
func (c *Counters) fields() *[counterFields]uint64 {
	return (*[counterFields]uint64)(unsafe.Pointer(c))
}

// add adds o's fields to c (c private, o shared).
func (c *Counters) add(o *Counters) {
	dst, src := c.fields(), o.fields()
	for i := range dst {
		if i == 0 || i == tryAtField {
			continue // not counters
		}
		dst[i] += atomic.LoadUint64(&src[i])
	}
}

// Waiting is stub_status's Waiting: Active - Reading - Writing, never
// negative (the three are read one after another).
func (c *Counters) Waiting() uint64 {
	if busy := c.Reading + c.Writing; busy < c.Active {
		return c.Active - busy
	}
	return 0
}

// StatusClass is the Counters.Status index of an HTTP status.
func StatusClass(status int) int {
	if status < 100 || status > 599 {
		return StatusOther
	}
	return status / 100
}

// HistBucket is the Counters.Hist index of a request time.
func HistBucket(d time.Duration) int {
	for i, b := range HistBounds {
		if d <= b {
			return i
		}
	}
	return len(HistBounds)
}

// SetDraining says whether the server is draining (master only).
func (s *Shared) SetDraining(on bool) {
	var v uint64
	if on {
		v = 1
	}
	atomic.StoreUint64(&s.header().Draining, v)
}

// Draining reports whether the master has begun to drain the server.
func (s *Shared) Draining() bool { return atomic.LoadUint64(&s.header().Draining) != 0 }

// Store sets a counter of a line that only the calling goroutine writes.
func Store(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
