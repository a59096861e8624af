//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tern/conf"
)

func TestProcNetAddr(t *testing.T) {
	le := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	if !le {
		t.Skip("expectations written for a little-endian host")
	}
	cases := []struct{ in, want string }{
		{"127.0.0.1:8080", "0100007F:1F90"},
		{"[::ffff:127.0.0.1]:80", "0100007F:0050"},
		{"[::1]:8080", "00000000000000000000000001000000:1F90"},
		{"[2001:db8::2]:443", "B80D0120000000000000000002000000:01BB"},
	}
	for i, c := range cases {
		if got := procNetAddr(netip.MustParseAddrPort(c.in)); got != c.want {
			t.Errorf("%d: %s → %s, want %s", i, c.in, got, c.want)
		}
	}
}

// TestSocketHolder: a connection waiting in the listen queue has no
// inode yet; once accepted, the accepting process is found holding it.
func TestSocketHolder(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("%s: %v", network, err)
		}
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		client := c.LocalAddr().(*net.TCPAddr).AddrPort()
		if ino, err := socketInode(server, client); err != nil || ino != 0 {
			t.Errorf("%s: queued connection: inode %d, %v", network, ino, err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		ino, err := socketInode(server, client)
		if err != nil || ino == 0 {
			t.Fatalf("%s: accepted connection: inode %d, %v", network, ino, err)
		}
		if h := holder(ino, []int{1, os.Getpid()}); h != os.Getpid() {
			t.Errorf("%s: holder %d, want %d", network, h, os.Getpid())
		}
		sc.Close()
		c.Close()
		ln.Close()
	}
}

func TestReadStat(t *testing.T) {
	st, ok := readStat(os.Getpid())
	if !ok || st.ppid != os.Getppid() || st.start == 0 || !alive(os.Getpid()) {
		t.Fatalf("%+v %v", st, ok)
	}
	if _, ok := readStat(1 << 30); ok || alive(1<<30) {
		t.Fatal("a pid that cannot exist was found")
	}
}

func TestReadHead(t *testing.T) {
	cases := []struct {
		in     string
		status int
		server string
		err    bool
	}{
		{"HTTP/1.1 200 OK\r\nServer: tern/0.1.1\r\nContent-Length: 3\r\n\r\n", 200, "tern/0.1.1", false},
		{"HTTP/1.0 404 Not Found\r\n\r\n", 404, "", false},
		{"HTTP/1.1 444\r\n\r\n", 444, "", false},
		{"SSH-2.0-OpenSSH\r\n\r\n", 0, "", true},
		{"HTTP/1.1 2x0 OK\r\n\r\n", 0, "", true},
		{"", 0, "", true},
	}
	for i, c := range cases {
		status, server, err := readHead(bufio.NewReader(strings.NewReader(c.in)))
		if status != c.status || server != c.server || (err != nil) != c.err {
			t.Errorf("%d: %d %q %v", i, status, server, err)
		}
	}
}

func TestProbeAddress(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ listen, want string }{
		{`"8080"`, "127.0.0.1:8080"},
		{`"[::]:8080"`, "[::1]:8080"},
		{`"10.1.2.3:80"`, "10.1.2.3:80"},
		{`"0.0.0.0:81", "127.0.0.1:81"`, "127.0.0.1:81"},
	}
	for i, c := range cases {
		file := filepath.Join(dir, "tern.hcl")
		os.WriteFile(file, []byte("http {\n  server {\n    listen = ["+c.listen+"]\n  }\n}\n"), 0o644)
		cfg, err := conf.Load(file, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := probeAddress(cfg); got != c.want || err != nil {
			t.Errorf("%d: %s %v, want %s", i, got, err, c.want)
		}
	}
}

func TestUpgradeTimeout(t *testing.T) {
	t.Setenv(upgradeTimeoutEnv, "")
	if d, err := upgradeTimeout(0); d != defaultUpgradeTimeout || err != nil {
		t.Errorf("default: %v %v", d, err)
	}
	t.Setenv(upgradeTimeoutEnv, "30s")
	if d, err := upgradeTimeout(0); d != 30*time.Second || err != nil {
		t.Errorf("env: %v %v", d, err)
	}
	if d, err := upgradeTimeout(2 * time.Second); d != 2*time.Second || err != nil {
		t.Errorf("flag over env: %v %v", d, err)
	}
	for _, bad := range []string{"10", "-1s", "soon"} {
		t.Setenv(upgradeTimeoutEnv, bad)
		if _, err := upgradeTimeout(0); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestScanLog: the cause of a failed upgrade is the old master's line
// with an "upgrade" field, after the offset noted before USR2.
func TestScanLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	old := `{"level":"error","pid":10,"upgrade":"rolled back","code":1,"message":"earlier attempt"}` + "\n"
	lines := old +
		`{"level":"info","pid":10,"upgrade":"started","new_master":11,"message":"new binary process started"}` + "\n" +
		`{"level":"error","pid":12,"upgrade":"rolled back","code":1,"message":"another master"}` + "\n" +
		`not json` + "\n" +
		`{"level":"error","pid":10,"upgrade":"rolled back","new_master":11,"signal":9,"message":"new binary process exited, this master serves on"}` + "\n"
	os.WriteFile(path, []byte(lines), 0o644)
	u := &upgrader{cfg: &conf.Config{ErrorLog: path}, oldPID: 10, logOff: int64(len(old))}
	want := "new binary process exited, this master serves on, killed by SIGKILL"
	if got := u.scanLog([]string{"rolled back", "failed"}); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := u.scanLog([]string{"ignored"}); got != "" {
		t.Errorf("ignored: %q", got)
	}
}
