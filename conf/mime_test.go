package conf

import (
	"strings"
	"testing"
)

func TestBuiltinMIME(t *testing.T) {
	m := newMIME()
	tests := []struct{ ext, want string }{
		// A sample of nginx's conf/mime.types, in several cases.
		{"html", "text/html"}, {"HTM", "text/html"}, {"shtml", "text/html"},
		{"css", "text/css"}, {"xml", "text/xml"}, {"gif", "image/gif"},
		{"jpg", "image/jpeg"}, {"JPEG", "image/jpeg"}, {"js", "application/javascript"},
		{"atom", "application/atom+xml"}, {"rss", "application/rss+xml"},
		{"mml", "text/mathml"}, {"txt", "text/plain"}, {"jad", "text/vnd.sun.j2me.app-descriptor"},
		{"wml", "text/vnd.wap.wml"}, {"htc", "text/x-component"}, {"avif", "image/avif"},
		{"png", "image/png"}, {"svg", "image/svg+xml"}, {"svgz", "image/svg+xml"},
		{"tif", "image/tiff"}, {"tiff", "image/tiff"}, {"wbmp", "image/vnd.wap.wbmp"},
		{"webp", "image/webp"}, {"ico", "image/x-icon"}, {"jng", "image/x-jng"},
		{"bmp", "image/x-ms-bmp"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
		{"jar", "application/java-archive"}, {"war", "application/java-archive"}, {"ear", "application/java-archive"},
		{"json", "application/json"}, {"hqx", "application/mac-binhex40"}, {"doc", "application/msword"},
		{"pdf", "application/pdf"}, {"ps", "application/postscript"}, {"eps", "application/postscript"},
		{"ai", "application/postscript"}, {"rtf", "application/rtf"}, {"m3u8", "application/vnd.apple.mpegurl"},
		{"kml", "application/vnd.google-earth.kml+xml"}, {"kmz", "application/vnd.google-earth.kmz"},
		{"xls", "application/vnd.ms-excel"}, {"eot", "application/vnd.ms-fontobject"},
		{"ppt", "application/vnd.ms-powerpoint"}, {"odg", "application/vnd.oasis.opendocument.graphics"},
		{"odp", "application/vnd.oasis.opendocument.presentation"}, {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
		{"odt", "application/vnd.oasis.opendocument.text"},
		{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"wmlc", "application/vnd.wap.wmlc"}, {"wasm", "application/wasm"}, {"7z", "application/x-7z-compressed"},
		{"cco", "application/x-cocoa"}, {"jardiff", "application/x-java-archive-diff"},
		{"jnlp", "application/x-java-jnlp-file"}, {"run", "application/x-makeself"},
		{"pl", "application/x-perl"}, {"pm", "application/x-perl"}, {"prc", "application/x-pilot"},
		{"pdb", "application/x-pilot"}, {"rar", "application/x-rar-compressed"},
		{"rpm", "application/x-redhat-package-manager"}, {"sea", "application/x-sea"},
		{"swf", "application/x-shockwave-flash"}, {"sit", "application/x-stuffit"},
		{"tcl", "application/x-tcl"}, {"tk", "application/x-tcl"}, {"der", "application/x-x509-ca-cert"},
		{"pem", "application/x-x509-ca-cert"}, {"crt", "application/x-x509-ca-cert"},
		{"xpi", "application/x-xpinstall"}, {"xhtml", "application/xhtml+xml"},
		{"xspf", "application/xspf+xml"}, {"zip", "application/zip"},
		{"bin", "application/octet-stream"}, {"exe", "application/octet-stream"}, {"dll", "application/octet-stream"},
		{"deb", "application/octet-stream"}, {"dmg", "application/octet-stream"}, {"iso", "application/octet-stream"},
		{"img", "application/octet-stream"}, {"msi", "application/octet-stream"}, {"msp", "application/octet-stream"},
		{"msm", "application/octet-stream"}, {"mid", "audio/midi"}, {"midi", "audio/midi"}, {"kar", "audio/midi"},
		{"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"m4a", "audio/x-m4a"}, {"ra", "audio/x-realaudio"},
		{"3gpp", "video/3gpp"}, {"3gp", "video/3gpp"}, {"ts", "video/mp2t"}, {"mp4", "video/mp4"},
		{"mpeg", "video/mpeg"}, {"mpg", "video/mpeg"}, {"mov", "video/quicktime"}, {"webm", "video/webm"},
		{"flv", "video/x-flv"}, {"m4v", "video/x-m4v"}, {"mng", "video/x-mng"}, {"asx", "video/x-ms-asf"},
		{"asf", "video/x-ms-asf"}, {"wmv", "video/x-ms-wmv"}, {"avi", "video/x-msvideo"},
		// Beyond nginx.
		{"mjs", "application/javascript"}, {"map", "application/json"},
		{"webmanifest", "application/manifest+json"}, {"opus", "audio/opus"}, {"flac", "audio/flac"},
		{"wav", "audio/wav"}, {"aac", "audio/aac"}, {"mkv", "video/x-matroska"}, {"ogv", "video/ogg"},
		{"md", "text/markdown"}, {"csv", "text/csv"}, {"yaml", "application/yaml"}, {"yml", "application/yaml"},
		{"toml", "application/toml"}, {"gz", "application/gzip"}, {"bz2", "application/x-bzip2"},
		{"xz", "application/x-xz"}, {"zst", "application/zstd"}, {"tar", "application/x-tar"},
		{"apng", "image/apng"}, {"jxl", "image/jxl"}, {"heic", "image/heic"}, {"otf", "font/otf"},
		{"ttf", "font/ttf"}, {"ics", "text/calendar"}, {"epub", "application/epub+zip"}, {"vtt", "text/vtt"},
	}
	for i, tt := range tests {
		got, ok := m.Lookup([]byte(tt.ext))
		if !ok || got != tt.want {
			t.Errorf("%d: Lookup(%q) = %q, %v; want %q", i, tt.ext, got, ok, tt.want)
		}
	}
	for i, ext := range []string{"", "nope", "HTML5", ".html", strings.Repeat("a", maxExtLen+1)} {
		if got, ok := m.Lookup([]byte(ext)); ok {
			t.Errorf("%d: Lookup(%q) = %q, want nothing", i, ext, got)
		}
	}
	var nilTable *MIME
	if _, ok := nilTable.Lookup([]byte("html")); ok {
		t.Error("a nil table found something")
	}
	if m.Len() < 140 {
		t.Errorf("the built-in table has %d extensions; nginx alone has 107", m.Len())
	}
}

func TestMIMEAll(t *testing.T) {
	m := newMIME()
	var prev string
	n := 0
	for ext, typ := range m.All() {
		if ext <= prev || typ == "" {
			t.Fatalf("All yields %q after %q (type %q)", ext, prev, typ)
		}
		prev = ext
		n++
	}
	if n != m.Len() {
		t.Errorf("All yields %d entries, Len says %d", n, m.Len())
	}
	for range m.All() {
		break // stopping early must not panic
	}
}

func TestMIMELookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := newMIME()
	exts := [][]byte{[]byte("html"), []byte("JPG"), []byte("nope"), []byte("WebManifest")}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, e := range exts {
			m.Lookup(e)
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per run", allocs)
	}
}
