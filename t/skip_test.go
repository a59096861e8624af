package t

import (
	"os"
	"testing"
)

// skipLoudly skips a test that needs what this machine lacks (a tool, a
// kernel feature), saying why. go test prints skips only with -v, so the
// reason is also appended to the file $TERN_SKIP_LOG names, which
// .ci/run prints after the tests.
func skipLoudly(t *testing.T, reason string) {
	t.Helper()
	if path := os.Getenv("TERN_SKIP_LOG"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
			f.WriteString(t.Name() + ": " + reason + "\n")
			f.Close()
		}
	}
	t.Skip(reason)
}
