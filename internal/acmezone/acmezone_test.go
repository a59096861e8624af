package acmezone

import (
	"reflect"
	"testing"
)

func TestCertificatesRoundTrip(t *testing.T) {
	for _, certs := range [][]Certificate{
		nil,
		{{ID: "le a.test", Chain: [][]byte{[]byte("leaf"), []byte("intermediate")}, Key: []byte("key")}},
		{{ID: "x", Chain: [][]byte{{}}, Key: []byte{}}, {ID: ALPNID("b.test"), Chain: [][]byte{make([]byte, 300)}, Key: []byte{1}}},
	} {
		b := EncodeCertificates(certs)
		got, err := DecodeCertificates(b)
		if err != nil {
			t.Fatalf("%v: %v", certs, err)
		}
		if len(got) != len(certs) || (len(certs) > 0 && !reflect.DeepEqual(got, certs)) {
			t.Errorf("round trip:\n got %q\nwant %q", got, certs)
		}
	}
}

func TestDecodeCertificatesBad(t *testing.T) {
	good := EncodeCertificates([]Certificate{{ID: "a", Chain: [][]byte{[]byte("c")}, Key: []byte("k")}})
	for i := range good {
		if _, err := DecodeCertificates(good[:i]); err == nil && i > 0 {
			t.Errorf("%d of %d bytes decoded", i, len(good))
		}
	}
	if _, err := DecodeCertificates(append(good, 0)); err == nil {
		t.Error("a trailing byte decoded")
	}
	if _, err := DecodeCertificates([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("a huge count decoded")
	}
}

func TestFindChallenge(t *testing.T) {
	b := EncodeChallenges([]Challenge{{"tok1", "tok1.thumb"}, {"tok2", "tok2.thumb"}})
	for _, c := range []struct{ token, want string }{
		{"tok1", "tok1.thumb"}, {"tok2", "tok2.thumb"}, {"tok3", ""}, {"tok", ""}, {"", ""},
	} {
		if got := string(FindChallenge(b, []byte(c.token))); got != c.want {
			t.Errorf("%q: %q, want %q", c.token, got, c.want)
		}
	}
	if FindChallenge(b[:len(b)-3], []byte("tok2")) != nil {
		t.Error("a truncated answer was found")
	}
	if FindChallenge(nil, []byte("tok1")) != nil {
		t.Error("found in nothing")
	}
	if n := testing.AllocsPerRun(100, func() { FindChallenge(b, []byte("tok2")) }); n != 0 {
		t.Errorf("FindChallenge allocates %v times", n)
	}
}

// FuzzDecode: no input makes the decoders panic or read out of bounds,
// and what decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(EncodeCertificates([]Certificate{{ID: "a b", Chain: [][]byte{[]byte("leaf")}, Key: []byte("key")}}))
	f.Add(EncodeChallenges([]Challenge{{"t", "t.k"}}))
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		FindChallenge(b, []byte("t"))
		certs, err := DecodeCertificates(b)
		if err != nil {
			return
		}
		if again := EncodeCertificates(certs); string(again) != string(b) && len(certs) > 0 {
			// Uvarints have one shortest form; a longer one decodes
			// too, so only the values must survive.
			back, err := DecodeCertificates(again)
			if err != nil || !reflect.DeepEqual(back, certs) {
				t.Fatalf("re-encoding changed %q into %q", certs, back)
			}
		}
	})
}
