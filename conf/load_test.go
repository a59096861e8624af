package conf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// richConfig uses every directive, at every level where it may appear.
const richConfig = `
worker_processes        = 4
worker_cpu_affinity     = ["0", "1", "2-3", "4,6"]
worker_connections      = 2048
worker_rlimit_nofile    = 65536
worker_shutdown_timeout = "30s"
accept_mutex            = false
accept_mutex_delay      = "100ms"
pid                     = "run/tern.pid"
error_log               = "stderr"
error_log_level         = "crit"

thread_pool "default" {
  threads = 16
}

thread_pool "disk" {
  threads   = 4
  max_queue = 0
}

http {
  include           = ["mime.d/*.hcl"]
  types             = { "text/x-local" = ["local"], "text/html" = ["html", "htm", "HTMLX"] }
  default_type      = "text/plain"
  root              = "site"
  index             = ["index.htm", "index.html"]
  autoindex         = true
  autoindex_format  = "json"
  error_page        = { "404" = "/404.html", "500 502 503 504" = "/50x.html", "403" = "=200 /empty.gif" }
  add_header        = { "X-Frame-Options" = "DENY", "Cache-Control" = "public" }
  expires           = "1h30m"
  charset           = "utf-8"
  sendfile          = false
  sendfile_max_chunk = "512k"
  aio               = "threads=disk"
  tcp_nopush        = false
  tcp_nodelay       = false
  keepalive_timeout = "65s"
  keepalive_requests = 100
  client_header_timeout = "10s"
  client_body_timeout   = "20s"
  send_timeout          = "30s"
  client_header_buffer_size   = "2k"
  large_client_header_buffers = "8 16k"
  client_max_body_size = 0
  server_tokens     = false
  disable_symlinks  = true
  etag              = false
  if_modified_since = "before"
  max_ranges        = 4
  gzip_static       = true
  gzip              = true
  gzip_types        = ["text/css", "text/html"]
  gzip_min_length   = "1k"
  gzip_comp_level   = 6
  access_log        = "stdout"
  access_log_format = "combined"
  open_file_cache   = { max = 10000, inactive = "20s" }
  limit_req_zone "one" {
    key  = "$remote_addr"
    size = "10m"
    rate = "10r/s"
  }
  limit_conn_zone "perip" {
    key  = "$remote_addr$host"
    size = "1m"
  }
  limit_req         = { zone = "one", burst = 5, nodelay = true }
  limit_conn        = { perip = 2 }
  limit_req_status  = 429
  limit_conn_status = 429
  limit_req_log_level  = "warn"
  limit_conn_log_level = "notice"
  limit_req_dry_run    = true
  limit_conn_dry_run   = true
  allow             = ["10.0.0.0/8", "::1"]
  deny              = "all"
  satisfy           = "any"
  auth_basic        = "Staff only"
  auth_basic_user_file = "conf/htpasswd"

  map "$http_host$uri" "$mapped" {
    default   = "d $arg_x"
    hostnames = false
    volatile  = true
    values    = { "/a" = "exact", "\\~b" = "escaped", "~*^/(?P<first>[a-z]+)/(\\d+)" = "re $first $2" }
  }
  log_format "main" {
    escape = "json"
    format = "{\"u\":\"$uri\",\"s\":$status}"
  }

  map "$host" "$site" {
    hostnames = true
    values    = { "*.example.com" = "head", "www.example.*" = "tail", "$$dollar" = "$$${literal}" }
  }

  server {
    listen      = ["8080 default_server reuseport backlog=1024", "[::1]:8080 proxy_protocol", "localhost:8081"]
    server_name = ["Example.com", "*.example.com", "www.example.*", ".example.org", "~^w\\d+\\.example\\.net$"]
    try_files   = ["$uri", "${uri}/", "=404"]
    return      = "301 https://$host$request_uri"
    expires     = "off"
    open_file_cache = "off"
    access_log  = ["logs/a.log", "logs/b.log main buffer=32k flush=2s if=$mapped", "stderr combined"]

    location "/images/" {
      alias   = "/srv/img/"
      limit_rate = "1m"
      limit_rate_after = "10m"
      limit_req  = [{ zone = "one", burst = 10, delay = 3 }]
      limit_conn = {}
      expires = "max"
      deny    = ["192.168.1.1"]
      allow   = ["192.168.1.0/24", "unix:"]
      auth_basic = "off"
      error_log  = "logs/images.error.log"
    }
    location "/vars/" {
      error_log_level = "warn"
      root       = "site/$site"
      index      = ["$mapped.html", "index.html"]
      expires    = "modified $mapped"
      add_header = { "X-A" = { value = "$mapped $1", always = true }, "X-B" = "${site}x" }
    }
    location "/at/" {
      expires = "@15h30m"
      set     = { v = "x", args = "a=$v" }
      if "$arg_q ~* ^(?P<qq>a+)$" {
        add_header = { "X-Q" = "$qq" }
        rewrite    = ["^/at/(.*)$ /at/q/$1 break"]
      }
      rewrite = ["^/at/old$ /at/new", ["^/at/a b$", "/at/c d?", "last"]]
      if "!-f $request_filename" {
        return = "404"
      }
      location "/at/inner/" {
        rewrite_log = true
        break       = true
      }
    }
    location "~ ^/re/(.+)$" {
      alias = "/srv/re/$1"
    }
    location "= /favicon.ico" {
      expires    = "epoch"
      access_log = "off"
    }
    location "^~ /static/" {
      internal    = true
      allow       = []
      satisfy     = "all"
      gzip_static = false
      add_header  = {}
      try_files   = []
    }
    location "~ \\.(css|js)$" {
      expires  = "-1h"
      charset  = "off"
    }
    location "~* \\.PNG$" {
      max_ranges  = -1
      stub_status = true
      metrics     = true
    }
  }

  server {
    server_name = ["other.test"]
    aio         = "off"
  }
}
`

// writeTree writes files (path relative to dir → text) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// withoutSources returns a copy of c without File, Sources and Warnings, which a
// round trip through WriteHCL changes.
func withoutSources(c *Config) Config {
	out := *c
	out.File, out.Sources, out.Warnings = "", nil, nil
	return out
}

func TestLoadFromDisk(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"tern.hcl":        richConfig,
		"mime.d/a.hcl":    `types = { "text/x-a" = ["a", "local"] }`,
		"mime.d/b.hcl":    `types = { "text/x-b" = "b" }`,
		"mime.d/skip.txt": "not HCL, not matched",
	})
	file := filepath.Join(dir, "tern.hcl")
	c, err := Load(file, "")
	if err != nil {
		t.Fatalf("Load:\n%s", errText(err))
	}
	if c.File != file || c.Prefix != dir {
		t.Errorf("File %q Prefix %q", c.File, c.Prefix)
	}
	if c.PID != filepath.Join(dir, "run/tern.pid") || c.HTTP.Servers[0].Root.Root != filepath.Join(dir, "site") {
		t.Errorf("relative paths resolve against %q: pid %q root %q", dir, c.PID, c.HTTP.Servers[0].Root.Root)
	}
	if len(c.Sources) != 3 || string(c.Sources[file]) != richConfig {
		t.Errorf("Sources has %d files", len(c.Sources))
	}
	for ext, want := range map[string]string{"a": "text/x-a", "b": "text/x-b", "local": "text/x-local", "htmlx": "text/html"} {
		if got, _ := c.HTTP.MIME.Lookup([]byte(ext)); got != want {
			t.Errorf("%s → %q, want %q", ext, got, want)
		}
	}

	// The snapshot decodes to the same configuration without the disk.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	snap, err := LoadSnapshot(c.File, c.Prefix, c.Sources)
	if err != nil {
		t.Fatalf("LoadSnapshot:\n%s", errText(err))
	}
	if !reflect.DeepEqual(snap, c) {
		t.Error("LoadSnapshot differs from Load")
	}
}

func TestLoadPrefix(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"conf/tern.hcl": "http {\n  include = \"mime.hcl\"\n}\n", "mime.hcl": ""})
	c, err := Load(filepath.Join(dir, "conf/tern.hcl"), dir)
	if err != nil {
		t.Fatalf("Load:\n%s", errText(err))
	}
	if c.Prefix != dir || c.PID != filepath.Join(dir, "logs/tern.pid") {
		t.Errorf("Prefix %q PID %q", c.Prefix, c.PID)
	}
	// Without -p, the include is looked for beside the file.
	_, err = Load(filepath.Join(dir, "conf/tern.hcl"), "")
	if err == nil || !strings.Contains(err.Error(), "conf/mime.hcl: no such file") {
		t.Errorf("got %v, want a missing conf/mime.hcl", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "none.hcl")
	_, err := Load(file, "")
	var e *Error
	if !errors.As(err, &e) || len(e.Diags) != 1 || e.Diags[0].Subject.Filename != file {
		t.Fatalf("got %#v", err)
	}
	if want := file + ": Cannot read configuration file: " + file + ": no such file or directory"; err.Error() != want {
		t.Errorf("got %q\nwant %q", err.Error(), want)
	}
}

func TestWriteHCLRoundTrip(t *testing.T) {
	c := mustLoad(t, richConfig,
		"/etc/tern/mime.d/a.hcl", `types = { "text/x-a" = ["a", "local"] }`)
	for i, cfg := range []*Config{c, mustLoad(t, ""), mustLoad(t, "http {\n}\n")} {
		var first bytes.Buffer
		if err := cfg.WriteHCL(&first); err != nil {
			t.Fatal(err)
		}
		back, err := LoadSnapshot(testFile, cfg.Prefix, map[string][]byte{testFile: first.Bytes()})
		if err != nil {
			t.Fatalf("%d: decoding the output of WriteHCL:\n%s\n%s", i, errText(err), first.String())
		}
		if got, want := withoutSources(back), withoutSources(cfg); !reflect.DeepEqual(got, want) {
			t.Errorf("%d: the round trip changed the configuration:\n%s", i, first.String())
		}
		var second bytes.Buffer
		if err := back.WriteHCL(&second); err != nil {
			t.Fatal(err)
		}
		// The files the first read included are merged into its output,
		// which the second read includes nothing from.
		if withoutInclude(first.String()) != withoutInclude(second.String()) {
			t.Errorf("%d: WriteHCL is not stable:\n%s\n----\n%s", i, first.String(), second.String())
		}
	}
}

// withoutInclude drops the comment that names the files a configuration
// included.
func withoutInclude(s string) string {
	return regexp.MustCompile(`(?m)^  # include: .*\n`).ReplaceAllString(s, "")
}

func TestWriteHCLText(t *testing.T) {
	c := mustLoad(t, richConfig, "/etc/tern/mime.d/a.hcl", "")
	var b bytes.Buffer
	if err := c.WriteHCL(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`worker_processes = 4`,
		`worker_cpu_affinity = ["0", "1", "2-3", "4,6"]`,
		`pid = "/etc/tern/run/tern.pid"`,
		`error_log_level = "crit"`,
		"thread_pool \"disk\" {\n  threads = 4\n  max_queue = 0\n}",
		`    "text/html" = ["htm", "html", "htmlx", "shtml"]`,
		`  expires = "90m"`,
		`  sendfile_max_chunk = "512k"`,
		`  open_file_cache = { max = 10000, inactive = "20s" }`,
		`  error_page = { "403" = "=200 /empty.gif", "404" = "/404.html", "500 502 503 504" = "/50x.html" }`,
		`    listen = ["0.0.0.0:8080 default_server reuseport backlog=1024", "[::1]:8080 default_server backlog=511 proxy_protocol", "127.0.0.1:8081 default_server backlog=511"]`,
		`    server_name = ["example.com", "*.example.com", "www.example.*", ".example.org", "~^w\\d+\\.example\\.net$"]`,
		`    try_files = ["$uri", "$${uri}/", "=404"]`,
		`    open_file_cache = "off"`,
		"    location \"~ \\\\.(css|js)$\" {\n      # alias: not set\n      expires = \"-1h\"\n      charset = \"off\"\n      # secure_link_secret: not set\n      internal = false\n    }",
		"    listen = [\"0.0.0.0:80 default_server backlog=511\"]\n    server_name = [\"other.test\"]\n    # acme_certificate: not set\n    try_files = []\n    stub_status = false\n    metrics = false\n    health = false\n    aio = \"off\"\n    # set: not set\n    # rewrite: not set\n    # return: not set\n    # break: not set\n    # if: none\n  }",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %s\n%s", want, out)
		}
	}
}

func TestServe(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, listen     string
		autoindex, gzip bool
		root, addr      string
		network         string
	}{
		{"", "", false, false, cwd, "127.0.0.1:8080", "tcp4"},
		{"site", "9000", true, false, filepath.Join(cwd, "site"), "0.0.0.0:9000", "tcp4"},
		{"/srv/www/", "localhost:8000", false, true, "/srv/www", "127.0.0.1:8000", "tcp4"},
		{`/srv/"odd" ${dir}`, "[::1]:8080", true, true, `/srv/"odd" ${dir}`, "[::1]:8080", "tcp6"},
	}
	for i, tt := range tests {
		c, err := Serve(ServeOptions{Dir: tt.dir, Listen: tt.listen, Autoindex: tt.autoindex, Gzip: tt.gzip})
		if err != nil {
			t.Errorf("%d: Serve(%q, %q):\n%s", i, tt.dir, tt.listen, errText(err))
			continue
		}
		srv := c.HTTP.Servers[0]
		a := c.HTTP.Addrs[0]
		if srv.Root.Root != tt.root || a.Addr != tt.addr || a.Network != tt.network {
			t.Errorf("%d: root %q addr %s %s", i, srv.Root.Root, a.Network, a.Addr)
		}
		if c.File != "<serve>" || c.Prefix != cwd || c.WorkerProcesses != 0 || c.PID != "" ||
			c.ErrorLog != "stderr" || len(srv.Root.AccessLogs) != 1 || srv.Root.AccessLogs[0].Path != "stderr" {
			t.Errorf("%d: %+v", i, c)
		}
		// Everything else is at its default.
		want := wantDefaultSettings
		want.Root, want.AccessLogs = tt.root, []AccessLog{{Path: "stderr"}}
		want.Autoindex, want.Gzip, want.GzipStatic = tt.autoindex, tt.gzip, tt.gzip
		if !reflect.DeepEqual(srv.Root.Settings, want) {
			t.Errorf("%d: settings %+v", i, srv.Root.Settings)
		}
		snap, err := LoadSnapshot(c.File, c.Prefix, c.Sources)
		if err != nil || !reflect.DeepEqual(snap, c) {
			t.Errorf("%d: the snapshot of Serve differs: %v", i, err)
		}
	}
	_, err = Serve(ServeOptions{Dir: ".", Listen: "nope:80"})
	if err == nil || !strings.Contains(errText(err), "<serve>:10,20: Invalid listen") || !strings.Contains(errText(err), `listen      = ["nope:80"]`) {
		t.Errorf("a bad -listen gives:\n%v", errText(err))
	}
}
