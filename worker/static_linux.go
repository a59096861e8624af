//go:build linux

package worker

import (
	"bytes"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/filters"
)

// The content handlers of a static location, in nginx's order
// (ngx_http_core_module's content phase, src/http/modules/
// ngx_http_{index,autoindex,gzip_static,static}_module.c): for a URI
// ending in "/", index then autoindex then
// 403; for any other, gzip_static then static.

// handlerState is the per-worker state of the content handlers; it
// belongs to the loop goroutine.
type handlerState struct {
	// ofcs holds one open_file_cache per distinct setting, made on first
	// use: locations that inherit a setting share its cache, as nginx's.
	ofcs map[*conf.OpenFileCache]*openFileCache
	// st is scratch for stat calls: it would escape to the heap as a
	// local passed to a raw syscall.
	st unix.Stat_t
	// sa is scratch for getsockname.
	sa unix.RawSockaddrAny
	// list is autoindex's listing of a directory read on the loop.
	list listing
	// covered lists, per listening socket on a wildcard address, the
	// indexes in Worker.addrs of the specific addresses on its port
	// that have no socket of their own (see Bound).
	covered [][]int
}

// fileRef is what a request holds of the file its response is sent
// from: a descriptor of its own, a reference to an open_file_cache
// entry, or nothing (the small-file cache's contents are memory).
type fileRef struct {
	file   filters.File
	own    bool
	closer *fdCloser // closes an own descriptor; nil: at once
	ent    *ofcEntry
}

func (f *fileRef) release() {
	if f.own {
		f.closer.close(f.file.FD)
	}
	if f.ent != nil {
		f.ent.release()
	}
	*f = fileRef{}
}

// found is what lookup says of a path. The request holds the file
// (rq.file) until it releases it.
type found struct {
	mode    uint32        // S_IFMT bits
	file    *filters.File // nil unless mode is S_IFREG
	etag    []byte
	lastMod []byte // formatted Last-Modified, nil to format it
}

// openCache returns the open_file_cache of loc, nil when it is off.
func (w *Worker) openCache(loc *conf.Location) *openFileCache {
	c := loc.OpenFileCache
	if c == nil {
		return nil
	}
	if oc := w.hs.ofcs[c]; oc != nil {
		return oc
	}
	if w.hs.ofcs == nil {
		w.hs.ofcs = make(map[*conf.OpenFileCache]*openFileCache)
	}
	oc := newOpenFileCache(c, w.loop)
	w.hs.ofcs[c] = oc
	return oc
}

// aliasPrefix is the part of the URI that loc's alias replaces, "" when
// loc has no alias or is a regular expression location (whose alias is
// the whole path).
func aliasPrefix(loc *conf.Location) string {
	if loc.Alias == "" {
		return ""
	}
	switch loc.Modifier {
	case conf.ModPrefix, conf.ModPrefixNoRegex, conf.ModExact:
		return loc.Path
	}
	return ""
}

// regexAlias reports whether loc's alias is the whole path: an alias in a
// regular expression location, which its captures make (nginx).
func regexAlias(loc *conf.Location) bool {
	return loc.Alias != "" && loc.Regex != nil
}

// mapPath sets rq.fpath to the file system path of uri (see appendPath)
// and returns its length, or 400 for an alias mapping that would climb
// out of the alias.
func (w *Worker) mapPath(rq *request, uri []byte) (int, int) {
	if rq.rewritten && rq.Loc.Alias != "" {
		rq.errLog().Error().Str("location", rq.Loc.Name).Msg("alias cannot be used in a location where the URI was rewritten")
		return 0, 500
	}
	fp, st := rq.appendPath(rq.fpath[:0], uri)
	rq.fpath = fp
	if st != 0 {
		rq.errLog().Error().Bytes("uri", uri).Str("alias", rq.Loc.Alias).Msg("path leaves the alias")
		return 0, st
	}
	return len(fp), 0
}

// appendPath appends the file system path of uri, as nginx's
// ngx_http_map_uri_to_path: root + uri; with alias, the alias followed by
// what of uri comes after the location's prefix ("/i/" alias "/srv/img/"
// maps "/i/a.png" to "/srv/img/a.png"); in a regular expression location
// the alias alone (followed by the URI once try_files chose a file).
// Variables in root and alias are expanded. It returns 400 for an alias
// mapping that would climb out of the alias.
func (rq *request) appendPath(dst, uri []byte) ([]byte, int) {
	loc := rq.Loc
	if regexAlias(loc) {
		dst = rq.appendDocumentRoot(dst)
		if rq.aliasURI {
			dst = append(dst, uri...)
		}
		return dst, 0
	}
	if prefix := aliasPrefix(loc); prefix != "" && hasPrefix(uri, prefix) {
		rest := uri[len(prefix):]
		start := len(dst)
		dst = rq.appendDocumentRoot(dst)
		if aliasClimbs(string(dst[start:]), rest) {
			return dst, 400
		}
		return append(dst, rest...), 0
	}
	if loc.RootVars.IsZero() {
		dst = append(dst, loc.Root...)
	} else {
		dst = rq.appendExpandedPath(dst, loc.RootVars)
		// nginx drops a trailing slash of root.
		if n := len(dst); n > 1 && dst[n-1] == '/' {
			dst = dst[:n-1]
		}
	}
	return append(dst, uri...), 0
}

// hasPrefix is bytes.HasPrefix for a string prefix, without converting it.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// aliasClimbs reports whether alias+rest has a ".." segment where the two
// meet. The URI has no dot segments, but "location /i { alias /srv/img/; }"
// maps "/i../x" to "/srv/img/../x": nginx serves that (a known
// misconfiguration trap); tern refuses it.
func aliasClimbs(alias string, rest []byte) bool {
	if alias == "" {
		return false
	}
	head := alias[strings.LastIndexByte(alias, '/')+1:]
	seg := rest
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		seg = rest[:i]
	}
	if len(head)+len(seg) != 2 {
		return false
	}
	return (head == "" || head == "." || head == "..") && (len(seg) == 0 || seg[0] == '.') &&
		(len(seg) < 2 || seg[1] == '.')
}

// lookup finds rq.fpath[:n] in the small-file cache, in open_file_cache,
// or by opening it, and fills f. The request holds what it found
// (rq.file) until it releases it.
func (w *Worker) lookup(rq *request, n int, f *found) syscall.Errno {
	rq.file.release()
	loc := rq.Loc
	rq.fpath = append(rq.fpath[:n], 0)
	path, cpath := rq.fpath[:n], rq.fpath
	now := w.loop.Now()
	noSym := loc.DisableSymlinks
	noWait := w.noWait(rq)
	// The small-file cache does not know how a path was resolved: it
	// is not used where symlinks are refused.
	if !noSym {
		e, errno := w.files.lookup(path, cpath, now, noWait)
		if errno != 0 {
			rq.blocked(cpath)
			return errno
		}
		if e != nil {
			*f = found{mode: unix.S_IFREG, file: &e.file, etag: e.etag, lastMod: e.lastMod}
			return 0
		}
	}
	oc := w.openCache(loc)
	if oc != nil {
		e, errno := oc.get(path, cpath, noSym, now, noWait)
		if errno != 0 {
			rq.blocked(cpath)
			return errno
		}
		if e != nil {
			w.fromOpenCache(rq, e, f)
			return 0
		}
	}
	fd, errno := w.openFor(rq, cpath)
	if errno != 0 {
		return errno
	}
	closer := w.fileCloser(loc)
	st := &w.hs.st
	if e := fstat(fd, st); e != 0 {
		closer.close(fd)
		return e
	}
	wall := w.loop.Wall().UnixNano()
	if oc != nil {
		w.fromOpenCache(rq, oc.add(path, fd, st, noSym, now, wall, closer), f)
		return 0
	}
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFREG {
		closer.close(fd)
		*f = found{mode: mode}
		return 0
	}
	if cacheable(st) && !noSym {
		var v fileVersion
		v.set(st, wall)
		if e := w.files.add(path, fd, &v, loc.AIO.Mode == conf.AIOThreads, now); e != nil {
			closer.close(fd)
			*f = found{mode: unix.S_IFREG, file: &e.file, etag: e.etag, lastMod: e.lastMod}
			return 0
		}
	}
	rq.file = fileRef{file: filters.File{FD: fd, Size: st.Size, MTime: st.Mtim.Sec, Name: path}, own: true, closer: closer}
	*f = found{mode: unix.S_IFREG, file: &rq.file.file, etag: appendETag(rq.etag[:0], st.Mtim.Sec, st.Size)}
	return 0
}

// fromOpenCache takes a reference to an open_file_cache entry. A small
// regular file also goes into the small-file cache, read from the cached
// descriptor.
func (w *Worker) fromOpenCache(rq *request, e *ofcEntry, f *found) {
	*f = found{mode: e.ver.typ()}
	if f.mode != unix.S_IFREG {
		return
	}
	if e.file.Size <= smallFileMax && !e.noSymlinks {
		if c := w.files.add(rq.fpath[:len(rq.fpath)-1], e.file.FD, &e.ver, rq.Loc.AIO.Mode == conf.AIOThreads, e.checked); c != nil {
			*f = found{mode: unix.S_IFREG, file: &c.file, etag: c.etag, lastMod: c.lastMod}
			return
		}
	}
	e.refs++
	rq.file = fileRef{ent: e}
	*f = found{mode: unix.S_IFREG, file: &e.file, etag: e.etag, lastMod: e.lastMod}
}

// probe reports whether rq.fpath[:n] exists and is a directory, as
// try_files and index test a path: a stat, or a lookup in the caches.
func (w *Worker) probe(rq *request, n int) (bool, syscall.Errno) {
	loc := rq.Loc
	if w.openCache(loc) != nil {
		var f found
		errno := w.lookup(rq, n, &f)
		rq.file.release()
		return f.mode == unix.S_IFDIR, errno
	}
	rq.fpath = append(rq.fpath[:n], 0)
	if !loc.DisableSymlinks {
		e, errno := w.files.lookup(rq.fpath[:n], rq.fpath, w.loop.Now(), w.noWait(rq))
		if errno != 0 {
			rq.blocked(rq.fpath)
			return false, errno
		}
		if e != nil {
			return false, 0
		}
	}
	st := &w.hs.st
	if errno := w.statFor(rq, rq.fpath, st); errno != 0 {
		return false, errno
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, 0
}

// serveStatic answers a URI that does not end in "/": FILE.gz when
// gzip_static allows it, else the file; a directory gets the 301 to its
// name with "/".
func (w *Worker) serveStatic(rq *request) int {
	n, st := w.mapPath(rq, rq.Req.Path)
	if st != 0 {
		return st
	}
	if rq.Loc.GzipStatic {
		if st, served := w.gzipStatic(rq, n); served {
			return st
		}
	}
	var f found
	if errno := w.lookup(rq, n, &f); errno != 0 {
		w.logOpenError(rq.Loc, rq.fpath[:n], errno)
		return statusOfErrno(errno)
	}
	switch f.mode {
	case unix.S_IFREG:
		w.fileResponse(rq, &f)
		return 0
	case unix.S_IFDIR:
		return rq.dirRedirect()
	}
	rq.errLog().Error().Bytes("path", rq.fpath[:n]).Msg("not a regular file")
	return 404
}

// gzipStatic is nginx's gzip_static on (ngx_http_gzip_static_module):
// FILE.gz, when it exists and the client accepts gzip, goes out with
// Content-Encoding: gzip, the type of FILE, and the length, ETag and
// Last-Modified of FILE.gz; ranges apply to it. Once FILE.gz exists the
// response varies with Accept-Encoding whichever is sent, so it gets
// Vary (nginx, with gzip_vary on, which tern makes the rule; see
// docs/reference.md#gzip_static). served is
// false when the plain file is to be served instead.
func (w *Worker) gzipStatic(rq *request, n int) (status int, served bool) {
	accept := gzipOK(&rq.Req)
	rq.fpath = append(rq.fpath[:n], ".gz"...)
	var f found
	switch errno := w.lookup(rq, n+3, &f); errno {
	case 0:
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		return 0, false
	default:
		w.logOpenError(rq.Loc, rq.fpath[:n+3], errno)
		return 0, false
	}
	rq.Resp.Vary = true
	switch {
	case !accept || f.mode == unix.S_IFDIR:
		rq.file.release()
		return 0, false
	case f.mode != unix.S_IFREG:
		rq.errLog().Error().Bytes("path", rq.fpath[:n+3]).Msg("not a regular file")
		return 404, true
	}
	w.fileResponse(rq, &f)
	rq.Resp.ContentEncoding = "gzip"
	return 0, true
}

// serveDirectory answers a URI ending in "/" as nginx's index module,
// then autoindex, then the 403 of the content phase: the first index
// name that exists (whatever it is, as nginx) is an internal redirect
// to URI+name; a name starting with "/" is a redirect to it at once.
func (w *Worker) serveDirectory(rq *request) int {
	loc := rq.Loc
	dir, st := w.mapPath(rq, rq.Req.Path)
	if st != 0 {
		return st
	}
	dirTested := false
	for i := range loc.Index {
		// A name with variables is expanded as it is used (nginx's
		// index module).
		rq.tryBuf = loc.Index[i].Append(rq.tryBuf[:0], rq)
		name := rq.tryBuf
		if len(name) == 0 {
			continue
		}
		if name[0] == '/' {
			rq.exp = append(rq.exp[:0], name...)
			return w.redirect(rq, rq.exp, rq.Req.Args)
		}
		rq.fpath = append(rq.fpath[:dir], name...)
		_, errno := w.probe(rq, len(rq.fpath))
		switch errno {
		case 0:
			rq.exp = append(append(rq.exp[:0], rq.Req.Path...), name...)
			return w.redirect(rq, rq.exp, rq.Req.Args)
		case unix.ENOENT:
			// nginx checks the directory itself once: a missing one
			// is a 404 whatever the index names.
			if !dirTested {
				if st := w.testDir(rq, dir); st != 0 {
					return st
				}
				dirTested = true
			}
			continue
		}
		w.logOpenError(rq.Loc, rq.fpath[:len(rq.fpath)-1], errno)
		return indexStatus(errno)
	}
	if loc.Autoindex {
		return w.autoindex(rq, dir)
	}
	if !dirTested {
		if st := w.testDir(rq, dir); st != 0 {
			return st
		}
	}
	rq.errLog().Error().Bytes("path", rq.fpath[:dir]).Msg("directory index is forbidden")
	return 403
}

// indexStatus maps a failed index probe as nginx's index module: a
// refused symlink or no permission 403, not a directory or a name too
// long 404, anything else 500.
func indexStatus(errno syscall.Errno) int {
	switch errno {
	case unix.ELOOP, unix.EMLINK, unix.EACCES, unix.EPERM:
		return 403
	case unix.ENOTDIR, unix.ENAMETOOLONG:
		return 404
	}
	return 500
}

// testDir checks that the directory rq.fpath[:dir] exists (nginx's
// ngx_http_index_test_dir): it returns 0, or 404, 403 or 500.
func (w *Worker) testDir(rq *request, dir int) int {
	isDir, errno := w.probe(rq, dir)
	switch {
	case errno == unix.ENOENT || errno == unix.ENOTDIR:
		w.logOpenError(rq.Loc, rq.fpath[:dir], errno)
		return 404
	case errno != 0:
		w.logOpenError(rq.Loc, rq.fpath[:dir], errno)
		return indexStatus(errno)
	case !isDir:
		return 404
	}
	return 0
}

// fileResponse fills a 200 response for the file f found.
func (w *Worker) fileResponse(rq *request, f *found) {
	resp := &rq.Resp
	file := f.file
	resp.Status = 200
	resp.ContentLength = file.Size
	resp.LastModified = file.MTime
	resp.LastModifiedText = f.lastMod
	resp.AcceptRanges = true
	if rq.Loc.Etag {
		resp.ETag = f.etag
	}
	w.setContentType(rq, rq.Req.Path)
	resp.Body.AddFile(file, 0, file.Size)
}

// setContentType types the response by the extension of the last segment
// of the URI, as nginx (r->exten): looked up case-insensitively in the
// MIME table, else default_type.
func (w *Worker) setContentType(rq *request, uri []byte) {
	loc := rq.Loc
	t := loc.DefaultType
	if ext := extension(uri); len(ext) > 0 {
		if mt, ok := w.mime.Lookup(ext); ok {
			t = mt
		}
	}
	rq.Resp.ContentType = t
	if loc.Charset != "" && loc.CharsetApplies(t) {
		rq.Resp.Charset = loc.Charset
	}
}

// extension is what follows the last "." of the last path segment.
func extension(name []byte) []byte {
	for i := len(name) - 1; i >= 0; i-- {
		switch name[i] {
		case '.':
			return name[i+1:]
		case '/':
			return nil
		}
	}
	return nil
}

// logOpenError logs a failed open or stat of path for a request in loc,
// as nginx's static and index modules: a missing file at error unless
// log_not_found is off there, a forbidden one at error, anything else at
// crit.
func (w *Worker) logOpenError(loc *conf.Location, path []byte, errno syscall.Errno) {
	if errno == unix.EAGAIN {
		return // would have waited for the disk: resolved on a pool thread
	}
	level := conf.LogError
	switch statusOfErrno(errno) {
	case 404:
		if !loc.LogNotFound {
			return
		}
	case 500:
		level = conf.LogCrit
	}
	w.errLogFor(loc).WithLevel(level).Bytes("path", path).Str("error", errno.Error()).Msg("open() failed")
}
