package conf

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// decoder holds the state of one load: where file texts come from, what
// was read, and every diagnostic so far.
type decoder struct {
	prefix string
	// read returns the text of an absolute path; glob expands an
	// absolute pattern into sorted paths.
	read func(path string) ([]byte, error)
	glob func(pattern string) ([]string, error)
	// sourceCharsetAt is where each source_charset value was last
	// written, for an error about a pair no charset_map joins.
	sourceCharsetAt map[string]hcl.Range

	parser    *hclparse.Parser
	sources   map[string][]byte
	fileOrder map[string]int
	diags     hcl.Diagnostics
	// reading is the chain of files being decoded, the main file first,
	// to refuse an include of a file that is already on it.
	reading []string
	// pools are the thread pools defined so far, for aio.
	pools map[string]*ThreadPool
	// http is the http block being decoded, for its zones.
	http *httpDraft
	// authAt is where each level's auth_basic was set; reported holds
	// the ranges of inherited settings already reported as invalid, so
	// that each is reported once.
	authAt map[*Settings]hcl.Range
	linkAt map[*Settings]hcl.Range
	// referers are valid_referers with server_names, by server.
	referers map[refererKey]*Referers
	reported map[hcl.Range]bool
	// vars are the user variables and the references to them.
	vars varScope
	// certs are the certificate and key pairs loaded so far, by their
	// files, so that servers naming the same files share one.
	certs map[string]*Certificate
	// warnings are diagnostics that do not stop the load (-t prints
	// them): a certificate about to expire, a directive without effect.
	warnings hcl.Diagnostics
	// formats are the log_format blocks by name and in order, and
	// formatRefs the format names written, resolved at the end of http.
	formats     map[string]*LogFormat
	formatOrder []*LogFormat
	formatRefs  []formatRef
	// issuers are the acme_issuer blocks by name, and in order.
	issuers     map[string]*ACMEIssuer
	issuerOrder []*ACMEIssuer
}

func newDecoder(prefix string, read func(string) ([]byte, error), glob func(string) ([]string, error)) *decoder {
	return &decoder{
		prefix:    prefix,
		read:      read,
		glob:      glob,
		parser:    hclparse.NewParser(),
		sources:   make(map[string][]byte),
		fileOrder: make(map[string]int),
		authAt:    make(map[*Settings]hcl.Range),
		linkAt:    make(map[*Settings]hcl.Range),
		referers:  make(map[refererKey]*Referers),
		reported:  make(map[hcl.Range]bool),
		certs:     make(map[string]*Certificate),
	}
}

// Load reads the configuration file and the files it includes from disk.
// Relative paths resolve against prefix, or, when prefix is "", against
// the file's directory. An invalid configuration, or one that cannot be
// read, is returned as an *Error.
func Load(file, prefix string) (*Config, error) {
	file, prefix, err := absPaths(file, prefix)
	if err != nil {
		return nil, err
	}
	return newDecoder(prefix, os.ReadFile, diskGlob).run(file)
}

// LoadSnapshot decodes a configuration from texts already read, keyed by
// absolute path (Config.Sources of an earlier Load), and never touches the
// disk: include patterns are matched against the keys. A worker or an
// upgraded binary decodes the master's snapshot this way and gets the same
// configuration the master validated, even if the files changed since.
func LoadSnapshot(file, prefix string, sources map[string][]byte) (*Config, error) {
	if !isPseudoName(file) {
		var err error
		if file, prefix, err = absPaths(file, prefix); err != nil {
			return nil, err
		}
	}
	read := func(path string) ([]byte, error) {
		if src, ok := sources[path]; ok {
			return src, nil
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	glob := func(pattern string) ([]string, error) {
		if _, err := filepath.Match(pattern, ""); err != nil {
			return nil, err
		}
		var matches []string
		for name := range sources {
			if ok, _ := filepath.Match(pattern, name); ok {
				matches = append(matches, name)
			}
		}
		slices.Sort(matches)
		return matches, nil
	}
	return newDecoder(prefix, read, glob).run(file)
}

// isPseudoName reports whether name is a bracketed name such as "<serve>"
// rather than a path.
func isPseudoName(name string) bool {
	return strings.HasPrefix(name, "<") && strings.HasSuffix(name, ">")
}

// absPaths makes file and prefix absolute; prefix "" is file's directory.
func absPaths(file, prefix string) (string, string, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return "", "", err
	}
	if prefix == "" {
		return file, filepath.Dir(file), nil
	}
	prefix, err = filepath.Abs(prefix)
	return file, prefix, err
}

// diskGlob is filepath.Glob with its matches sorted as a whole, the order
// LoadSnapshot uses too.
func diskGlob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	slices.Sort(matches)
	return matches, err
}

// run decodes the main file and everything it includes.
func (d *decoder) run(file string) (*Config, error) {
	d.reading = []string{file}
	f := d.parse(file, nil)
	if f == nil {
		return nil, d.error()
	}
	cfg := d.decodeMain(f.Body)
	if d.diags.HasErrors() {
		return nil, d.error()
	}
	cfg.File, cfg.Prefix, cfg.Sources = file, d.prefix, d.sources
	if len(d.warnings) > 0 {
		sortDiags(d.warnings, d.fileOrder)
		cfg.Warnings = &Error{Diags: d.warnings, Files: d.parser.Files()}
	}
	return cfg, nil
}

// parse reads and parses one file. from is the range of the include that
// names it, nil for the main file. It returns nil when the file cannot be
// read or has syntax errors, which it reports.
func (d *decoder) parse(path string, from *hcl.Range) *hcl.File {
	src, err := d.read(path)
	if err != nil {
		subject := from
		if subject == nil {
			subject = &hcl.Range{Filename: path}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", pe.Path, pe.Err)
		}
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   err.Error(),
			Subject:  subject,
		})
		return nil
	}
	if _, seen := d.fileOrder[path]; !seen {
		d.fileOrder[path] = len(d.fileOrder)
	}
	d.sources[path] = src
	f, diags := d.parser.ParseHCL(src, path)
	d.diags = append(d.diags, diags...)
	for _, diag := range diags {
		if diag.Summary == unclosedSummary {
			d.diags = append(d.diags, unclosedDiags(src, path)...)
			break
		}
	}
	if diags.HasErrors() {
		return nil
	}
	return f
}

// error returns the diagnostics so far as an *Error. A diagnostic without
// a subject (none is known to come from HCL) is given the main file, so
// that every one names a file.
func (d *decoder) error() error {
	for _, diag := range d.diags {
		if diag.Subject == nil && len(d.reading) > 0 {
			diag.Subject = &hcl.Range{Filename: d.reading[0]}
		}
	}
	sortDiags(d.diags, d.fileOrder)
	return &Error{Diags: d.diags, Files: d.parser.Files()}
}

// ServeOptions are the flags of "tern serve".
type ServeOptions struct {
	// Dir is the directory served; "" is ".".
	Dir string
	// Listen is the address: "PORT", "HOST:PORT" or "[V6]:PORT" as in
	// listen; "" is 127.0.0.1:8080.
	Listen string
	// Autoindex lists directories that have no index file.
	Autoindex bool
	// Gzip compresses text on the fly and serves FILE.gz beside FILE.
	Gzip bool
	// User is who the workers of a master started as root run as; ""
	// leaves user unset.
	User string
}

// Serve returns the configuration of "tern serve"
// (docs/operations.md#tern-serve): the directory served on the address,
// worker_processes auto, no pid file, both logs on standard error,
// autoindex and gzip as the options say, every other directive at its
// default. It is decoded from generated HCL through the same path as a
// file, under the pseudo-name "<serve>", so that it obeys every rule a
// file does; relative paths resolve against the current directory.
func Serve(o ServeOptions) (*Config, error) {
	dir, listen := cmp.Or(o.Dir, "."), cmp.Or(o.Listen, "127.0.0.1:8080")
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	src := fmt.Appendf(nil, serveHCL, hclQuote(root), hclQuote(listen), hclQuote(TemplateQuote(root)), o.Autoindex, o.Gzip, o.Gzip)
	if o.User != "" {
		src = fmt.Appendf(src, "user = %s\n", hclQuote(o.User))
	}
	return LoadSnapshot(serveName, cwd, map[string][]byte{serveName: src})
}

// serveName is the pseudo-file of the Serve configuration.
const serveName = "<serve>"

const serveHCL = `# tern serve %s
worker_processes = "auto"
pid              = "off"
error_log        = "stderr"

http {
  access_log = "stderr"

  server {
    listen      = [%s]
    root        = %s
    autoindex   = %t
    gzip        = %t
    gzip_static = %t
  }
}
`
