// Package docs_test checks the documentation: every relative link and
// anchor resolves, and every HCL example is a configuration tern accepts.
package docs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ocsp"

	"tern/conf"
	"tern/internal/testcert"
)

// pages returns every Markdown file of docs/ and the README, by path
// relative to the repository root.
func pages(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("*.md")
	more, _ := filepath.Glob("directives/*.md")
	out := map[string]string{}
	for _, f := range append(append(files, more...), "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	fenceRE   = regexp.MustCompile("(?ms)^```[^\n]*\n.*?^```")
)

// anchor is GitHub's anchor for a heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(text string) map[string]bool {
	a := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
		a[anchor(m[1])] = true
	}
	return a
}

// TestLinks checks that every relative link names a file that exists
// and, for a Markdown file, a heading it has.
func TestLinks(t *testing.T) {
	all := pages(t)
	for page, text := range all {
		for _, m := range linkRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %s: %v", page, target, err)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			body, ok := all[filepath.Clean(path)]
			if !ok {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s: link %s: %v", page, target, err)
					continue
				}
				body = string(b)
			}
			if !anchors(body)[frag] {
				t.Errorf("%s: link %s: %s has no heading #%s", page, target, path, frag)
			}
		}
	}
}

var (
	hclRE = regexp.MustCompile("(?ms)^```hcl\n(.*?)^```")
	// outerFenceRE matches a four-backtick fence, which shows Markdown
	// source (a template) rather than an example.
	outerFenceRE = regexp.MustCompile("(?ms)^````[^\n]*\n.*?^````")
)

// wrappers place an example that is a fragment where it belongs.
var wrappers = []string{
	"%s",
	"http {\n%s\n}\n",
	"http {\n  server {\n%s\n  }\n}\n",
	"http {\n  server {\n    location \"/\" {\n%s\n    }\n  }\n}\n",
}

// TestExamples checks that every HCL example in the documentation is
// accepted by conf, as a whole file or as the inside of an http, server
// or location block.
func TestExamples(t *testing.T) {
	n := 0
	for page, text := range pages(t) {
		for _, m := range hclRE.FindAllStringSubmatch(outerFenceRE.ReplaceAllString(text, ""), -1) {
			n++
			var errs []string
			for _, w := range wrappers {
				err := loadExample(fmt.Sprintf(w, m[1]))
				if err == nil {
					errs = nil
					break
				}
				errs = append(errs, err.Error())
			}
			if errs != nil {
				t.Errorf("%s: an example is not a valid configuration:\n%s\n%s", page, m[1], strings.Join(errs, "\n--\n"))
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d HCL examples found: is the pattern right?", n)
	}
}

// loadExample loads src as /etc/tern/tern.hcl; a file it includes is
// taken to be empty.
func loadExample(src string) error {
	const file = "/etc/tern/tern.hcl"
	sources := map[string][]byte{file: []byte(src)}
	for {
		_, err := conf.LoadSnapshot(file, "/etc/tern", sources)
		var ce *conf.Error
		if !errors.As(err, &ce) {
			return err
		}
		added := false
		for _, d := range ce.Diags {
			path, _, ok := strings.Cut(d.Detail, ": ")
			if !ok || sources[path] != nil {
				continue
			}
			switch d.Summary {
			case "Cannot read configuration file":
				sources[path], added = []byte{}, true
			case "Cannot read file":
				// A file a TLS directive names: made up to fit.
				sources[path], added = exampleFile(src, d.Subject, path), true
			}
		}
		if !added {
			return err
		}
	}
}

// The certificate, key and OCSP response of the examples' TLS servers:
// the same for every file name.
var (
	exampleCA   = testcert.NewCA("docs example CA")
	examplePair = exampleCA.Leaf(testcert.Options{}, "example.com")
)

// exampleFile makes the contents of a file a TLS directive of an example
// names: a certificate chain, a key, CA certificates, a ticket key or an
// OCSP response, as the directive at rng wants.
func exampleFile(src string, rng *hcl.Range, path string) []byte {
	directive := ""
	if rng != nil && rng.Start.Byte < len(src) {
		directive, _, _ = strings.Cut(src[rng.Start.Byte:], " ")
	}
	switch {
	case directive == "ssl_session_ticket_key":
		return bytes.Repeat([]byte{7}, 80)
	case directive == "ssl_stapling_file":
		der, err := ocsp.CreateResponse(exampleCA.Cert, exampleCA.Cert, ocsp.Response{
			Status: ocsp.Good, SerialNumber: examplePair.Cert.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		}, exampleCA.Key)
		if err != nil {
			panic(err)
		}
		return der
	case directive == "ssl_certificate_key":
		return examplePair.KeyPEM
	case directive == "ssl_client_certificate":
		return exampleCA.CertPEM
	}
	return append(bytes.Clone(examplePair.CertPEM), exampleCA.CertPEM...)
}

// citationRE matches a citation of a document outside the repository:
// the repository stands alone, so comments and pages cite docs/ pages,
// RFC sections or nginx's documentation instead.
// The names are split so that this file does not match itself, nor the
// plain grep that issue 14 asks to find nothing.
var citationRE = regexp.MustCompile(strings.Join([]string{
	"S" + "PEC §", "S" + "PEC\\.md", "NGINX" + "-NOTES", "GO" + "-NOTES",
	"S" + "TYLE \\d", "S" + "TYLE\\.md", "\\.\\./" + "shared", "/work/" + "shared",
}, "|"))

// TestNoOutsideCitations walks the repository's Go and Markdown files.
func TestNoOutsideCitations(t *testing.T) {
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if citationRE.MatchString(line) {
				t.Errorf("%s:%d cites a document outside the repository: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
