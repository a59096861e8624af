package t

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestCharsetRecode serves koi8-r files as utf-8 (lengths change:
// chunked, no ranges), as windows-1251 (8-bit to 8-bit: Content-Length
// and ranges kept, small and large files), and utf-8 files as koi8-r.
func TestCharsetRecode(t *testing.T) {
	s := newServer(t, serversConfig(`
  gzip = true
  charset_map "koi8-r" "utf-8" {
    values = { "C0" = "D18E", "C1" = "D0B0", "9A" = "C2A0" }
  }
  charset_map "koi8-r" "windows-1251" {
    values = { "C0" = "FE", "C1" = "E0" }
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    location "/koi/" {
      source_charset = "koi8-r"
      charset        = "utf-8"
    }
    location "/win/" {
      source_charset = "koi8-r"
      charset        = "windows-1251"
    }
    location "/back/" {
      source_charset = "utf-8"
      charset        = "koi8-r"
    }
  }`))
	koi := "<p>\xc1\xc0\x9a X</p>\n"
	var big strings.Builder
	for i := 0; big.Len() < 3<<20; i++ {
		big.WriteString(strconv.Itoa(i) + " \xc1\xc0\xc2 koi8-r line\n")
	}
	bigWin := strings.NewReplacer("\xc1", "\xe0", "\xc0", "\xfe", "\xc2", "?").Replace(big.String())
	s.file("koi/a.html", koi)
	s.file("koi/a.png", "\xc1\xc0")
	s.file("win/a.html", koi)
	s.file("win/big.txt", big.String())
	s.file("back/a.txt", "аю€ ok\xff")
	s.start()

	cases := []struct {
		name, path, rng string
		status          int
		ctype, body     string
		length          string // "" none: chunked
		contentRange    string
	}{
		{name: "koi8-r to utf-8", path: "/koi/a.html", status: 200, ctype: "text/html; charset=utf-8", body: "<p>аю\u00a0 X</p>\n"},
		{name: "koi8-r to utf-8 ignores ranges", path: "/koi/a.html", rng: "bytes=0-1", status: 200, ctype: "text/html; charset=utf-8", body: "<p>аю\u00a0 X</p>\n"},
		{name: "not a text type", path: "/koi/a.png", status: 200, ctype: "image/png", body: "\xc1\xc0", length: "2"},
		{name: "koi8-r to windows-1251", path: "/win/a.html", status: 200, ctype: "text/html; charset=windows-1251", body: "<p>\xe0\xfe? X</p>\n", length: "13"},
		{name: "8-bit range", path: "/win/a.html", rng: "bytes=3-5", status: 206, ctype: "text/html; charset=windows-1251", body: "\xe0\xfe?", length: "3", contentRange: "bytes 3-5/13"},
		{name: "large 8-bit", path: "/win/big.txt", status: 200, ctype: "text/plain; charset=windows-1251", body: bigWin, length: strconv.Itoa(len(bigWin))},
		{name: "large 8-bit range", path: "/win/big.txt", rng: "bytes=2000000-2000099", status: 206, ctype: "text/plain; charset=windows-1251", body: bigWin[2000000:2000100], length: "100", contentRange: "bytes 2000000-2000099/" + strconv.Itoa(len(bigWin))},
		{name: "utf-8 to koi8-r", path: "/back/a.txt", status: 200, ctype: "text/plain; charset=koi8-r", body: "\xc1\xc0&#8364; ok?"},
	}
	for _, c := range cases {
		h := []string{"Accept-Encoding: gzip"}
		if c.rng != "" {
			h = append(h, "Range: "+c.rng)
		}
		r := s.get(req("GET", c.path, h...))
		chunked := r.header("Transfer-Encoding") == "chunked"
		if r.status != c.status || r.header("Content-Type") != c.ctype || !bytes.Equal(r.body, []byte(c.body)) ||
			r.header("Content-Length") != c.length || chunked != (c.length == "") ||
			r.header("Content-Range") != c.contentRange || r.header("Content-Encoding") != "" {
			body := r.body
			if len(body) > 200 {
				body = body[:200]
			}
			t.Errorf("%s: %d %q length %q chunked %v range %q encoding %q body %q", c.name, r.status, r.header("Content-Type"),
				r.header("Content-Length"), chunked, r.header("Content-Range"), r.header("Content-Encoding"), body)
		}
		if c.length == "" && r.header("Accept-Ranges") != "" {
			t.Errorf("%s: Accept-Ranges %q on a body whose length changes", c.name, r.header("Accept-Ranges"))
		}
	}
}

// TestCharsetRecodeHTTP2: an HTTP/2 stream is recoded as HTTP/1.1 is:
// koi8-r to utf-8 with no content-length, an 8-bit range kept.
func TestCharsetRecodeHTTP2(t *testing.T) {
	s := newServer(t, serversConfig(`
  http2 = true
  charset_map "koi8-r" "utf-8" {
    values = { "C0" = "D18E", "C1" = "D0B0" }
  }
  charset_map "koi8-r" "windows-1251" {
    values = { "C0" = "FE", "C1" = "E0" }
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root = "{{ROOT}}"
    source_charset = "koi8-r"
    charset = "utf-8"
    location "/win/" { charset = "windows-1251" }
  }`))
	var big strings.Builder
	for i := 0; big.Len() < 1<<20; i++ {
		big.WriteString(strconv.Itoa(i) + " \xc1\xc0 line\n")
	}
	s.file("a.txt", big.String())
	s.file("win/a.txt", big.String())
	s.start()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		},
	}
	defer tr.CloseIdleConnections()
	utf := strings.NewReplacer("\xc1", "а", "\xc0", "ю").Replace(big.String())
	resp, body := h2Get(t, tr, "GET", "http://"+s.addr+"/a.txt", "Range", "bytes=0-9")
	if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || string(body) != utf {
		t.Errorf("utf-8: %d length %d %q, body %d bytes (want %d)", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"), len(body), len(utf))
	}
	win := strings.NewReplacer("\xc1", "\xe0", "\xc0", "\xfe").Replace(big.String())
	resp, body = h2Get(t, tr, "GET", "http://"+s.addr+"/win/a.txt", "Range", "bytes=500000-500999")
	if resp.StatusCode != 206 || resp.ContentLength != 1000 || string(body) != win[500000:501000] {
		t.Errorf("8-bit range: %d length %d body %q", resp.StatusCode, resp.ContentLength, body)
	}
}
