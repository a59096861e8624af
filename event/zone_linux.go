//go:build linux

package event

import (
	"errors"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Zone is a block of shared memory for one purpose, apart from the
// Shared counters: a memfd mapped MAP_SHARED that the master creates and
// hands to its workers (and to a new master on upgrade) as an inherited
// descriptor. What it holds is its users' business; event only maps it
// and offers Blob, a seqlocked value with one writer.
type Zone struct {
	fd  int
	mem []byte
}

// NewZone creates a zone of size bytes, zeroed, close-on-exec.
func NewZone(name string, size int) (*Zone, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("ftruncate", err)
	}
	z, err := MapZone(fd)
	if err != nil {
		unix.Close(fd)
	}
	return z, err
}

// maxZoneSize bounds a zone: memory every worker maps.
const maxZoneSize = 1 << 30

// MapZone maps the zone whose memfd is fd (inherited), at its size.
func MapZone(fd int) (*Zone, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Size <= 0 || st.Size > maxZoneSize {
		return nil, errors.New("shared zone: bad size")
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return &Zone{fd: fd, mem: mem}, nil
}

// FD is the zone's memfd, to hand to another process.
func (z *Zone) FD() int { return z.fd }

// Close unmaps the zone and closes its descriptor. Nothing may use it
// afterwards.
func (z *Zone) Close() error {
	err := unix.Munmap(z.mem)
	unix.Close(z.fd)
	return err
}

// blobHeader is the sequence word and the length before a Blob's bytes.
const blobHeader = 16

// Blob is a value of up to Cap bytes in a zone, written by one process
// and read by any: a seqlock. The sequence word is odd while a write is
// in progress; a reader that sees it odd, or changed by the time it has
// copied the value, copies again. Every word is moved with an atomic
// load or store, so readers never race with the writer in Go's sense.
type Blob struct {
	words []uint64 // sequence, length, then the value
}

// Blob returns the blob that starts at offset off (a multiple of 8) and
// spans size bytes of the zone, header included.
func (z *Zone) Blob(off, size int) Blob {
	if off%8 != 0 || size%8 != 0 || size <= blobHeader || off+size > len(z.mem) {
		panic("event: blob out of the zone")
	}
	return Blob{words: unsafe.Slice((*uint64)(unsafe.Pointer(&z.mem[off])), size/8)}
}

// Cap is the largest value the blob holds.
func (b Blob) Cap() int { return (len(b.words) - 2) * 8 }

// Store writes p (at most Cap bytes). Only one process may write a blob.
func (b Blob) Store(p []byte) {
	if len(p) > b.Cap() {
		panic("event: value larger than its blob")
	}
	seq := &b.words[0]
	atomic.StoreUint64(seq, atomic.LoadUint64(seq)+1) // odd: writing
	atomic.StoreUint64(&b.words[1], uint64(len(p)))
	for i := 0; i*8 < len(p); i++ {
		var w [8]byte
		copy(w[:], p[i*8:])
		atomic.StoreUint64(&b.words[2+i], *(*uint64)(unsafe.Pointer(&w[0])))
	}
	atomic.StoreUint64(seq, atomic.LoadUint64(seq)+1) // even: done
}

// Load appends the value to dst[:0] and returns it.
func (b Blob) Load(dst []byte) []byte {
	seq := &b.words[0]
	for {
		s1 := atomic.LoadUint64(seq)
		if s1&1 != 0 {
			continue // a write is in progress
		}
		n := int(min(atomic.LoadUint64(&b.words[1]), uint64(b.Cap())))
		out := dst[:0]
		for i := 0; i*8 < n; i++ {
			w := atomic.LoadUint64(&b.words[2+i])
			out = append(out, unsafe.Slice((*byte)(unsafe.Pointer(&w)), 8)...)
		}
		out = out[:n]
		if atomic.LoadUint64(seq) == s1 {
			return out
		}
	}
}
