package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"tern/conf"
)

// TestConvertCharsetMap converts charset_map blocks (one from an
// included file, as nginx's koi-utf), source_charset and
// override_charset, and loads the result.
func TestConvertCharsetMap(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("koi-utf", `
charset_map  koi8-r  utf-8 {
    9A  C2A0 ; # &nbsp;
    C0  D18E ; # small yu
    C1  D0B0 ; # small a
}
`)
	main := write("nginx.conf", `
events {}
http {
    include koi-utf;
    charset_map koi8-r windows-1251 {
        C0 FE;
        C1 E0;
    }
    server {
        listen 8080;
        location /koi/ {
            source_charset koi8-r;
            charset utf-8;
        }
        location /win/ {
            source_charset koi8-r;
            charset windows-1251;
            override_charset on;
        }
    }
}
`)
	var out, warn bytes.Buffer
	if _, ok := convertReport(main, &out, &warn); !ok || warn.Len() != 0 {
		t.Fatalf("convert: ok %v\n%s", ok, warn.String())
	}
	hcl := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(hcl, dir, map[string][]byte{hcl: out.Bytes()})
	if err != nil {
		t.Fatalf("converted config does not load: %v\n%s", err, out.String())
	}
	if len(cfg.HTTP.CharsetMaps) != 2 {
		t.Fatalf("charset maps %d:\n%s", len(cfg.HTTP.CharsetMaps), out.String())
	}
	srv := cfg.HTTP.Servers[0]
	koi := srv.Location([]byte("/koi/"))
	if r := koi.Recode; r == nil || r.ToUTF8 == nil || r.ToUTF8[0xC0] != "ю" || r.ToUTF8[0x9A] != "\u00a0" || koi.OverrideCharset {
		t.Errorf("/koi/: %+v\n%s", koi.Recode, out.String())
	}
	win := srv.Location([]byte("/win/"))
	if r := win.Recode; r == nil || r.Bytes == nil || r.Bytes[0xC1] != 0xE0 || !win.OverrideCharset {
		t.Errorf("/win/: %+v\n%s", win.Recode, out.String())
	}
}
