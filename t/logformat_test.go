package t

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogFormats: named formats with variables and each escape, several
// destinations per level, if=, and the built-in formats beside them.
func TestLogFormats(t *testing.T) {
	s := newServer(t, serversConfig(`
  log_format "main" {
    format = "$remote_addr [$status] \"$request\" $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $arg_q $cookie_c"
  }
  log_format "js" {
    escape = "json"
    format = "{\"uri\":\"$uri\",\"ua\":\"$http_user_agent\",\"ref\":\"$http_referer\"}"
  }
  log_format "raw" {
    escape = "none"
    format = "$http_user_agent|$request_method"
  }
  map "$status" "$loggable" {
    default = "1"
    values  = { "404" = "0" }
  }
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root   = "{{ROOT}}"
    access_log = [
      "{{DIR}}/logs/main.log main",
      "{{DIR}}/logs/js.log js buffer=16k flush=100ms",
      "{{DIR}}/logs/raw.log raw if=$loggable",
      "{{DIR}}/logs/combined.log combined",
      "{{DIR}}/logs/default.log",
    ]
  }`))
	s.file("a.txt", "hello")
	s.start()
	s.get(req("GET", "/a.txt?q=1", "User-Agent: a \"quoted\"\\agent", "Cookie: c=cc"))
	s.get(req("GET", "/missing%1F", "Referer: http://r/"))
	s.signal(syscall.SIGQUIT)
	s.wait(5 * time.Second)
	logs := filepath.Join(s.dir, "logs")
	check := func(file string, want ...string) {
		t.Helper()
		lines := readLines(t, filepath.Join(logs, file))
		if len(lines) != len(want) {
			t.Fatalf("%s: %q, want %d lines", file, lines, len(want))
		}
		for i, w := range want {
			if lines[i] != w {
				t.Errorf("%s line %d:\n got %s\nwant %s", file, i, lines[i], w)
			}
		}
	}
	check("main.log",
		`127.0.0.1 [200] "GET /a.txt?q=1 HTTP/1.1" 5 "-" "a \x22quoted\x22\x5Cagent" 1 cc`,
		`127.0.0.1 [404] "GET /missing%1F HTTP/1.1" 151 "http://r/" "-" - -`)
	check("js.log",
		`{"uri":"/a.txt","ua":"a \"quoted\"\\agent","ref":""}`,
		`{"uri":"/missing\u001F","ua":"","ref":"http://r/"}`) // capital hex, as nginx
	// if=: the 404 is not logged.
	check("raw.log", `a "quoted"\agent|GET`)
	combined := readLines(t, filepath.Join(logs, "combined.log"))
	if len(combined) != 2 || !strings.Contains(combined[0], `"GET /a.txt?q=1 HTTP/1.1" 200 5 "-" "a \x22quoted\x22\x5Cagent"`) {
		t.Errorf("combined.log %q", combined)
	}
	def := readLines(t, filepath.Join(logs, "default.log"))
	if len(def) != 2 || !strings.HasPrefix(def[0], `{"time":`) {
		t.Errorf("default.log %q", def)
	}
}

// TestLogFormatErrors: an unknown format, a built-in name redefined, and
// a variable in a path are tern -t errors.
func TestLogFormatErrors(t *testing.T) {
	for i, c := range []struct{ server, want string }{
		{`access_log = "{{DIR}}/logs/a.log nosuch"`, `"nosuch" is not a log format`},
		{"log_format \"combined\" {\n    format = \"$uri\"\n  }", "is a built-in format"},
		{`access_log = "{{DIR}}/logs/$host.log"`, "tern does not take variables in access_log paths"},
		{`access_log = "{{DIR}}/logs/a.log combined gzip"`, "compressed access logs are not supported"},
		{`access_log = "{{DIR}}/logs/a.log combined if=$nosuch"`, "Unknown variable"},
		{"log_format \"x\" {\n    format = \"$nosuch\"\n  }", "Unknown variable"},
	} {
		http, server := "", c.server
		if strings.HasPrefix(server, "log_format") {
			http, server = server, ""
		}
		s := newServer(t, handlersConfig(http, server))
		out := tternT(t, s)
		if !strings.Contains(out, c.want) {
			t.Errorf("%d: %s: %s\nwant %q", i, c.server, out, c.want)
		}
	}
}
