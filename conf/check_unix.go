//go:build unix

package conf

import (
	"strconv"
	"syscall"
)

// writable reports whether this process may write path (access(2) with
// W_OK, which uses the real uid, as a user running tern -t is).
func writable(path string) bool { return syscall.Access(path, 2) == nil }

func uidString() string { return strconv.Itoa(syscall.Getuid()) }
