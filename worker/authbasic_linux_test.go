//go:build linux

package worker

import (
	"fmt"
	"testing"

	"tern/conf"
)

// TestUserFilePath: an auth_basic_user_file with variables expands per
// request; a relative result is taken from the prefix, as nginx's.
func TestUserFilePath(t *testing.T) {
	rig := newPathRig(t, "off")
	w := rig.w
	prefix := w.cfg.Prefix
	cases := []struct {
		tpl, args, want string
	}{
		{"/etc/users/$arg_team", "team=red", "/etc/users/red"},
		{"$arg_f", "f=users/red", prefix + "/users/red"},
		{"$arg_f", "f=/abs/red", "/abs/red"},
		{"$arg_f", "", prefix + "/"},
		// The buffer is reused: a shorter path after a longer one.
		{"$arg_f", "f=x", prefix + "/x"},
	}
	rq := w.getRequest()
	for i, c := range cases {
		tpl, err := conf.ParseTemplate(c.tpl)
		if err != nil {
			t.Fatal(err)
		}
		rq.Req.Args = []byte(c.args)
		if got := string(rq.userFilePath(tpl)); got != c.want {
			t.Errorf("%d: %q with %q: %q, want %q", i, c.tpl, c.args, got, c.want)
		}
	}
}

// TestUserFilesBounded: the user files a path with variables makes are
// bounded; one that requests wait for is kept.
func TestUserFilesBounded(t *testing.T) {
	a := newAuthState()
	busy := a.fileAt([]byte("/busy"))
	busy.waiting = append(busy.waiting, waiter{})
	for i := 0; i < 3*maxUserFiles; i++ {
		a.fileAt(fmt.Appendf(nil, "/users/%d", i))
		if len(a.files) > maxUserFiles {
			t.Fatalf("%d user files after %d paths, want at most %d", len(a.files), i+2, maxUserFiles)
		}
	}
	if a.files["/busy"] != busy {
		t.Error("a user file that a request waits for was dropped")
	}
	if f := a.fileAt([]byte("/users/0")); f.path != "/users/0" {
		t.Errorf("path %q", f.path)
	}
}
