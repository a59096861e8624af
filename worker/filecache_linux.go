//go:build linux

package worker

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/filters"
)

// The small-file cache keeps the contents and stat of hot small files in
// memory, so that serving one costs a read of the request and a writev of
// head and body: no open, no fstat, no sendfile, no close. An entry is
// trusted for revalidateAfter; the first hit after that stats the path
// and drops the entry if the file changed (fileVersion says how that is
// told), so a changed file is never served stale for longer than that.
const (
	// smallFileMax is the largest file kept. Up to 32 KiB a writev from
	// memory costs the sending thread a third less than the head and a
	// sendfile (6.6 against 9.7 µs, BenchmarkBodyMemoryOrSendfile); at
	// 64 KiB the two cost it the same (34.9 and 33.4 µs), and sendfile
	// wins overall: t/bench's 64k phase went from 20.3k to 24.0k
	// requests/s (0.93× to 1.10× lighttpd's, one run at load 1) with 64
	// KiB sent by sendfile, whose pages the reader copies clean from the
	// page cache instead of fresh from the sender's cache.
	smallFileMax = 32 << 10
	// cacheMaxBytes bounds the contents held by one worker.
	cacheMaxBytes = 32 << 20
	// cacheMaxEntries bounds the entries (and the map) of one worker.
	cacheMaxEntries = 16384
	// revalidateAfter is how long an entry is served without a stat.
	revalidateAfter = int64(time.Second)
)

// cacheEntry is one cached file.
type cacheEntry struct {
	key     string
	file    filters.File // FD is -1: the contents are in Data
	etag    []byte
	lastMod []byte // Last-Modified, formatted once
	ver     fileVersion

	checked int64 // loop time of the last stat
	node    lruNode[cacheEntry]
}

// fileCache is a worker's small-file cache: a map for lookups and a list
// in use order for eviction. It belongs to the loop goroutine.
type fileCache struct {
	m     map[string]*cacheEntry
	lru   lruList[cacheEntry]
	bytes int64
	st    unix.Stat_t
}

func newFileCache() *fileCache {
	fc := &fileCache{m: make(map[string]*cacheEntry)}
	fc.lru.init()
	return fc
}

// lookup returns the entry for path (the file system path, NUL-terminated
// in cpath), revalidating it when it is due, or nil. With noWait the
// revalidation's stat must not wait for the disk: where it would, lookup
// keeps the entry and returns EAGAIN, for the caller to resolve the path
// on a pool thread and ask again. The map lookup with a converted byte
// slice does not allocate.
func (fc *fileCache) lookup(path, cpath []byte, now int64, noWait bool) (*cacheEntry, syscall.Errno) {
	e := fc.m[string(path)]
	if e == nil {
		return nil, 0
	}
	if now-e.checked >= revalidateAfter {
		errno := statFile(cpath, false, noWait, &fc.st)
		if errno == unix.EAGAIN {
			return nil, errno
		}
		if errno != 0 || !e.ver.same(&fc.st) {
			fc.remove(e)
			return nil, 0
		}
		e.checked = now
	}
	fc.lru.touch(&e.node)
	return e, 0
}

// cacheable reports whether a file of this stat may be cached.
func cacheable(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size <= smallFileMax
}

// add reads the open file fd, a regular file of version v, into a new
// entry for path. With noWait it caches only what is already in the page
// cache. It returns nil when the file could not be read whole without
// waiting.
func (fc *fileCache) add(path []byte, fd int, v *fileVersion, noWait bool, now int64) *cacheEntry {
	data := make([]byte, v.size)
	if !readAll(fd, data, noWait) {
		return nil
	}
	if old := fc.m[string(path)]; old != nil {
		fc.remove(old)
	}
	key := string(path)
	e := &cacheEntry{
		key:     key,
		ver:     *v,
		checked: now,
		file: filters.File{
			FD:    -1,
			Size:  v.size,
			MTime: v.mtim.Sec,
			Name:  []byte(key),
			Data:  data,
		},
	}
	e.etag = appendETag(nil, v.mtim.Sec, v.size)
	e.lastMod = filters.AppendHTTPDate(nil, v.mtim.Sec)
	fc.m[key] = e
	fc.bytes += v.size
	fc.lru.pushFront(&e.node, e)
	for fc.bytes > cacheMaxBytes || len(fc.m) > cacheMaxEntries {
		o := fc.lru.oldest()
		if o == nil {
			break
		}
		fc.remove(o)
	}
	return e
}

// remove drops e. A response still sending e's contents keeps them alive
// through its own slice of Data.
func (fc *fileCache) remove(e *cacheEntry) {
	fc.lru.unlink(&e.node)
	delete(fc.m, e.key)
	fc.bytes -= e.file.Size
}
