package conf

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// CheckPaths looks at the file system the configuration names, as tern
// -t and a start do before anything is opened: every log file and the
// pid file must be creatable (their directory exists and this user may
// write there), which is an error; a root or alias that does not exist
// is a warning (it may be created later; requests get 404 meanwhile).
// Run as root, it also checks that the workers' user exists (an error)
// and may read every root, alias and auth_basic_user_file (a warning).
// Each diagnostic points at the attribute that set the path, or at the
// main file for a default. It also refuses disable_symlinks on a kernel
// without openat2, which it needs. It returns nil when all is well.
func (c *Config) CheckPaths() *Error {
	sites := c.pathSites()
	var diags hcl.Diagnostics
	at := func(name, path string) *hcl.Range {
		if r, ok := sites[siteKey{name, path}]; ok {
			return &r
		}
		return &hcl.Range{Filename: c.File}
	}
	if c.ErrorLog != "stderr" && c.ErrorLog != "stdout" {
		diags = append(diags, checkWritable("error_log", c.ErrorLog, at("error_log", c.ErrorLog))...)
	}
	if c.PID != "" {
		diags = append(diags, checkWritable("pid", c.PID, at("pid", c.PID))...)
	}
	for _, is := range c.ACMEIssuers {
		rng := &is.rng
		if r, ok := sites[siteKey{"state_path", is.StatePath}]; ok {
			rng = &r
		}
		diags = append(diags, checkStateDir(is.StatePath, rng)...)
	}
	seen := map[siteKey]bool{}
	noSymlinks := false
	c.EachLocation(func(l *Location) {
		noSymlinks = noSymlinks || l.DisableSymlinks
		check := func(name, path string, f func(string, string, *hcl.Range) hcl.Diagnostics) {
			k := siteKey{name, path}
			if path == "" || seen[k] {
				return
			}
			seen[k] = true
			diags = append(diags, f(name, path, at(name, path))...)
		}
		for _, a := range l.AccessLogs {
			if a.Path != "stderr" && a.Path != "stdout" {
				check("access_log", a.Path, checkWritable)
			}
		}
		if l.ErrorLog != "stderr" && l.ErrorLog != "stdout" {
			check("error_log", l.ErrorLog, checkWritable)
		}
		if !servesFiles(l) {
			return
		}
		switch {
		case l.Alias != "" && l.AliasVars.IsZero():
			check("alias", l.Alias, checkDir)
		case l.Alias == "" && l.RootVars.IsZero():
			check("root", l.Root, checkDir)
		}
	})
	if os.Geteuid() == 0 {
		diags = append(diags, c.checkWorkerUser(at)...)
	}
	if noSymlinks && !haveOpenat2() {
		diags = append(diags, c.needsOpenat2()...)
	}
	if len(diags) == 0 {
		return nil
	}
	files := make(map[string]*hcl.File, len(c.Sources))
	for name, src := range c.Sources {
		files[name] = &hcl.File{Bytes: src}
	}
	order := map[string]int{c.File: 0}
	sortDiags(diags, order)
	return &Error{Diags: diags, Files: files}
}

// HasErrors reports whether e holds an error, not only warnings.
func (e *Error) HasErrors() bool { return e != nil && e.Diags.HasErrors() }

// servesFiles reports whether a location may read its root: one that
// answers with return, stub_status, metrics or health does not.
func servesFiles(l *Location) bool {
	return !returnsFirst(l.Script) && !returnsFirst(l.Server.Root.Script) && !l.StubStatus && !l.Metrics && !l.Health
}

// returnsFirst reports whether script answers every request at once.
func returnsFirst(script []Stmt) bool {
	return len(script) > 0 && script[0].Op == OpReturn
}

// EachLocation calls f with every server's own settings, every location,
// nested ones included, and the location of every if block.
func (c *Config) EachLocation(f func(*Location)) {
	if c.HTTP == nil {
		return
	}
	for _, s := range c.HTTP.Servers {
		s.Walk(f)
	}
}

// checkWritable reports a file whose directory does not exist or may not
// be written by this process, or that exists and may not be written.
func checkWritable(name, path string, rng *hcl.Range) hcl.Diagnostics {
	dir := filepath.Dir(path)
	problem := ""
	switch st, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		problem = "the directory " + dir + " does not exist: create it, or choose another path"
	case err != nil:
		problem = err.Error()
	case !st.IsDir():
		problem = dir + " is not a directory"
	default:
		if _, err := os.Stat(path); err == nil {
			if !writable(path) {
				problem = path + " exists and this user (uid " + uidString() + ") may not write it"
			}
		} else if !writable(dir) {
			problem = "this user (uid " + uidString() + ") may not create files in " + dir
		}
	}
	if problem == "" {
		return nil
	}
	if rng.Start.Line == 0 {
		problem += " (" + name + " is not set: this is its default)"
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot open " + name + " " + path, Detail: problem, Subject: rng}}
}

// checkStateDir reports an acme_issuer's state_path that the master
// could not create or write: the directory must exist and be writable,
// or its nearest existing parent must let the master create it.
func checkStateDir(path string, rng *hcl.Range) hcl.Diagnostics {
	problem := ""
	switch st, err := os.Stat(path); {
	case err == nil && !st.IsDir():
		problem = path + " exists and is not a directory"
	case err == nil && !writable(path):
		problem = "this user (uid " + uidString() + ") may not write in " + path
	case err == nil:
	case !missing(err):
		problem = err.Error()
	default:
		parent := filepath.Dir(path)
		for {
			st, err := os.Stat(parent)
			if err == nil && !st.IsDir() {
				problem = parent + " is not a directory"
			} else if err == nil && !writable(parent) {
				problem = path + " does not exist and this user (uid " + uidString() + ") may not create it in " + parent
			} else if missing(err) && parent != filepath.Dir(parent) {
				parent = filepath.Dir(parent)
				continue
			} else if err != nil {
				problem = err.Error()
			}
			break
		}
	}
	if problem == "" {
		return nil
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot use state_path " + path, Detail: problem, Subject: rng}}
}

// missing reports an error of stat(2) for a path that does not exist,
// or that goes through a file as if it were a directory.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// checkDir warns about a root or alias that is not a directory.
func checkDir(name, path string, rng *hcl.Range) hcl.Diagnostics {
	problem := ""
	switch st, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		problem = "it does not exist: requests will get 404 until it does"
	case err != nil:
		problem = err.Error()
	case !st.IsDir():
		problem = "it is not a directory: requests will get 404"
	}
	if problem == "" {
		return nil
	}
	return hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Warning: " + name + " " + path, Detail: problem, Subject: rng}}
}

// siteKey is a path directive and its resolved value.
type siteKey struct{ name, path string }

// pathSites maps each path directive's resolved value to where it is
// written, by reading the configuration's sources again: the decoded
// Config keeps values, not positions.
func (c *Config) pathSites() map[siteKey]hcl.Range {
	sites := map[siteKey]hcl.Range{}
	names := []string{"root", "alias", "access_log", "error_log", "pid", "state_path", "auth_basic_user_file", "user"}
	c.walkAttributes(func(a *hclsyntax.Attribute) {
		if !slices.Contains(names, a.Name) {
			return
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
			return
		}
		p := v.AsString()
		if p == "" {
			return
		}
		if a.Name == "user" {
			if f := strings.Fields(p); len(f) > 0 {
				sites[siteKey{"user", f[0]}] = a.Expr.Range()
			}
			return
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.Prefix, p)
		}
		k := siteKey{a.Name, filepath.Clean(p)}
		if _, dup := sites[k]; !dup {
			sites[k] = a.Expr.Range()
		}
	})
	// alias keeps a trailing slash, which Clean dropped.
	for k, r := range sites {
		if k.name == "alias" {
			sites[siteKey{k.name, k.path + "/"}] = r
		}
	}
	return sites
}

// walkAttributes calls f with every attribute of the configuration's
// sources, file by file in name order, blocks included: the decoded
// Config keeps values, not positions.
func (c *Config) walkAttributes(f func(*hclsyntax.Attribute)) {
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			f(a)
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Sources)) {
		f, diags := hclsyntax.ParseConfig(c.Sources[name], name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		if b, ok := f.Body.(*hclsyntax.Body); ok {
			walk(b)
		}
	}
}

// needsOpenat2 reports every disable_symlinks that turns the check on
// (true, "on" or "if_not_owner", with or without from=), on a kernel
// without openat2: refused at -t, start and reload rather than answer
// requests 500.
func (c *Config) needsOpenat2() hcl.Diagnostics {
	const detail = "this kernel does not have it (Linux 5.6 and later do): remove disable_symlinks, or run tern on a newer kernel"
	var diags hcl.Diagnostics
	c.walkAttributes(func(a *hclsyntax.Attribute) {
		if a.Name != "disable_symlinks" {
			return
		}
		v, d := a.Expr.Value(nil)
		if d.HasErrors() || v.IsNull() {
			return
		}
		switch {
		case v.Type() == cty.Bool && v.True(),
			v.Type() == cty.String && !strings.HasPrefix(v.AsString()+" ", "off "):
			r := a.SrcRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "disable_symlinks needs openat2", Detail: detail, Subject: &r})
		}
	})
	if len(diags) == 0 { // set where the source cannot say (never: a fallback)
		diags = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "disable_symlinks needs openat2", Detail: detail, Subject: &hcl.Range{Filename: c.File}}}
	}
	return diags
}
