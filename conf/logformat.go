package conf

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Access logs (nginx's ngx_http_log_module): where each request is
// logged, in which format, and when.

// LogEscape is how a log format writes variable values.
type LogEscape int8

const (
	// EscapeDefault writes '"', '\' and bytes outside printable ASCII as
	// \xHH (nginx's default).
	EscapeDefault LogEscape = iota
	// EscapeJSON writes a value as the inside of a JSON string.
	EscapeJSON
	// EscapeNone writes values as they are.
	EscapeNone
)

var escapeNames = [...]string{EscapeDefault: "default", EscapeJSON: "json", EscapeNone: "none"}

// LogFormat is a log_format: one line per request, its variables
// expanded and escaped. The built-in "json" (tern's JSON object) and
// "combined" (nginx's) have no Line.
type LogFormat struct {
	Name   string
	Line   Template
	Escape LogEscape
}

// Built-in formats.
var (
	// FormatJSON is tern's JSON line: one object per request, written
	// by zerolog.
	FormatJSON = &LogFormat{Name: "json"}
	// FormatCombined is nginx's combined line.
	FormatCombined = &LogFormat{Name: "combined"}
)

// AccessLog is one access_log destination.
type AccessLog struct {
	// Path is an absolute path, "stdout" or "stderr".
	Path string
	// Format is the line's format; nil for access_log_format's.
	Format *LogFormat
	// Buffer is the most a worker holds before writing (buffer=); 0 for
	// tern's default.
	Buffer int64
	// Flush bounds how long a line waits (flush=); 0 for tern's default.
	Flush time.Duration
	// If, when not zero, logs the request only when it expands to
	// neither "" nor "0" (if=).
	If Template
}

// logFormatSchema is the inside of a log_format block.
var logFormatSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "format", Required: true}, {Name: "escape"},
}}

// decodeLogFormat decodes log_format "NAME" { format = "...", escape = "..." }
// at the http level.
func (d *decoder) decodeLogFormat(b *hcl.Block) {
	name := b.Labels[0]
	switch {
	case name == "json" || name == "combined":
		d.errorf(b.LabelRanges[0], "Invalid log_format", "%q is a built-in format", name)
		return
	case !validVarName(name):
		d.errorf(b.LabelRanges[0], "Invalid log_format", "%q is not a format name: letters, digits and \"_\"", name)
		return
	case d.formats[name] != nil:
		d.errorf(b.LabelRanges[0], "Duplicate log_format", "format %q is defined twice", name)
		return
	}
	content, diags := b.Body.Content(logFormatSchema)
	d.diags = append(d.diags, diags...)
	f := &LogFormat{Name: name}
	if a := content.Attributes["escape"]; a != nil {
		if s, ok := d.keyword(a, escapeNames[:]...); ok {
			f.Escape = LogEscape(slices.Index(escapeNames[:], s))
		}
	}
	if a := content.Attributes["format"]; a != nil {
		var ok bool
		if f.Line, ok = d.template("log_format", a.Expr); !ok {
			return
		}
	}
	if d.formats == nil {
		d.formats = make(map[string]*LogFormat)
	}
	d.formats[name] = f
	d.formatOrder = append(d.formatOrder, f)
}

// decodeAccessLog reads access_log: "off", or one destination or a list
// of them, each "PATH [FORMAT] [buffer=SIZE] [flush=TIME] [if=CONDITION]"
// ("stdout" and "stderr" for the streams). Formats are resolved once the
// http block is read (log_format may come later).
func decodeAccessLog(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.textList(a.Name, a.Expr)
	if !ok {
		return
	}
	if len(list) == 1 && list[0] == "off" || len(list) == 0 {
		t.set.AccessLogs = nil
		return
	}
	var logs []AccessLog
	for i, s := range list {
		l, ok := d.accessLogEntry(a.Name, s, ranges[i])
		if ok {
			logs = append(logs, l)
		}
	}
	t.set.AccessLogs = logs
}

// accessLogEntry parses one destination.
func (d *decoder) accessLogEntry(name, s string, rng hcl.Range) (AccessLog, bool) {
	fields, offs := splitFields(s)
	if len(fields) == 0 {
		d.invalid(name, rng, "an entry must not be empty")
		return AccessLog{}, false
	}
	var l AccessLog
	switch p := fields[0]; {
	case p == "stdout" || p == "stderr":
		l.Path = p
	case p == "off":
		d.invalid(name, rng, "\"off\" stands alone")
		return AccessLog{}, false
	case strings.HasPrefix(p, "syslog:"):
		d.invalid(name, rng, "%q: syslog is not supported; log to \"stdout\" under a supervisor that collects it", p)
		return AccessLog{}, false
	case strings.Contains(p, "$"):
		d.invalid(name, rng, "%q: tern does not take variables in access_log paths (nginx would open a file per value)", p)
		return AccessLog{}, false
	default:
		l.Path = d.resolve(p)
	}
	for i := 1; i < len(fields); i++ {
		f := fields[i]
		key, val, hasVal := strings.Cut(f, "=")
		var err error
		switch {
		case key == "buffer" && hasVal:
			if l.Buffer, err = ParseSize(val); err == nil && (l.Buffer < 1 || l.Buffer > maxLogBuffer) {
				err = fmt.Errorf("it must be between 1 and %s", FormatSize(maxLogBuffer))
			}
		case key == "flush" && hasVal:
			if l.Flush, err = ParseDuration(val); err == nil && l.Flush < time.Millisecond {
				err = fmt.Errorf("it must be at least 1ms")
			}
		case key == "if" && hasVal:
			var ok bool
			if l.If, ok = d.compileSpan(name, s, offs[i]+3, len(val), rng); !ok {
				return AccessLog{}, false
			}
		case key == "gzip":
			err = fmt.Errorf("compressed access logs are not supported")
		case i == 1 && !hasVal:
			l.Format = d.formatRef(f, rng)
		default:
			err = fmt.Errorf("unknown parameter (known: FORMAT, buffer=SIZE, flush=TIME, if=CONDITION)")
		}
		if err != nil {
			d.invalid(name, rng, "%q: %v", f, err)
			return AccessLog{}, false
		}
	}
	return l, true
}

// maxLogBuffer bounds buffer=: the memory a worker holds per log.
const maxLogBuffer = 64 << 20

// formatRef stands for the format name written at rng until the http
// block is read (log_format may come after its use).
func (d *decoder) formatRef(name string, rng hcl.Range) *LogFormat {
	switch name {
	case "json":
		return FormatJSON
	case "combined":
		return FormatCombined
	}
	d.formatRefs = append(d.formatRefs, formatRef{name, rng})
	return &LogFormat{Name: name}
}

// formatRef is a format name written, and where.
type formatRef struct {
	name string
	rng  hcl.Range
}

// resolveFormats binds the format names of every access_log and
// access_log_format to the http block's log_format blocks, and reports
// the names none defines.
func (d *decoder) resolveFormats(h *httpDraft, out *HTTP) {
	fix := func(f **LogFormat) {
		if *f != nil && *f != FormatJSON && *f != FormatCombined {
			if real := d.formats[(*f).Name]; real != nil {
				*f = real
			}
		}
	}
	fixSettings := func(s *Settings) {
		fix(&s.AccessLogFormat)
		for i := range s.AccessLogs {
			fix(&s.AccessLogs[i].Format)
		}
	}
	fixSettings(&h.set)
	for _, srv := range out.Servers {
		srv.Walk(func(l *Location) { fixSettings(&l.Settings) })
	}
	seen := map[string]bool{}
	for _, r := range d.formatRefs {
		if d.formats[r.name] == nil && !seen[r.name] {
			seen[r.name] = true
			d.errorf(r.rng, "Unknown log_format", "%q is not a log format: define it with log_format %q { format = \"...\" }, or use json or combined", r.name, r.name)
		}
	}
	out.LogFormats = d.formatOrder
}

// showAccessLog writes access_log.
func showAccessLog(s *Settings) string {
	if len(s.AccessLogs) == 0 {
		return hclQuote("off")
	}
	list := make([]string, len(s.AccessLogs))
	for i, l := range s.AccessLogs {
		list[i] = l.String()
	}
	if len(list) == 1 {
		return hclQuote(list[0])
	}
	return hclList(list)
}

// String writes the destination as access_log takes it.
func (l AccessLog) String() string {
	parts := []string{l.Path}
	if l.Format != nil {
		parts = append(parts, l.Format.Name)
	}
	if l.Buffer > 0 {
		parts = append(parts, "buffer="+FormatSize(l.Buffer))
	}
	if l.Flush > 0 {
		parts = append(parts, "flush="+FormatDuration(l.Flush))
	}
	if !l.If.IsZero() {
		parts = append(parts, "if="+l.If.String())
	}
	return strings.Join(parts, " ")
}

// writeLogFormats writes the log_format blocks (WriteHCL).
func writeLogFormats(p *printer, formats []*LogFormat) {
	if len(formats) == 0 {
		p.line(1, "# log_format: none (json and combined are built in)")
		return
	}
	for _, f := range formats {
		p.line(0, "")
		p.line(1, "log_format %s {", hclQuote(f.Name))
		p.attr(2, "format", hclQuote(f.Line.String()))
		p.attr(2, "escape", hclQuote(escapeNames[f.Escape]))
		p.line(1, "}")
	}
}

// AccessLogPaths lists every distinct access_log file of the
// configuration, in configuration order ("stdout" and "stderr"
// included): the files a master opens for its workers.
func (c *Config) AccessLogPaths() []string {
	var paths []string
	add := func(s *Settings) {
		for _, l := range s.AccessLogs {
			if !slices.Contains(paths, l.Path) {
				paths = append(paths, l.Path)
			}
		}
	}
	c.EachLocation(func(l *Location) { add(&l.Settings) })
	return paths
}

// ErrorLogPaths returns the distinct error_log paths of http, server and
// location blocks, in configuration order ("stderr" and "stdout"
// included).
func (c *Config) ErrorLogPaths() []string {
	var paths []string
	c.EachLocation(func(l *Location) {
		if p := l.ErrorLog; p != "" && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	})
	return paths
}

// LogPolicy returns the shortest flush and the largest buffer that the
// destinations on path ask for, 0 where none says.
func (c *Config) LogPolicy(path string) (flush time.Duration, buffer int64) {
	flush = math.MaxInt64
	c.EachLocation(func(l *Location) {
		for _, a := range l.AccessLogs {
			if a.Path != path {
				continue
			}
			if a.Flush > 0 && a.Flush < flush {
				flush = a.Flush
			}
			buffer = max(buffer, a.Buffer)
		}
	})
	if flush == math.MaxInt64 {
		flush = 0
	}
	return flush, buffer
}

// decodeAccessLogFormat reads access_log_format: the format of the
// access_log destinations that name none (json, combined or a
// log_format's name).
func decodeAccessLogFormat(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	if !validVarName(s) {
		d.invalid(a.Name, a.Expr.Range(), "%q is not a format name", s)
		return
	}
	t.set.AccessLogFormat = d.formatRef(s, a.Expr.Range())
}

func showAccessLogFormat(s *Settings) string { return hclQuote(s.AccessLogFormat.Name) }
