package master

import (
	"fmt"
	"io"
	"strings"

	"tern/conf"
)

// The master tells the terminal (its standard error) where it listens
// and why it stopped, in plain lines for a person: the error log, which
// may be a file, has the details.

// listenLines returns one line per listening address: its URL, and the
// servers on it when there is more than one or they have names.
func listenLines(h *conf.HTTP) []string {
	var lines []string
	for _, a := range h.Addrs {
		scheme := "http://"
		if a.SSL {
			scheme = "https://"
		}
		line := "tern: listening on " + scheme + a.Addr + "/"
		switch {
		case strings.HasPrefix(a.Addr, "0.0.0.0:"):
			line += " (every IPv4 address)"
		case strings.HasPrefix(a.Addr, "[::]:"):
			line += " (every IPv6 address)"
		}
		if len(a.Servers) > 1 || len(a.Servers[0].Names) > 0 {
			line += " for " + serverList(a)
		}
		lines = append(lines, line)
	}
	return lines
}

// serverList names the servers on a: each by its first server_name, the
// default one marked.
func serverList(a *conf.Addr) string {
	names := make([]string, len(a.Servers))
	for i, s := range a.Servers {
		names[i] = "a server without server_name"
		if len(s.Names) > 0 {
			names[i] = s.Names[0]
		}
		if s == a.Default && len(a.Servers) > 1 {
			names[i] += " (default)"
		}
	}
	return strings.Join(names, ", ")
}

// announce writes the listening lines to w.
func announce(w io.Writer, h *conf.HTTP) {
	if w == nil || h == nil {
		return
	}
	fmt.Fprintln(w, strings.Join(listenLines(h), "\n"))
}
