package filters

import (
	"time"

	"tern/threadpool"
)

// ServerVersion is tern's version, sent in Server and on error pages when
// server_tokens is on. A var so that a build can stamp it:
// go build -ldflags "-X tern/filters.ServerVersion=1.2.3".
var ServerVersion = "0.1.0"

// httpDate is RFC 9110 §5.6.7's IMF-fixdate layout.
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// Env is the state a worker's filters share: the cached clock strings and
// the worker's counters. It belongs to the worker's loop goroutine.
type Env struct {
	// Now is the loop's wall clock in seconds.
	Now int64
	// Date is Now as an IMF-fixdate, refreshed once a second.
	Date []byte
	// Stats counts what the write filter does.
	Stats Stats
	// Pools are the worker's thread pools by name (aio = "threads").
	Pools map[string]*threadpool.Pool
	// Clock is the loop's monotonic clock in nanoseconds, for
	// limit_rate.
	Clock func() int64

	dateBuf [len(httpDate)]byte

	// boundary numbers the multipart range responses (see nextBoundary).
	boundary uint64
	// gzip holds the worker's idle compressors, made on first use.
	gzip *gzipPool
}

// Stats are a worker's write-filter counters.
type Stats struct {
	// InlineSends counts file sends (sendfile, or pread+write with
	// sendfile off) made on the loop's thread.
	InlineSends uint64
	// OffloadedSends counts chunks of files read on a pool thread
	// because reading them would have waited for the disk (the loop
	// then sends them, and counts that send as inline).
	OffloadedSends uint64
	// OffloadedOpens counts paths resolved on a pool thread because
	// resolving them on the loop would have read the disk.
	OffloadedOpens uint64
	// OffloadedListings counts directories read for autoindex on a
	// pool thread.
	OffloadedListings uint64
	// OffloadedCloses counts file descriptors closed on a pool thread.
	OffloadedCloses uint64
	// OffloadedCloseBatches counts the pool tasks those closes took.
	OffloadedCloseBatches uint64
	// CacheLooks counts the looks at the page cache (cachestat and the
	// RWF_NOWAIT probes) that decide whether a file region is sent
	// inline.
	CacheLooks uint64
	// CacheLookCalls counts the system calls those looks made.
	CacheLookCalls uint64
	// FullSocketSends counts file sends that found the socket full
	// (EAGAIN): each read its pages into the kernel's pipe for nothing.
	FullSocketSends uint64
}

// Tick refreshes the cached clock strings when the second changes.
func (e *Env) Tick(now time.Time) {
	s := now.Unix()
	if s == e.Now && e.Date != nil {
		return
	}
	e.Now = s
	e.Date = now.UTC().AppendFormat(e.dateBuf[:0], httpDate)
}
