package master

import (
	"reflect"
	"testing"

	"tern/conf"
)

func TestListenLines(t *testing.T) {
	tests := []struct {
		http string
		want []string
	}{
		{`server { listen = ["127.0.0.1:8080"] }`, []string{"tern: listening on http://127.0.0.1:8080/"}},
		{`server {
  listen = ["80", "[::]:80"]
  server_name = ["example.com", "www.example.com"]
}
server {
  listen = ["80"]
  server_name = ["docs.example.com"]
}`, []string{
			"tern: listening on http://0.0.0.0:80/ (every IPv4 address) for example.com (default), docs.example.com",
			"tern: listening on http://[::]:80/ (every IPv6 address) for example.com",
		}},
		{`server { listen = ["127.0.0.1:81"] }
server {
  listen = ["127.0.0.1:81 default_server"]
  server_name = ["b.test"]
}`, []string{"tern: listening on http://127.0.0.1:81/ for a server without server_name, b.test (default)"}},
		{`server {
  listen = ["127.0.0.1:8443 ssl"]
  ssl_reject_handshake = true
}`, []string{"tern: listening on https://127.0.0.1:8443/"}},
	}
	for i, tt := range tests {
		const file = "/etc/tern/tern.hcl"
		cfg, err := conf.LoadSnapshot(file, "", map[string][]byte{file: []byte("http {\n" + tt.http + "\n}\n")})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got := listenLines(cfg.HTTP); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: got %q\nwant %q", i, got, tt.want)
		}
	}
}
