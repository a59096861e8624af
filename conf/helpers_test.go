package conf

import (
	"errors"
	"strings"
	"testing"
)

// testFile is where test configurations pretend to live; they are decoded
// with LoadSnapshot, so nothing is read from disk.
const testFile = "/etc/tern/tern.hcl"

// loadText decodes src as testFile, with extra files given as path, text
// pairs.
func loadText(src string, extra ...string) (*Config, error) {
	sources := map[string][]byte{testFile: []byte(src)}
	for i := 0; i+1 < len(extra); i += 2 {
		sources[extra[i]] = []byte(extra[i+1])
	}
	return LoadSnapshot(testFile, "", sources)
}

func mustLoad(t *testing.T, src string, extra ...string) *Config {
	t.Helper()
	c, err := loadText(src, extra...)
	if err != nil {
		t.Fatalf("unexpected error:\n%s", errText(err))
	}
	return c
}

// errText renders err as tern -t would.
func errText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		var b strings.Builder
		e.WriteText(&b)
		return b.String()
	}
	return err.Error()
}

// findLocation returns the location of srv named name, or nil.
func findLocation(srv *Server, name string) *Location {
	for _, l := range srv.Locations {
		if l.Name == name {
			return l
		}
	}
	return nil
}
