//go:build linux

// Package testcgroup slows a process's disk reads down for a test, inside
// a cgroup the test makes and removes: what the test does to the machine
// stays with that process and ends with the test. It is for tests only.
package testcgroup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// seq numbers the cgroups one test process makes.
var seq atomic.Int32

// ThrottleReads moves pid into a cgroup of its own whose reads from the
// block device holding dir are limited to bps bytes a second, until the
// test ends or undo is called; undo moves pid back to the cgroup it was
// in and removes the new one. It uses cgroup v2's io.max where the io
// controller is enabled at the root of the unified hierarchy, else cgroup
// v1's blkio.throttle.read_bps_device. Where neither can be used (not
// root, no such controller, a file system without a block device) it
// skips the test, saying why.
func ThrottleReads(t testing.TB, pid int, dir string, bps int) (undo func()) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	name := fmt.Sprintf("tern-test-%d-%d", os.Getpid(), seq.Add(1))
	v2, v2why := v2Root()
	if v2why == "" {
		return join(t, pid, v2, "", name, "io.max", fmt.Sprintf("%s rbps=%d", dev, bps))
	}
	v1, v1why := v1Root("blkio")
	if v1why == "" {
		return join(t, pid, v1, "blkio", name, "blkio.throttle.read_bps_device", fmt.Sprintf("%s %d", dev, bps))
	}
	t.Skipf("cannot throttle reads of a process: cgroup v2: %s; cgroup v1: %s", v2why, v1why)
	return nil
}

// join makes root/name with file set to rule, moves pid into it, and
// returns the undo; controller is the v1 hierarchy's ("" for v2), to
// find where pid was.
func join(t testing.TB, pid int, root, controller, name, file, rule string) func() {
	t.Helper()
	from, err := cgroupOf(pid, controller)
	if err != nil {
		t.Skipf("cannot find the cgroup of %d: %v", pid, err)
	}
	cg := filepath.Join(root, name)
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot make a cgroup (%s): %v", cg, err)
	}
	done := false
	undo := func() {
		if done {
			return
		}
		done = true
		os.WriteFile(filepath.Join(root, from, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
		if err := os.Remove(cg); err != nil {
			t.Errorf("removing the test's cgroup %s: %v", cg, err)
		}
	}
	t.Cleanup(undo)
	if err := os.WriteFile(filepath.Join(cg, file), []byte(rule), 0o644); err != nil {
		undo()
		t.Skipf("cannot write %q to %s (a file system without a block device?): %v", rule, file, err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		undo()
		t.Skipf("cannot move %d into %s: %v", pid, cg, err)
	}
	return undo
}

// v2Root is where the unified hierarchy is mounted, when its root
// delegates the io controller; else why not.
func v2Root() (string, string) {
	root := mountOf(func(fstype, super string) bool { return fstype == "cgroup2" })
	if root == "" {
		return "", "no cgroup2 file system mounted"
	}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	if err != nil {
		return "", err.Error()
	}
	if !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " io ") {
		return "", "the io controller is not enabled at " + root + " (bound to a cgroup v1 hierarchy?)"
	}
	return root, ""
}

// v1Root is where the cgroup v1 hierarchy of controller is mounted, or
// why there is none.
func v1Root(controller string) (string, string) {
	root := mountOf(func(fstype, super string) bool {
		if fstype != "cgroup" {
			return false
		}
		for _, o := range strings.Split(super, ",") {
			if o == controller {
				return true
			}
		}
		return false
	})
	if root == "" {
		return "", "no " + controller + " hierarchy mounted"
	}
	return root, ""
}

// mountOf is the mount point of the first mount in /proc/self/mountinfo
// that match accepts.
func mountOf(match func(fstype, super string) bool) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, rest := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(rest) < 3 {
			continue
		}
		if match(rest[0], rest[2]) {
			return fields[4]
		}
	}
	return ""
}

// cgroupOf is pid's cgroup in the hierarchy of controller ("" for the
// unified one), relative to its mount point.
func cgroupOf(pid int, controller string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// ID:CONTROLLERS:PATH
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		for _, c := range strings.Split(parts[1], ",") {
			if controller != "" && c == controller {
				return parts[2], nil
			}
		}
	}
	return "", fmt.Errorf("no %q line in /proc/%d/cgroup", controller, pid)
}
