//go:build linux

package testcgroup

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestThrottleReadsScoped: the process is in a cgroup of the test's
// while throttled, and back where it was — the cgroup gone — after.
func TestThrottleReadsScoped(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	pid := child.Process.Pid
	cgroups := func() string {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := cgroups()
	undo := ThrottleReads(t, pid, t.TempDir(), 1<<20)
	during := cgroups()
	if during == before || !strings.Contains(during, "/tern-test-") {
		t.Fatalf("not moved into a test cgroup:\n%s", during)
	}
	undo()
	if after := cgroups(); after != before {
		t.Fatalf("not moved back:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, line := range strings.Split(during, "\n") {
		if i := strings.Index(line, "/tern-test-"); i >= 0 {
			name := line[i+1:]
			for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/unified"} {
				if _, err := os.Stat(root + "/" + name); err == nil {
					t.Errorf("%s/%s is still there", root, name)
				}
			}
		}
	}
}
