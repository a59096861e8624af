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

// fileRef is the open file a response is sent from when it is not in the
// small-file cache; the request owns its descriptor.
type fileRef struct {
	file filters.File
	own  bool
}

func (f *fileRef) release() {
	if f.own {
		closeFD(f.file.FD)
	}
	*f = fileRef{}
}

// serveStatic answers GET and HEAD from the file system: it maps the path
// to a file under root or alias, serves an index for a directory path,
// redirects a directory named without its slash, and fills the response.
// It returns 0 when the response is ready, else the error status.
func (w *Worker) serveStatic(rq *request) int {
	loc := rq.Loc
	path := rq.Req.Path
	fp := rq.fpath[:0]
	if loc.Alias != "" && loc.Modifier != conf.ModRegex && loc.Modifier != conf.ModRegexCaseless &&
		bytes.HasPrefix(path, []byte(loc.Path)) {
		// alias replaces the location's prefix (nginx): "/i/" alias
		// "/srv/img/" maps "/i/a.png" to "/srv/img/a.png".
		fp = append(fp, loc.Alias...)
		fp = append(fp, path[len(loc.Path):]...)
	} else {
		fp = append(fp, loc.Root...)
		fp = append(fp, path...)
	}
	rq.fpath = fp
	if path[len(path)-1] == '/' {
		return w.serveIndex(rq)
	}
	st, _ := w.serveFile(rq, len(fp), false)
	return st
}

// serveFile serves rq.fpath[:n]. found is false when the file does not
// exist (or, for an index, is a directory), so that the index search goes
// on with the next name.
func (w *Worker) serveFile(rq *request, n int, index bool) (status int, found bool) {
	loc := rq.Loc
	rq.fpath = append(rq.fpath[:n], 0)
	path, cpath := rq.fpath[:n], rq.fpath
	now := w.loop.Now()
	if !loc.DisableSymlinks {
		if e := w.files.lookup(path, cpath, now); e != nil {
			w.fromEntry(rq, e)
			return 0, true
		}
	}
	fd, errno := openPath(cpath, loc.DisableSymlinks)
	if errno != 0 {
		w.logOpenError(rq, path, errno)
		return statusOfErrno(errno), errno != unix.ENOENT && errno != unix.ENOTDIR
	}
	var st unix.Stat_t
	if e := fstat(fd, &st); e != 0 {
		closeFD(fd)
		return 500, true
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		closeFD(fd)
		if index {
			return 404, false
		}
		rq.setRedirect(rq.addr, w.localHost(rq))
		return 0, true
	default:
		closeFD(fd)
		w.log.Error().Bytes("path", path).Msg("not a regular file")
		return 404, true
	}
	if cacheable(&st) && !loc.DisableSymlinks {
		if e := w.files.add(path, fd, &st, loc.AIO.Mode == conf.AIOThreads, now); e != nil {
			closeFD(fd)
			w.fromEntry(rq, e)
			return 0, true
		}
	}
	rq.file = fileRef{
		file: filters.File{FD: fd, Size: st.Size, MTime: st.Mtim.Sec, Name: path},
		own:  true,
	}
	w.fileResponse(rq, &rq.file.file, appendETag(rq.etag[:0], st.Mtim.Sec, st.Size))
	return 0, true
}

// serveIndex tries the location's index files in rq.fpath, a directory
// path ending in "/".
func (w *Worker) serveIndex(rq *request) int {
	dir := len(rq.fpath)
	for _, name := range rq.Loc.Index {
		rq.fpath = append(rq.fpath[:dir], name...)
		if st, found := w.serveFile(rq, len(rq.fpath), true); found {
			return st
		}
	}
	// No index file: 404 if the directory itself is missing, else 403
	// ("directory index is forbidden") until autoindex serves it.
	rq.fpath = append(rq.fpath[:dir], 0)
	var st unix.Stat_t
	if e := statPath(rq.fpath, &st); e != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 404
	}
	w.log.Error().Bytes("path", rq.fpath[:dir]).Msg("directory index is forbidden")
	return 403
}

// fromEntry answers with a cached file.
func (w *Worker) fromEntry(rq *request, e *cacheEntry) {
	w.fileResponse(rq, &e.file, e.etag)
	rq.Resp.LastModifiedText = e.lastMod
}

// fileResponse fills a 200 response for f.
func (w *Worker) fileResponse(rq *request, f *filters.File, etag []byte) {
	resp := &rq.Resp
	loc := rq.Loc
	resp.Status = 200
	resp.ContentLength = f.Size
	resp.LastModified = f.MTime
	resp.AcceptRanges = true
	if loc.Etag {
		resp.ETag = etag
	}
	w.setContentType(rq, f.Name)
	resp.Body.AddFile(f, 0, f.Size)
}

// setContentType looks the extension of name's last segment up in the
// MIME table, as nginx (case-insensitive; default_type otherwise).
func (w *Worker) setContentType(rq *request, name []byte) {
	loc := rq.Loc
	t := loc.DefaultType
	if ext := extension(name); len(ext) > 0 {
		if mt, ok := w.mime.Lookup(ext); ok {
			t = mt
		}
	}
	rq.Resp.ContentType = t
	if loc.Charset != "" && strings.HasPrefix(t, "text/") {
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

func (w *Worker) logOpenError(rq *request, path []byte, errno syscall.Errno) {
	// nginx logs every failed open at error level (log_not_found on).
	w.log.Error().Bytes("path", path).Str("error", errno.Error()).Msg("open() failed")
}
