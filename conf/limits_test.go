package conf

import (
	"reflect"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"10r/s", 10000, false},
		{"1r/s", 1000, false},
		{"30r/m", 500, false},
		{"1r/m", 16, false}, // nginx's integer arithmetic: 1000/60
		{"0r/s", 0, true},
		{"10", 0, true},
		{"10r/h", 0, true},
		{"-1r/s", 0, true},
		{"r/s", 0, true},
		{"1000001r/s", 0, true},
	}
	for i, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%d: ParseRate(%q) = %d, %v; want %d, error %v", i, tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, r := range []string{"10r/s", "30r/m", "1r/s"} {
		n, _ := ParseRate(r)
		if FormatRate(n) != r {
			t.Errorf("FormatRate(ParseRate(%q)) = %q", r, FormatRate(n))
		}
	}
}

func TestLimits(t *testing.T) {
	c := mustLoad(t, `
http {
  limit_req_zone "one" {
    key  = "$remote_addr"
    size = "10m"
    rate = "10r/s"
  }
  limit_req_zone "slow" {
    key  = "$host$uri"
    size = "1m"
    rate = "30r/m"
  }
  limit_conn_zone "perip" {
    key  = "$remote_addr"
    size = "10m"
  }
  limit_req  = { zone = "one", burst = 5 }
  limit_conn = { perip = 10 }
  limit_req_status = 429

  server {
    location "/inherit/" { }
    location "/own/" {
      limit_req  = [{ zone = "one", burst = 20, nodelay = true }, { zone = "slow", delay = 2, burst = 4 }]
      limit_conn = { perip = 1 }
      limit_req_log_level  = "warn"
      limit_conn_log_level = "info"
      limit_conn_status    = 429
      limit_req_dry_run    = true
      limit_conn_dry_run   = true
    }
    location "/off/" {
      limit_req  = []
      limit_conn = {}
    }
  }
}
`)
	h := c.HTTP
	if len(h.Zones) != 3 {
		t.Fatalf("%d zones", len(h.Zones))
	}
	one, slow, perip := h.Zones[0], h.Zones[1], h.Zones[2]
	if one.Name != "one" || one.Kind != ZoneReq || one.Size != 10<<20 || one.Rate != 10000 || one.Key.String() != "$remote_addr" {
		t.Errorf("zone one: %+v", one)
	}
	if slow.Rate != 500 || perip.Kind != ZoneConn || perip.Rate != 0 {
		t.Errorf("zones slow %+v, perip %+v", slow, perip)
	}
	srv := h.Servers[0]
	inherit, own, off := findLocation(srv, "/inherit/"), findLocation(srv, "/own/"), findLocation(srv, "/off/")
	tests := []struct {
		what      string
		got, want any
	}{
		{"inherit limit_req", inherit.LimitReq, []LimitReq{{Zone: one, Burst: 5000, Delay: 0}}},
		{"inherit limit_conn", inherit.LimitConn, []LimitConn{{Zone: perip, Conn: 10}}},
		{"inherit status", inherit.LimitReqStatus, 429},
		{"inherit conn status", inherit.LimitConnStatus, 503},
		{"inherit log level", inherit.LimitReqLogLevel, LogError},
		{"inherit guard", inherit.Guard, true},
		{"own limit_req", own.LimitReq, []LimitReq{{Zone: one, Burst: 20000, Delay: NoDelay}, {Zone: slow, Burst: 4000, Delay: 2000}}},
		{"own limit_conn", own.LimitConn, []LimitConn{{Zone: perip, Conn: 1}}},
		{"own log levels", []any{own.LimitReqLogLevel, own.LimitConnLogLevel}, []any{LogWarn, LogInfo}},
		{"own conn status", own.LimitConnStatus, 429},
		{"own dry run", own.LimitReqDryRun && own.LimitConnDryRun, true},
		{"off limit_req", off.LimitReq, []LimitReq(nil)},
		{"off limit_conn", off.LimitConn, []LimitConn(nil)},
		{"off guard", off.Guard, false},
	}
	for i, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%d: %s = %+v, want %+v", i, tt.what, tt.got, tt.want)
		}
	}
	if one.Identity() == slow.Identity() || one.Identity() != h.Zones[0].Identity() {
		t.Error("zone identities")
	}
}

func TestLimitDiagnostics(t *testing.T) {
	zones := `
  limit_req_zone "one" {
    key  = "$remote_addr"
    size = "1m"
    rate = "1r/s"
  }
  limit_conn_zone "c" {
    key  = "$remote_addr"
    size = "1m"
  }
`
	tests := []struct {
		body string
		want []string
	}{
		{`limit_req = { zone = "none" }`, []string{"Invalid limit_req"}},
		{`limit_req = { zone = "c" }`, []string{"Invalid limit_req"}},
		{`limit_conn = { one = 1 }`, []string{"Invalid limit_conn"}},
		{`limit_conn = { c = 0 }`, []string{"Invalid limit_conn"}},
		{`limit_req = { burst = 1 }`, []string{"Invalid limit_req"}},
		{`limit_req = { zone = "one", nodelay = true, delay = 1 }`, []string{"Invalid limit_req"}},
		{`limit_req = { zone = "one", wait = 1 }`, []string{"Invalid limit_req"}},
		{`limit_req = { zone = "one", burst = -1 }`, []string{"Invalid limit_req.burst"}},
		{`limit_req_status = 200`, []string{"Invalid limit_req_status"}},
		{`limit_conn_log_level = "crit"`, []string{"Invalid limit_conn_log_level"}},
		{"limit_req_zone \"one\" {\n    key = \"$uri\"\n    size = \"1m\"\n    rate = \"1r/s\"\n  }", []string{"Duplicate limit_req_zone"}},
		{"limit_req_zone \"x\" {\n    key = \"$uri\"\n    size = \"1m\"\n  }", []string{"Invalid limit_req_zone"}},
		{"limit_conn_zone \"x\" {\n    key = \"$uri\"\n    size = \"1m\"\n    rate = \"1r/s\"\n  }", []string{"rate is not allowed here"}},
		{"limit_req_zone \"x\" {\n    key = \"static\"\n    size = \"1m\"\n    rate = \"1r/s\"\n  }", []string{"Invalid key"}},
		{"limit_req_zone \"x\" {\n    key = \"$uri\"\n    size = \"1k\"\n    rate = \"1r/s\"\n  }", []string{"Invalid size"}},
		{"limit_req_zone \"x\" {\n    key = \"$uri\"\n    size = \"1m\"\n    rate = \"1/s\"\n  }", []string{"Invalid rate"}},
	}
	for i, tt := range tests {
		_, err := loadText("http {" + zones + "  " + tt.body + "\n}\n")
		if err == nil {
			t.Errorf("%d: %s: no error", i, tt.body)
			continue
		}
		var got []string
		for _, h := range headlines(t, err) {
			_, s, _ := cutPos(h)
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: %s: %q, want %q\n%s", i, tt.body, got, tt.want, errText(err))
		}
	}
	// A server may not define zones.
	if _, err := loadText("http {\n  server {\n    limit_conn_zone \"z\" {\n    }\n  }\n}\n"); err == nil {
		t.Error("a zone in a server block")
	}
}

// cutPos splits "LINE,COL: Summary".
func cutPos(h string) (string, string, bool) {
	for i := 0; i+1 < len(h); i++ {
		if h[i] == ':' && h[i+1] == ' ' {
			return h[:i], h[i+2:], true
		}
	}
	return "", h, false
}
