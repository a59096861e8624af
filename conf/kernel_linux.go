//go:build linux

package conf

import (
	"sync"

	"golang.org/x/sys/unix"
)

// haveOpenat2 reports whether the kernel has openat2(2) (Linux 5.6),
// which disable_symlinks needs (RESOLVE_NO_SYMLINKS): one call
// on "/", asked once.
var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	if err == nil {
		unix.Close(fd)
	}
	return err != unix.ENOSYS
})
