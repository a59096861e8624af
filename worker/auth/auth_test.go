package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// Hashes made by Apache's htpasswd 2.4 (-B -C 5, -m, -s) and OpenSSL's
// passwd (-apr1, -1), and the {SSHA} of "secret" with the salt "SALTY".
const (
	bcryptAlice = "$2y$05$KnETdNBoLvQthGGSmZGMYeyugbv.M4yV1I4Xrd8kq9aX0GTCy47J2" // "wonder land"
	apr1Bob     = "$apr1$dy9ghhny$256rZ7JZ0d8/URlitXeXe1"                        // "secret"
	shaCarol    = "{SHA}SAv9mAXCuLCIWvLrguJf85sCv4E="                            // "p@ss"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		hash, password string
		want           bool
	}{
		{bcryptAlice, "wonder land", true},
		{bcryptAlice, "wonder lane", false},
		{bcryptAlice, "", false},
		{"$2b$" + bcryptAlice[4:], "wonder land", true},
		{apr1Bob, "secret", true},
		{apr1Bob, "Secret", false},
		{"$apr1$Zq3bH1Ux$RhS8gsGFkDr.3MUPBY4p.1", "secret", true},
		{"$apr1$ab$S8K6Sgp3W8c9Jb6LxgywZ.", "", true},
		{"$1$saltsalt$9xy1btjgzLYfb7hivXtC//", "secret", true},
		{"$1$saltsalt$9xy1btjgzLYfb7hivXtC//", "secreT", false},
		// A truncated MD5 hash matches nothing.
		{"$apr1$dy9ghhny$256rZ7JZ0d8/URlitXeXe", "secret", false},
		{shaCarol, "p@ss", true},
		{shaCarol, "p@sS", false},
		{"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret", true},
		{"{SSHA}3kid4g1+f6MYfzcXg79hRsKYJc9TQUxUWQ==", "secret", true},
		{"{SSHA}3kid4g1+f6MYfzcXg79hRsKYJc9TQUxUWQ==", "secre", false},
		{"{SSHA}c2hvcnQ=", "x", false}, // under 20 bytes
		{"{SSHA}!!!", "x", false},
		{"{PLAIN}open sesame", "open sesame", true},
		{"{PLAIN}open sesame", "open sesame ", false},
		{"{PLAIN}", "", true},
		// SHA-crypt, from openssl passwd -5 and -6 and glibc's crypt(3):
		// the default 5000 rounds, custom rounds (kept in the hash), a
		// salt cut at 16 bytes, a password longer than the digest.
		{"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", true},
		{"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world?", false},
		{"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", true},
		{"$6$ab$1h5XbX0k.E/E7u1oXKhw/UjXxC5x9iTulpUx8nSowglJZnHEgJpTO4El2yPYGg5/n5UcfflvWgbabQYGH9Yzp.", "Hello world!", true},
		{"$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", "Hello world!", true},
		{"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.", "Hello world!", true},
		{"$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1", "a very much longer text to encrypt.  This one even stretches over morethan one line.", true},
		{"$6$s$loz7OxQpSQsuFOzTStxqfHQv7oth4lQ8HF4zbofhGVQyOh0gRs9x4re5pwjRVvjdV4bzWocz3vihMLgf047bV/", strings.Repeat("x", 70), true},
		{"$6$salt$abc", "x", false},
		{"$5$", "", false},
		{"$6$rounds=$x", "", false},
		// DES crypt is not supported: nothing matches.
		{"isgf5rkjvvpfQ", "crypt12", false},
		{"plain", "plain", false},
	}
	for i, tt := range tests {
		if got := Check(tt.hash, []byte(tt.password)); got != tt.want {
			t.Errorf("%d: Check(%q, %q) = %v, want %v", i, tt.hash, tt.password, got, tt.want)
		}
	}
}

func TestSchemes(t *testing.T) {
	tests := []struct {
		hash string
		want Scheme
		slow bool
	}{
		{bcryptAlice, SchemeBcrypt, true},
		{"$2a$10$x", SchemeBcrypt, true},
		{apr1Bob, SchemeMD5, true},
		{"$1$abc$def", SchemeMD5, true},
		{shaCarol, SchemeSHA, false},
		{"{SSHA}abc", SchemeSSHA, false},
		{"{PLAIN}x", SchemePlain, false},
		{"$5$abc$def", SchemeSHACrypt, true},
		{"$6$rounds=5000$abc$def", SchemeSHACrypt, true},
		{"isgf5rkjvvpfQ", SchemeUnknown, false},
		{"", SchemeUnknown, false},
	}
	for i, tt := range tests {
		if got := SchemeOf(tt.hash); got != tt.want || got.Slow() != tt.slow {
			t.Errorf("%d: SchemeOf(%q) = %v slow=%v, want %v slow=%v", i, tt.hash, got, got.Slow(), tt.want, tt.slow)
		}
	}
}

func TestParse(t *testing.T) {
	file := "# users\r\n" +
		"alice:" + bcryptAlice + "\n" +
		"\n" +
		"bob:" + apr1Bob + ":Bob Builder\r\n" +
		"\rcr:{PLAIN}skipped\n" +
		"carol:" + shaCarol + "\r\n" +
		"alice:{PLAIN}second alice is ignored\n" +
		"nocolon\n" +
		"eve:isgf5rkjvvpfQ\n" +
		":{PLAIN}empty user\n" +
		"last:{PLAIN}no newline"
	tb, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"alice": bcryptAlice,
		"bob":   apr1Bob,
		"carol": shaCarol,
		"eve":   "isgf5rkjvvpfQ",
		"":      "{PLAIN}empty user",
		"last":  "{PLAIN}no newline",
	}
	if tb.Len() != len(want) {
		t.Errorf("%d users, want %d", tb.Len(), len(want))
	}
	for user, hash := range want {
		if got, ok := tb.Lookup([]byte(user)); !ok || got != hash {
			t.Errorf("Lookup(%q) = %q, %v, want %q", user, got, ok, hash)
		}
	}
	for _, user := range []string{"cr", "\rcr", "nocolon", "Alice", "# users"} {
		if _, ok := tb.Lookup([]byte(user)); ok {
			t.Errorf("Lookup(%q) found a user", user)
		}
	}
	if len(tb.Unknown) != 1 || tb.Unknown[0] != "eve" {
		t.Errorf("Unknown = %q, want [eve]", tb.Unknown)
	}
	if _, err := Parse(make([]byte, MaxFileSize+1)); err != ErrTooLarge {
		t.Errorf("a huge file: %v, want ErrTooLarge", err)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb, _ := Parse([]byte("alice:{PLAIN}x\n"))
	user := []byte("alice")
	if n := testing.AllocsPerRun(100, func() { tb.Lookup(user) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		header     string
		user, pass string
		ok         bool
	}{
		{"Basic " + b64("alice:wonder land"), "alice", "wonder land", true},
		{"basic " + b64("alice:x"), "alice", "x", true},
		{"BASIC    " + b64("a:b:c"), "a", "b:c", true},
		{"Basic " + b64("alice:"), "alice", "", true},
		// Unpadded base64, and what follows "=" ignored, as nginx.
		{"Basic " + base64.RawStdEncoding.EncodeToString([]byte("ab:c")), "ab", "c", true},
		{"Basic " + b64("ab:c") + "garbage", "ab", "c", true},
		{"Basic " + b64(":nouser"), "", "", false},
		{"Basic " + b64("nocolon"), "", "", false},
		{"Basic !!!!", "", "", false},
		{"Basic a", "", "", false},
		{"Basic ", "", "", false},
		{"Basic", "", "", false},
		{"Bearer " + b64("a:b"), "", "", false},
		{"", "", "", false},
	}
	var buf []byte
	for i, tt := range tests {
		var user, pass []byte
		var ok bool
		user, pass, buf, ok = ParseBasic([]byte(tt.header), buf)
		if ok != tt.ok || string(user) != tt.user || string(pass) != tt.pass {
			t.Errorf("%d: ParseBasic(%q) = %q, %q, %v; want %q, %q, %v", i, tt.header, user, pass, ok, tt.user, tt.pass, tt.ok)
		}
		if len(buf) != 0 {
			t.Errorf("%d: the returned buffer is not empty", i)
		}
	}
	hdr := []byte("Basic " + b64("alice:wonder land"))
	buf = make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _, buf, _ = ParseBasic(hdr, buf) }); n != 0 {
		t.Errorf("ParseBasic allocates %v times with a buffer", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("alice:" + bcryptAlice + "\nbob:" + apr1Bob + ":x\r\n#c\n"))
	f.Add([]byte("\r\n:\n::\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := Parse(b)
		if err != nil {
			return
		}
		// Every user the file names on a line of its own is found.
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			user, _, ok := bytes.Cut(line, []byte{':'})
			if ok && len(line) > 0 && line[0] != '#' && line[0] != '\r' {
				if _, found := tb.Lookup(user); !found {
					t.Fatalf("user %q of line %q not found", user, line)
				}
			}
		}
	})
}

func FuzzParseBasic(f *testing.F) {
	f.Add([]byte("Basic YWxpY2U6d29uZGVyIGxhbmQ="))
	f.Add([]byte("basic ="))
	f.Fuzz(func(t *testing.T, v []byte) {
		user, pass, buf, ok := ParseBasic(v, nil)
		if !ok {
			return
		}
		if len(user) == 0 || bytes.IndexByte(user, ':') >= 0 {
			t.Fatalf("user %q", user)
		}
		// user:password is what was decoded, in the buffer returned.
		if cap(buf) < len(user)+1+len(pass) {
			t.Fatalf("buffer of %d for %d bytes", cap(buf), len(user)+1+len(pass))
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add("{SSHA}3kid4g1+f6MYfzcXg79hRsKYJc9TQUxUWQ==", []byte("secret"))
	f.Add("$apr1$$", []byte(""))
	f.Add("$1$", []byte("x"))
	f.Add("$6$rounds=1000$s$", []byte("x"))
	f.Add("$5$", []byte(""))
	f.Fuzz(func(t *testing.T, hash string, password []byte) {
		if SchemeOf(hash) == SchemeBcrypt {
			return // x/crypto's own fuzzing covers it; too slow here
		}
		if r, ok := strings.CutPrefix(hash[min(3, len(hash)):], "rounds="); ok && SchemeOf(hash) == SchemeSHACrypt && len(r) > 4 && r[4] != '$' {
			return // over 9999 rounds: correct, and too slow here
		}
		Check(hash, password) // must not panic
	})
}
