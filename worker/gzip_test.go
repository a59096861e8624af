package worker

import (
	"testing"

	"tern/filters"
)

// TestGzipOK: gzip_static's client check is the gzip filter's
// Accept-Encoding rule (filters.AcceptsGzip, tested there) on HTTP/1.1.
func TestGzipOK(t *testing.T) {
	cases := []struct {
		v    filters.Version
		ae   string
		want bool
	}{
		{filters.HTTP11, "gzip", true},
		{filters.HTTP11, "br;q=1.0, gzip;q=0.8", true},
		{filters.HTTP11, "*", true}, // RFC 9110 §12.5.3; nginx ignores "*"
		{filters.HTTP11, "gzip;q=0", false},
		{filters.HTTP11, "identity", false},
		{filters.HTTP11, "", false},
		{filters.HTTP10, "gzip", false}, // gzip_http_version 1.1
	}
	for i, c := range cases {
		r := filters.Request{Version: c.v, AcceptEncoding: []byte(c.ae)}
		if got := gzipOK(&r); got != c.want {
			t.Errorf("%d: %v %q: %v, want %v", i, c.v, c.ae, got, c.want)
		}
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
