//go:build linux

package filters

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// gzipBuf is a buffer of a response's gzip state; mapped says it is
// from mmap, and unmapBuf unmaps it.
type gzipBuf struct {
	b      []byte
	mapped bool
}

// mapBuf returns n bytes (a multiple of the page size) of anonymous
// memory for a response's gzip buffers. They live outside the Go heap so
// that unmapBuf gives their pages back to the system at once: freed heap
// memory stays in the worker's RSS until the collector has run and the
// scavenger returned it, which for an idle worker takes minutes. Pages of
// a mapping never written cost nothing either.
func mapBuf(n int) gzipBuf {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return gzipBuf{b: make([]byte, n)} // the heap's is as good
	}
	return gzipBuf{b: unsafe.Slice((*byte)(p), n), mapped: true}
}

// unmapBuf gives back a buffer from mapBuf. The caller guarantees that no
// slice of it is used afterwards.
func unmapBuf(b gzipBuf) {
	if b.mapped {
		unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b.b)), uintptr(cap(b.b)))
	}
}
