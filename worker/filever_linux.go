//go:build linux

package worker

import (
	"time"

	"golang.org/x/sys/unix"
)

// ctimeSettle is how old a file's last status change must be for a
// cached copy of it to be trusted: file system timestamps move only when
// the clock has ticked since the last change (a jiffy on most, a second
// or two on some), so a change made in the tick of the stat that cached
// a file leaves every field of it as cached.
const ctimeSettle = int64(time.Second)

// fileVersion is what the caches keep of a file's stat to decide, when
// they revalidate an entry (revalidateAfter), whether the path still
// names the file they cached:
//
//   - dev and ino change when another file is renamed over the path, as
//     deploys do;
//   - size and mtime change with a write in place;
//   - ctime changes with everything else that changes the inode, and
//     cannot be set from user space: chmod (a file made unreadable gets
//     its 403, as nginx without a cache gives at once), chown, a rewrite
//     whose mtime was put back ("cp -p", reproducible builds), a new link
//     or a rename;
//   - mode keeps the type and permission bits, which ctime says changed.
//
// nginx's open_file_cache compares the inode and mtime only.
type fileVersion struct {
	dev, ino   uint64
	size       int64
	mtim, ctim unix.Timespec
	mode       uint32
	// unsettled marks a version read less than ctimeSettle after the
	// file's last change: the first revalidation takes it as changed,
	// so that the file is read again once its timestamps can tell.
	unsettled bool
}

// set records st, read when the wall clock said wall (Unix nanoseconds).
func (v *fileVersion) set(st *unix.Stat_t, wall int64) {
	*v = fileVersion{
		dev:       st.Dev,
		ino:       st.Ino,
		size:      st.Size,
		mtim:      st.Mtim,
		ctim:      st.Ctim,
		mode:      st.Mode,
		unsettled: wall-st.Ctim.Nano() < ctimeSettle,
	}
}

// same reports whether st, a fresh stat of the path, is the version v.
func (v *fileVersion) same(st *unix.Stat_t) bool {
	return !v.unsettled && st.Dev == v.dev && st.Ino == v.ino && st.Size == v.size &&
		st.Mtim == v.mtim && st.Ctim == v.ctim && st.Mode == v.mode
}

// typ is the file type, the S_IFMT bits of the mode.
func (v *fileVersion) typ() uint32 { return v.mode & unix.S_IFMT }
