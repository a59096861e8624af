package worker

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tern/filters"
)

// Directory listings in the layout of nginx's autoindex module
// (ngx_http_autoindex_module.c), byte for byte, with its defaults:
// autoindex_exact_size on, autoindex_localtime off.

// autoindexNameLen is NGX_HTTP_AUTOINDEX_NAME_LEN: the column a name is
// padded to; a longer one is cut to three less and ends with "..>".
const autoindexNameLen = 50

// dirEntry is one listed directory entry.
type dirEntry struct {
	name  string
	dir   bool // a directory, or a symlink to one
	file  bool // a regular file, or a symlink to one
	mtime int64
	size  int64
}

// sortEntries orders entries as nginx: directories first, then by the
// bytes of their names (strcmp).
func sortEntries(ents []dirEntry) {
	slices.SortFunc(ents, func(a, b dirEntry) int {
		switch {
		case a.dir && !b.dir:
			return -1
		case !a.dir && b.dir:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendAutoindexHTML appends the HTML listing of uri. With utf8 (the
// response's charset is utf-8, as nginx checks) a valid UTF-8 name is
// measured and cut in characters, else in bytes.
func appendAutoindexHTML(b []byte, uri []byte, ents []dirEntry, o htmlOptions) []byte {
	b = append(b, "<html>\r\n<head><title>Index of "...)
	b = appendHTMLEscaped(b, uri)
	b = append(b, "</title></head>\r\n<body>\r\n<h1>Index of "...)
	b = appendHTMLEscaped(b, uri)
	b = append(b, "</h1><hr><pre><a href=\"../\">../</a>\r\n"...)
	for i := range ents {
		b = appendHTMLEntry(b, &ents[i], o)
	}
	return append(b, "</pre><hr></body>\r\n</html>\r\n"...)
}

// htmlOptions are what changes an HTML listing: utf8 counts names in
// characters (the charset is utf-8), exactSize writes sizes in bytes
// (autoindex_exact_size, else rounded with K, M, G), localtime dates in
// local time (autoindex_localtime, else GMT).
type htmlOptions struct {
	utf8, exactSize, localtime bool
}

// appendHTMLEntry appends one line: the link, the name padded to 50
// columns, the date and the size.
func appendHTMLEntry(b []byte, e *dirEntry, o htmlOptions) []byte {
	useUTF8 := o.utf8
	b = append(b, "<a href=\""...)
	b = appendURIComponent(b, e.name)
	if e.dir {
		b = append(b, '/')
	}
	b = append(b, "\">"...)
	n := len(e.name)
	if useUTF8 && utf8.ValidString(e.name) {
		n = utf8.RuneCountInString(e.name)
	}
	if n > autoindexNameLen {
		b = appendHTMLEscaped(b, prefixChars(e.name, n, autoindexNameLen-3))
		b = append(b, "..&gt;</a>"...)
	} else {
		b = appendHTMLEscaped(b, e.name)
		// nginx adds the directory's "/" only where it fits.
		if e.dir && n < autoindexNameLen {
			b = append(b, '/')
			n++
		}
		b = append(b, "</a>"...)
		for ; n < autoindexNameLen; n++ {
			b = append(b, ' ')
		}
	}
	b = append(b, ' ')
	t := time.Unix(e.mtime, 0).UTC()
	if o.localtime {
		t = time.Unix(e.mtime, 0)
	}
	b = appendInt2(b, t.Day())
	b = append(b, '-')
	b = append(b, months[t.Month()-1]...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(t.Year()), 10)
	b = append(b, ' ')
	b = appendInt2(b, t.Hour())
	b = append(b, ':')
	b = appendInt2(b, t.Minute())
	b = append(b, ' ')
	switch {
	case e.dir && o.exactSize:
		b = append(b, "                  -"...)
	case e.dir:
		b = append(b, "      -"...)
	case o.exactSize:
		b = appendPadded(b, e.size, 19)
	default:
		b = appendHumanSize(b, e.size)
	}
	return append(b, "\r\n"...)
}

// appendHumanSize writes a size as nginx's autoindex_exact_size off:
// rounded to K, M or G (1024) and right-aligned in 7 columns.
func appendHumanSize(b []byte, n int64) []byte {
	const k, m, g = 1024, 1024 * 1024, 1024 * 1024 * 1024
	var size int64
	var scale byte
	switch {
	case n > g-1:
		size, scale = n/g, 'G'
		if n%g > g/2-1 {
			size++
		}
	case n > m-1:
		size, scale = n/m, 'M'
		if n%m > m/2-1 {
			size++
		}
	case n > 9999:
		size, scale = n/k, 'K'
		if n%k > k/2-1 {
			size++
		}
	default:
		b = append(b, ' ')
		return appendPadded(b, n, 6)
	}
	b = appendPadded(b, size, 6)
	return append(b, scale)
}

// prefixChars is the first k characters of name, which has n of them
// (bytes when n == len(name)).
func prefixChars(name string, n, k int) string {
	if n == len(name) {
		return name[:k]
	}
	for i := range name {
		if k == 0 {
			return name[:i]
		}
		k--
	}
	return name
}

func appendInt2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// appendPadded appends v right-aligned in width columns (printf "%19d").
func appendPadded(b []byte, v int64, width int) []byte {
	var num [20]byte
	s := strconv.AppendInt(num[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// appendHTMLEscaped appends s with <, >, & and " as entities, as nginx's
// ngx_escape_html.
func appendHTMLEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendURIComponent appends s percent-encoded but for letters, digits,
// "-", ".", "_" and "~", as nginx's NGX_ESCAPE_URI_COMPONENT: a name
// with ":" cannot pass for a scheme, nor "?" or "#" end the path.
func appendURIComponent(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// appendAutoindexJSON appends the JSON listing (autoindex_format json):
// one object per line, the size for regular files only; with a callback
// (jsonp), wrapped in a call to it.
func appendAutoindexJSON(b []byte, ents []dirEntry, callback []byte) []byte {
	if len(callback) > 0 {
		b = append(b, "/* callback */\r\n"...)
		b = append(b, callback...)
		b = append(b, '(')
	}
	b = append(b, '[')
	for i := range ents {
		e := &ents[i]
		b = append(b, "\r\n{ \"name\":\""...)
		b = appendJSONEscaped(b, e.name)
		b = append(b, "\", \"type\":\""...)
		switch {
		case e.dir:
			b = append(b, "directory"...)
		case e.file:
			b = append(b, "file"...)
		default:
			b = append(b, "other"...)
		}
		b = append(b, "\", \"mtime\":\""...)
		b = filters.AppendHTTPDate(b, e.mtime)
		if e.file {
			b = append(b, "\", \"size\":"...)
			b = strconv.AppendInt(b, e.size, 10)
		} else {
			b = append(b, '"')
		}
		b = append(b, " },"...)
	}
	if len(ents) > 0 {
		b = b[:len(b)-1] // the last comma
	}
	b = append(b, "\r\n]"...)
	if len(callback) > 0 {
		b = append(b, ");"...)
	}
	return b
}

// appendAutoindexXML appends the XML listing (autoindex_format xml).
func appendAutoindexXML(b []byte, ents []dirEntry) []byte {
	b = append(b, "<?xml version=\"1.0\"?>\r\n<list>\r\n"...)
	for i := range ents {
		e := &ents[i]
		typ := "other"
		switch {
		case e.dir:
			typ = "directory"
		case e.file:
			typ = "file"
		}
		b = append(b, '<')
		b = append(b, typ...)
		b = append(b, " mtime=\""...)
		b = time.Unix(e.mtime, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
		if e.file {
			b = append(b, "\" size=\""...)
			b = strconv.AppendInt(b, e.size, 10)
		}
		b = append(b, "\">"...)
		b = appendHTMLEscaped(b, e.name)
		b = append(b, "</"...)
		b = append(b, typ...)
		b = append(b, ">\r\n"...)
	}
	return append(b, "</list>\r\n"...)
}

// validCallback checks a JSONP callback name as nginx: at most 128
// letters, digits, "_" and ".".
func validCallback(cb []byte) bool {
	if len(cb) > 128 {
		return false
	}
	for _, c := range cb {
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// appendJSONEscaped escapes as nginx's ngx_escape_json (autoindex_format
// json, log_format escape=json): backslash and quote, the short forms of
// \n \r \t \b \f, \u00XX with capital hex digits for other controls.
// Other bytes, UTF-8 or not, go as they are.
func appendJSONEscaped[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b = append(b, '\\', c)
		case c > 0x1f:
			b = append(b, c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	}
	return b
}
