package main

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeUser: tern serve started as root runs its workers as the
// owner of the directory, else nobody when nobody may read it, else root
// with a note on the terminal.
func TestServeUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (tern serve picks a user only when run as root): TestServeUser")
	}
	if _, err := user.Lookup("www-data"); err != nil {
		t.Skip("SKIP (no www-data user on this machine): TestServeUser")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, 0); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		dir, want, note string
	}{
		{mk("owned", 0o700, 33), "www-data", ""},
		{mk("public", 0o755, 0), "nobody", ""},
		{mk("private", 0o700, 0), "root", "nobody may not read " + filepath.Join(base, "private")},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if got := serveUser(tt.dir, &stderr); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.dir, got, tt.want)
		}
		if tt.note == "" && stderr.Len() != 0 || !strings.Contains(stderr.String(), tt.note) {
			t.Errorf("%s: said %q, want %q", tt.dir, stderr.String(), tt.note)
		}
	}
}
