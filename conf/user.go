package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
)

// user: who workers run as. A master started as root keeps root to bind
// ports, open log files and read certificates, and its workers switch to
// this user once their sockets and files are handed over (nginx's user
// directive, whose default is nobody). A master that is not root starts
// workers as itself and ignores user.

// defaultUser is user when the configuration does not say, as nginx.
const defaultUser = "nobody"

// decodeUser reads "USER" or "USER GROUP".
func decodeUser(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	f := strings.Fields(s)
	if len(f) < 1 || len(f) > 2 {
		d.invalid(a.Name, a.Expr.Range(), "%q: want a user name, or a user and a group: \"www-data\", \"www-data www-data\"", s)
		return
	}
	t.cfg.User, t.cfg.Group, t.cfg.UserSet = f[0], "", true
	if len(f) == 2 {
		t.cfg.Group = f[1]
	}
}

func showUser(c *Config) string {
	if c.Group == "" {
		return hclQuote(c.User)
	}
	return hclQuote(c.User + " " + c.Group)
}

// WorkerUser is the user and groups workers switch to.
type WorkerUser struct {
	// Name and GroupName are as configured (or the default).
	Name, GroupName string
	UID, GID        int
	// Groups are the supplementary groups: the user's, as initgroups(3)
	// finds them, and GID.
	Groups []int
}

// String says who, for logs: "www-data (uid 33, gid 33)".
func (u *WorkerUser) String() string {
	return fmt.Sprintf("%s (uid %d, gid %d)", u.Name, u.UID, u.GID)
}

// LookupUser resolves user and its group: the group named, else the
// group of the user's name when there is one (nginx's rule), else the
// user's primary group.
func (c *Config) LookupUser() (*WorkerUser, error) {
	u, err := user.Lookup(c.User)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", c.User, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q: uid %q, gid %q", c.User, u.Uid, u.Gid)
	}
	wu := &WorkerUser{Name: c.User, UID: uid, GID: gid}
	switch {
	case c.Group != "":
		g, err := user.LookupGroup(c.Group)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", c.Group, err)
		}
		if wu.GID, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("group %q: gid %q", c.Group, g.Gid)
		}
		wu.GroupName = c.Group
	default:
		wu.GroupName = c.User
		if g, err := user.LookupGroup(c.User); err == nil {
			if n, err := strconv.Atoi(g.Gid); err == nil {
				wu.GID = n
			}
		} else if g, err := user.LookupGroupId(u.Gid); err == nil {
			wu.GroupName = g.Name
		}
	}
	wu.Groups = []int{wu.GID}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if n, err := strconv.Atoi(s); err == nil && !slices.Contains(wu.Groups, n) {
				wu.Groups = append(wu.Groups, n)
			}
		}
	}
	return wu, nil
}

// CanRead reports whether the user may read path: search every
// directory above it, and read it (and search it, for a directory). It
// reads the permission bits of each (not ACLs); root may read anything.
func (u *WorkerUser) CanRead(path string) (bool, error) {
	if u.UID == 0 {
		return true, nil
	}
	path = filepath.Clean(path)
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		ok, err := u.may(dir, 1)
		if err != nil || !ok {
			return false, err
		}
		if dir == "/" || dir == "." {
			break
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if st.IsDir() {
		return u.may(path, 5)
	}
	return u.may(path, 4)
}

// may reports whether the user has the permission bits want (4 read,
// 1 search) on path, as the kernel decides from its owner, group and mode.
func (u *WorkerUser) may(path string, want uint32) (bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true, nil
	}
	mode := uint32(st.Mode().Perm())
	switch {
	case int(sys.Uid) == u.UID:
		mode >>= 6
	case slices.Contains(u.Groups, int(sys.Gid)):
		mode >>= 3
	}
	return mode&want == want, nil
}

// checkWorkerUser is the part of CheckPaths for a master that is root:
// the user must exist (an error), and every root, alias and
// auth_basic_user_file must be readable by it (a warning: requests get
// 403 and 500 until it is).
func (c *Config) checkWorkerUser(at func(name, path string) *hcl.Range) hcl.Diagnostics {
	u, err := c.LookupUser()
	if err != nil {
		rng := at("user", c.User)
		why := err.Error()
		if !c.UserSet {
			why += " (user is not set: workers of a master started as root run as nobody, as nginx's do)"
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown user " + c.User, Detail: why, Subject: rng}}
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	c.EachLocation(func(l *Location) {
		check := func(name, path string) {
			if path == "" || seen[path] {
				return
			}
			seen[path] = true
			ok, err := u.CanRead(path)
			if ok || errors.Is(err, fs.ErrNotExist) {
				return // a missing root is CheckPaths' own warning
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
				Summary: "Warning: " + name + " " + path + " is not readable by " + u.Name,
				Detail:  "workers run as " + u.String() + " and will answer 403 (or 500 for a user file): give that user read access, or choose another user",
				Subject: at(name, path)})
		}
		if servesFiles(l) {
			if l.Alias != "" && l.AliasVars.IsZero() {
				check("alias", l.Alias)
			} else if l.Alias == "" && l.RootVars.IsZero() {
				check("root", l.Root)
			}
		}
		if l.AuthBasic != "" && l.AuthBasicUserFileVars.IsZero() {
			check("auth_basic_user_file", l.AuthBasicUserFile)
		}
	})
	return diags
}
