package conf

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Listen defaults.
const (
	// defaultBacklog is nginx's NGX_LISTEN_BACKLOG on Linux.
	defaultBacklog = 511
	// defaultListen is where a server without listen listens. nginx uses
	// *:80 when run as root and *:8000 otherwise; tern always uses *:80.
	defaultListen = "0.0.0.0:80"
)

// serverDraft is a server while the http block is decoded: the Server and
// what is needed to build the addresses after all servers are read.
type serverDraft struct {
	srv     *Server
	listens []listenEntry
	names   []serverName
	// at is where the server sets the ssl_* directives whose files are
	// loaded after every server is read.
	at map[string]hcl.Range
	// acmeAt is where the server sets acme_certificate.
	acmeAt hcl.Range
}

// listenEntry is one entry of listen.
type listenEntry struct {
	network, addr string
	defaultServer bool
	reusePort     bool
	proxyProtocol bool
	ssl           bool
	backlog       int // 0 when not given
	// sndbuf and rcvbuf are SO_SNDBUF and SO_RCVBUF, 0 when not given.
	sndbuf, rcvbuf int
	rng            hcl.Range
}

// hasOptions reports whether the entry sets the address's socket options.
func (e *listenEntry) hasOptions() bool {
	return e.reusePort || e.backlog != 0 || e.sndbuf != 0 || e.rcvbuf != 0
}

// sameOptions reports whether two entries set the same socket options.
func (e *listenEntry) sameOptions(o *listenEntry) bool {
	return e.reusePort == o.reusePort && e.backlog == o.backlog && e.sndbuf == o.sndbuf && e.rcvbuf == o.rcvbuf
}

// decodeServer decodes a server block: its settings over the http ones,
// then its locations, which inherit the server's.
func (d *decoder) decodeServer(b *hcl.Block, parent *Settings) *serverDraft {
	sd := &serverDraft{srv: &Server{}}
	srv := sd.srv
	srv.Root = &Location{Modifier: ModNone, Server: srv, Settings: *parent}
	content := d.content(b.Body, inServer)
	var sc script
	d.apply(content.Attributes, &target{set: &srv.Root.Settings, srv: sd, script: &sc})
	if _, ok := content.Attributes["listen"]; !ok {
		e, _ := parseListen(defaultListen)
		e.rng = b.DefRange
		sd.listens = []listenEntry{e}
	}
	srv.Locations = d.blocks(content.Blocks, srv.Root, &sc)
	srv.Root.Locations = srv.Locations
	srv.Root.Script = sc.flatten()
	srv.locs = newLocationIndex(srv.Locations)
	d.checkAccess(srv.Root, parent)
	srv.Walk(func(l *Location) {
		if l != srv.Root {
			d.checkAccess(l, &srv.Root.Settings, parent)
		}
	})
	return sd
}

// blocks decodes the location and if blocks of a server or location,
// parent: it returns the locations, and adds the if blocks to sc, where
// they are written among the statements.
func (d *decoder) blocks(blocks hcl.Blocks, parent *Location, sc *script) []*Location {
	var locs []*Location
	seen := make(map[string]hcl.Range)
	for _, lb := range blocks {
		if lb.Type == "if" {
			if st, ok := d.decodeIf(lb, parent); ok {
				sc.add(lb.DefRange.Start.Byte, st)
			}
			continue
		}
		loc := d.decodeLocation(lb, parent)
		if loc == nil {
			continue
		}
		key := locationKey(loc)
		if prev, dup := seen[key]; dup {
			d.errorf(lb.LabelRanges[0], "Duplicate location",
				"location %q matches the same as the one at %s", loc.Name, at(prev))
			continue
		}
		seen[key] = lb.LabelRanges[0]
		locs = append(locs, loc)
	}
	return locs
}

// Walk calls f with the server's own settings, every location, nested
// ones included, and the location of every if block.
func (s *Server) Walk(f func(*Location)) {
	walk(s.Root, f)
}

func walk(l *Location, f func(*Location)) {
	f(l)
	for _, st := range l.Script {
		if st.Op == OpIf {
			walk(st.Then, f)
		}
	}
	for _, sub := range l.Locations {
		walk(sub, f)
	}
}

func decodeListen(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if len(list) == 0 {
		d.invalid(a.Name, a.Expr.Range(), "a server needs at least one address; leave listen out for %s", defaultListen)
		return
	}
	for i, s := range list {
		e, err := parseListen(s)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%q: %v", s, err)
			continue
		}
		e.rng = ranges[i]
		t.srv.listens = append(t.srv.listens, e)
	}
}

// unsupportedListenOptions are nginx listen parameters tern does not
// implement, named so that the message says so instead of "unknown".
var unsupportedListenOptions = []string{
	"quic", "deferred", "bind", "ipv6only",
	"so_keepalive", "fastopen", "accept_filter", "setfib", "default",
}

// parseListen reads "ADDR [ssl] [default_server] [reuseport] [backlog=N]
// [sndbuf=SIZE] [rcvbuf=SIZE] [proxy_protocol]", where
// ADDR is "PORT", "HOST:PORT", "[V6]:PORT" or a host alone (port 80, as
// nginx). HOST is an IPv4 address, "*" or "localhost" (127.0.0.1):
// resolving other names would make the configuration depend on DNS.
func parseListen(s string) (listenEntry, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return listenEntry{}, fmt.Errorf("empty address")
	}
	e, err := parseListenAddr(fields[0])
	if err != nil {
		return e, err
	}
	for _, opt := range fields[1:] {
		name, val, hasVal := strings.Cut(opt, "=")
		switch {
		case opt == "default_server":
			e.defaultServer = true
		case opt == "reuseport":
			e.reusePort = true
		case opt == "proxy_protocol":
			e.proxyProtocol = true
		case opt == "ssl":
			e.ssl = true
		case name == "backlog" && hasVal:
			n, rest, err := leadingInt(val)
			if err != nil || rest != "" || n < 1 || n > maxInt32 {
				return e, fmt.Errorf("backlog=%s: the backlog must be a number of at least 1", val)
			}
			e.backlog = int(n)
		case (name == "sndbuf" || name == "rcvbuf") && hasVal:
			// The kernel doubles the value and caps it at
			// net.core.wmem_max or rmem_max (socket(7)); it takes an
			// int, and 1 GiB doubled still is one.
			n, err := ParseSize(val)
			if err != nil || n < 1 || n > 1<<30 {
				return e, fmt.Errorf("%s: the size must be between 1 and 1g", opt)
			}
			if name == "sndbuf" {
				e.sndbuf = int(n)
			} else {
				e.rcvbuf = int(n)
			}
		case name == "http2":
			return e, fmt.Errorf("http2 is not a listen option: write http2 = true in the server (nginx 1.25.1 made it a directive too)")
		case slices.Contains(unsupportedListenOptions, name):
			return e, fmt.Errorf("the listen option %q is not supported", opt)
		default:
			return e, fmt.Errorf("unknown listen option %q (known: ssl, default_server, reuseport, backlog=N, sndbuf=SIZE, rcvbuf=SIZE, proxy_protocol)", opt)
		}
	}
	return e, nil
}

// parseListenAddr reads the address part of a listen entry and normalises
// it: "8080" → 0.0.0.0:8080, "[::1]:8080" → [::1]:8080.
func parseListenAddr(s string) (listenEntry, error) {
	host, port := s, "80"
	switch {
	case isDigits(s):
		host, port = "*", s
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return listenEntry{}, fmt.Errorf("missing ] after an IPv6 address")
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return listenEntry{}, fmt.Errorf("want [IPv6]:PORT")
			}
			port = p
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return listenEntry{}, fmt.Errorf("%q is not an IPv6 address", host)
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Contains(s, ":"):
		return listenEntry{}, fmt.Errorf("an IPv6 address must be in brackets: [ADDR]:PORT")
	}
	ip, err := listenIP(host)
	if err != nil {
		return listenEntry{}, err
	}
	p, rest, err := leadingInt(port)
	if err != nil || rest != "" || p < 1 || p > 65535 {
		return listenEntry{}, fmt.Errorf("%q is not a port between 1 and 65535", port)
	}
	ap := netip.AddrPortFrom(ip, uint16(p))
	network := "tcp4"
	if ip.Is6() {
		network = "tcp6"
	}
	return listenEntry{network: network, addr: ap.String()}, nil
}

func listenIP(host string) (netip.Addr, error) {
	switch host {
	case "*", "":
		return netip.IPv4Unspecified(), nil
	case "localhost":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ip, fmt.Errorf("%q is not an IP address, \"*\" or \"localhost\" (tern does not resolve names)", host)
	}
	return ip, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// addrDraft is an address while the servers' listen entries are merged.
type addrDraft struct {
	addr      *Addr
	defaultAt *hcl.Range   // the entry that said default_server
	options   *listenEntry // the entry that set reuseport, backlog or a buffer
}

// buildAddrs merges the listen entries of every server into the distinct
// addresses, in the order they first appear. As nginx, an address has one
// default server and one set of socket options; tern accepts the options
// again in another server only when they are the same.
func (d *decoder) buildAddrs(servers []*serverDraft) []*Addr {
	var addrs []*Addr
	byAddr := make(map[string]*addrDraft)
	namesOf := make(map[*Server][]serverName, len(servers))
	for _, sd := range servers {
		namesOf[sd.srv] = sd.names
		mine := make(map[string]hcl.Range)
		for i := range sd.listens {
			e := &sd.listens[i]
			if prev, dup := mine[e.addr]; dup {
				d.errorf(e.rng, "Duplicate listen address", "this server already listens on %s at %s", e.addr, at(prev))
				continue
			}
			mine[e.addr] = e.rng
			ad := byAddr[e.addr]
			if ad == nil {
				ad = &addrDraft{addr: &Addr{Network: e.network, Addr: e.addr, Backlog: defaultBacklog}}
				byAddr[e.addr] = ad
				addrs = append(addrs, ad.addr)
			}
			ad.addr.Servers = append(ad.addr.Servers, sd.srv)
			ad.addr.SSL = ad.addr.SSL || e.ssl
			sd.srv.Addrs = append(sd.srv.Addrs, ad.addr)
			d.listenFlags(ad, e, sd.srv)
		}
	}
	for _, a := range addrs {
		if a.Default == nil {
			a.Default = a.Servers[0]
		}
		a.names = newServerNames(a.Servers, namesOf)
	}
	return addrs
}

// listenFlags applies an entry's default_server and socket options to its
// address, reporting a second default or conflicting options.
func (d *decoder) listenFlags(ad *addrDraft, e *listenEntry, srv *Server) {
	// As nginx, one server's listen with proxy_protocol is enough for
	// the address (ngx_http_add_addresses ORs it).
	ad.addr.ProxyProtocol = ad.addr.ProxyProtocol || e.proxyProtocol
	if e.defaultServer {
		if ad.defaultAt != nil {
			d.errorf(e.rng, "Duplicate default_server",
				"%s already has a default server, at %s", e.addr, at(*ad.defaultAt))
		} else {
			ad.defaultAt, ad.addr.Default = &e.rng, srv
		}
	}
	if !e.hasOptions() {
		return
	}
	if o := ad.options; o != nil {
		if !o.sameOptions(e) {
			d.errorf(e.rng, "Conflicting listen options",
				"%s has other reuseport/backlog/sndbuf/rcvbuf options at %s; give them once, or the same everywhere", e.addr, at(o.rng))
		}
		return
	}
	ad.options = e
	ad.addr.ReusePort = e.reusePort
	if e.backlog != 0 {
		ad.addr.Backlog = e.backlog
	}
	ad.addr.SndBuf, ad.addr.RcvBuf = e.sndbuf, e.rcvbuf
}

// Label names the server in metrics: its first server_name, else its
// first listen address. Label values thus come from the configuration,
// never from what a client sends; servers that share a first name share
// a label.
func (s *Server) Label() string {
	if len(s.Names) > 0 {
		return s.Names[0]
	}
	if len(s.Addrs) > 0 {
		return s.Addrs[0].Addr
	}
	return ""
}

// ServerLabels returns the distinct labels of the configuration's
// servers, in order, and PoolLabels the names of its thread pools,
// sorted: the values of the metrics' server and pool labels.
func (c *Config) ServerLabels() []string {
	var labels []string
	if c.HTTP != nil {
		for _, s := range c.HTTP.Servers {
			if l := s.Label(); !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
	}
	return labels
}

// PoolLabels returns the names of the thread pools, sorted.
func (c *Config) PoolLabels() []string {
	return slices.Sorted(maps.Keys(c.ThreadPools))
}
