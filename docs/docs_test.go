// Package docs_test checks the documentation: every relative link and
// anchor resolves, and every HCL example is a configuration tern accepts.
package docs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tern/conf"
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
			if path, _, ok := strings.Cut(d.Detail, ": "); ok && d.Summary == "Cannot read configuration file" && sources[path] == nil {
				sources[path], added = []byte{}, true
			}
		}
		if !added {
			return err
		}
	}
}
