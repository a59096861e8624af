// Command testreport reads `go test -json` on its standard input and
// prints what CI needs to see: each package's result, every skipped test
// with the reason it gave, and the whole output of every failed test. It
// exits 1 when a test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	out := map[string][]string{} // package/test: its output lines
	var skips, fails []string
	testFailed := map[string]bool{} // packages with a failed test
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // a build error, printed as it came
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output":
			fmt.Print(e.Output) // a compile error
		case "build-fail":
			failed = true
		case "output":
			if e.Test == "" && (strings.HasPrefix(e.Output, "ok  \t") || strings.HasPrefix(e.Output, "FAIL\t") ||
				strings.HasPrefix(e.Output, "?   \t")) {
				fmt.Print(e.Output)
			}
			out[key] = append(out[key], e.Output)
		case "skip":
			if e.Test != "" {
				skips = append(skips, key)
			}
		case "fail":
			failed = true
			if e.Test != "" {
				testFailed[e.Package] = true
				fails = append(fails, key)
			} else if !testFailed[e.Package] {
				fails = append(fails, key) // a build error, a panic, a timeout
			}
		}
	}
	if len(skips) > 0 {
		fmt.Printf("\n%d skipped tests:\n", len(skips))
		for _, k := range skips {
			fmt.Printf("SKIP %s: %s\n", k, reason(out[k]))
		}
	}
	for _, k := range fails {
		fmt.Printf("\n--- output of %s\n%s", k, strings.Join(out[k], ""))
	}
	if failed {
		os.Exit(1)
	}
}

// reason is what a skipped test logged, without the framing lines.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		r = append(r, t)
	}
	if len(r) == 0 {
		return "(no reason given)"
	}
	return strings.Join(r, " / ")
}
