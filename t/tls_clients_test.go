package t

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"tern/internal/testcert"
)

// The HTTPS tests with the clients people use: curl and openssl
// s_client (OpenSSL 3), which .ci/run installs; without them these tests
// skip and say so.

// TestTLSCurl: protocol versions, ALPN, SNI, a client certificate and
// plain HTTP on the TLS port, as curl sees them.
func TestTLSCurl(t *testing.T) {
	needTool(t, "curl")
	s, certs := newTLSServer(t, tlsConfig("", `
    ssl_client_certificate = "{{DIR}}/certs/ca.pem"
    ssl_verify_client = "optional"`))
	s.file("f", "hello\n")
	s.start()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tlsv1.2", "--tls-max", "1.2"}, "SSL connection using TLSv1.2 / ECDHE-ECDSA-"},
		{[]string{"--tlsv1.3"}, "SSL connection using TLSv1.3 / TLS_AES_"},
		{nil, "ALPN: server accepted http/1.1"},
		{[]string{"--cert", certs.path("client.crt"), "--key", certs.path("client.key")}, "< HTTP/1.1 200 OK"},
	} {
		out, code := s.curl(t, certs, "localhost", "/f", append([]string{"-v"}, tt.args...)...)
		if code != 0 || !strings.Contains(out, tt.want) || !strings.Contains(out, "\nhello\n") {
			t.Errorf("curl %v: exit %d, want %q in:\n%s", tt.args, code, tt.want, out)
		}
	}
	// A certificate of another CA: 400, with nginx's text.
	out, _ := s.curl(t, certs, "localhost", "/f", "--cert", certs.path("other-client.crt"), "--key", certs.path("other-client.key"))
	if !strings.Contains(out, "The SSL certificate error") {
		t.Errorf("other CA's certificate:\n%s", out)
	}
	// Plain HTTP on the TLS port.
	curl := needTool(t, "curl")
	out, _ = runTool(t, "", curl, "-sS", "-i", "http://127.0.0.1:"+strconv.Itoa(s.port)+"/f")
	if !strings.HasPrefix(out, "HTTP/1.1 400 Bad Request") || !strings.Contains(out, "The plain HTTP request was sent to HTTPS port") {
		t.Errorf("plain HTTP:\n%s", out)
	}
}

// TestTLSOpenSSL: versions and ciphers, ALPN, SNI and
// ssl_reject_handshake, as openssl s_client sees them.
func TestTLSOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	s, certs := newTLSServer(t, serversConfig(sniConfig+`
  server {
    listen = ["127.0.0.1:{{PORT}} ssl"]
    server_name = ["both.test"]
    ssl_certificate = ["{{DIR}}/certs/both.test.ec.crt", "{{DIR}}/certs/both.test.rsa.crt"]
    ssl_certificate_key = ["{{DIR}}/certs/both.test.ec.key", "{{DIR}}/certs/both.test.rsa.key"]
    ssl_protocols = ["TLSv1.2"]
    ssl_ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
  }`))
	_ = certs
	s.write("a/who", "a\n")
	s.start()
	get := "GET /who HTTP/1.0\r\nHost: a.test\r\n\r\n"
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-servername", "a.test", "-tls1_3"}, []string{"New, TLSv1.3, Cipher is TLS_AES_", "subject=CN = a.test", "\na\n"}},
		{[]string{"-servername", "a.test", "-tls1_2"}, []string{"New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"}},
		{[]string{"-servername", "a.test", "-alpn", "http/1.1"}, []string{"ALPN protocol: http/1.1"}},
		// An RSA-only client gets the RSA certificate; TLS 1.2 only,
		// with the cipher list.
		{[]string{"-servername", "both.test", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"}, []string{"New, TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384", "a:PKEY: rsaEncryption"}},
		{[]string{"-servername", "both.test"}, []string{"New, TLSv1.2, Cipher is ECDHE-ECDSA-CHACHA20-POLY1305", "a:PKEY: id-ecPublicKey"}},
	} {
		out, _ := s.sClient(t, get, tt.args...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				time.Sleep(time.Second)
				elog, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
				t.Errorf("s_client %v: no %q in:\n%s\nerror log:\n%s", tt.args, w, out, grepLines(elog, "TLS"))
				break
			}
		}
	}
	// Refusals.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-servername", "a.test", "-alpn", "h2"}, "no application protocol"},
		{[]string{"-servername", "reject.test"}, "unrecognized name"},
		{[]string{"-servername", "both.test", "-tls1_3"}, "alert protocol version"},
	} {
		out, code := s.sClient(t, get, tt.args...)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("s_client %v: exit %d, want %q in:\n%s", tt.args, code, tt.want, out)
		}
	}
}

// TestTLSRenegotiation: a TLS 1.2 client that asks to renegotiate gets
// an alert and a closed connection; the server goes on serving.
func TestTLSRenegotiation(t *testing.T) {
	openssl := needTool(t, "openssl")
	s, _ := newTLSServer(t, tlsConfig("", ""))
	s.file("f", "hello\n")
	s.start()
	// "R" on a line of its own makes an interactive s_client (no
	// -ign_eof) renegotiate; stdin stays open meanwhile.
	cmd := exec.Command(openssl, "s_client", "-connect", s.addr, "-tls1_2", "-servername", "localhost")
	in, _ := cmd.StdinPipe()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "R\n")
	time.Sleep(time.Second)
	io.WriteString(in, "GET /f HTTP/1.0\r\n\r\n")
	time.Sleep(time.Second)
	in.Close()
	cmd.Wait()
	if o := out.String(); !strings.Contains(o, "RENEGOTIATING") || !strings.Contains(o, "alert unexpected message") || strings.Contains(o, "\nhello\n") {
		t.Errorf("renegotiation was not refused with an alert:\n%s", o)
	}
	if o, _ := s.sClient(t, "GET /f HTTP/1.0\r\n\r\n", "-tls1_2", "-servername", "localhost"); !strings.Contains(o, "\nhello\n") {
		t.Errorf("after a renegotiation attempt:\n%s", o)
	}
}

// TestTLSStapling: ssl_stapling_file's response reaches a client that
// asks for it.
func TestTLSStapling(t *testing.T) {
	needTool(t, "openssl")
	s, certs := newTLSServer(t, tlsConfig("", `ssl_stapling_file = "{{DIR}}/certs/ocsp.der"`))
	leaf := loadLeaf(t, certs.path("localhost.crt"))
	der, err := ocsp.CreateResponse(certs.ca.Cert, certs.ca.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: leaf.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
	}, certs.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	s.write("certs/ocsp.der", string(der))
	s.start()
	out, _ := s.sClient(t, "", "-servername", "localhost", "-status")
	if !strings.Contains(out, "OCSP Response Status: successful") || !strings.Contains(out, "Cert Status: good") {
		t.Errorf("no stapled response:\n%s", out)
	}
}

func loadLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, ".crt")+".key")
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}

// TestTLSResumption: a session resumes on another worker (keys shared
// through the master), after a reload, and after a binary upgrade, with
// openssl s_client -sess_out and -sess_in, for TLS 1.2 and 1.3.
func TestTLSResumption(t *testing.T) {
	needTool(t, "openssl")
	u := newUpgradeServer(t)
	certs := writeCerts(t, u.server)
	text, _ := os.ReadFile(u.conf())
	cfg := strings.Replace(string(text), `listen = ["127.0.0.1:`+strconv.Itoa(u.port)+`"]`,
		`listen = ["127.0.0.1:`+strconv.Itoa(u.port)+` ssl reuseport"]
    ssl_certificate = "`+certs.path("localhost.crt")+`"
    ssl_certificate_key = "`+certs.path("localhost.key")+`"`, 1)
	u.write("tern.hcl", cfg)
	u.start()
	u.waitWorkers(2, nil, 10*time.Second)
	sess := map[string]string{}
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		sess[v] = filepath.Join(u.dir, "session"+v)
		out, _ := u.sClient(t, "", "-servername", "localhost", v, "-sess_out", sess[v])
		if !strings.Contains(out, "New, ") {
			t.Fatalf("%s: first handshake:\n%s", v, out)
		}
	}
	resume := func(when string) {
		t.Helper()
		for _, v := range []string{"-tls1_2", "-tls1_3"} {
			for i := 0; i < 12; i++ {
				out, _ := u.sClient(t, "GET / HTTP/1.0\r\nUser-Agent: resume"+v+"\r\n\r\n", "-servername", "localhost", v, "-sess_in", sess[v])
				if !strings.Contains(out, "Reused, ") || !strings.Contains(out, "hello") {
					t.Fatalf("%s %s, try %d: not resumed:\n%s", when, v, i, out)
				}
			}
		}
	}
	resume("two workers")
	time.Sleep(500 * time.Millisecond) // the access log is written within a second
	pids := map[string]bool{}
	for _, l := range accessLines(t, u, "resume") {
		if m := regexp.MustCompile(`"pid":(\d+)`).FindStringSubmatch(l); m != nil {
			pids[m[1]] = true
		}
	}
	if len(pids) < 2 {
		t.Errorf("24 resumptions were all served by %v: reuseport should spread them", pids)
	}

	old := u.workers()
	u.signal(syscall.SIGHUP)
	u.waitWorkers(2, old, 10*time.Second)
	resume("after a reload")

	install(t, ternBin, u.bin)
	if code, out := u.upgrade(); code != 0 {
		t.Fatalf("tern -s upgrade exited %d:\n%s", code, out)
	}
	stopLater(t, u.pid(u.pidFile()))
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	resume("after a binary upgrade")
}

// TestTLSCertificateReload: new certificate files are served after a
// reload; a reload with a broken pair is refused and the current
// certificate keeps serving.
func TestTLSCertificateReload(t *testing.T) {
	s, certs := newTLSServer(t, tlsConfig("", ""))
	s.file("f", "hello\n")
	s.start()
	serial := func() string {
		t.Helper()
		c := s.dialTLS(certs.config("localhost"))
		defer c.c.Close()
		if r := c.do(req("GET", "/f")); r.status != 200 {
			t.Fatalf("%v", r)
		}
		return c.c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	next := certs.ca.Leaf(testcert.Options{}, "localhost", "127.0.0.1")
	s.write("certs/localhost.crt", string(next.CertPEM))
	s.write("certs/localhost.key", string(next.KeyPEM))
	old := s.workers()
	s.signal(syscall.SIGHUP)
	s.waitWorkers(1, old, 10*time.Second)
	waitFor(t, 10*time.Second, "the old worker to stop accepting", func() bool {
		w := s.workers()
		return len(w) == 1 && w[0] != old[0]
	})
	if got := serial(); got != next.Cert.SerialNumber.String() || got == first {
		t.Fatalf("after the reload: serial %s, want %s (was %s)", got, next.Cert.SerialNumber, first)
	}
	// A key of another certificate: the reload is refused.
	other := certs.ca.Leaf(testcert.Options{}, "localhost")
	s.write("certs/localhost.key", string(other.KeyPEM))
	old = s.workers()
	s.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the refused reload in the error log", func() bool {
		b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "error.log"))
		return strings.Contains(string(b), "reload failed") && strings.Contains(string(b), "does not go with")
	})
	if got := serial(); got != next.Cert.SerialNumber.String() {
		t.Fatalf("after a refused reload: serial %s, want %s", got, next.Cert.SerialNumber)
	}
	if w := s.workers(); len(w) != 1 || w[0] != old[0] {
		t.Fatalf("workers %v after a refused reload, want %v", w, old)
	}
}
