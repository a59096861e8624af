package worker

import (
	"strings"
	"testing"

	"tern/filters"
)

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		v    string
		want bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"deflate,gzip", true},
		{"GZip", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;Q=0.001", true},
		{"gzip;q=1", true},
		{"gzip;q=1.0001", false}, // too many digits
		{"gzip;q=2", false},
		{"gzip;q=abc", false},
		{"gzip;level=1", true}, // not a weight
		{"x-gzip", false},
		{"gzipx", false},
		{"*", false}, // as nginx
		{"identity", false},
		{"", false},
		{" gzip ;q=0.5 ", true},
	}
	for i, c := range cases {
		if got := acceptsGzip([]byte(c.v)); got != c.want {
			t.Errorf("%d: %q: %v, want %v", i, c.v, got, c.want)
		}
	}
	r := filters.Request{Version: filters.HTTP10, AcceptEncoding: []byte("gzip")}
	if gzipOK(&r) {
		t.Error("HTTP/1.0: gzip_http_version is 1.1")
	}
	r.Version = filters.HTTP11
	if !gzipOK(&r) {
		t.Error("HTTP/1.1 refused")
	}
}

func TestAliasClimbs(t *testing.T) {
	cases := []struct {
		alias, rest string
		want        bool
	}{
		{"/srv/img/", "a.png", false},
		{"/srv/img/", "../x", true}, // location /i alias /srv/img/, URI /i../x
		{"/srv/img/", "..", true},
		{"/srv/img/", "..x/y", false},
		{"/srv/img", "../x", false}, // "/srv/img../x": a name, not a climb
		{"/srv/img/.", "./x", true},
		{"/srv/img/", "./x", false},
		{"/srv/img/", "/a", false},
	}
	for i, c := range cases {
		if got := aliasClimbs(c.alias, []byte(c.rest)); got != c.want {
			t.Errorf("%d: %q+%q: %v, want %v", i, c.alias, c.rest, got, c.want)
		}
	}
}

// FuzzAcceptsGzip: the Accept-Encoding parser never panics, and never
// accepts a value that does not name gzip.
func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "br, gzip;q=0.5", "gzip;q=0", "gzip;q=", ";;,,", "GZIP ; Q=1.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := acceptsGzip([]byte(s))
		if got && !strings.Contains(strings.ToLower(s), "gzip") {
			t.Fatalf("%q accepted without gzip", s)
		}
	})
}
