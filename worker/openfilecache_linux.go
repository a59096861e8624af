//go:build linux

package worker

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
)

// open_file_cache keeps open descriptors and stat results of files of any
// size, and the stat results of directories, so that a hot file costs no
// open, fstat or close (nginx's ngx_open_file_cache). The small-file
// cache stays in front of it for the contents of small files.
//
// As nginx, an entry unused for inactive is closed, and the least
// recently used one goes when max are held. Where tern differs:
//
//   - An entry is revalidated (a stat of its path) on the first use one
//     second after the last check, so that a changed file — another
//     inode, a new size, mtime or ctime (fileVersion) — is never served
//     stale for more than revalidateAfter; nginx trusts an entry for
//     open_file_cache_valid (60 s by default), and then compares only
//     the inode and mtime.
//   - Failed lookups are not cached: nginx caches them only with
//     open_file_cache_errors on, off by default, and tern has no such
//     directive, so a file that appears is served at once.
//   - open_file_cache_min_uses is 1: every opened file is cached.
//   - Entries unused for inactive are also closed by a timer, not only
//     when the cache is next used, so that the descriptor of a deleted
//     file does not pin its disk space in an idle worker.
//
// A descriptor may be in use by responses still sending from it (on the
// loop, or from a thread-pool thread) when its entry is dropped; each
// response holds a reference, and the descriptor is closed when the
// last one is released.

// ofcEntry is one cached path.
type ofcEntry struct {
	key  string
	file filters.File // FD is -1 for a directory
	ver  fileVersion
	// noSymlinks: opened with disable_symlinks, so that a location that
	// follows symlinks never serves it to one that refuses them.
	noSymlinks bool
	etag       []byte
	lastMod    []byte

	checked int64 // loop time of the last stat
	used    int64 // loop time of the last use
	refs    int32 // responses sending from file.FD
	dead    bool  // dropped: close the descriptor on the last release
	closer  *fdCloser
	node    lruNode[ofcEntry]
}

// release gives back a response's reference.
func (e *ofcEntry) release() {
	e.refs--
	if e.refs == 0 && e.dead {
		e.close()
	}
}

func (e *ofcEntry) close() {
	if e.file.FD >= 0 {
		e.closer.close(e.file.FD)
		e.file.FD = -1
	}
}

// openFileCache is the cache of one open_file_cache setting: locations
// that inherit it share it, as in nginx. It belongs to the loop
// goroutine.
type openFileCache struct {
	m        map[string]*ofcEntry
	lru      lruList[ofcEntry]
	max      int
	inactive int64
	st       unix.Stat_t

	loop  *event.Loop // nil in tests: no sweeping timer
	timer event.Timer
}

func newOpenFileCache(c *conf.OpenFileCache, loop *event.Loop) *openFileCache {
	oc := &openFileCache{
		m:        make(map[string]*ofcEntry),
		max:      c.Max,
		inactive: int64(c.Inactive),
		loop:     loop,
	}
	oc.lru.init()
	return oc
}

// get returns the entry for path (NUL-terminated in cpath), revalidated
// when it is due, or nil; with noWait, EAGAIN where the revalidation
// would wait for the disk, as fileCache.lookup.
func (oc *openFileCache) get(path, cpath []byte, noSymlinks bool, now int64, noWait bool) (*ofcEntry, syscall.Errno) {
	e := oc.m[string(path)]
	if e == nil {
		return nil, 0
	}
	if e.noSymlinks != noSymlinks {
		oc.remove(e)
		return nil, 0
	}
	if now-e.checked >= revalidateAfter {
		errno := statFile(cpath, noSymlinks, noWait, &oc.st)
		if errno == unix.EAGAIN {
			return nil, errno
		}
		if errno != 0 || !e.ver.same(&oc.st) {
			oc.remove(e)
			return nil, 0
		}
		e.checked = now
	}
	e.used = now
	oc.lru.touch(&e.node)
	return e, 0
}

// add caches the open file fd (stat st, read at wall clock wall) as path
// and takes over fd, which closer closes when the entry goes: a
// directory's at once, as nginx keeps none.
func (oc *openFileCache) add(path []byte, fd int, st *unix.Stat_t, noSymlinks bool, now, wall int64, closer *fdCloser) *ofcEntry {
	if old := oc.m[string(path)]; old != nil {
		oc.remove(old)
	}
	key := string(path)
	e := &ofcEntry{
		key:        key,
		noSymlinks: noSymlinks,
		closer:     closer,
		checked:    now,
		used:       now,
		file:       filters.File{FD: fd, Size: st.Size, MTime: st.Mtim.Sec, Name: []byte(key)},
	}
	e.ver.set(st, wall)
	if e.ver.typ() == unix.S_IFREG {
		e.etag = appendETag(nil, st.Mtim.Sec, st.Size)
		e.lastMod = filters.AppendHTTPDate(nil, st.Mtim.Sec)
	} else {
		closer.close(fd)
		e.file.FD = -1
	}
	oc.m[key] = e
	oc.lru.pushFront(&e.node, e)
	for len(oc.m) > oc.max {
		o := oc.lru.oldest()
		if o == nil {
			break
		}
		oc.remove(o)
	}
	oc.expire(now, 2)
	if oc.loop != nil && !oc.timer.Armed() {
		oc.loop.SetTimer(&oc.timer, time.Duration(oc.inactive), oc)
	}
	return e
}

// expire drops up to n entries unused for inactive, least recent first,
// as nginx's ngx_expire_old_cached_files does on each use (n < 0: all).
func (oc *openFileCache) expire(now int64, n int) {
	for ; n != 0; n-- {
		e := oc.lru.oldest()
		if e == nil || now-e.used < oc.inactive {
			return
		}
		oc.remove(e)
	}
}

// Timeout closes the entries that went unused for inactive, and comes
// back while any are left.
func (oc *openFileCache) Timeout() {
	now := oc.loop.Now()
	oc.expire(now, -1)
	if e := oc.lru.oldest(); e != nil {
		oc.loop.SetTimer(&oc.timer, time.Duration(e.used+oc.inactive-now), oc)
	}
}

// remove drops e; its descriptor is closed now, or when the last
// response sending from it is done.
func (oc *openFileCache) remove(e *ofcEntry) {
	oc.lru.unlink(&e.node)
	delete(oc.m, e.key)
	e.dead = true
	if e.refs == 0 {
		e.close()
	}
}

// len is the number of entries, for tests.
func (oc *openFileCache) len() int { return len(oc.m) }
