package worker

import (
	"net/netip"
	"testing"

	"tern/conf"
)

func TestForwardedAddr(t *testing.T) {
	rule := func(s string) conf.AccessRule {
		r, err := conf.ParseAccessRule(s, false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	from := []conf.AccessRule{rule("10.0.0.0/8"), rule("192.168.0.1")}
	proxy := netip.MustParseAddrPort("10.1.1.1:4000")
	tests := []struct {
		peer      netip.AddrPort
		lines     []string
		recursive bool
		want      string // "" when the connection's address stands
	}{
		// Not from a trusted proxy: its headers are not believed.
		{netip.MustParseAddrPort("203.0.113.9:1"), []string{"198.51.100.1"}, false, ""},
		{proxy, []string{"198.51.100.1"}, false, "198.51.100.1:0"},
		{proxy, []string{"198.51.100.1:8080"}, false, "198.51.100.1:8080"},
		{proxy, []string{"[2001:db8::1]:443"}, false, "[2001:db8::1]:443"},
		{proxy, []string{"2001:db8::1"}, false, "[2001:db8::1]:0"},
		// The last address, the one the trusted proxy saw.
		{proxy, []string{"198.51.100.1, 10.2.2.2"}, false, "10.2.2.2:0"},
		{proxy, []string{"198.51.100.1, 10.2.2.2, "}, false, "10.2.2.2:0"},
		// Recursive: past every trusted address.
		{proxy, []string{"198.51.100.1, 10.2.2.2"}, true, "198.51.100.1:0"},
		{proxy, []string{"198.51.100.1,192.168.0.1 ,10.2.2.2"}, true, "198.51.100.1:0"},
		{proxy, []string{"203.0.113.7, 198.51.100.1, 10.2.2.2"}, true, "198.51.100.1:0"},
		// Every address trusted: the first one.
		{proxy, []string{"10.3.3.3, 10.2.2.2"}, true, "10.3.3.3:0"},
		// Several header lines: the last line is the nearest proxy's.
		{proxy, []string{"198.51.100.1", "10.2.2.2"}, true, "198.51.100.1:0"},
		{proxy, []string{"198.51.100.1", "10.2.2.2"}, false, "10.2.2.2:0"},
		// Garbage: the address stands, or the last good step does.
		{proxy, []string{"unknown"}, false, ""},
		{proxy, []string{"junk, 10.2.2.2"}, true, "10.2.2.2:0"},
		{proxy, []string{""}, false, ""},
		{proxy, []string{"fe80::1%eth0"}, false, ""},
	}
	for i, tt := range tests {
		lines := make([][]byte, len(tt.lines))
		for j, l := range tt.lines {
			lines[j] = []byte(l)
		}
		got, ok := forwardedAddr(tt.peer, lines, from, tt.recursive)
		if (tt.want == "") == ok || ok && got.String() != tt.want {
			t.Errorf("%d: %v %q recursive=%v: %v %v, want %q", i, tt.peer, tt.lines, tt.recursive, got, ok, tt.want)
		}
	}
	lines := [][]byte{[]byte("198.51.100.1, 10.2.2.2")}
	if n := testing.AllocsPerRun(100, func() { forwardedAddr(proxy, lines, from, true) }); n != 0 {
		t.Errorf("forwardedAddr allocates %v times", n)
	}
}
