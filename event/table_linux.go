//go:build linux

package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Table is a hash table in shared memory that every worker reads and
// writes: the home of the limit_req and limit_conn zones (nginx's shared
// zones with their rbtree and LRU queue). It is generic: fixed-size
// entries, each a key and three words of the user's state, kept in a
// recently-used list so that the user can evict the oldest; what the
// words mean and when to evict is the user's business.
//
// The master creates a Table (a memfd of the size the configuration
// gives, mapped MAP_SHARED) and hands its fd to the workers, which map
// it. Everything but the lock word is touched only under the lock.
//
// Layout:
//
//	offset 0     header: magic, layout version, size, entry and bucket
//	             counts, the hash key, the recently-used list, the free
//	             list, counts
//	offset 128   the lock word: the holder's pid, 0 when free
//	offset 256   buckets: one uint32 per bucket, the first entry of its
//	             chain (index+1, 0 for none), a power of two of them
//	then         entries, 64 bytes each, 64-byte aligned
//
// An entry: chain, newer and older links (index+1), the key's hash, the
// key's length and flags, three uint64 words, and the key itself when it
// is at most TableKeyMax bytes; a longer key is stored as its SHA-256,
// cut to TableKeyMax bytes (a collision needs 2^80 tries).
type Table struct {
	zone *Zone
	mem  []byte
	hdr  *tableHeader
	lock *uint32
	pid  uint32
	// buckets and entries view the mapping.
	buckets []uint32
	entries []tableEntry
}

const (
	tableMagic = 0x314c42544e524554 // "TERNTBL1", little-endian
	// tableVersion 2 hashes keys with SipHash-1-3 (1: SipHash-2-4): a
	// binary upgrade across the change starts its zones empty.
	tableVersion = 2
	// TableKeyMax is the longest key an entry holds as is: an IPv6
	// address ($binary_remote_addr) with room to spare.
	TableKeyMax = 20
	// tableEntrySize is one entry; tableHeaderSize covers the header
	// and the lock word's line.
	tableEntrySize  = 64
	tableHeaderSize = 2 * shmLine
	// keyHashed marks an entry whose key is a SHA-256 of the real one.
	keyHashed = 0x8000
	// MinTableSize holds a few entries at least; MaxTableSize is a
	// Zone's largest.
	MinTableSize = tableHeaderSize + 64*(tableEntrySize+4)
	MaxTableSize = maxZoneSize
	// lockSpins is how often Lock tries the word before yielding the
	// CPU; a holder keeps it for a lookup, microseconds.
	lockSpins = 100
)

// tableHeader is the first line of a table.
type tableHeader struct {
	Magic   uint64
	Version uint64
	Size    uint64
	Entries uint32
	Buckets uint32
	HashKey [2]uint64
	// Newest and Oldest are the ends of the recently-used list; Free is
	// the head of the free list; Allocated is how many entries were
	// ever taken (those above it are free without being listed); Used
	// counts the entries in use.
	Newest, Oldest, Free, Allocated, Used uint32
}

// tableEntry is one entry; its size is tableEntrySize.
type tableEntry struct {
	chain  uint32 // next in the bucket's chain
	newer  uint32 // the recently-used list
	older  uint32
	hash   uint32
	keyLen uint16
	_      uint16
	key    [TableKeyMax]byte
	// Words are the user's state.
	Words [3]uint64
}

var _ [tableEntrySize - unsafe.Sizeof(tableEntry{})]byte
var _ [unsafe.Sizeof(tableEntry{}) - tableEntrySize]byte

// tableGeometry returns how many entries and buckets a table of size
// bytes has: a bucket per entry, rounded down to a power of two.
func tableGeometry(size int64) (entries, buckets int) {
	n := (size - tableHeaderSize) / (tableEntrySize + 4)
	buckets = 1
	for int64(buckets*2) <= n {
		buckets *= 2
	}
	entries = int((size - tableHeaderSize - int64(buckets)*4) / tableEntrySize)
	return entries, buckets
}

// NewTable creates a table of size bytes (at least MinTableSize) for the
// master: a Zone, with a fresh random hash key, so that clients cannot
// choose keys that collide.
func NewTable(name string, size int64) (*Table, error) {
	if size < MinTableSize || size > MaxTableSize {
		return nil, fmt.Errorf("shared table %s: %d bytes is out of range (%d to %d)", name, size, MinTableSize, MaxTableSize)
	}
	z, err := NewZone("tern-"+name, int(size))
	if err != nil {
		return nil, err
	}
	t := tableOn(z)
	h := t.hdr
	var key [16]byte
	rand.Read(key[:])
	h.HashKey = [2]uint64{binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])}
	entries, buckets := tableGeometry(size)
	h.Entries, h.Buckets = uint32(entries), uint32(buckets)
	h.Size = uint64(size)
	h.Version = tableVersion
	atomic.StoreUint64(&h.Magic, tableMagic)
	t.views()
	return t, nil
}

// MapTable maps a table inherited as fd and checks its header. The Table
// owns fd from then on.
func MapTable(fd int) (*Table, error) {
	z, err := MapZone(fd)
	if err != nil {
		return nil, err
	}
	if len(z.mem) < MinTableSize {
		z.Close()
		return nil, fmt.Errorf("shared table fd %d: %d bytes", fd, len(z.mem))
	}
	t := tableOn(z)
	if !t.valid() {
		t.Close()
		return nil, fmt.Errorf("shared table fd %d: not tern's layout version %d", fd, tableVersion)
	}
	t.views()
	return t, nil
}

// tableOn views zone z as a table.
func tableOn(z *Zone) *Table {
	t := &Table{zone: z, mem: z.mem, pid: uint32(os.Getpid())}
	t.hdr = (*tableHeader)(unsafe.Pointer(&z.mem[0]))
	t.lock = (*uint32)(unsafe.Pointer(&z.mem[shmLine]))
	return t
}

// valid reports whether the header is this layout's, for the size.
func (t *Table) valid() bool {
	h := t.hdr
	entries, buckets := tableGeometry(int64(len(t.mem)))
	return atomic.LoadUint64(&h.Magic) == tableMagic && h.Version == tableVersion &&
		h.Size == uint64(len(t.mem)) && int(h.Entries) == entries && int(h.Buckets) == buckets
}

// CompatibleTable reports whether the table at fd, inherited from an older
// binary, has this binary's layout and is size bytes: only then may a
// new master hand it to its workers.
func CompatibleTable(fd int, size int64) bool {
	z, err := MapZone(fd)
	if err != nil {
		return false
	}
	ok := len(z.mem) == int(size) && size >= MinTableSize && tableOn(z).valid()
	unix.Munmap(z.mem)
	return ok
}

func (t *Table) views() {
	h := t.hdr
	t.buckets = unsafe.Slice((*uint32)(unsafe.Pointer(&t.mem[tableHeaderSize])), h.Buckets)
	off := tableHeaderSize + int(h.Buckets)*4
	off = (off + tableEntrySize - 1) / tableEntrySize * tableEntrySize
	t.entries = unsafe.Slice((*tableEntry)(unsafe.Pointer(&t.mem[off])), h.Entries)
	if max := (len(t.mem) - off) / tableEntrySize; len(t.entries) > max {
		t.entries = t.entries[:max]
	}
}

// FD is the memfd, to hand to a worker or a new master.
func (t *Table) FD() int { return t.zone.FD() }

// Size is the table's size in bytes.
func (t *Table) Size() int64 { return int64(len(t.mem)) }

// Cap is how many entries the table holds; Len how many are in use
// (read under the lock).
func (t *Table) Cap() int { return len(t.entries) }
func (t *Table) Len() int { return int(t.hdr.Used) }

// Close unmaps the table and closes its fd.
func (t *Table) Close() error { return t.zone.Close() }

// Lock takes the table's lock: compare-and-swap of this process's pid,
// spinning briefly, then yielding the CPU. Holders keep it for a lookup
// and an update, so the wait is microseconds; a holder that died is
// freed by the master when it reaps it (ForceUnlock). Not reentrant.
func (t *Table) Lock() {
	for i := 0; ; i++ {
		if atomic.LoadUint32(t.lock) == 0 && atomic.CompareAndSwapUint32(t.lock, 0, t.pid) {
			return
		}
		if i >= lockSpins {
			// The holder may be on this CPU (pinned workers share
			// none, but pool threads do): give it the CPU.
			runtime.Gosched()
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// Unlock releases the lock.
func (t *Table) Unlock() { atomic.StoreUint32(t.lock, 0) }

// ForceUnlock frees the lock of a process that died holding it; the
// master calls it right after reaping pid. It reports whether pid held
// it.
func (t *Table) ForceUnlock(pid int) bool {
	return atomic.CompareAndSwapUint32(t.lock, uint32(pid), 0)
}

// keyOf returns what an entry stores for key: key itself, or its
// SHA-256 cut to TableKeyMax when longer, with the length word.
func keyOf(key []byte, buf *[TableKeyMax]byte) ([]byte, uint16) {
	if len(key) <= TableKeyMax {
		return key, uint16(len(key))
	}
	sum := sha256.Sum256(key)
	copy(buf[:], sum[:])
	return buf[:], keyHashed | TableKeyMax
}

// Get finds key under the lock and moves its entry to the newest end of
// the recently-used list. It returns the entry's index.
func (t *Table) Get(key []byte) (int32, bool) {
	var buf [TableKeyMax]byte
	k, klen := keyOf(key, &buf)
	i := t.find(k, klen, t.hash(k))
	if i == 0 {
		return -1, false
	}
	t.touch(i)
	return int32(i - 1), true
}

// Put adds key, which must not be in the table, as the newest entry with
// zero words. It reports false when every entry is in use.
func (t *Table) Put(key []byte) (int32, bool) {
	var buf [TableKeyMax]byte
	k, klen := keyOf(key, &buf)
	i := t.insert(k, klen, t.hash(k))
	return int32(i) - 1, i != 0
}

// GetOrPut is Get, or Put when key is not in the table, hashing it once
// for both. added says whether the entry is new (its words zero); ok is
// false when key was not there and every entry is in use.
func (t *Table) GetOrPut(key []byte) (e int32, added, ok bool) {
	var buf [TableKeyMax]byte
	k, klen := keyOf(key, &buf)
	h := t.hash(k)
	if i := t.find(k, klen, h); i != 0 {
		t.touch(i)
		return int32(i - 1), false, true
	}
	i := t.insert(k, klen, h)
	return int32(i) - 1, i != 0, i != 0
}

// find returns the entry (index+1) that holds k, 0 if none does.
func (t *Table) find(k []byte, klen uint16, h uint32) uint32 {
	for i := t.buckets[h&(t.hdr.Buckets-1)]; i != 0; {
		e := &t.entries[i-1]
		if e.hash == h && e.keyLen == klen && string(e.key[:len(k)]) == string(k) {
			return i
		}
		i = e.chain
	}
	return 0
}

// insert takes a free entry for k, hashed h, as the newest; it returns
// the entry (index+1), 0 when every entry is in use.
func (t *Table) insert(k []byte, klen uint16, h uint32) uint32 {
	hdr := t.hdr
	var i uint32
	switch {
	case hdr.Free != 0:
		i = hdr.Free
		hdr.Free = t.entries[i-1].chain
	case int(hdr.Allocated) < len(t.entries):
		hdr.Allocated++
		i = hdr.Allocated
	default:
		return 0
	}
	e := &t.entries[i-1]
	*e = tableEntry{hash: h, keyLen: klen}
	copy(e.key[:], k)
	b := &t.buckets[h&(hdr.Buckets-1)]
	e.chain = *b
	*b = i
	t.linkNewest(i)
	hdr.Used++
	return i
}

// touch makes entry i the newest. One client's requests in a row find
// it newest already, and leave the list, and the header's cache line
// every worker reads, as they were.
func (t *Table) touch(i uint32) {
	if t.hdr.Newest == i {
		return
	}
	t.unlinkUse(i)
	t.linkNewest(i)
}

// Remove deletes entry e.
func (t *Table) Remove(e int32) {
	i := uint32(e) + 1
	ent := &t.entries[e]
	for p := &t.buckets[ent.hash&(t.hdr.Buckets-1)]; *p != 0; p = &t.entries[*p-1].chain {
		if *p == i {
			*p = ent.chain
			break
		}
	}
	t.unlinkUse(i)
	*ent = tableEntry{chain: t.hdr.Free}
	t.hdr.Free = i
	t.hdr.Used--
}

// Oldest returns the least recently used entry.
func (t *Table) Oldest() (int32, bool) {
	if t.hdr.Oldest == 0 {
		return -1, false
	}
	return int32(t.hdr.Oldest - 1), true
}

// Newer returns the entry used just after e, toward the newest.
func (t *Table) Newer(e int32) (int32, bool) {
	n := t.entries[e].newer
	return int32(n) - 1, n != 0
}

// Words returns entry e's three words of user state.
func (t *Table) Words(e int32) *[3]uint64 { return &t.entries[e].Words }

func (t *Table) linkNewest(i uint32) {
	h := t.hdr
	e := &t.entries[i-1]
	e.newer, e.older = 0, h.Newest
	if h.Newest != 0 {
		t.entries[h.Newest-1].newer = i
	} else {
		h.Oldest = i
	}
	h.Newest = i
}

func (t *Table) unlinkUse(i uint32) {
	h := t.hdr
	e := &t.entries[i-1]
	if e.newer != 0 {
		t.entries[e.newer-1].older = e.older
	} else {
		h.Newest = e.older
	}
	if e.older != 0 {
		t.entries[e.older-1].newer = e.newer
	} else {
		h.Oldest = e.newer
	}
	e.newer, e.older = 0, 0
}

// hash is SipHash-1-3 of k with the table's key, cut to 32 bits: keys
// come from clients, and a keyed hash keeps them from filling one chain.
func (t *Table) hash(k []byte) uint32 {
	return uint32(sipHash13(t.hdr.HashKey[0], t.hdr.HashKey[1], k))
}
