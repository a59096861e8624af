//go:build linux

package t

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// h5bp's server-configs-nginx (github.com/h5bp/server-configs-nginx) is
// the most copied nginx baseline. TestH5BPAgainstNginx converts it with
// tern convert and sends the same requests to the converted tern and to
// a real nginx running the original, comparing status, headers and body.
// The configuration is read from a checkout, never copied into this
// repository: TERN_H5BP_DIR, else /tmp/server-configs-nginx (.ci/run
// fetches commit 6630570, the one these tests were written against:
// TestH5BPConvertReports names its lines); nginx is TERN_NGINX, else
// nginx on PATH or in /usr/sbin (.ci/run installs Debian's). Without
// either the test skips and says why.

// h5bpCases are the requests, each sent to both servers on a connection
// of its own. Host names are the ones of h5bp's example template
// (conf.d/templates/no-ssl.example.com.conf) and of its test virtual
// hosts (test/vhosts/server.localhost.conf, www-server.localhost.conf).
//
// ignore names a header left out of one comparison, where tern differs
// from nginx 1.22 on purpose: both are documented.
var h5bpCases = []struct{ name, raw, ignore string }{
	{"index", h5bpReq("GET", "/", "example.com"), ""},
	{"html", h5bpReq("GET", "/page.html", "example.com"), ""},
	{"css", h5bpReq("GET", "/style.css", "example.com"), ""},
	{"css gzip", h5bpReq("GET", "/style.css", "example.com", "Accept-Encoding: gzip"), ""},
	{"javascript", h5bpReq("GET", "/app.js", "example.com"), ""},
	{"json", h5bpReq("GET", "/data.json", "example.com"), ""},
	{"feed", h5bpReq("GET", "/feed.rss", "example.com"), ""},
	{"png", h5bpReq("GET", "/image.png", "example.com"), ""},
	{"font", h5bpReq("GET", "/font.woff2", "example.com"), ""},
	{"icon", h5bpReq("GET", "/favicon.ico", "example.com"), ""},
	{"manifest", h5bpReq("GET", "/site.webmanifest", "example.com"), ""},
	{"head", h5bpReq("HEAD", "/", "example.com"), ""},
	// A 304 carries the Vary its 200 would have (RFC 9110 §15.4.5;
	// docs/directives/gzip.md); nginx leaves it out.
	{"not modified", h5bpReq("GET", "/style.css", "example.com", "If-Modified-Since: {{MTIME}}"), "vary"},
	{"range", h5bpReq("GET", "/style.css", "example.com", "Range: bytes=0-9"), ""},
	{"directory without slash", h5bpReq("GET", "/dir", "example.com"), ""},
	{"hidden file", h5bpReq("GET", "/.env", "example.com"), ""},
	{"hidden directory", h5bpReq("GET", "/.git/config", "example.com"), ""},
	{"well-known", h5bpReq("GET", "/.well-known/security.txt", "example.com"), ""},
	{"backup file", h5bpReq("GET", "/db.sql", "example.com"), ""},
	{"editor backup", h5bpReq("GET", "/page.html~", "example.com"), ""},
	{"custom 404", h5bpReq("GET", "/missing", "example.com"), ""},
	{"www redirect", h5bpReq("GET", "/a/b?c=d", "www.example.com"), ""},
	{"unknown host", h5bpReq("GET", "/", "unknown.test"), ""},
	{"vhost html", h5bpReq("GET", "/page.html", "server.localhost"), ""},
	{"vhost css", h5bpReq("GET", "/style.css", "server.localhost"), ""},
	{"vhost javascript", h5bpReq("GET", "/app.js", "server.localhost"), ""},
	{"vhost json", h5bpReq("GET", "/data.json", "server.localhost"), ""},
	{"vhost empty file", h5bpReq("GET", "/empty.txt", "server.localhost"), ""},
	{"cache busting", h5bpReq("GET", "/style.12345.css", "server.localhost"), ""},
	{"svgz", h5bpReq("GET", "/drawing.svgz", "server.localhost"), ""},
	// gzip_static answers ranges, as nginx does since 1.23.4 (ticket
	// #2349); Debian 12's 1.22 does not.
	{"pre-compressed", h5bpReq("GET", "/test-pre-gzip/app.js", "server.localhost", "Accept-Encoding: gzip"), "accept-ranges"},
	{"vhost www redirect", h5bpReq("GET", "/x?y", "www.server.localhost"), ""},
	{"www-server redirect", h5bpReq("GET", "/x", "www-server.localhost"), ""},
}

func h5bpReq(method, path, host string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

func TestH5BPAgainstNginx(t *testing.T) {
	src := os.Getenv("TERN_H5BP_DIR")
	if src == "" {
		src = "/tmp/server-configs-nginx"
	}
	if _, err := os.Stat(filepath.Join(src, "h5bp", "basic.conf")); err != nil {
		t.Skipf("no checkout of h5bp/server-configs-nginx at %s (set TERN_H5BP_DIR): %v", src, err)
	}
	nginx := h5bpNginx(t)
	www := t.TempDir()
	h5bpDocroot(t, www)
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	filepath.Walk(www, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, mtime, mtime) })

	ngx := h5bpTree(t, src, www, freePort(t))
	ngxAddr := startNginx(t, nginx, ngx)
	tport := freePort(t)
	tdir := h5bpTree(t, src, www, tport)
	hcl := h5bpConvert(t, filepath.Join(tdir, "nginx.conf"), 0)
	s := &server{t: t, dir: tdir, port: tport, addr: "127.0.0.1:" + strconv.Itoa(tport)}
	s.write("tern.hcl", hcl)
	s.start()

	ims := mtime.UTC().Format(http.TimeFormat)
	same := 0
	for _, c := range h5bpCases {
		raw := strings.ReplaceAll(c.raw, "{{MTIME}}", ims)
		want := h5bpFetch(t, ngxAddr, raw, c.ignore)
		got := h5bpFetch(t, s.addr, raw, c.ignore)
		if got == want {
			same++
			continue
		}
		t.Errorf("%s: tern and nginx differ\n--- nginx\n%s\n--- tern\n%s", c.name, want, got)
	}
	t.Logf("%d of %d requests answered as nginx does", same, len(h5bpCases))
}

// TestH5BPConvertReports: the untouched h5bp configuration (its default
// server, no site enabled) converts without a loss, with notes only for
// what is translated differently in form (-lossy changes nothing). With
// the sites enabled, TestH5BPAgainstNginx checks that nothing is lost
// there either.
func TestH5BPConvertReports(t *testing.T) {
	src := os.Getenv("TERN_H5BP_DIR")
	if src == "" {
		src = "/tmp/server-configs-nginx"
	}
	if _, err := os.Stat(filepath.Join(src, "nginx.conf")); err != nil {
		t.Skipf("no checkout of h5bp/server-configs-nginx at %s (set TERN_H5BP_DIR): %v", src, err)
	}
	for _, args := range [][]string{{"convert"}, {"convert", "-lossy"}} {
		cmd := exec.Command(ternBin, append(args, "nginx.conf")...)
		cmd.Dir = src
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 0 || !bytes.Contains(out, []byte("server {")) || !regexp.MustCompile(`(?m)^user +=\s*"www-data"$`).Match(out) {
			t.Errorf("%q: exit %d, want 0; stderr:\n%s\n%s", args, code, stderr.String(), out)
		}
		// Each line is "tern convert: FILE:LINE: note: ...": what is
		// compared is FILE:LINE, in order.
		var reports []string
		for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if parts := strings.SplitN(l, ": ", 4); len(parts) == 4 && parts[2] == "note" {
				reports = append(reports, parts[1])
			} else {
				reports = append(reports, l)
			}
		}
		want := []string{
			"conf.d/no-ssl.default.conf:19", // listen [::]:80 ... deferred
			"conf.d/no-ssl.default.conf:20", // listen 80 ... deferred
		}
		if strings.Join(reports, "|") != strings.Join(want, "|") {
			t.Errorf("%q reports:\n%s\nwant, in order: %q", args, stderr.String(), want)
		}
	}
}

// h5bpNginx finds the reference nginx or skips.
func h5bpNginx(t *testing.T) string {
	if p := os.Getenv("TERN_NGINX"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Skip("no nginx to compare with (apt-get install nginx, or set TERN_NGINX)")
	return ""
}

// h5bpTree writes a copy of the configuration into a new directory that
// runs on port, changed only where it must be to run unprivileged in a
// test: loopback listeners on port (the [::] ones dropped), paths in the
// directory, one worker, user root when run as root (else none), the
// example template and the port-80
// test virtual hosts as the sites, www as their root.
func h5bpTree(t *testing.T, src, www string, port int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(src, "h5bp"), filepath.Join(src, "mime.types"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying h5bp: %v\n%s", err, out)
	}
	for _, d := range []string{"conf.d", "logs", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	listen := regexp.MustCompile(`(?m)^(\s*)listen\s+(\[::\]:)?80\b`)
	edit := func(from, to string, repl ...string) {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer(repl...).Replace(string(b))
		s = listen.ReplaceAllStringFunc(s, func(m string) string {
			if strings.Contains(m, "[::]") {
				return strings.Replace(m, "listen", "# listen", 1)
			}
			return strings.Replace(m, "80", "127.0.0.1:"+strconv.Itoa(port), 1)
		})
		if err := os.WriteFile(filepath.Join(dir, to), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// As root, both servers' workers would drop to www-data, who cannot
	// read the test's directories: they stay root.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	edit("nginx.conf", "nginx.conf",
		"user www-data;", user,
		"worker_processes auto;", "worker_processes 1;",
		"/var/log/nginx/", dir+"/logs/",
		"/var/run/nginx.pid", dir+"/logs/nginx.pid",
		"\nhttp {", "\nhttp {\n  client_body_temp_path "+dir+"/tmp/body;\n  proxy_temp_path "+dir+"/tmp/proxy;\n"+
			"  fastcgi_temp_path "+dir+"/tmp/fastcgi;\n  uwsgi_temp_path "+dir+"/tmp/uwsgi;\n  scgi_temp_path "+dir+"/tmp/scgi;\n")
	edit("conf.d/no-ssl.default.conf", "conf.d/no-ssl.default.conf")
	edit("conf.d/templates/no-ssl.example.com.conf", "conf.d/example.com.conf", "/var/www/example.com/public", www)
	for _, v := range []string{"server.localhost.conf", "www-server.localhost.conf"} {
		edit("test/vhosts/"+v, "conf.d/"+v, "/var/www/server.localhost", www)
	}
	return dir
}

// h5bpConvert runs tern convert on path and returns the HCL; wantCode is
// its exit status.
func h5bpConvert(t *testing.T, path string, wantCode int) string {
	t.Helper()
	cmd := exec.Command(ternBin, "convert", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != wantCode {
		t.Fatalf("tern convert %s: exit %d, want %d\n%s", path, code, wantCode, stderr.String())
	}
	return string(out)
}

// startNginx runs the reference in the foreground and returns its
// address; it is stopped by PID when the test ends.
func startNginx(t *testing.T, bin, dir string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "conf.d", "example.com.conf"))
	m := regexp.MustCompile(`listen 127\.0\.0\.1:(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no listener in the prepared configuration")
	}
	addr := "127.0.0.1:" + string(m[1])
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "logs", "error.log"), "-g", "daemon off;")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			t.Fatalf("nginx exited at start: %s\n%s", out.String(), log)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("nginx did not accept on %s", addr)
	return ""
}

// h5bpDocroot makes the files the requests ask for.
func h5bpDocroot(t *testing.T, www string) {
	t.Helper()
	css := strings.Repeat("body { color: #333; margin: 0 auto; }\n", 20)
	files := map[string]string{
		"index.html": "<!doctype html><title>index</title>\n", "page.html": "<!doctype html><title>page</title>\n",
		"404.html": "<!doctype html><title>not found</title>\n", "style.css": css,
		"app.js": "console.log('app');\n", "data.json": `{"a": 1}` + "\n", "feed.rss": "<rss version=\"2.0\"></rss>\n",
		"image.png": "\x89PNG\r\n\x1a\n", "font.woff2": "wOF2", "favicon.ico": "\x00\x00\x01\x00",
		"site.webmanifest": `{"name": "x"}` + "\n", "dir/index.html": "dir\n", ".env": "SECRET=1\n",
		".git/config": "[core]\n", ".well-known/security.txt": "Contact: a@b\n", "db.sql": "drop table x;\n",
		"page.html~": "backup\n", "empty.txt": "", "drawing.svgz": "\x1f\x8b\x08\x00svgz",
		"test-pre-gzip/app.js": strings.Repeat("console.log('pre');\n", 20),
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(files["test-pre-gzip/app.js"]))
	zw.Close()
	files["test-pre-gzip/app.js.gz"] = gz.String()
	for name, body := range files {
		p := filepath.Join(www, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// h5bpFetch sends raw on a new connection and returns the response in
// a form to compare: the status line, the headers sorted (Date, Server
// and ignore left out, a relative Expires as its distance from Date, the
// listening port as PORT), and the body, uncompressed when it was
// compressed on the fly, with the server's name in a built-in page as
// SERVER (and Content-Length as that body's). A connection closed
// without a response (nginx's 444) is "closed".
func h5bpFetch(t *testing.T, addr, raw, ignore string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, raw)
	method, _, _ := strings.Cut(raw, " ")
	r, err := readResponse(bufio.NewReader(c), method)
	if err != nil {
		if r == nil && strings.Contains(err.Error(), "EOF") {
			return "closed"
		}
		return "error: " + err.Error()
	}
	_, port, _ := net.SplitHostPort(addr)
	date, _ := http.ParseTime(r.header("Date"))
	body := r.body
	for _, name := range []string{"nginx", "tern"} {
		body = bytes.ReplaceAll(body, []byte("<hr><center>"+name+"</center>"), []byte("<hr><center>SERVER</center>"))
	}
	var lines []string
	for _, h := range r.headers {
		name, value := strings.ToLower(h[0]), strings.ReplaceAll(h[1], ":"+port, ":PORT")
		switch name {
		case "date", "server", ignore:
			continue
		case "expires":
			// Relative to the response's date, unless fixed (epoch, max).
			if e, err := http.ParseTime(value); err == nil && e.Year() > 2000 && e.Year() < 2037 {
				value = fmt.Sprintf("Date%+ds", int(e.Sub(date).Seconds()))
			}
		case "content-length":
			if len(body) != len(r.body) {
				value = strconv.Itoa(len(body))
			}
		}
		lines = append(lines, name+": "+value)
	}
	sort.Strings(lines)
	if r.header("Content-Encoding") == "gzip" && r.header("Content-Length") == "" {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				body = plain
			}
		}
	}
	return fmt.Sprintf("%d\n%s\n\n%q", r.status, strings.Join(lines, "\n"), body)
}
