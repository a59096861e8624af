//go:build linux && !amd64 && !arm64

package event

import "sync/atomic"

// Inc adds 1 to a counter of a slot that only the calling goroutine
// writes. Where a 64-bit word may be stored in two halves, the store is
// atomic, so that a reader in another process never sees half of it
// (counter_plain_linux.go has the plain add of 64-bit platforms).
func Inc(p *uint64) { atomic.StoreUint64(p, atomic.LoadUint64(p)+1) }

// Dec subtracts 1, as Inc.
func Dec(p *uint64) { atomic.StoreUint64(p, atomic.LoadUint64(p)-1) }

// Add adds n, as Inc.
func Add(p *uint64, n uint64) { atomic.StoreUint64(p, atomic.LoadUint64(p)+n) }
