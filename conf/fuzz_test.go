package conf

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary text to the decoder: it must never panic,
// every failure must be an *Error with at least one diagnostic, and every
// configuration it accepts must survive WriteHCL and a second decoding
// unchanged.
func FuzzDecode(f *testing.F) {
	for _, src := range []string{
		"",
		richConfig,
		"http {\n  server {}\n}\n",
		"http {\n  include = [\"inc.hcl\"]\n  server {\n    location \"~ \\\\.js$\" { expires = \"1h\" }\n  }\n}\n",
		"worker_processes = \"auto\"\nthread_pool \"x\" {\n  threads = 1\n}\nhttp {\n  aio = \"threads=x\"\n}\n",
		"http {\n  server {\n    listen = [\"[::]:80 default_server\"]\n    server_name = [\".a.test\", \"~^b\"]\n    return = \"200 ${host}\"\n  }\n}\n",
		"http {\n  map \"$uri$arg_a\" \"$m\" {\n    default = \"$http_x\"\n    values = { \"~^/(?P<n>\\\\d+)\" = \"$n $1\", \"/x\" = \"y\" }\n  }\n  server {\n    add_header = { \"X\" = { value = \"$m\", always = true } }\n    expires = \"modified $m\"\n    location \"~ ^/(a)\" { alias = \"/srv/$1\" }\n  }\n}\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sources := map[string][]byte{
			testFile:            src,
			"/etc/tern/inc.hcl": []byte(`types = { "text/x-inc" = "inc" }`),
		}
		c, err := LoadSnapshot(testFile, "", sources)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Diags) == 0 {
				t.Fatalf("error %v (%T) is not an *Error with diagnostics", err, err)
			}
			for _, d := range e.Diags {
				if d.Subject == nil || d.Subject.Filename == "" {
					t.Fatalf("diagnostic %q has no subject", d.Summary)
				}
			}
			e.WriteText(io.Discard)
			return
		}
		var out bytes.Buffer
		if err := c.WriteHCL(&out); err != nil {
			t.Fatal(err)
		}
		back, err := LoadSnapshot(testFile, "", map[string][]byte{testFile: out.Bytes()})
		if err != nil {
			t.Fatalf("the output of WriteHCL does not decode:\n%s\n%s", errText(err), out.String())
		}
		if !reflect.DeepEqual(withoutSources(back), withoutSources(c)) {
			t.Fatalf("the round trip changed the configuration:\n%s", out.String())
		}
		if c.HTTP == nil {
			return
		}
		for _, a := range c.HTTP.Addrs {
			for _, s := range a.Servers {
				if a.Server([]byte("a.test")) == nil || s.Location([]byte("/a/b")) == nil {
					t.Fatal("a lookup returned nil")
				}
			}
		}
	})
}
