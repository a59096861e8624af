//go:build linux

package worker

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// autoindex answers a directory URI with its listing (nginx's autoindex,
// GET and HEAD only, which content() already ensured). The directory is
// rq.fpath[:dir]. Entries whose names start with "." are left out; a
// symlink is listed as what it points to, a broken one as itself.
//
// Where tern differs from nginx: the listing is built whole and sent with
// Content-Length (nginx streams it without one); a symlink in the
// directory's own path is refused with disable_symlinks (nginx does not
// check it for autoindex).
func (w *Worker) autoindex(rq *request, dir int) int {
	rq.fpath = append(rq.fpath[:dir], 0)
	fd, errno := w.openDirFor(rq, rq.fpath)
	if errno != 0 {
		w.logOpenError(rq.Loc, rq.fpath[:dir], errno)
		switch errno {
		case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
			return 404
		case unix.EACCES, unix.EPERM, unix.ELOOP:
			return 403
		}
		return 500
	}
	f := os.NewFile(uintptr(fd), string(rq.fpath[:dir]))
	names, err := f.Readdirnames(-1)
	ents := w.hs.ents[:0]
	if err == nil {
		ents = w.statEntries(fd, names, ents)
	}
	f.Close()
	if err != nil {
		w.log.Error().Bytes("path", rq.fpath[:dir]).Err(err).Msg("reading directory failed")
		return 500
	}
	sortEntries(ents)
	resp := &rq.Resp
	resp.Status = 200
	if rq.Loc.AutoindexFormat == "json" {
		resp.ContentType = "application/json"
		rq.text = appendAutoindexJSON(rq.text[:0], ents)
	} else {
		resp.ContentType = "text/html"
		if rq.Loc.Charset != "" {
			resp.Charset = rq.Loc.Charset
		}
		utf8 := strings.EqualFold(rq.Loc.Charset, "utf-8")
		rq.text = appendAutoindexHTML(rq.text[:0], rq.Req.Path, ents, utf8)
	}
	for i := range ents {
		ents[i] = dirEntry{}
	}
	w.hs.ents = ents[:0]
	resp.ContentLength = int64(len(rq.text))
	resp.Body.AddMem(rq.text)
	return 0
}

// statEntries stats each name in the directory fd, following symlinks and
// falling back to the link itself when it is broken; entries that cannot
// be stat'ed for lack of permission are left out, as nginx.
func (w *Worker) statEntries(fd int, names []string, ents []dirEntry) []dirEntry {
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
			w.log.Error().Str("name", name).Err(err).Msg("autoindex: stat failed")
			continue
		}
		mode := st.Mode & unix.S_IFMT
		ents = append(ents, dirEntry{
			name:  name,
			dir:   mode == unix.S_IFDIR,
			file:  mode == unix.S_IFREG,
			mtime: st.Mtim.Sec,
			size:  st.Size,
		})
	}
	return ents
}
