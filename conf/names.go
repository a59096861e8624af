package conf

import (
	"fmt"
	"regexp"
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
	re   *regexp.Regexp
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
		re, err := regexp.Compile("(?i)" + src)
		if err != nil {
			return serverName{}, fmt.Errorf("bad regular expression: %v", err)
		}
		return serverName{kind: nameRegex, key: s, re: re}, nil
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
		n, err := parseServerName(s)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%q: %v", s, err)
			continue
		}
		t.srv.names = append(t.srv.names, n)
		if n.kind != nameRegex {
			s = strings.ToLower(s)
		}
		t.srv.srv.Names = append(t.srv.srv.Names, s)
	}
}

// serverNames finds the virtual server for a Host on one address. Each
// form has its own table, searched in nginx's order (ngx_http_find_virtual_
// server): exact, longest leading wildcard, longest trailing wildcard,
// regular expressions in order. When two servers on an address claim the
// same name, the first keeps it (nginx warns "conflicting server name" and
// does the same).
type serverNames struct {
	exact map[string]*Server
	// head maps ".example.com" (from *.example.com and .example.com) to
	// its server; dot maps "example.com" (from .example.com).
	head, dot map[string]*Server
	// tail maps "www.example." (from www.example.*).
	tail  map[string]*Server
	regex []regexName
}

type regexName struct {
	re  *regexp.Regexp
	srv *Server
}

// newServerNames indexes the names of servers, in order.
func newServerNames(servers []*Server, namesOf map[*Server][]serverName) serverNames {
	var n serverNames
	for _, srv := range servers {
		for _, sn := range namesOf[srv] {
			switch sn.kind {
			case nameExact:
				claim(&n.exact, sn.key, srv)
			case nameHead:
				claim(&n.head, sn.key, srv)
			case nameTail:
				claim(&n.tail, sn.key, srv)
			case nameDot:
				claim(&n.head, sn.key, srv)
				claim(&n.dot, sn.key[1:], srv)
			case nameRegex:
				n.regex = append(n.regex, regexName{sn.re, srv})
			}
		}
	}
	return n
}

// claim gives key to srv unless an earlier server has it.
func claim(m *map[string]*Server, key string, srv *Server) {
	if *m == nil {
		*m = make(map[string]*Server)
	}
	if _, taken := (*m)[key]; !taken {
		(*m)[key] = srv
	}
}

// Server returns the virtual server for host on this address: host is the
// Host header already lowercased, without its port and trailing dot. The
// order is nginx's: an exact name, the longest matching leading wildcard
// (*.example.com matches a.example.com and a.b.example.com, not
// example.com), the longest trailing wildcard, the first regular
// expression that matches, else Default. It never returns nil and does
// not allocate.
func (a *Addr) Server(host []byte) *Server {
	n := &a.names
	if s, ok := n.exact[string(host)]; ok {
		return s
	}
	if s := n.findHead(host); s != nil {
		return s
	}
	if s := n.findTail(host); s != nil {
		return s
	}
	for _, r := range n.regex {
		if r.re.Match(host) {
			return r.srv
		}
	}
	return a.Default
}

// findHead tries the host itself against .example.com names, then each
// suffix that starts at a dot, longest first.
func (n *serverNames) findHead(host []byte) *Server {
	if s, ok := n.dot[string(host)]; ok {
		return s
	}
	if len(n.head) == 0 {
		return nil
	}
	for i := 1; i < len(host); i++ {
		if host[i] == '.' {
			if s, ok := n.head[string(host[i:])]; ok {
				return s
			}
		}
	}
	return nil
}

// findTail tries each prefix that ends at a dot, longest first; something
// must follow the dot.
func (n *serverNames) findTail(host []byte) *Server {
	if len(n.tail) == 0 {
		return nil
	}
	for i := len(host) - 2; i >= 0; i-- {
		if host[i] == '.' {
			if s, ok := n.tail[string(host[:i+1])]; ok {
				return s
			}
		}
	}
	return nil
}
