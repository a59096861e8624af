package worker

// normalizePath appends to dst the request path raw (which starts with
// "/") percent-decoded once, with "." and ".." segments resolved and runs
// of slashes merged, as nginx's complex-URI parser does (merge_slashes
// off keeps them: "/a//b" stays, and ".." removes an empty segment). A decoded "/"
// (%2F) separates segments like a literal one, and "%2e%2e" is "..", so
// no encoding smuggles a traversal past this function. It returns 400 for
// a bad escape, a NUL (%00), or a ".." that would climb above the root;
// the returned path then never leaves the document root.
func normalizePath(dst, raw []byte) ([]byte, int) {
	return normalize(dst, raw, true)
}

// normalize is normalizePath with merge_slashes as merge.
func normalize(dst, raw []byte, merge bool) ([]byte, int) {
	base := len(dst)
	dst = append(dst, '/')
	var ok bool
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return dst[:base], 400
			}
			h, okh := unhex(raw[i+1])
			l, okl := unhex(raw[i+2])
			if !okh || !okl {
				return dst[:base], 400
			}
			c = h<<4 | l
			i += 2
		}
		if c == 0 {
			// A NUL would end the path at the open(2) call: refuse it
			// encoded or not.
			return dst[:base], 400
		}
		if c != '/' {
			dst = append(dst, c)
			continue
		}
		n := len(dst)
		if dst, ok = dotSegment(dst, base); !ok {
			return dst[:base], 400
		}
		if len(dst) != n {
			continue // "." or ".." resolved: dst ends in its "/"
		}
		if !merge || dst[len(dst)-1] != '/' {
			dst = append(dst, '/') // a run of slashes is one, when merged
		}
	}
	if dst, ok = dotSegment(dst, base); !ok {
		return dst[:base], 400
	}
	return dst, 0
}

// dotSegment resolves the segment that ends dst[base:] when it is "." or
// "..", leaving dst ending in "/". It reports false for a ".." that would
// climb above the root.
func dotSegment(dst []byte, base int) ([]byte, bool) {
	last := lastSlash(dst, base)
	seg := dst[last+1:]
	switch string(seg) {
	case ".":
		return dst[:last+1], true
	case "..":
		if last == base {
			return dst, false
		}
		return dst[:lastSlash(dst[:last], base)+1], true
	}
	return dst, true
}

// lastSlash is the index of the last "/" in dst[base:] (there is always
// one at base).
func lastSlash(dst []byte, base int) int {
	for i := len(dst) - 1; i > base; i-- {
		if dst[i] == '/' {
			return i
		}
	}
	return base
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
