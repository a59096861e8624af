package conf

// Temporary stand-ins so that the rest of the tree compiles while the conf
// decoder is written in its own branch; the merge replaces this file.

import "bytes"

type serverNames struct{}
type locationIndex struct{}

// MIME maps extensions to media types.
type MIME struct{ types map[string]string }

// Lookup returns the media type of ext (no dot, any case).
func (m *MIME) Lookup(ext []byte) (string, bool) {
	var low [16]byte
	if len(ext) > len(low) {
		return "", false
	}
	for i, c := range ext {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	t, ok := m.types[string(low[:len(ext)])]
	return t, ok
}

// Template is a string with variables.
type Template struct{ raw string }

// Server picks the server for host.
func (a *Addr) Server(host []byte) *Server { return a.Default }

// Location picks the location for path.
func (s *Server) Location(path []byte) *Location {
	var best *Location
	for _, l := range s.Locations {
		if l.Modifier == ModPrefix && bytes.HasPrefix(path, []byte(l.Path)) && (best == nil || len(l.Path) > len(best.Path)) {
			best = l
		}
	}
	if best == nil {
		return s.Root
	}
	return best
}
