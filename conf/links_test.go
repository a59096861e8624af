package conf

import (
	"reflect"
	"testing"
)

func TestReferers(t *testing.T) {
	c := mustLoad(t, `
http {
  server {
    server_name = ["example.com", "*.example.org", "~^w\\d+\\.example\\.net$"]
    valid_referers = ["none", "blocked", "server_names", "*.example.com/galleries/", "trusted.test", "~\\.google\\."]
    location "/strict/" {
      valid_referers = ["trusted.test", "www.partner.*"]
    }
    location "/off/" {
      valid_referers = []
    }
  }
}
`)
	srv := c.HTTP.Servers[0]
	tests := []struct {
		loc     string
		referer string // "<none>" for no header
		valid   bool
	}{
		{"/", "<none>", true},
		{"/", "", true},                          // blocked: not a URL
		{"/", "XXXXXXXXXXXXXXX", true},           // blocked
		{"/", "http://example.com/x", true},      // server_names
		{"/", "https://EXAMPLE.com:8080/", true}, // host case and port
		{"/", "http://a.example.org/", true},     // server_names wildcard
		{"/", "http://w12.example.net/", true},   // server_names regex
		{"/", "http://w.example.net/", false},
		{"/", "http://img.example.com/galleries/1.png", true},
		{"/", "http://img.example.com/other/1.png", false},
		{"/", "http://img.example.com", false},
		{"/", "http://trusted.test/anything", true},
		{"/", "http://www.google.de/search?q=x", true},
		{"/", "http://evil.test/", false},
		{"/strict/", "<none>", false},
		{"/strict/", "xxxxxxxxxxxxxxxxxxx", false},
		{"/strict/", "http://trusted.test/", true},
		{"/strict/", "http://www.partner.co.uk/", true},
		{"/strict/", "http://example.com/", false},
		{"/off/", "http://evil.test/", true},
	}
	for i, tt := range tests {
		l := srv.Location([]byte(tt.loc))
		var ref []byte
		if tt.referer != "<none>" {
			ref = []byte(tt.referer)
		}
		if got := l.ValidReferers.Valid(ref); got != tt.valid {
			t.Errorf("%d: %s with Referer %q: valid %v, want %v", i, tt.loc, tt.referer, got, tt.valid)
		}
	}
	ref := []byte("http://img.example.com/galleries/1.png")
	l := srv.Root
	if n := testing.AllocsPerRun(100, func() { l.ValidReferers.Valid(ref) }); n != 0 {
		t.Errorf("Valid allocates %v times", n)
	}
}

func TestSecureLinkAndRealIP(t *testing.T) {
	c := mustLoad(t, `
http {
  secure_link     = "$arg_md5,$arg_expires"
  secure_link_md5 = "$secure_link_expires$uri secret"
  set_real_ip_from = ["10.0.0.0/8", "unix:"]
  real_ip_header   = "X-Forwarded-For"
  real_ip_recursive = true
  server {
    location "/old/" {
      secure_link_secret = "word"
    }
    location "/hdr/" {
      real_ip_header = "CF-Connecting-IP"
      set_real_ip_from = []
    }
    location "/pp/" {
      real_ip_header = "proxy_protocol"
    }
  }
}
`)
	srv := c.HTTP.Servers[0]
	old, hdr, pp := findLocation(srv, "/old/"), findLocation(srv, "/hdr/"), findLocation(srv, "/pp/")
	tests := []struct {
		what      string
		got, want any
	}{
		{"secure_link", srv.Root.SecureLink.String(), "$arg_md5,$arg_expires"},
		{"secret drops the inherited pair", []any{old.SecureLinkSecret, old.SecureLink.IsZero(), old.SecureLinkMD5.IsZero()}, []any{"word", true, true}},
		{"real_ip_from", len(srv.Root.RealIPFrom), 2},
		{"real_ip_header", srv.Root.RealIPHeader, RealIPHeader{Kind: RealIPXForwardedFor, Name: "x_forwarded_for"}},
		{"recursive", srv.Root.RealIPRecursive, true},
		{"other header", hdr.RealIPHeader, RealIPHeader{Kind: RealIPOther, Name: "cf_connecting_ip"}},
		{"cleared", len(hdr.RealIPFrom), 0},
		{"proxy_protocol", pp.RealIPHeader.Kind, RealIPProxyProtocol},
		{"guard", []bool{srv.Root.Guard, hdr.Guard}, []bool{true, false}},
	}
	for i, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%d: %s = %#v, want %#v", i, tt.what, tt.got, tt.want)
		}
	}
}

func TestLinkDiagnostics(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"http {\n  secure_link = \"$arg_md5\"\n  server {\n  }\n}", []string{"2,3: Invalid secure_link"}},
		{"http {\n  server {\n    location \"/a/\" {\n      secure_link_md5 = \"$uri\"\n    }\n  }\n}", []string{"4,7: Invalid secure_link"}},
		{"http {\n  server {\n    location \"/a/\" {\n      secure_link = \"$arg_md5\"\n      secure_link_md5 = \"$uri\"\n      secure_link_secret = \"x\"\n    }\n  }\n}",
			[]string{"6,7: Invalid secure_link_secret"}},
		{"http {\n  valid_referers = [\"\"]\n}", []string{"2,21: Invalid valid_referers"}},
		{"http {\n  valid_referers = [\"a*b.com\"]\n}", []string{"2,21: Invalid valid_referers"}},
		{"http {\n  valid_referers = [\"~(?<=x)y\"]\n}", []string{"2,23: Invalid valid_referers"}},
		{"http {\n  set_real_ip_from = \"all\"\n}", []string{"2,22: Invalid set_real_ip_from"}},
		{"http {\n  set_real_ip_from = \"proxy.example\"\n}", []string{"2,22: Invalid set_real_ip_from"}},
		{"http {\n  real_ip_header = \"X Bad\"\n}", []string{"2,20: Invalid real_ip_header"}},
	}
	for i, tt := range tests {
		_, err := loadText(tt.src)
		if err == nil {
			t.Errorf("%d: no error for\n%s", i, tt.src)
			continue
		}
		if got := headlines(t, err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: %q\ngot  %q\nwant %q\n%s", i, tt.src, got, tt.want, errText(err))
		}
	}
}
