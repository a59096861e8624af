package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tern/conf"
)

// TestConvertLoads converts the fixture and loads the result: every
// directive tern has must arrive with its value, the rewrite module's
// statements in their order, and everything else must be reported: what
// changes what is served as a loss (exit 1 without -lossy), the rest as a
// note.
func TestConvertLoads(t *testing.T) {
	var out, warn bytes.Buffer
	losses, ok := convertReport("testdata/nginx/nginx.conf", &out, &warn)
	if !ok {
		t.Fatalf("convert failed: %s", warn.String())
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
	if err != nil {
		t.Fatalf("converted config does not load: %v\n%s", err, out.String())
	}
	srv := cfg.HTTP.Servers[0]
	loc := func(path string) *conf.Location { return srv.Location([]byte(path)) }
	ops := func(l *conf.Location) string {
		var s []string
		for _, st := range l.Script {
			s = append(s, [...]string{"", "set", "rewrite", "return", "break", "if"}[st.Op])
			if st.Op == conf.OpIf {
				for _, in := range st.Then.Script {
					s = append(s, "  "+[...]string{"", "set", "rewrite", "return", "break", "if"}[in.Op])
				}
			}
		}
		return strings.Join(s, ",")
	}
	logs := srv.Root.AccessLogs
	checks := []struct {
		name string
		ok   bool
	}{
		{"worker_processes", cfg.WorkerProcesses == 2},
		{"user", cfg.UserSet && cfg.User == "www-data" && cfg.Group == ""},
		{"affinity", len(cfg.WorkerCPUAffinity.CPUs) == 2 && cfg.WorkerCPUAffinity.CPUs[0][0] == 0 && cfg.WorkerCPUAffinity.CPUs[1][0] == 1},
		{"worker_connections", cfg.WorkerConnections == 2048},
		{"thread_pool", cfg.ThreadPools["big"] != nil && cfg.ThreadPools["big"].Threads == 8 && cfg.ThreadPools["big"].MaxQueue == 1024},
		{"error_log", strings.HasSuffix(cfg.ErrorLog, "logs/error.log")},
		{"aio", srv.Root.AIO.Mode == conf.AIOThreads && srv.Root.AIO.Pool == "big"},
		{"keepalive_timeout", srv.Root.KeepaliveTimeout.Seconds() == 65 && srv.Root.KeepaliveHeader.Seconds() == 60},
		{"client_max_body_size", srv.Root.ClientMaxBodySize == 10<<20},
		{"large_client_header_buffers", srv.Root.LargeClientHeaderBuffers == conf.Buffers{Num: 4, Size: 16 << 10}},
		{"server_tokens", !srv.Root.ServerTokens},
		{"gzip", srv.Root.Gzip && srv.Root.GzipCompLevel == 5 && len(srv.Root.GzipTypes) == 2},
		{"open_file_cache", srv.Root.OpenFileCache != nil && srv.Root.OpenFileCache.Max == 1000},
		{"types", mimeIs(cfg, "cst", "text/x-custom") && mimeIs(cfg, "avif", "image/avif") && mimeIs(cfg, "fixture", "application/x-fixture") && mimeIs(cfg, "html", "text/html")},
		{"listen", len(cfg.HTTP.Addrs) == 2 && cfg.HTTP.Addrs[0].Backlog == 1024 && cfg.HTTP.Addrs[1].Network == "tcp6"},
		{"server_name", len(srv.Names) == 2 && srv.Names[1] == "*.example.com"},
		{"index", len(srv.Root.Index) == 2},
		{"charset", srv.Root.Charset == "utf-8"},
		{"charset_types", srv.Root.CharsetApplies("application/javascript") && !srv.Root.CharsetApplies("text/css")},
		{"error_page", srv.Root.ErrorPages[502].URI.String() == "/50x.html" && srv.Root.ErrorPages[403].Status == 200},
		{"add_header", len(srv.Root.AddHeaders) == 2 && srv.Root.AddHeaders[1].Value.String() == `a "b" c` &&
			srv.Root.AddHeaders[1].Always && !srv.Root.AddHeaders[0].Always},
		{"log_format", len(cfg.HTTP.LogFormats) == 2 && cfg.HTTP.LogFormats[0].Name == "main" &&
			cfg.HTTP.LogFormats[1].Name == "nginx_json" && cfg.HTTP.LogFormats[1].Escape == conf.EscapeJSON},
		{"access_log", len(logs) == 3 && logs[0].Format == conf.FormatCombined && logs[1].Format.Name == "main" &&
			logs[1].Buffer == 32<<10 && logs[1].Flush.Seconds() == 5 && logs[1].If.String() == "$loggable" && logs[2].Format.Name == "nginx_json"},
		{"map", len(cfg.HTTP.Vars) >= 3},
		{"map's empty key", mapFinds(cfg, "cache", "", "no-store") && mapFinds(cfg, "cache", "text/css", "public")},
		{"exact location", loc("/favicon.ico").Modifier == conf.ModExact && len(loc("/favicon.ico").AccessLogs) == 0},
		{"log_not_found", !loc("/favicon.ico").LogNotFound && srv.Root.LogNotFound},
		{"^~ location", loc("/static/x.css").Modifier == conf.ModPrefixNoRegex && loc("/static/x.css").GzipStatic},
		{"regex location", loc("/a/b.JS").Modifier == conf.ModRegexCaseless},
		{"alias", strings.HasSuffix(loc("/images/a.png").Alias, "/srv/img/") && loc("/images/").AutoindexFormat == "json"},
		{"return", len(loc("/old").Script) == 1 && loc("/old").Script[0].Code == 301 && loc("/gone").Script[0].Code == 302},
		{"stub_status", loc("/status").StubStatus},
		{"error_log in a location", strings.HasSuffix(loc("/status").ErrorLog, "logs/status-error.log") &&
			loc("/status").ErrorLogLevel == conf.LogCrit && srv.Root.ErrorLog == ""},
		{"if", ops(loc("/api/")) == "if,  return"},
		{"statements in order", ops(loc("/app/")) == "set,rewrite,if,  set,if,  return,if,  rewrite,if,  rewrite,return"},
		{"named group", loc("/abc/s/").Modifier == conf.ModRegex && len(loc("/abc/s/").AddHeaders) == 1},
		{"lookahead", len(loc("/.git/x").Access) == 1 && loc("/.well-known/x").Modifier != conf.ModRegexCaseless},
		{"unknown variable", loc("/unknown/").Path == "/unknown/" && len(loc("/unknown/").AddHeaders) == 2},
	}
	for i, c := range checks {
		if !c.ok {
			t.Errorf("%d: %s not converted right", i, c.name)
		}
	}
	if t.Failed() {
		t.Log(out.String())
	}
	for _, want := range []string{
		"site.conf:22: location @named: named locations are not supported",
		"site.conf:24: proxy_pass is not supported",
		"site.conf:38: add_header: the variable $geoip_country is not one tern has",
		"note: log_format json is named nginx_json", "note: access_log logs/json.log: gzip is dropped",
		"note: rewrite and what follows it are never run", "note: set after other statements: put in if \"$uri\"",
		"note: the regular expression \"/\\\\.(?!well-known/)\" is written",
	} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("no report %q in:\n%s", want, warn.String())
		}
	}
	if losses != 3 {
		t.Errorf("%d losses, want 3:\n%s", losses, warn.String())
	}
}

// mapFinds reports whether the map making $name gives want for key.
func mapFinds(cfg *conf.Config, name, key, want string) bool {
	for _, v := range cfg.HTTP.Vars {
		if v.Name == name && v.Map != nil {
			val, _, _ := v.Map.Find([]byte(key), nil, nil)
			return val != nil && val.String() == want
		}
	}
	return false
}

func mimeIs(cfg *conf.Config, ext, want string) bool {
	got, _ := cfg.HTTP.MIME.Lookup([]byte(ext))
	return got == want
}

func TestConvertSyntaxErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"http {", "unexpected end of file"},
		{"worker_processes 1", "expecting \";\""},
		{"}", "unexpected \"}\""},
		{"error_log \"unterminated;", "unterminated string"},
		{"; x;", "unexpected \";\""},
		{"include bad.conf;", "makes a cycle"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		p := filepath.Join(dir, "bad.conf")
		os.WriteFile(p, []byte(c.src), 0o644)
		var out, warn bytes.Buffer
		if convertNginx(p, &out, &warn) || !strings.Contains(warn.String(), c.want) {
			t.Errorf("%d: %q: %q, want an error with %q", i, c.src, warn.String(), c.want)
		}
	}
}

func TestRunConvertUsage(t *testing.T) {
	for _, args := range [][]string{{"convert"}, {"convert", "-lossy"}, {"convert", "-x", "a.conf"}, {"convert", "a.conf", "b.conf"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "usage") {
			t.Errorf("%q: %d %q", args, code, errb.String())
		}
	}
}

// TestConvertExit: a loss makes convert exit 1 with the list of what was
// lost, unless -lossy, which lists them too; notes alone exit 0.
func TestConvertExit(t *testing.T) {
	dir := t.TempDir()
	lossy := filepath.Join(dir, "lossy.conf")
	os.WriteFile(lossy, []byte("http { server { location / { proxy_pass http://x; } } }"), 0o644)
	noted := filepath.Join(dir, "noted.conf")
	os.WriteFile(noted, []byte("http { server { listen 80 deferred; location / { root /srv; } } }"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"convert", lossy}, 1, "lossy.conf:1: proxy_pass is not supported"},
		{[]string{"convert", lossy}, 1, "1 directive(s) above could not be translated"},
		{[]string{"convert", "-lossy", lossy}, 0, "lossy.conf:1: proxy_pass is not supported"},
		{[]string{"convert", noted}, 0, "noted.conf:1: note: listen 80: deferred is dropped"},
		{[]string{"convert", filepath.Join(dir, "missing.conf")}, 1, "no such file"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, want %d; stderr %q, want %q", c.args, code, c.code, errb.String(), c.want)
		}
		if c.code == 0 && !strings.Contains(out.String(), "server {") {
			t.Errorf("%q: no output", c.args)
		}
	}
}

// FuzzParseNginx: the nginx parser and the converter never panic, and
// whatever converts is HCL that parses.
func FuzzParseNginx(f *testing.F) {
	for _, s := range []string{
		"http { server { listen 80; location / { root /x; } } }",
		"error_page 500 =200 /x; add_header A 'b c';",
		"a \"b\\\"c\" 'd' e#f;\n# comment\n",
		"types { text/html html; }",
		"location ~* \\.(a|b)$ { expires 1d; }",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		p := filepath.Join(dir, "fuzz.conf")
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Skip()
		}
		var out, warn bytes.Buffer
		if !convertNginx(p, &out, &warn) {
			return
		}
		main := filepath.Join(dir, "t.hcl")
		_, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
		if ce, ok := err.(*conf.Error); ok {
			for _, d := range ce.Diags {
				if strings.Contains(d.Summary, "Argument or block definition required") ||
					strings.Contains(d.Summary, "Invalid character") || strings.Contains(d.Summary, "Unclosed") {
					t.Fatalf("convert wrote unparsable HCL: %s\n%s", d.Summary, out.String())
				}
			}
		}
	})
}

// TestConvertAccess: nginx's rules that alternate more than once are
// rewritten into two runs that decide every address the same way.
func TestConvertAccess(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")
	os.WriteFile(p, []byte(`http { server {
    location / {
      deny  192.168.1.1;
      allow 192.168.1.0/24;
      allow 10.1.1.0/16;
      allow 2001:0db8::/32;
      deny  all;
    }
    location /two/ { allow 127.0.0.1; deny all; }
    location /many/ { deny 10.0.0.0/8; allow 10.1.0.0/16; deny 10.1.2.0/24; allow unix:; }
    location /internal/ { internal; }
    location /team/ { auth_basic "Team"; auth_basic_user_file /etc/nginx/users/$host; }
}}`), 0o644)
	var out, warn bytes.Buffer
	if !convertNginx(p, &out, &warn) {
		t.Fatal(warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	srv := cfg.HTTP.Servers[0]
	originals := map[string][]string{
		"/":      {"deny 192.168.1.1", "allow 192.168.1.0/24", "allow 10.1.0.0/16", "allow 2001:db8::/32", "deny all"},
		"/two/":  {"allow 127.0.0.1", "deny all"},
		"/many/": {"deny 10.0.0.0/8", "allow 10.1.0.0/16", "deny 10.1.2.0/24", "allow unix:"},
	}
	addrs := []string{"192.168.1.0", "192.168.1.1", "192.168.1.2", "192.168.1.255", "192.168.2.1", "10.1.0.0",
		"10.1.255.255", "10.2.0.0", "10.0.0.1", "10.1.2.3", "10.1.3.0", "127.0.0.1", "127.0.0.2", "8.8.8.8",
		"2001:db8::1", "2001:db9::", "::1"}
	first := func(rules []conf.AccessRule, a netip.Addr, unix bool) bool {
		for _, r := range rules {
			if r.Matches(a, unix) {
				return !r.Deny
			}
		}
		return true
	}
	for path, orig := range originals {
		var want []conf.AccessRule
		for _, s := range orig {
			verb, arg, _ := strings.Cut(s, " ")
			r, err := conf.ParseAccessRule(arg, verb == "deny")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, r)
		}
		got := srv.Location([]byte(path)).Access
		for _, a := range addrs {
			ip := netip.MustParseAddr(a)
			if first(got, ip, false) != first(want, ip, false) {
				t.Errorf("%s: %s is decided otherwise after the conversion: %v", path, a, got)
			}
		}
		if first(got, netip.Addr{}, true) != first(want, netip.Addr{}, true) {
			t.Errorf("%s: unix clients are decided otherwise after the conversion", path)
		}
	}
	if !srv.Location([]byte("/internal/x")).Internal {
		t.Error("internal not converted")
	}
	// A user file path with a variable stays one.
	if l := srv.Location([]byte("/team/x")); l.AuthBasicUserFile != "/etc/nginx/users/$host" || l.AuthBasicUserFileVars.IsZero() {
		t.Errorf("auth_basic_user_file: %q, variables %v", l.AuthBasicUserFile, !l.AuthBasicUserFileVars.IsZero())
	}
	if !strings.Contains(warn.String(), "alternate more than once") || !strings.Contains(warn.String(), "host bits") {
		t.Errorf("warnings: %s", warn.String())
	}
}

// TestConvertLimits: limit_req_zone and limit_conn_zone become blocks,
// limit_req an object or a list, limit_conn a map, the rest as named.
func TestConvertLimits(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")
	os.WriteFile(p, []byte(`http {
  limit_req_zone $remote_addr zone=one:10m rate=10r/s;
  limit_req_zone $remote_addr zone=slow:1m rate=30r/m sync;
  limit_conn_zone $remote_addr zone=perip:10m;
  limit_req_status 429;
  server {
    listen 8080 proxy_protocol;
    limit_conn perip 10;
    location / {
      limit_req zone=one burst=5 nodelay;
      limit_req zone=slow burst=2 delay=1;
      limit_conn perip 2;
      limit_rate 2m;
      limit_rate_after 10m;
      limit_req_log_level warn;
      limit_conn_dry_run on;
    }
    location /x/ { limit_req zone=one; }
  }
}`), 0o644)
	var out, warn bytes.Buffer
	if !convertNginx(p, &out, &warn) {
		t.Fatal(warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	h := cfg.HTTP
	srv := h.Servers[0]
	root, x := srv.Location([]byte("/")), srv.Location([]byte("/x/"))
	checks := []struct {
		name string
		ok   bool
	}{
		{"zones", len(h.Zones) == 3 && h.Zones[0].Rate == 10000 && h.Zones[1].Rate == 500 && h.Zones[2].Kind == conf.ZoneConn && h.Zones[2].Size == 10<<20},
		{"limit_req list", len(root.LimitReq) == 2 && root.LimitReq[0].Delay == conf.NoDelay && root.LimitReq[0].Burst == 5000 && root.LimitReq[1].Delay == 1000},
		{"limit_req one", len(x.LimitReq) == 1 && x.LimitReq[0].Burst == 0},
		{"limit_conn", len(root.LimitConn) == 1 && root.LimitConn[0].Conn == 2 && srv.Root.LimitConn[0].Conn == 10},
		{"statuses and levels", root.LimitReqStatus == 429 && root.LimitReqLogLevel == conf.LogWarn && root.LimitConnDryRun},
		{"limit_rate", root.LimitRate == 2<<20 && root.LimitRateAfter == 10<<20},
		{"proxy_protocol", h.Addrs[0].ProxyProtocol},
	}
	for i, c := range checks {
		if !c.ok {
			t.Errorf("%d: %s not converted right:\n%s", i, c.name, out.String())
		}
	}
	if !strings.Contains(warn.String(), "sync") {
		t.Errorf("no warning about sync: %s", warn.String())
	}
}

// TestConvertRealIPAndLinks: realip, secure_link and valid_referers
// keep their names; the repeated ones gather into lists.
func TestConvertRealIPAndLinks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")
	os.WriteFile(p, []byte(`http { server {
    server_name example.com;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 192.168.1.1;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    location /p/ {
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires$uri$remote_addr secret";
    }
    location /old/ { secure_link_secret word; }
    location /img/ { valid_referers none blocked server_names *.example.com; }
}}`), 0o644)
	var out, warn bytes.Buffer
	if !convertNginx(p, &out, &warn) {
		t.Fatal(warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	srv := cfg.HTTP.Servers[0]
	p1, old, img := srv.Location([]byte("/p/x")), srv.Location([]byte("/old/x")), srv.Location([]byte("/img/x"))
	checks := []struct {
		name string
		ok   bool
	}{
		{"set_real_ip_from", len(srv.Root.RealIPFrom) == 2},
		{"real_ip_header", srv.Root.RealIPHeader.Kind == conf.RealIPXForwardedFor && srv.Root.RealIPRecursive},
		{"secure_link", p1.SecureLink.String() == "$arg_md5,$arg_expires" && p1.SecureLinkMD5.String() == "$secure_link_expires$uri$remote_addr secret"},
		{"secure_link_secret", old.SecureLinkSecret == "word"},
		{"valid_referers", img.ValidReferers.Set() && !img.ValidReferers.Valid([]byte("http://evil.test/")) && img.ValidReferers.Valid([]byte("http://a.example.com/"))},
	}
	for i, c := range checks {
		if !c.ok {
			t.Errorf("%d: %s not converted right:\n%s", i, c.name, out.String())
		}
	}
}

// TestConvertUser: nginx's user, with and without its group, is tern's.
func TestConvertUser(t *testing.T) {
	for _, c := range []struct{ src, user, group string }{
		{"user www-data;", "www-data", ""},
		{"user www-data adm;", "www-data", "adm"},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "nginx.conf")
		os.WriteFile(p, []byte(c.src+"\nhttp { server { listen 8080; } }\n"), 0o644)
		var out, warn bytes.Buffer
		if !convertNginx(p, &out, &warn) || warn.Len() != 0 {
			t.Fatalf("%q: %s", c.src, warn.String())
		}
		main := filepath.Join(dir, "tern.hcl")
		cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.src, err, out.String())
		}
		if !cfg.UserSet || cfg.User != c.user || cfg.Group != c.group {
			t.Errorf("%q: user %q group %q (set %v), want %q %q:\n%s", c.src, cfg.User, cfg.Group, cfg.UserSet, c.user, c.group, out.String())
		}
	}
}

// TestConvertNeverWeakens: a directive that decides who may see what,
// in a form tern cannot express, is a loss named with its file:line, and
// convert exits 1: the converted site must not serve what nginx refused.
func TestConvertNeverWeakens(t *testing.T) {
	cases := []struct{ name, conf, want string }{
		{"limit_except", "location / { limit_except GET { deny all; } }", "limit_except is not supported"},
		{"auth_request", "location / { auth_request /auth; }", "auth_request is not supported"},
		{"named location", "location @x { internal; }", "named locations are not supported"},
		{"lookbehind", "location ~ (?<=/)\\.env$ { deny all; }", "the regular expression"},
		{"if lookbehind", "if ($uri ~ (?<=/)\\.git) { return 403; }", "the regular expression"},
		{"unknown variable", "location / { add_header X-A $geoip_country_code; }", "$geoip_country_code is not one tern has"},
		{"ssl_crl", "listen 443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key; ssl_crl c.pem;", "ssl_crl not converted"},
		{"ssl_ocsp", "listen 443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key; ssl_ocsp on;", "ssl_ocsp not converted"},
		{"certificate variable", "listen 443 ssl; ssl_certificate $ssl_server_name.pem; ssl_certificate_key a.key;", "certificates named by variables"},
		{"fastcgi", "location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; }", "fastcgi_pass is not supported"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, "nginx.conf")
		os.WriteFile(p, []byte("events {}\nhttp {\n  server {\n    "+c.conf+"\n  }\n}\n"), 0o644)
		var out, errb bytes.Buffer
		code := run([]string{"convert", p}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), p+":4: ") || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q at line 4", c.name, code, errb.String(), c.want)
		}
	}
}

// TestNginxWords: a word's escapes are nginx's (ngx_conf_read_token),
// quoted or not: \" \' \\ are the byte, \t \r \n the control, and any
// other backslash stays, so a quoted regular expression keeps its \. and
// \p{N}.
func TestNginxWords(t *testing.T) {
	cases := []struct{ src, want string }{
		{`x "~^(?P<name>www\p{N}+)\.example\.com$";`, `~^(?P<name>www\p{N}+)\.example\.com$`},
		{`x ~^(?P<name>www\pN+)\.example\.com$;`, `~^(?P<name>www\pN+)\.example\.com$`},
		{`x '\.php$';`, `\.php$`},
		{`x "a\"b\'c\\d";`, `a"b'c\d`},
		{`x a\"b\\c;`, `a"b\c`},
		{`x "a\tb\nc\rd";`, "a\tb\nc\rd"},
		{`x a\;b;`, `a\;b`}, // the ";" does not end the word, the "\" stays
		{`x "a\";`, ``},     // unterminated: \" does not end it
	}
	dir := t.TempDir()
	for i, c := range cases {
		p := filepath.Join(dir, "words.conf")
		os.WriteFile(p, []byte(c.src), 0o644)
		ds, err := parseNginxFile(p)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%d: %s: no error", i, c.src)
		case c.want == "":
		case err != nil:
			t.Errorf("%d: %s: %v", i, c.src, err)
		case len(ds) != 1 || len(ds[0].args) != 1 || ds[0].args[0] != c.want:
			t.Errorf("%d: %s: got %q, want %q", i, c.src, ds[0].args, c.want)
		}
	}
}

// TestConvertListenBuffers: listen's sndbuf= and rcvbuf= carry over as
// they are; the other socket tunings are noted and dropped.
func TestConvertListenBuffers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")
	os.WriteFile(p, []byte("http { server { listen 127.0.0.1:8080 sndbuf=512k rcvbuf=64k deferred; } }"), 0o644)
	var out, warn bytes.Buffer
	if !convertNginx(p, &out, &warn) {
		t.Fatal(warn.String())
	}
	if !strings.Contains(out.String(), `"127.0.0.1:8080 sndbuf=512k rcvbuf=64k"`) {
		t.Errorf("output:\n%s", out.String())
	}
	if !strings.Contains(warn.String(), "deferred is dropped") || strings.Contains(warn.String(), "sndbuf") {
		t.Errorf("notes: %s", warn.String())
	}
	main := filepath.Join(dir, "tern.hcl")
	cfg, err := conf.LoadSnapshot(main, dir, map[string][]byte{main: out.Bytes()})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if a := cfg.HTTP.Addrs[0]; a.SndBuf != 512<<10 || a.RcvBuf != 64<<10 {
		t.Errorf("sndbuf %d rcvbuf %d", a.SndBuf, a.RcvBuf)
	}
}
