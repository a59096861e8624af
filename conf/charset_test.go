package conf

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestCharsetMap(t *testing.T) {
	c := mustLoad(t, `
http {
  charset_map "koi8-r" "windows-1251" {
    values = { "C1" = "E0", "c2" = "e1", "41" = "42" }
  }
  charset_map "koi8-r" "utf-8" {
    values = { "C1" = "D0B0", "9A" = "C2A0", "BF" = "E280A6" }
  }
  server {
    location "/w/" {
      source_charset = "koi8-r"
      charset        = "windows-1251"
    }
    location "/back/" {
      source_charset = "Windows-1251"
      charset        = "KOI8-R"
    }
    location "/u/" {
      source_charset = "koi8-r"
      charset        = "utf-8"
    }
    location "/fromu/" {
      source_charset = "utf-8"
      charset        = "koi8-r"
    }
    location "/same/" {
      source_charset = "utf-8"
      charset        = "UTF-8"
    }
    location "/plain/" {
      charset = "utf-8"
    }
  }
}`)
	srv := c.HTTP.Servers[0]
	w := findLocation(srv, "/w/").Recode
	if w == nil || w.Bytes == nil || !w.Length() {
		t.Fatalf("/w/: %+v", w)
	}
	for _, tt := range [][2]byte{{0xC1, 0xE0}, {0xC2, 0xE1}, {'A', 'B'}, {'z', 'z'}, {0xC3, '?'}, {0x80, '?'}} {
		if got := w.Bytes[tt[0]]; got != tt[1] {
			t.Errorf("koi8-r→windows-1251 %#x = %#x, want %#x", tt[0], got, tt[1])
		}
	}
	back := findLocation(srv, "/back/").Recode
	if back == nil || back.Bytes[0xE0] != 0xC1 || back.Bytes['B'] != 'A' || back.Bytes[0xE2] != '?' {
		t.Errorf("/back/: %+v", back)
	}
	u := findLocation(srv, "/u/").Recode
	if u == nil || u.ToUTF8 == nil || u.Length() || u.ToUTF8[0xC1] != "а" || u.ToUTF8[0xBF] != "…" || u.ToUTF8['x'] != "x" || u.ToUTF8[0xC2] != "?" {
		t.Errorf("/u/: %+v", u)
	}
	fu := findLocation(srv, "/fromu/").Recode
	if fu == nil || fu.FromUTF8 == nil || fu.FromUTF8['а'] != 0xC1 || fu.FromUTF8['\u00a0'] != 0x9A || len(fu.FromUTF8) != 3 {
		t.Errorf("/fromu/: %+v", fu)
	}
	if r := findLocation(srv, "/same/").Recode; r != nil {
		t.Errorf("/same/ recodes: %+v", r)
	}
	if r := findLocation(srv, "/plain/").Recode; r != nil {
		t.Errorf("/plain/ recodes: %+v", r)
	}
}

func TestCharsetMapErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`charset_map "a" "a" { values = {} }`, `between the same charsets "a" and "a"`},
		{`charset_map "utf-8" "a" { values = {} }`, "utf-8 must be the second charset"},
		{`charset_map "a" "b" { values = {} }
  charset_map "B" "A" { values = {} }`, `tern.hcl:3,3: Duplicate charset_map: a charset_map between "B" and "A" is already given`},
		{`charset_map "a" "b" { values = { "100" = "41" } }`, `"100" is not a byte in hex`},
		{`charset_map "a" "b" { values = { "C0" = "G1" } }`, `"G1" is not a byte in hex`},
		{`charset_map "a" "utf-8" { values = { "C0" = "F09F9880" } }`, `"F09F9880" is not a character's UTF-8 encoding`},
		{`charset_map "a" "utf-8" { values = { "C0" = "D1" } }`, `"D1" is not a character's UTF-8`},
		{`charset_map "a" "utf-8" { values = { "C0" = "D18E41" } }`, `"D18E41" is not a character's UTF-8`},
		{`charset_map "a b" "c" { values = {} }`, "must be charset names"},
		{`server {
    location "/" {
      source_charset = "koi8-r"
      charset        = "utf-8"
    }
  }`, `tern.hcl:4,7: No charset_map: no charset_map between "koi8-r" (source_charset) and "utf-8" (charset)`},
		{`source_charset = "a b"`, `"a b" is not a charset name`},
	}
	for _, tt := range tests {
		_, err := loadText("http {\n  " + tt.src + "\n}\n")
		if err == nil || !strings.Contains(errText(err), tt.want) {
			t.Errorf("%s\nerror %v, want %q", tt.src, err, tt.want)
		}
	}
}

func TestCharsetMapRoundTrip(t *testing.T) {
	c := mustLoad(t, `
http {
  source_charset = "koi8-r"
  override_charset = true
  charset_map "koi8-r" "utf-8" {
    values = { "C1" = "D0B0", "9A" = "C2A0" }
  }
  server {
    charset = "utf-8"
  }
}`)
	var first bytes.Buffer
	if err := c.WriteHCL(&first); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), `charset_map "koi8-r" "utf-8" {`) || !strings.Contains(first.String(), `"9A" = "C2A0"`) {
		t.Errorf("WriteHCL left the charset_map out:\n%s", first.String())
	}
	back, err := LoadSnapshot(testFile, c.Prefix, map[string][]byte{testFile: first.Bytes()})
	if err != nil {
		t.Fatalf("decoding the output of WriteHCL:\n%s\n%s", errText(err), first.String())
	}
	if got, want := withoutSources(back), withoutSources(c); !reflect.DeepEqual(got, want) {
		t.Errorf("the round trip changed the configuration:\n%s", first.String())
	}
	if r := back.HTTP.Servers[0].Root.Recode; r == nil || r.ToUTF8[0xC1] != "а" {
		t.Errorf("recode after the round trip: %+v", r)
	}
}
