package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tern/conf"
)

// TestConvertHTTP2: http2 on, listen ... http2 and the tuning directives
// become tern's; the obsolete and push directives are reported.
func TestConvertHTTP2(t *testing.T) {
	dir := t.TempDir()
	nginx := `events {}
http {
  http2_recv_buffer_size 512k;
  http2_max_concurrent_streams 64;
  http2_idle_timeout 3m;
  http2_push_preload on;
  server {
    listen 127.0.0.1:8080 http2;
    http2_chunk_size 16k;
    http2_max_field_size 8k;
  }
  server {
    listen 127.0.0.1:8081;
    http2 on;
    http2_max_concurrent_streams 8;
    max_headers 5;
    keepalive_time 30s;
    location /x/ {
      http2_chunk_size 4k;
      http2_push /style.css;
    }
  }
  server {
    listen 127.0.0.1:8082;
  }
}
`
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(nginx), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	losses, ok := convertReport(path, &out, &warn)
	if !ok {
		t.Fatalf("convert failed: %s", warn.String())
	}
	if losses != 0 {
		t.Errorf("%d losses, want none (every HTTP/2 directive converts or is a note):\n%s", losses, warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	if err := os.WriteFile(main, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(main, "")
	if err != nil {
		var b strings.Builder
		err.(*conf.Error).WriteText(&b)
		t.Fatalf("converted config does not load:\n%s\n%s", b.String(), out.String())
	}
	s := cfg.HTTP.Servers
	checks := []struct {
		name string
		ok   bool
	}{
		{"listen http2", s[0].Root.HTTP2 && s[0].Root.HTTP2ChunkSize == 16<<10 && s[0].Root.HTTP2MaxConcurrentStreams == 64},
		{"http2 on", s[1].Root.HTTP2 && s[1].Root.HTTP2MaxConcurrentStreams == 8 && s[1].Locations[0].HTTP2ChunkSize == 4<<10},
		{"recv buffer", s[2].Root.HTTP2RecvBufferSize == 512<<10},
		{"off by default", !s[2].Root.HTTP2},
		{"max_headers", s[1].Root.MaxHeaders == 5 && s[2].Root.MaxHeaders == 1000},
		{"keepalive_time", s[1].Root.KeepaliveTime == 30*time.Second && s[2].Root.KeepaliveTime == time.Hour},
		{"listen without http2", cfg.HTTP.Addrs[0].Addr == "127.0.0.1:8080"},
	}
	for i, c := range checks {
		if !c.ok {
			t.Errorf("%d: %s not converted right\n%s", i, c.name, out.String())
		}
	}
	for _, want := range []string{"http2_idle_timeout not converted: obsolete in nginx: keepalive_timeout",
		"http2_push_preload not converted: server push is gone", "http2_push not converted",
		"http2_max_field_size not converted", "listen 127.0.0.1:8080 http2: tern serves HTTP/2 with prior knowledge and HTTP/1.x"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("no warning %q in:\n%s", want, warn.String())
		}
	}
	if !strings.Contains(out.String(), "# nginx: http2_push /style.css (not converted: server push is gone") {
		t.Errorf("no comment for http2_push in:\n%s", out.String())
	}
}
