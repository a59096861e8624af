package t

import "testing"

// skipLoudly skips a test that needs what this machine lacks (a tool, a
// kernel feature), saying why. go test prints skips only with -v; CI
// runs the tests through .ci/testreport, which lists every skipped test
// of every package with its reason.
func skipLoudly(t *testing.T, reason string) {
	t.Helper()
	t.Skip(reason)
}
