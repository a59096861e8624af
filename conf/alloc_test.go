package conf

import "testing"

// The worker calls these on every request: they must not allocate.

func TestLookupsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	c := mustLoad(t, richConfig, "/etc/tern/mime.d/a.hcl", "")
	addr, srv := c.HTTP.Addrs[0], c.HTTP.Servers[0]
	hosts := [][]byte{
		[]byte("example.com"), []byte("a.example.com"), []byte("www.example.co.uk"),
		[]byte("example.org"), []byte("w1.example.net"), []byte("unknown.test"), nil,
	}
	paths := [][]byte{
		[]byte("/"), []byte("/favicon.ico"), []byte("/static/a.js"), []byte("/images/a.png"),
		[]byte("/a/b.css"), []byte("/A.png"), []byte("/x"),
	}
	tests := []struct {
		name string
		run  func()
	}{
		{"Addr.Server", func() {
			for _, h := range hosts {
				addr.Server(h)
			}
		}},
		{"Server.Location", func() {
			for _, p := range paths {
				srv.Location(p)
			}
		}},
		{"MIME.Lookup", func() {
			c.HTTP.MIME.Lookup([]byte("HTML"))
			c.HTTP.MIME.Lookup([]byte("tar"))
		}},
	}
	for i, tt := range tests {
		if allocs := testing.AllocsPerRun(1000, tt.run); allocs != 0 {
			t.Errorf("%d: %s allocates %v times per run", i, tt.name, allocs)
		}
	}
}

func TestTemplateAppendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	tpl, err := ParseTemplate("https://$host:$server_port${request_uri}?from=$remote_addr&$args")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		dst = tpl.Append(dst[:0], exampleVars)
	})
	if allocs != 0 {
		t.Errorf("Append allocates %v times per run", allocs)
	}
	if got := string(dst); got != "https://example.com:8080/a/b.html?x=1?from=192.0.2.1&x=1" {
		t.Errorf("got %q", got)
	}
}
