package t

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tern/internal/testcert"
)

// End-to-end tests of automatic certificates against Pebble, Let's
// Encrypt's ACME test server, run on loopback with pebble-challtestsrv
// as its DNS server (every name resolves to 127.0.0.1). .ci/run installs
// both with go install; without them the tests skip and say so.

// pebble is a running Pebble and its DNS server.
type pebble struct {
	dirURL string
	// caFile is the CA of Pebble's own HTTPS certificate: the issuer's
	// ssl_trusted_certificate.
	caFile string
	// roots are the roots Pebble issues under.
	roots *x509.CertPool
	log   *lockedBuffer
}

// findGoTool finds a binary that go install puts in GOPATH/bin.
func findGoTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	skipLoudly(t, name+" is not installed (go install github.com/letsencrypt/pebble/v2/cmd/"+name+"@v2.10.3): the ACME tests need it")
	return ""
}

// startPebble runs Pebble, whose validation authority checks http-01
// on httpPort and tls-alpn-01 on tlsPort of 127.0.0.1, at once unless
// env sets Pebble's variables otherwise.
func startPebble(t *testing.T, httpPort, tlsPort int, env ...string) *pebble {
	t.Helper()
	bin, dnsBin := findGoTool(t, "pebble"), findGoTool(t, "pebble-challtestsrv")
	dir := t.TempDir()
	ca := testcert.NewCA("pebble test CA")
	leaf := ca.Leaf(testcert.Options{}, "127.0.0.1", "localhost")
	p := &pebble{caFile: filepath.Join(dir, "ca.pem"), log: &lockedBuffer{}}
	for name, data := range map[string][]byte{"ca.pem": ca.CertPEM, "cert.pem": leaf.CertPEM, "key.pem": leaf.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listen, mgmt, dns, dnsMgmt := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(listen),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
	}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(bin string, env []string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, p.log, p.log
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	run(dnsBin, nil, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dnsserver", "127.0.0.1:"+strconv.Itoa(dns),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", "127.0.0.1:"+strconv.Itoa(dnsMgmt))
	if len(env) == 0 {
		env = []string{"PEBBLE_VA_NOSLEEP=1"}
	}
	run(bin, append(env, "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"),
		"-config", filepath.Join(dir, "pebble.json"), "-dnsserver", "127.0.0.1:"+strconv.Itoa(dns), "-strict=false")
	p.dirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				p.roots = x509.NewCertPool()
				if !p.roots.AppendCertsFromPEM(body) {
					t.Fatalf("pebble's root: %q", body)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer within 20s: %v\n%s", err, p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// acmeConfig is a configuration with an issuer for p, a plain server on
// PORT, and a TLS server on tlsPort whose certificate comes from p.
func acmeConfig(p *pebble, issuerExtra string, tlsPort int) string {
	return `
pid = "{{DIR}}/logs/tern.pid"
error_log = "{{DIR}}/logs/error.log"
error_log_level = "info"
worker_processes = 1
acme_issuer "pebble" {
  uri                     = "` + p.dirURL + `"
  contact                 = ["ops@tern.test"]
  state_path              = "{{DIR}}/acme"
  ssl_trusted_certificate = "` + p.caFile + `"
  accept_terms_of_service = true
` + issuerExtra + `
}
http {
  access_log = "{{DIR}}/logs/access.log"
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root   = "{{ROOT}}"
    return = "301 https://$host$request_uri"
  }
  server {
    listen           = ["127.0.0.1:` + strconv.Itoa(tlsPort) + ` ssl"]
    server_name      = ["a.tern.test", "b.tern.test"]
    root             = "{{ROOT}}"
    acme_certificate = "pebble"
  }
  server {
    listen = ["127.0.0.1:{{METRICS}}"]
    location "= /metrics" { metrics = true }
  }
}
`
}

// servedCert handshakes with addr for name and returns the leaf, which
// must chain to p's roots; nil when the handshake fails.
func servedCert(p *pebble, addr, name string) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, RootCAs: p.roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCert waits until addr serves a certificate for name other than
// not (nil: any), and returns it.
func waitCert(t *testing.T, p *pebble, s *server, addr, name string, not *x509.Certificate, d time.Duration) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		var c *x509.Certificate
		if c, err = servedCert(p, addr, name); err == nil && (not == nil || c.SerialNumber.Cmp(not.SerialNumber) != 0) {
			return c
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no new certificate for %s on %s within %v (last error %v)\ntern:\n%s\nerror log:\n%s\npebble:\n%s",
		name, addr, d, err, s.output, readFile(t, filepath.Join(s.dir, "logs/error.log")), p.log)
	return nil
}

// TestACMEHTTP01: the master orders a certificate for the server's
// names, Pebble validates http-01 on the plain listener (whose server
// redirects everything else to https), every worker serves the
// certificate without a reload; a restart serves the stored one at once,
// without an order.
func TestACMEHTTP01(t *testing.T) {
	tlsPort, metricsPort := freePort(t), freePort(t)
	s := newServer(t, "")
	p := startPebble(t, s.port, freePort(t))
	s.write("tern.hcl", strings.NewReplacer("{{METRICS}}", strconv.Itoa(metricsPort), "{{PORT}}", strconv.Itoa(s.port), "{{ROOT}}", s.root, "{{DIR}}", s.dir).
		Replace(acmeConfig(p, "", tlsPort)))
	s.file("index.html", "hello over https\n")
	s.start()
	tlsAddr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	cert := waitCert(t, p, s, tlsAddr, "a.tern.test", nil, 60*time.Second)
	if got := strings.Join(cert.DNSNames, ","); got != "a.tern.test,b.tern.test" && got != "b.tern.test,a.tern.test" {
		t.Errorf("names %q", got)
	}
	if _, err := servedCert(p, tlsAddr, "b.tern.test"); err != nil {
		t.Errorf("b.tern.test: %v", err)
	}
	// The page, over the new certificate.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.tern.test", RootCAs: p.roots}}, Timeout: 5 * time.Second}
	resp, err := hc.Get("https://" + tlsAddr + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello over https\n" {
		t.Errorf("GET: %d %q", resp.StatusCode, body)
	}
	// Pebble fetched the token from the plain listener, which answered
	// 200 before the server's return.
	waitFile(t, filepath.Join(s.dir, "logs/access.log"), 5*time.Second, "access log")
	if log := readFile(t, filepath.Join(s.dir, "logs/access.log")); !strings.Contains(log, "/.well-known/acme-challenge/") {
		t.Errorf("no challenge in the access log:\n%s", log)
	}
	// Another token is not pending: the server's return answers it.
	if r := s.get(req("GET", "/.well-known/acme-challenge/nothere")); r.status != 301 {
		t.Errorf("a token not pending: %d", r.status)
	}
	// The metrics: the certificate's expiry, one order that succeeded.
	metrics := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	for _, want := range []string{
		fmt.Sprintf("tern_tls_certificate_expiry_timestamp_seconds{server=\"a.tern.test\"} %d\n", cert.NotAfter.Unix()),
		"tern_acme_orders_total{result=\"ok\"} 1\n",
		"tern_acme_orders_total{result=\"failed\"} 0\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the metrics lack %q:\n%s", want, metrics)
		}
	}
	st, err := os.Stat(filepath.Join(s.dir, "acme"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state_path: %v %v", st.Mode(), err)
	}
	// A restart serves the stored certificate, without ordering.
	s.signal(syscall.SIGTERM)
	s.wait(10 * time.Second)
	os.Truncate(filepath.Join(s.dir, "logs/error.log"), 0)
	s.start()
	again := waitCert(t, p, s, tlsAddr, "a.tern.test", nil, 10*time.Second)
	if again.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("after a restart: serial %x, want the stored %x", again.SerialNumber, cert.SerialNumber)
	}
	// The error log is written in batches: wait for the line.
	logPath := filepath.Join(s.dir, "logs/error.log")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(readFile(t, logPath), "certificate in use"); {
		if time.Now().After(deadline) {
			t.Fatalf("the restart did not say it uses the stored certificate:\n%s", readFile(t, logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if log := readFile(t, logPath); strings.Contains(log, "ordering a certificate") {
		t.Errorf("the restart ordered again:\n%s", log)
	}
}

// TestACMETLSALPN01: tls-alpn-01 (RFC 8737), answered by the TLS
// listener itself: no plain listener takes part.
func TestACMETLSALPN01(t *testing.T) {
	s := newServer(t, "")
	tlsPort, metricsPort := freePort(t), freePort(t)
	p := startPebble(t, freePort(t), tlsPort)
	s.write("tern.hcl", strings.NewReplacer("{{METRICS}}", strconv.Itoa(metricsPort), "{{PORT}}", strconv.Itoa(s.port), "{{ROOT}}", s.root, "{{DIR}}", s.dir).
		Replace(acmeConfig(p, `  challenge = "tls-alpn-01"`, tlsPort)))
	s.start()
	cert := waitCert(t, p, s, "127.0.0.1:"+strconv.Itoa(tlsPort), "b.tern.test", nil, 60*time.Second)
	if len(cert.DNSNames) != 2 {
		t.Errorf("names %q", cert.DNSNames)
	}
	if log := readFile(t, filepath.Join(s.dir, "logs/access.log")); strings.Contains(log, "acme-challenge") {
		t.Errorf("tls-alpn-01 went through the plain listener:\n%s", log)
	}
}

// TestACMERenewUnderLoadAndRefusal: with renew_before longer than
// Pebble's 90 days, the master renews as often as its first back-off
// allows (TERN_ACME_RETRY); clients making HTTPS requests all along see
// no failure, and each new certificate reaches the worker without a
// reload. Then the challenges cannot succeed (the plain listener moves
// away from the port Pebble checks): the renewals fail, are logged with
// Pebble's problem document and retried, and the last certificate keeps
// serving.
func TestACMERenewUnderLoadAndRefusal(t *testing.T) {
	t.Setenv("TERN_ACME_RETRY", "2s")
	tlsPort, metricsPort := freePort(t), freePort(t)
	s := newServer(t, "")
	p := startPebble(t, s.port, freePort(t))
	render := func(plainPort int) {
		s.write("tern.hcl", strings.NewReplacer("{{METRICS}}", strconv.Itoa(metricsPort), "{{PORT}}", strconv.Itoa(plainPort), "{{ROOT}}", s.root, "{{DIR}}", s.dir).
			Replace(acmeConfig(p, `  renew_before = "2200h"`, tlsPort)))
	}
	render(s.port)
	s.file("index.html", "ok\n")
	s.start()
	tlsAddr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	first := waitCert(t, p, s, tlsAddr, "a.tern.test", nil, 60*time.Second)

	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.tern.test", RootCAs: p.roots}}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%8 == 0 {
					tr.CloseIdleConnections() // new handshakes too
				}
				resp, err := hc.Get("https://" + tlsAddr + "/index.html")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(body) != "ok\n" {
						err = fmt.Errorf("%d %q", resp.StatusCode, body)
					}
				}
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				} else {
					ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	second := waitCert(t, p, s, tlsAddr, "a.tern.test", first, 60*time.Second)
	third := waitCert(t, p, s, tlsAddr, "a.tern.test", second, 60*time.Second)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("during renewals: %d requests failed (last: %v), %d succeeded", failed.Load(), lastErr.Load(), ok.Load())
	}
	t.Logf("renewals: serials %x, %x, %x; %d requests, none failed", first.SerialNumber, second.SerialNumber, third.SerialNumber, ok.Load())

	// Pebble can no longer validate: the plain listener leaves its port.
	render(freePort(t))
	s.signal(syscall.SIGHUP)
	logPath := filepath.Join(s.dir, "logs/error.log")
	deadline := time.Now().Add(60 * time.Second)
	for {
		log := readFile(t, logPath)
		if strings.Count(log, "ordering the certificate failed") >= 2 {
			if !strings.Contains(log, "urn:ietf:params:acme:error:") || !strings.Contains(log, "retry_in") {
				t.Errorf("the failure lacks the problem document or the retry:\n%s", log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two failed renewals within 60s:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)); !strings.Contains(m, "tern_acme_orders_total{result=\"failed\"} ") ||
		strings.Contains(m, "tern_acme_orders_total{result=\"failed\"} 0\n") {
		t.Errorf("the metrics count no failed order:\n%s", m)
	}
	// The last certificate issued still serves.
	last, err := servedCert(p, tlsAddr, "a.tern.test")
	if err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	stored, _ := os.ReadFile(findStored(t, filepath.Join(s.dir, "acme")))
	if !strings.Contains(string(stored), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last.Raw}))) {
		t.Errorf("the certificate served (serial %x) is not the stored one", last.SerialNumber)
	}
}

// get fetches url over plain HTTP and returns the body of a 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// findStored is the one certificate.pem under state.
func findStored(t *testing.T, state string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(state, "*", "certificate.pem"))
	if len(m) != 1 {
		t.Fatalf("certificates stored: %q", m)
	}
	return m[0]
}

// TestACMEUpgradeDuringOrder: a binary upgrade while the first order is
// under way (Pebble waits up to 4 s before each validation). Both
// masters keep certificates, but the lock in state_path lets one order
// at a time: the new master waits, the old one abandons its order when
// it stops (or stores the certificate, if it was done first), then the
// new one orders (or serves what is stored). Pebble issues one
// certificate, and the new master's workers serve it.
func TestACMEUpgradeDuringOrder(t *testing.T) {
	tlsPort, metricsPort := freePort(t), freePort(t)
	s := newServer(t, "")
	p := startPebble(t, s.port, freePort(t), "PEBBLE_VA_SLEEPTIME=4")
	s.write("tern.hcl", strings.NewReplacer("{{METRICS}}", strconv.Itoa(metricsPort), "{{PORT}}", strconv.Itoa(s.port), "{{ROOT}}", s.root, "{{DIR}}", s.dir).
		Replace(acmeConfig(p, "", tlsPort)))
	u := &upgradeServer{server: s, bin: filepath.Join(s.dir, "sbin", "tern"), out: filepath.Join(s.dir, "output.log")}
	install(t, ternBin, u.bin)
	u.start()
	old := u.pid(u.pidFile())
	logPath := filepath.Join(s.dir, "logs/error.log")
	waitFor(t, 20*time.Second, "the first order", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "answering the challenge")
	})
	code, out := u.upgrade()
	if code != 0 {
		t.Fatalf("tern -s upgrade exited %d:\n%s", code, out)
	}
	newMaster := u.pid(u.pidFile())
	if newMaster == old || newMaster == 0 {
		t.Fatalf("pid file names %d (old master %d)", newMaster, old)
	}
	stopLater(t, newMaster)
	if c := u.wait(30 * time.Second); c != 0 {
		t.Fatalf("old master exited %d", c)
	}
	tlsAddr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	cert := waitCert(t, p, s, tlsAddr, "a.tern.test", nil, 60*time.Second)
	stored, _ := os.ReadFile(findStored(t, filepath.Join(s.dir, "acme")))
	if !strings.Contains(string(stored), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))) {
		t.Errorf("the certificate served (serial %x) is not the stored one", cert.SerialNumber)
	}
	b, _ := os.ReadFile(logPath)
	t.Logf("the masters' ACME lines:\n%s", grepLines(b, `"module":"acme"`))
	if n := strings.Count(p.log.String(), "Issued certificate serial"); n != 1 {
		t.Errorf("Pebble issued %d certificates, want 1:\n%s", n, readFile(t, logPath))
	}
}
