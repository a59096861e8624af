//go:build linux

package master

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"tern/conf"
)

// A master started as root keeps root; its workers drop to the user of
// the configuration (conf.Config.User, nobody by default) once they hold
// their listening sockets, log files and shared memory: the hand-off is
// done, and nothing a worker opens later needs more than that user may.

// WorkerUser returns who workers of cfg run as: nil when this process is
// not root (workers run as whoever started the master).
func WorkerUser(cfg *conf.Config) (*conf.WorkerUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return cfg.LookupUser()
}

// DropPrivileges switches this process, every thread of it, to u: the
// supplementary groups, the group, then the user (a process that is no
// longer root could not change its groups), as nginx's worker init. Go
// applies each of these calls to every thread of the process (since Go
// 1.16: itself, or through the C library's broadcast when cgo is in);
// VerifyThreads checks that it did, and that every thread has
// no_new_privs, which spawn set before the worker started (prctl is a
// thread's own: set here, it would cover this thread alone).
func DropPrivileges(u *conf.WorkerUser) error {
	if err := syscall.Setgroups(u.Groups); err != nil {
		return os.NewSyscallError("setgroups", err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return os.NewSyscallError("setgid", err)
	}
	if err := syscall.Setuid(u.UID); err != nil {
		return os.NewSyscallError("setuid", err)
	}
	return VerifyThreads(os.Getpid(), u)
}

// VerifyThreads reads /proc/PID/task/*/status and checks that every
// thread of process pid runs with u's user and group ids (real,
// effective, saved and file system), only u's groups, and no_new_privs.
func VerifyThreads(pid int, u *conf.WorkerUser) error {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("no threads under /proc/%d/task: %v", pid, err)
	}
	for _, path := range tasks {
		st, err := ReadIDs(path)
		if err != nil {
			return err
		}
		want := []int{u.UID, u.UID, u.UID, u.UID}
		if !slices.Equal(st.UIDs, want) {
			return fmt.Errorf("%s: Uid %v, want %v", path, st.UIDs, want)
		}
		want = []int{u.GID, u.GID, u.GID, u.GID}
		if !slices.Equal(st.GIDs, want) {
			return fmt.Errorf("%s: Gid %v, want %v", path, st.GIDs, want)
		}
		for _, g := range st.Groups {
			if !slices.Contains(u.Groups, g) {
				return fmt.Errorf("%s: group %d, not one of %v", path, g, u.Groups)
			}
		}
		if !st.NoNewPrivs {
			return fmt.Errorf("%s: no_new_privs is not set", path)
		}
	}
	return nil
}

// IDs are the credentials a /proc status file shows.
type IDs struct {
	UIDs, GIDs, Groups []int // real, effective, saved, file system
	NoNewPrivs         bool
}

// ReadIDs reads the Uid, Gid, Groups and NoNewPrivs lines of a
// /proc/PID[/task/TID]/status file.
func ReadIDs(path string) (IDs, error) {
	f, err := os.Open(path)
	if err != nil {
		return IDs{}, err
	}
	defer f.Close()
	var ids IDs
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *[]int
		switch name {
		case "Uid":
			dst = &ids.UIDs
		case "Gid":
			dst = &ids.GIDs
		case "Groups":
			dst = &ids.Groups
		case "NoNewPrivs":
			ids.NoNewPrivs = strings.TrimSpace(value) == "1"
			continue
		default:
			continue
		}
		for _, field := range strings.Fields(value) {
			n, err := strconv.Atoi(field)
			if err != nil {
				return ids, fmt.Errorf("%s: %s: %q", path, name, value)
			}
			*dst = append(*dst, n)
		}
	}
	return ids, sc.Err()
}
