//go:build linux

package worker

import (
	"bytes"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/threadpool"
)

// autoindex answers a directory URI with its listing (nginx's autoindex,
// GET and HEAD only, which content() already ensured). The directory is
// rq.fpath[:dir]. Entries whose names start with "." are left out; a
// symlink is listed as what it points to, a broken one as itself.
//
// With aio = "threads" the directory is read on a pool thread, the
// request parked meanwhile: reading a directory and stat'ing each of its
// entries may wait for the disk at every step, and the kernel has no
// "only if cached" for either. nginx reads it on its loop.
//
// Where tern differs from nginx: the listing is built whole and sent with
// Content-Length (nginx streams it without one); a symlink in the
// directory's own path is refused with disable_symlinks (nginx does not
// check it for autoindex).
func (w *Worker) autoindex(rq *request, dir int) int {
	format := rq.Loc.AutoindexFormat
	var callback []byte
	if format == "jsonp" {
		callback = findArg(rq.Req.Args, "callback")
		if !validCallback(callback) {
			rq.errLog().Info().Bytes("callback", callback).Msg("client sent an invalid callback name")
			return 400
		}
		if len(callback) == 0 {
			format = "json"
		}
	}
	rq.fpath = append(rq.fpath[:dir], 0)
	noSym := rq.Loc.DisableSymlinks
	l := &w.hs.list
	if pool := w.listPool(rq.Loc); pool != nil {
		t := &rq.list
		if !t.done || t.noSym != noSym || !bytes.Equal(t.path, rq.fpath) {
			return w.postList(rq, pool)
		}
		t.done = false
		l = &t.listing
	} else {
		l.read(rq.fpath, noSym)
	}
	defer l.reset()
	for _, f := range l.failed {
		rq.errLog().Error().Str("name", f.name).Err(f.err).Msg("autoindex: stat failed")
	}
	if l.errno != 0 {
		w.logOpenError(rq.Loc, rq.fpath[:dir], l.errno)
		switch l.errno {
		case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
			return 404
		case unix.EACCES, unix.EPERM, unix.ELOOP:
			return 403
		}
		return 500
	}
	if l.err != nil {
		rq.errLog().Error().Bytes("path", rq.fpath[:dir]).Err(l.err).Msg("reading directory failed")
		return 500
	}
	ents := l.ents
	sortEntries(ents)
	resp := &rq.Resp
	resp.Status = 200
	switch format {
	case "json":
		resp.ContentType = "application/json"
		rq.text = appendAutoindexJSON(rq.text[:0], ents, nil)
	case "jsonp":
		resp.ContentType = "application/javascript"
		rq.text = appendAutoindexJSON(rq.text[:0], ents, callback)
	case "xml":
		resp.ContentType, resp.Charset = "text/xml", "utf-8"
		rq.text = appendAutoindexXML(rq.text[:0], ents)
	default:
		resp.ContentType = "text/html"
		if rq.Loc.Charset != "" {
			resp.Charset = rq.Loc.Charset
		}
		o := htmlOptions{
			utf8:      strings.EqualFold(rq.Loc.Charset, "utf-8"),
			exactSize: rq.Loc.AutoindexExactSize,
			localtime: rq.Loc.AutoindexLocaltime,
		}
		rq.text = appendAutoindexHTML(rq.text[:0], rq.Req.Path, ents, o)
	}
	resp.ContentLength = int64(len(rq.text))
	resp.Body.AddMem(rq.text)
	return 0
}

// listPool is the pool autoindex reads directories on for loc, or nil.
func (w *Worker) listPool(loc *conf.Location) *threadpool.Pool {
	if loc.AIO.Mode != conf.AIOThreads {
		return nil
	}
	return w.env.Pools[loc.AIO.Pool]
}

// postList has the directory rq.fpath read on pool and parks the
// request; its phases run again when the listing is there. A full queue
// is a 500, as for every other task.
func (w *Worker) postList(rq *request, pool *threadpool.Pool) int {
	t := &rq.list
	t.c = rq.conn
	t.path = append(t.path[:0], rq.fpath...)
	t.noSym = rq.Loc.DisableSymlinks
	t.done = false
	if err := pool.Post(t); err != nil {
		rq.errLog().Error().Uint64("conn", rq.connID).Err(err).Msg("thread pool task refused")
		return 500
	}
	w.env.Stats.OffloadedListings++
	rq.parkedOn = t
	return statusPark
}

// listing is a directory read for autoindex: its entries, or why it
// could not be read.
type listing struct {
	ents   []dirEntry
	errno  syscall.Errno // opening the directory failed
	err    error         // reading it failed
	failed []failedStat  // entries left out: their stat failed
}

// failedStat is an entry whose stat failed, logged on the loop.
type failedStat struct {
	name string
	err  error
}

// read reads the directory path (NUL-terminated), on whatever thread it
// is called: it touches nothing but l.
func (l *listing) read(path []byte, noSym bool) {
	l.reset()
	fd, errno := openDir(path, noSym, false)
	if errno != 0 {
		l.errno = errno
		return
	}
	f := os.NewFile(uintptr(fd), "")
	names, err := f.Readdirnames(-1)
	if err == nil {
		l.statEntries(fd, names)
	}
	f.Close()
	l.err = err
}

// statEntries stats each name in the directory fd, following symlinks and
// falling back to the link itself when it is broken; entries that cannot
// be stat'ed are left out (and noted in failed), as nginx.
func (l *listing) statEntries(fd int, names []string) {
	var st unix.Stat_t
	for _, name := range names {
		if name == "" || name[0] == '.' {
			continue
		}
		err := unix.Fstatat(fd, name, &st, 0)
		if err == unix.ENOENT || err == unix.ELOOP {
			err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			l.failed = append(l.failed, failedStat{name, err})
			continue
		}
		mode := st.Mode & unix.S_IFMT
		l.ents = append(l.ents, dirEntry{
			name:  name,
			dir:   mode == unix.S_IFDIR,
			file:  mode == unix.S_IFREG,
			mtime: st.Mtim.Sec,
			size:  st.Size,
		})
	}
}

// reset forgets the listing, keeping its lists' arrays (their names
// dropped, for the collector).
func (l *listing) reset() {
	clear(l.ents)
	clear(l.failed)
	*l = listing{ents: l.ents[:0], failed: l.failed[:0]}
}

// listTask reads a directory on a pool thread for autoindex. It belongs
// to its request; between Post and Done only the pool goroutine running
// it touches it.
type listTask struct {
	threadpool.TaskState
	c     *conn
	path  []byte // NUL-terminated
	noSym bool
	done  bool // the listing is there, not yet used
	listing
}

// Run reads the directory.
func (t *listTask) Run() { t.read(t.path, t.noSym) }

// Done runs the request's phases again, which find the listing.
func (t *listTask) Done() {
	c := t.c
	t.done = true
	if c.closing {
		c.close()
		return
	}
	if c.state == stWait && c.rq != nil && c.rq.parkedOn == t {
		c.unpark()
	}
}
