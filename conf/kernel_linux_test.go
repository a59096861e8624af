//go:build linux

package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNeedsOpenat2: on a kernel without openat2, every disable_symlinks
// that turns the check on is an error at its line; "off" and false are
// not, and with openat2 nothing is. (t/kernel_test.go shows it on a
// kernel with the call taken away.)
func TestNeedsOpenat2(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "www"), 0o755)
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	saved := haveOpenat2
	t.Cleanup(func() { haveOpenat2 = saved })
	tests := []struct {
		value string
		want  []string
	}{
		{`true`, []string{"tern.hcl:5,22: disable_symlinks needs openat2"}},
		{`"on"`, []string{"tern.hcl:5,22: disable_symlinks needs openat2"}},
		{`"on from=$document_root"`, []string{"tern.hcl:5,22: disable_symlinks needs openat2"}},
		{`"if_not_owner"`, []string{"tern.hcl:5,22: disable_symlinks needs openat2"}},
		{`"off"`, nil},
		{`false`, nil},
	}
	for _, tt := range tests {
		src := "pid = \"off\"\nhttp {\n  server {\n    root = \"www\"\n    location \"/a/\" { disable_symlinks = " + tt.value + " }\n  }\n}\n"
		os.WriteFile(filepath.Join(dir, "tern.hcl"), []byte(src), 0o644)
		c, err := Load(filepath.Join(dir, "tern.hcl"), dir)
		if err != nil {
			t.Fatalf("%s: %v", tt.value, err)
		}
		for _, have := range []bool{true, false} {
			haveOpenat2 = func() bool { return have }
			var got []string
			if ce := c.CheckPaths(); ce != nil {
				// Only what this check says (run as root, CheckPaths also
				// looks at what the workers' user may read).
				for _, line := range strings.Split(strings.ReplaceAll(ce.Error(), dir+"/", ""), "\n") {
					if strings.Contains(line, "openat2") {
						got = append(got, line)
					}
				}
			}
			want := tt.want
			if have {
				want = nil
			}
			if len(got) != len(want) || len(got) > 0 && !strings.HasPrefix(got[0], want[0]) {
				t.Errorf("%s, openat2 %v: got %q, want %q", tt.value, have, got, want)
			}
		}
	}
}
