package conf

import (
	"fmt"
	"strings"
	"testing"
)

// serverWithLocations decodes one server with empty locations of labels.
func serverWithLocations(t *testing.T, labels []string) *Server {
	t.Helper()
	var b strings.Builder
	b.WriteString("http {\n  server {\n")
	for _, l := range labels {
		fmt.Fprintf(&b, "    location %s { }\n", hclQuote(l))
	}
	b.WriteString("  }\n}\n")
	return mustLoad(t, b.String()).HTTP.Servers[0]
}

func TestLocationSelection(t *testing.T) {
	tests := []struct {
		locs  []string
		cases [][2]string // path, the label of the expected location ("" = the server's own settings)
	}{
		// The example of nginx's documentation for location.
		{
			locs: []string{"= /", "/", "/documents/", "^~ /images/", `~* \.(gif|jpg|jpeg)$`},
			cases: [][2]string{
				{"/", "= /"},
				{"/index.html", "/"},
				{"/documents/document.html", "/documents/"},
				{"/images/1.gif", "^~ /images/"},
				{"/documents/1.jpg", `~* \.(gif|jpg|jpeg)$`},
				{"/documents/1.JPG", `~* \.(gif|jpg|jpeg)$`},
			},
		},
		// No location for the path: the server's own settings.
		{
			locs:  []string{"/a/", "= /b"},
			cases: [][2]string{{"/c", ""}, {"/b/", ""}, {"/a", ""}, {"/", ""}},
		},
		// Longest prefix wins, whatever the order.
		{
			locs: []string{"/a/", "/a/b/c/", "/a/b/"},
			cases: [][2]string{
				{"/a/x", "/a/"}, {"/a/b/x", "/a/b/"}, {"/a/b/c/x", "/a/b/c/"}, {"/a/b/c", "/a/b/"},
			},
		},
		// Regular expressions in configuration order: the first match wins.
		{
			locs:  []string{`~ \.js$`, `~ app\.js$`, `~* \.JS$`},
			cases: [][2]string{{"/app.js", `~ \.js$`}, {"/x.JS", `~* \.JS$`}, {"/x.css", ""}},
		},
		// Case: ~ is case-sensitive, ~* is not; prefixes are case-sensitive.
		{
			locs: []string{`~ \.png$`, `~* \.gif$`, "/Images/"},
			cases: [][2]string{
				{"/a.png", `~ \.png$`}, {"/a.PNG", ""}, {"/a.GiF", `~* \.gif$`},
				{"/Images/x", "/Images/"}, {"/images/x", ""},
			},
		},
		// A regex beats the longest plain prefix, even one equal to the path.
		{
			locs: []string{"/x.js", "/static/", `~ \.js$`},
			cases: [][2]string{
				{"/x.js", `~ \.js$`}, {"/static/a.js", `~ \.js$`}, {"/static/a.css", "/static/"},
			},
		},
		// ^~ stops the regex search only when it is the longest prefix.
		{
			locs: []string{"^~ /a/", "/a/b/", `~ \.js$`},
			cases: [][2]string{
				{"/a/x.js", "^~ /a/"}, {"/a/b/x.js", `~ \.js$`}, {"/a/b/x.css", "/a/b/"}, {"/b/x.js", `~ \.js$`},
			},
		},
		// A longer ^~ beats a shorter plain prefix and every regex.
		{
			locs:  []string{"/", `~ \.js$`, "^~ /static/"},
			cases: [][2]string{{"/static/a.js", "^~ /static/"}, {"/other/a.js", `~ \.js$`}, {"/other/a", "/"}},
		},
		// Exact beats everything, but only for the very path.
		{
			locs: []string{`~ \.js$`, "= /x.js", "^~ /", "=/exact"},
			cases: [][2]string{
				{"/x.js", "= /x.js"}, {"/y.js", "^~ /"}, {"/x.js/", "^~ /"}, {"/exact", "=/exact"},
			},
		},
		// Regex anchoring is the expression's own: unanchored matches anywhere.
		{
			locs:  []string{"~ ^/api/", "~ admin"},
			cases: [][2]string{{"/api/v1", "~ ^/api/"}, {"/x/api/", ""}, {"/x/admin/y", "~ admin"}},
		},
	}
	for i, tt := range tests {
		srv := serverWithLocations(t, tt.locs)
		for j, c := range tt.cases {
			got := srv.Location([]byte(c[0]))
			if got == nil {
				t.Errorf("%d.%d: Location(%q) = nil", i, j, c[0])
				continue
			}
			if got.Name != c[1] {
				t.Errorf("%d.%d: Location(%q) = %q, want %q", i, j, c[0], got.Name, c[1])
			}
			if c[1] == "" && got != srv.Root {
				t.Errorf("%d.%d: Location(%q) is not the server's Root", i, j, c[0])
			}
			if got.Server != srv {
				t.Errorf("%d.%d: Location(%q).Server is not its server", i, j, c[0])
			}
		}
	}
}

func TestParseLocationLabel(t *testing.T) {
	tests := []struct {
		label string
		mod   Modifier
		path  string
		err   string
	}{
		{label: "/", mod: ModPrefix, path: "/"},
		{label: "/images/", mod: ModPrefix, path: "/images/"},
		{label: "= /favicon.ico", mod: ModExact, path: "/favicon.ico"},
		{label: "=/favicon.ico", mod: ModExact, path: "/favicon.ico"},
		{label: "^~ /static/", mod: ModPrefixNoRegex, path: "/static/"},
		{label: "^~/static/", mod: ModPrefixNoRegex, path: "/static/"},
		{label: `~ \.(css|js)$`, mod: ModRegex, path: `\.(css|js)$`},
		{label: `~\.css$`, mod: ModRegex, path: `\.css$`},
		{label: `~* \.PNG$`, mod: ModRegexCaseless, path: `\.PNG$`},
		{label: `~*\.PNG$`, mod: ModRegexCaseless, path: `\.PNG$`},
		{label: "", err: "must start with /"},
		{label: "images/", err: "must start with /"},
		{label: "=", err: "must start with /"},
		{label: "^~", err: "must start with /"},
		{label: "~", err: "regular expression is missing"},
		{label: "~* ", err: "regular expression is missing"},
		{label: "@fallback", err: "named locations"},
	}
	for i, tt := range tests {
		mod, path, err := parseLocationLabel(tt.label)
		switch {
		case tt.err == "" && (err != nil || mod != tt.mod || path != tt.path):
			t.Errorf("%d: parseLocationLabel(%q) = %v, %q, %v; want %v, %q", i, tt.label, mod, path, err, tt.mod, tt.path)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%d: parseLocationLabel(%q) error = %v, want %q", i, tt.label, err, tt.err)
		}
	}
}
