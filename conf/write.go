package conf

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// WriteHCL writes the effective configuration (tern -T) as HCL that Load
// reads back to an equal Config: every default filled in, paths absolute,
// durations and sizes in nginx units, the MIME table in full, included
// files merged in. Every directive appears with its effective value at
// the outermost block it may appear in (one that is not set, such as
// return, as a comment); an inner block writes only what differs from
// the block around it.
func (c *Config) WriteHCL(w io.Writer) error {
	p := &printer{}
	p.line(0, "# effective configuration of %s (prefix %s)", c.File, c.Prefix)
	p.line(0, "# a server writes what differs from http, a location what differs from its server")
	c.writeMain(p)
	for _, name := range slices.Sorted(maps.Keys(c.ThreadPools)) {
		tp := c.ThreadPools[name]
		p.line(0, "")
		p.line(0, "thread_pool %s {", hclQuote(name))
		p.attr(1, "threads", strconv.Itoa(tp.Threads))
		p.attr(1, "max_queue", strconv.Itoa(tp.MaxQueue))
		p.line(0, "}")
	}
	writeIssuers(p, c.ACMEIssuers)
	if c.HTTP != nil {
		p.line(0, "")
		p.line(0, "http {")
		c.writeHTTP(p)
		p.line(0, "}")
	}
	_, err := io.WriteString(w, p.buf.String())
	return err
}

func (c *Config) writeMain(p *printer) {
	workers := hclQuote("auto")
	if c.WorkerProcesses > 0 {
		workers = strconv.Itoa(c.WorkerProcesses)
	}
	p.attr(0, "worker_processes", workers)
	p.attr(0, "worker_cpu_affinity", showAffinity(c.WorkerCPUAffinity))
	p.attr(0, "worker_connections", strconv.Itoa(c.WorkerConnections))
	p.attr(0, "worker_rlimit_nofile", strconv.FormatUint(c.WorkerRlimitNofile, 10))
	p.attr(0, "worker_shutdown_timeout", hclQuote(FormatDuration(c.WorkerShutdownTimeout)))
	p.attr(0, "accept_mutex", strconv.FormatBool(c.AcceptMutex))
	p.attr(0, "accept_mutex_delay", hclQuote(FormatDuration(c.AcceptMutexDelay)))
	if c.UserSet {
		p.attr(0, "user", showUser(c))
	} else {
		p.line(0, "# user: not set (a master started as root runs its workers as %s, as nginx)", defaultUser)
	}
	p.attr(0, "pid", hclQuote(cmp.Or(c.PID, "off")))
	p.attr(0, "error_log", hclQuote(c.ErrorLog))
	p.attr(0, "error_log_level", hclQuote(LevelName(c.ErrorLogLevel)))
}

func showAffinity(a Affinity) string {
	switch a.Mode {
	case AffinityOff:
		return hclQuote("off")
	case AffinityList:
		lists := make([]string, len(a.CPUs))
		for i, cpus := range a.CPUs {
			lists[i] = FormatCPUList(cpus)
		}
		return hclList(lists)
	}
	return hclQuote("auto")
}

func (c *Config) writeHTTP(p *printer) {
	h := c.HTTP
	included := slices.DeleteFunc(slices.Sorted(maps.Keys(c.Sources)), func(f string) bool { return f == c.File })
	if len(included) == 0 {
		p.line(1, "# include: none")
	} else {
		p.line(1, "# include: %s, merged into this block", strings.Join(included, ", "))
	}
	types, exts := h.MIME.byType()
	p.line(1, "types = {")
	for _, typ := range types {
		p.attr(2, hclQuote(typ), hclList(exts[typ]))
	}
	p.line(1, "}")
	writeZones(p, h.Zones)
	writeSettings(p, 1, inHTTP, h.settings, nil, 0)
	maps := 0
	for _, v := range h.Vars {
		if v.Map != nil {
			p.line(0, "")
			v.Map.write(p, v.Name)
			maps++
		}
	}
	if maps == 0 {
		p.line(1, "# map: none")
	}
	for _, m := range h.CharsetMaps {
		p.line(0, "")
		m.write(p)
	}
	if len(h.CharsetMaps) == 0 {
		p.line(1, "# charset_map: none")
	}
	writeLogFormats(p, h.LogFormats)
	for _, srv := range h.Servers {
		p.line(0, "")
		p.line(1, "server {")
		srv.write(p, h.settings)
		p.line(1, "}")
	}
}

// writeZones writes the limit_req_zone and limit_conn_zone blocks.
func writeZones(p *printer, zones []*LimitZone) {
	if len(zones) == 0 {
		p.line(1, "# limit_req_zone, limit_conn_zone: none")
		p.line(1, "# key: required in each zone")
		p.line(1, "# size: required in each zone")
		p.line(1, "# rate: required in each limit_req_zone")
		return
	}
	for _, z := range zones {
		kind := "limit_req_zone"
		if z.Kind == ZoneConn {
			kind = "limit_conn_zone"
		}
		p.line(1, "%s %s {", kind, hclQuote(z.Name))
		p.attr(2, "key", hclQuote(z.Key.String()))
		p.attr(2, "size", hclQuote(FormatSize(z.Size)))
		if z.Kind == ZoneReq {
			p.attr(2, "rate", hclQuote(FormatRate(z.Rate)))
		}
		p.line(1, "}")
	}
}

func (s *Server) write(p *printer, parent *Settings) {
	var listens []string
	for _, a := range s.Addrs {
		entry := a.Addr
		if a.SSL {
			entry += " ssl"
		}
		if a.Default == s {
			entry += " default_server"
			if a.ReusePort {
				entry += " reuseport"
			}
			entry += " backlog=" + strconv.Itoa(a.Backlog)
			if a.SndBuf != 0 {
				entry += " sndbuf=" + strconv.Itoa(a.SndBuf)
			}
			if a.RcvBuf != 0 {
				entry += " rcvbuf=" + strconv.Itoa(a.RcvBuf)
			}
			if a.ProxyProtocol {
				entry += " proxy_protocol"
			}
		}
		listens = append(listens, entry)
	}
	p.attr(2, "listen", hclList(listens))
	p.attr(2, "server_name", hclList(s.Names))
	if s.ACME != nil {
		p.attr(2, "acme_certificate", hclQuote(s.ACME.Issuer.Name))
	} else {
		p.line(2, "# acme_certificate: not set")
	}
	writeSettings(p, 2, inServer, &s.Root.Settings, parent, inHTTP)
	if len(s.Root.Script) == 0 {
		for _, name := range []string{"set", "rewrite", "return", "break"} {
			p.line(2, "# %s: not set", name)
		}
		p.line(2, "# if: none")
	}
	writeScript(p, 2, s.Root.Script, &s.Root.Settings)
	writeLocations(p, 2, s.Root)
}

// writeLocations writes the locations nested in parent, at depth.
func writeLocations(p *printer, depth int, parent *Location) {
	for _, l := range parent.Locations {
		p.line(0, "")
		p.line(depth, "location %s {", hclQuote(l.Name))
		ctx := inServer
		if parent.Modifier != ModNone {
			ctx = inSettings
		}
		writeSettings(p, depth+1, inLocation, &l.Settings, &parent.Settings, ctx)
		writeScript(p, depth+1, l.Script, &l.Settings)
		writeLocations(p, depth+1, l)
		p.line(depth, "}")
	}
}

// writeSettings writes the Settings directives allowed in ctx: those
// that may not appear in parentCtx (the block around) always, the others
// when their value differs from parent's. A directive that is not set
// (show returns "") is written as a comment where it may first appear.
func writeSettings(p *printer, depth int, ctx context, s, parent *Settings, parentCtx context) {
	for _, dir := range directiveTable {
		if dir.showPairs != nil && dir.ctx&ctx != 0 {
			pairs := dir.showPairs(s)
			if dir.ctx&parentCtx == 0 || !slices.Equal(pairs, dir.showPairs(parent)) {
				for _, kv := range pairs {
					p.attr(depth, kv.name, kv.value)
				}
			}
			continue
		}
		if dir.show == nil || dir.ctx&ctx == 0 {
			continue
		}
		outermost := dir.ctx&parentCtx == 0
		v := dir.show(s)
		switch {
		case v == "" && outermost:
			p.line(depth, "# %s: not set", dir.name)
		case v == "", !outermost && v == dir.show(parent):
		default:
			p.attr(depth, dir.name, v)
		}
	}
}

// printer accumulates HCL text, two spaces an indentation level.
type printer struct {
	buf strings.Builder
}

func (p *printer) line(depth int, format string, args ...any) {
	p.buf.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(&p.buf, format, args...)
	p.buf.WriteByte('\n')
}

func (p *printer) attr(depth int, name, value string) {
	p.line(depth, "%s = %s", name, value)
}

// hclQuote writes s as an HCL string literal: escapes for quotes,
// backslashes and control characters, and "$${" / "%%{" so that HCL does
// not read a template sequence.
func hclQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hclList writes a list of strings.
func hclList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = hclQuote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// hclObject writes an object with string keys and values, in order.
func hclObject(pairs [][2]string) string {
	if len(pairs) == 0 {
		return "{}"
	}
	items := make([]string, len(pairs))
	for i, kv := range pairs {
		items[i] = hclQuote(kv[0]) + " = " + hclQuote(kv[1])
	}
	return "{ " + strings.Join(items, ", ") + " }"
}
