package conf

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// nameKind is the form of a server_name entry.
type nameKind int8

const (
	nameExact nameKind = iota // example.com
	nameHead                  // *.example.com
	nameTail                  // www.example.*
	nameDot                   // .example.com: example.com and *.example.com
	nameRegex                 // ~^www\d+\.example\.net$
)

// serverName is one compiled server_name entry. key is the lookup key:
// the name for exact, ".example.com" for head and dot, "www.example." for
// tail.
type serverName struct {
	kind nameKind
	key  string
	re   *Regex
}

// parseServerName compiles one server_name entry. Names are lowercased
// (the worker lowercases Host); a regular expression keeps its case and,
// as nginx, matches case-insensitively. Regular expressions are Go's RE2,
// not PCRE: no lookarounds or backreferences.
func parseServerName(s string) (serverName, error) {
	if src, ok := strings.CutPrefix(s, "~"); ok {
		if src == "" {
			return serverName{}, fmt.Errorf("an empty regular expression")
		}
		return serverName{kind: nameRegex, key: s}, nil
	}
	name := strings.ToLower(s)
	for _, r := range name {
		if r <= ' ' || r == '/' || r == ':' || r >= 0x7f {
			return serverName{}, fmt.Errorf("a name must not contain %q: no ports, paths, spaces or non-ASCII (use punycode)", r)
		}
	}
	stars := strings.Count(name, "*")
	switch {
	case stars == 1 && strings.HasPrefix(name, "*.") && len(name) > 2:
		return serverName{kind: nameHead, key: name[1:]}, nil
	case stars == 1 && strings.HasSuffix(name, ".*") && len(name) > 2:
		return serverName{kind: nameTail, key: name[:len(name)-1]}, nil
	case stars > 0:
		return serverName{}, fmt.Errorf("a wildcard must be the whole first label (*.example.com) or the whole last one (www.example.*)")
	case strings.HasPrefix(name, ".") && len(name) > 1:
		return serverName{kind: nameDot, key: name}, nil
	}
	return serverName{kind: nameExact, key: name}, nil
}

func decodeServerName(d *decoder, a *hcl.Attribute, t *target) {
	list, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	for i, s := range list {
		if s == "$hostname" {
			// nginx's server_name $hostname: the machine's name.
			s, _ = os.Hostname()
		}
		n, err := parseServerName(s)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%q: %v", s, err)
			continue
		}
		if n.kind == nameRegex {
			// As nginx, a regular expression server name matches
			// without regard to case.
			if n.re, ok = d.regex(a.Name, s, 1, s[1:], true, ranges[i]); !ok {
				continue
			}
		} else if !d.noVars(a, s) {
			continue
		}
		t.srv.names = append(t.srv.names, n)
		if n.kind != nameRegex {
			s = strings.ToLower(s)
		}
		if len(t.srv.srv.Names) == 0 {
			t.srv.srv.Name = s
			if n.kind == nameDot {
				t.srv.srv.Name = s[1:]
			}
		}
		t.srv.srv.Names = append(t.srv.srv.Names, s)
	}
}

// serverNames finds the virtual server for a Host on one address: a
// host table of the names, then the regular expressions in order
// (nginx's ngx_http_find_virtual_server).
type serverNames struct {
	hosts hostTable[*Server]
	regex []regexName
}

type regexName struct {
	re  *Regex
	srv *Server
}

// newServerNames indexes the names of servers, in order. When two
// servers on an address claim the same name, the first keeps it (nginx
// warns "conflicting server name" and does the same).
func newServerNames(servers []*Server, namesOf map[*Server][]serverName) serverNames {
	var n serverNames
	for _, srv := range servers {
		for _, sn := range namesOf[srv] {
			if sn.kind == nameRegex {
				n.regex = append(n.regex, regexName{sn.re, srv})
				continue
			}
			n.hosts.add(sn, srv)
		}
	}
	return n
}

// Server returns the virtual server for host on this address: host is the
// Host header already lowercased, without its port and trailing dot. The
// order is nginx's: an exact name, the longest matching leading wildcard
// (*.example.com matches a.example.com and a.b.example.com, not
// example.com), the longest trailing wildcard, the first regular
// expression that matches, else Default. It never returns nil and does
// not allocate.
func (a *Addr) Server(host []byte) *Server {
	s, _ := a.Find(host, nil)
	return s
}

// Find is Server that also returns the regular expression that chose the
// server, nil when none did; its groups are recorded in c (named groups
// and $1..$9, as nginx's server_name captures).
func (a *Addr) Find(host []byte, c *Captures) (*Server, *Regex) {
	n := &a.names
	if s, ok := n.hosts.find(host); ok {
		return s, nil
	}
	if len(host) == 0 {
		return a.Default, nil
	}
	for _, r := range n.regex {
		if r.re.Match(host, c) {
			return r.srv, r.re
		}
	}
	return a.Default, nil
}

// hostTable finds a value by host name among exact names and wildcards,
// in nginx's order (ngx_hash_find_combined): exact, the longest leading
// wildcard, the longest trailing wildcard. server_name and map's
// hostnames use it.
type hostTable[T any] struct {
	exact map[string]T
	// head maps ".example.com" (from *.example.com and .example.com) to
	// its value; dot maps "example.com" (from .example.com).
	head, dot map[string]T
	// tail maps "www.example." (from www.example.*).
	tail map[string]T
}

// add files v under the name sn (not a regular expression); an earlier
// value keeps a name.
func (h *hostTable[T]) add(sn serverName, v T) {
	switch sn.kind {
	case nameExact:
		claim(&h.exact, sn.key, v)
	case nameHead:
		claim(&h.head, sn.key, v)
	case nameTail:
		claim(&h.tail, sn.key, v)
	case nameDot:
		claim(&h.head, sn.key, v)
		claim(&h.dot, sn.key[1:], v)
	}
}

// has reports whether sn is already filed.
func (h *hostTable[T]) has(sn serverName) bool {
	var ok bool
	switch sn.kind {
	case nameExact:
		_, ok = h.exact[sn.key]
	case nameHead, nameDot:
		_, ok = h.head[sn.key]
	case nameTail:
		_, ok = h.tail[sn.key]
	}
	return ok
}

// claim gives key to v unless an earlier value has it.
func claim[T any](m *map[string]T, key string, v T) {
	if *m == nil {
		*m = make(map[string]T)
	}
	if _, taken := (*m)[key]; !taken {
		(*m)[key] = v
	}
}

// find looks host (lower case) up; it does not allocate.
func (h *hostTable[T]) find(host []byte) (T, bool) {
	if v, ok := h.exact[string(host)]; ok {
		return v, true
	}
	if v, ok := h.findHead(host); ok {
		return v, true
	}
	return h.findTail(host)
}

// findHead tries the host itself against .example.com names, then each
// suffix that starts at a dot, longest first.
func (h *hostTable[T]) findHead(host []byte) (T, bool) {
	if v, ok := h.dot[string(host)]; ok {
		return v, true
	}
	var zero T
	if len(h.head) == 0 {
		return zero, false
	}
	for i := 1; i < len(host); i++ {
		if host[i] == '.' {
			if v, ok := h.head[string(host[i:])]; ok {
				return v, true
			}
		}
	}
	return zero, false
}

// findTail tries each prefix that ends at a dot, longest first; something
// must follow the dot.
func (h *hostTable[T]) findTail(host []byte) (T, bool) {
	var zero T
	if len(h.tail) == 0 {
		return zero, false
	}
	for i := len(host) - 2; i >= 0; i-- {
		if host[i] == '.' {
			if v, ok := h.tail[string(host[:i+1])]; ok {
				return v, true
			}
		}
	}
	return zero, false
}
