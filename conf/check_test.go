package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readableTempDir is a temporary directory every user may search, as a
// root a master's workers read as nobody must be (t.TempDir's parent is
// 0700).
func readableTempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckPaths(t *testing.T) {
	dir := readableTempDir(t)
	for _, d := range []string{"logs", "www", "dl"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	tests := []struct {
		conf string
		want []string // headlines, in order; "" for none
		err  bool
	}{
		{"http {\n  server {\n    root = \"www\"\n  }\n}\n", nil, false},
		// The defaults: PREFIX/logs exists, PREFIX/html does not.
		{"http {\n  server {\n  }\n}\n", []string{"tern.hcl: Warning: root " + dir + "/html: it does not exist"}, false},
		{"error_log = \"nologs/e.log\"\nhttp {\n  server {\n    root = \"www\"\n  }\n}\n",
			[]string{"tern.hcl:1,13: Cannot open error_log " + dir + "/nologs/e.log: the directory " + dir + "/nologs does not exist"}, true},
		{"pid = \"file/x.pid\"\nhttp {\n  server {\n    root = \"www\"\n  }\n}\n",
			[]string{"tern.hcl:1,7: Cannot open pid " + dir + "/file/x.pid: " + dir + "/file is not a directory"}, true},
		{"http {\n  server {\n    root = \"www\"\n    location \"/a/\" { access_log = \"/nonexistent/a.log\" }\n    location \"/b/\" { access_log = \"/nonexistent/a.log\" }\n  }\n}\n",
			[]string{"tern.hcl:4,35: Cannot open access_log /nonexistent/a.log: the directory /nonexistent does not exist"}, true},
		{"http {\n  server {\n    root = \"www\"\n    location \"/d/\" { alias = \"nodl/\" }\n    location \"/e/\" { alias = \"dl/\" }\n  }\n}\n",
			[]string{"tern.hcl:4,30: Warning: alias " + dir + "/nodl/: it does not exist"}, false},
		// A location that never reads its root is not checked.
		{"http {\n  server {\n    root = \"www\"\n    location \"/s\" {\n      root = \"none\"\n      stub_status = true\n    }\n    location \"/r\" {\n      root = \"none\"\n      return = \"204\"\n    }\n  }\n}\n", nil, false},
		{"error_log = \"stderr\"\npid = \"off\"\nhttp {\n  access_log = \"stdout\"\n  server {\n    root = \"www\"\n  }\n}\n", nil, false},
	}
	for i, tt := range tests {
		os.WriteFile(filepath.Join(dir, "tern.hcl"), []byte(tt.conf), 0o644)
		c, err := Load(filepath.Join(dir, "tern.hcl"), "")
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		ce := c.CheckPaths()
		var got []string
		if ce != nil {
			for _, line := range strings.Split(ce.Error(), "\n") {
				got = append(got, strings.TrimPrefix(line, dir+"/"))
			}
		}
		if len(got) != len(tt.want) || ce.HasErrors() != tt.err {
			t.Errorf("%d: got %q (errors %v), want %q", i, got, ce.HasErrors(), tt.want)
			continue
		}
		for j := range got {
			if !strings.HasPrefix(got[j], tt.want[j]) {
				t.Errorf("%d: got %q, want %q...", i, got[j], tt.want[j])
			}
		}
	}
}

// TestCheckPathsUnwritable needs a user that file permissions apply to:
// as root, it runs itself again as nobody.
func TestCheckPathsUnwritable(t *testing.T) {
	dir := os.Getenv("TERN_CHECK_DIR")
	if dir == "" {
		dir = openTempDir(t)
		os.Mkdir(filepath.Join(dir, "ro"), 0o555)
		os.WriteFile(filepath.Join(dir, "tern.hcl"), []byte("error_log = \"ro/e.log\"\npid = \"off\"\n"), 0o644)
		if os.Getuid() == 0 {
			runAsNobody(t, "TestCheckPathsUnwritable", "TERN_CHECK_DIR="+dir)
			return
		}
	}
	c, err := Load(filepath.Join(dir, "tern.hcl"), "")
	if err != nil {
		t.Fatal(err)
	}
	if ce := c.CheckPaths(); !ce.HasErrors() || !strings.Contains(ce.Error(), "may not create files in "+filepath.Join(dir, "ro")) {
		t.Errorf("got %v", ce)
	}
}

// openTempDir is t.TempDir, made enterable by every user (its parent
// too, which the testing package creates 0700).
func openTempDir(t *testing.T) string {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	return dir
}

// TestCheckWorkerUser: run as root, CheckPaths refuses an unknown user
// and warns about a root or user file the workers' user cannot read.
func TestCheckWorkerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (the workers' user is checked only when run as root): TestCheckWorkerUser")
	}
	dir := readableTempDir(t)
	os.Mkdir(filepath.Join(dir, "private"), 0o700)
	os.Mkdir(filepath.Join(dir, "public"), 0o755)
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("a:{PLAIN}b\n"), 0o600)
	tests := []struct {
		conf string
		want []string
		err  bool
	}{
		{"user = \"no-such-user-here\"\nhttp {\n  server {\n    root = \"public\"\n  }\n}\n",
			[]string{"tern.hcl:1,8: Unknown user no-such-user-here"}, true},
		{"http {\n  server {\n    root = \"private\"\n  }\n}\n",
			[]string{"tern.hcl:3,12: Warning: root " + dir + "/private is not readable by nobody"}, false},
		{"http {\n  server {\n    root = \"public\"\n    auth_basic = \"x\"\n    auth_basic_user_file = \"htpasswd\"\n  }\n}\n",
			[]string{"tern.hcl:5,28: Warning: auth_basic_user_file " + dir + "/htpasswd is not readable by nobody"}, false},
		// root reads anything.
		{"user = \"root\"\nhttp {\n  server {\n    root = \"private\"\n  }\n}\n", nil, false},
	}
	for i, tt := range tests {
		os.WriteFile(filepath.Join(dir, "tern.hcl"), []byte(tt.conf), 0o644)
		c, err := Load(filepath.Join(dir, "tern.hcl"), "")
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		ce := c.CheckPaths()
		var got []string
		if ce != nil {
			for _, line := range strings.Split(ce.Error(), "\n") {
				got = append(got, strings.TrimPrefix(line, dir+"/"))
			}
		}
		if len(got) != len(tt.want) || ce.HasErrors() != tt.err {
			t.Errorf("%d: got %q (errors %v), want %q", i, got, ce.HasErrors(), tt.want)
			continue
		}
		for j := range got {
			if !strings.HasPrefix(got[j], tt.want[j]) {
				t.Errorf("%d: got %q, want %q...", i, got[j], tt.want[j])
			}
		}
	}
}
