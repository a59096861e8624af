package t

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// contrib/grafana/tern.json: every query of the dashboard, checked against
// a real /metrics scrape — each metric it names is exported, each label
// it selects or groups by is one of that metric's (or one Prometheus adds
// when it scrapes), each value it asks for exactly is one tern sends,
// and each variable is defined.

// scrapeLabels is what a scrape exports: sample name → label → values.
type scrapeLabels map[string]map[string][]string

func parseScrape(t *testing.T, body string) scrapeLabels {
	t.Helper()
	out := scrapeLabels{}
	lineRE := regexp.MustCompile(`^([a-z_]+)(?:\{(.*)\})? \S+$`)
	pairRE := regexp.MustCompile(`([a-z]+)="((?:[^"\\]|\\.)*)"`)
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad sample line %q", line)
		}
		labels := out[m[1]]
		if labels == nil {
			labels = map[string][]string{}
			out[m[1]] = labels
		}
		for _, p := range pairRE.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(labels[p[1]], p[2]) {
				labels[p[1]] = append(labels[p[1]], p[2])
			}
		}
	}
	return out
}

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets and the variables' queries, with where each is.
func dashboardQueries(t *testing.T, d map[string]any) (map[string]string, []string) {
	t.Helper()
	queries := map[string]string{}
	for _, p := range d["panels"].([]any) {
		panel := p.(map[string]any)
		targets, _ := panel["targets"].([]any)
		if panel["type"] != "row" && len(targets) == 0 {
			t.Errorf("panel %q has no query", panel["title"])
		}
		for _, tg := range targets {
			target := tg.(map[string]any)
			queries[panel["title"].(string)+"/"+target["refId"].(string)] = target["expr"].(string)
		}
	}
	var vars []string
	for _, v := range d["templating"].(map[string]any)["list"].([]any) {
		variable := v.(map[string]any)
		vars = append(vars, variable["name"].(string))
		if q, ok := variable["query"].(map[string]any); ok {
			queries["variable "+variable["name"].(string)] = q["query"].(string)
		}
	}
	return queries, vars
}

var (
	metricRE   = regexp.MustCompile(`\b(tern_[a-z_]+)(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupRE    = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
	varRE      = regexp.MustCompile(`\$(\w+)`)
	funcRE     = regexp.MustCompile(`\b([a-z_]+)\s*\(`)
	valuesRE   = regexp.MustCompile(`^label_values\((tern_[a-z_]+)(\{[^}]*\})?,\s*([a-z_]+)\)$`)
	knownFuncs = []string{"sum", "rate", "increase", "histogram_quantile", "count", "max", "min", "avg", "label_values"}
	// scrapeAdded are the labels Prometheus adds to every series.
	scrapeAdded = []string{"instance", "job"}
)

// checkQuery checks one expression against the scrape.
func checkQuery(s scrapeLabels, vars []string, q string) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if strings.Count(q, "(") != strings.Count(q, ")") || strings.Count(q, "{") != strings.Count(q, "}") {
		bad("unbalanced parentheses or braces")
	}
	for _, m := range varRE.FindAllStringSubmatch(q, -1) {
		if !strings.HasPrefix(m[1], "__") && !slices.Contains(vars, m[1]) {
			bad("variable $%s is not defined", m[1])
		}
	}
	for _, m := range funcRE.FindAllStringSubmatch(q, -1) {
		if !slices.Contains(knownFuncs, m[1]) && !slices.Contains([]string{"by", "without", "on", "ignoring"}, m[1]) {
			bad("unknown function %s", m[1])
		}
	}
	var names []string
	for _, m := range metricRE.FindAllStringSubmatch(q, -1) {
		labels, ok := s[m[1]]
		if !ok {
			bad("%s is not in the scrape", m[1])
			continue
		}
		names = append(names, m[1])
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			switch values, has := labels[label]; {
			case slices.Contains(scrapeAdded, label):
			case !has:
				bad("%s has no label %s", m[1], label)
			case op == "=" && !slices.Contains(values, value):
				bad("%s{%s=%q}: tern sends no such value (it sends %q)", m[1], label, value, values)
			case op == "=~" || op == "!~":
				if _, err := regexp.Compile(value); err != nil {
					bad("%s: bad regular expression %q", m[1], value)
				}
			}
		}
	}
	for _, m := range groupRE.FindAllStringSubmatch(q, -1) {
		for _, label := range strings.Split(m[1], ",") {
			label = strings.TrimSpace(label)
			if label == "" || label == "le" && slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "_bucket") }) ||
				slices.Contains(scrapeAdded, label) {
				continue
			}
			if !slices.ContainsFunc(names, func(n string) bool { _, ok := s[n][label]; return ok }) {
				bad("grouping by %s, which none of %v has", label, names)
			}
		}
	}
	if strings.HasPrefix(q, "label_values(") {
		m := valuesRE.FindStringSubmatch(q)
		if m == nil {
			bad("not label_values(tern_metric{...}, label)")
		} else if _, ok := s[m[1]][m[3]]; !ok && !slices.Contains(scrapeAdded, m[3]) {
			bad("label_values: %s has no label %s", m[1], m[3])
		}
	}
	return problems
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../contrib/grafana/tern.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("tern.json: %v", err)
	}
	queries, vars := dashboardQueries(t, d)
	if len(queries) < 20 {
		t.Fatalf("only %d queries found", len(queries))
	}

	// A real scrape: two servers, two pools, requests that make 200s,
	// 404s and a 405.
	s := newServer(t, serversConfig(`
  server {
    listen = ["127.0.0.1:{{PORT}}"]
    root   = "{{ROOT}}"
`+metricsLocation+`
  }
  server {
    listen      = ["127.0.0.1:{{PORT}}"]
    server_name = ["example.com"]
    root        = "{{ROOT}}"
  }`))
	s.file("a.txt", "a\n")
	s.start()
	c := s.dial()
	c.do("GET /a.txt HTTP/1.1\r\nHost: example.com\r\n\r\n")
	c.do("GET /missing HTTP/1.1\r\nHost: example.com\r\n\r\n")
	c.do(req("POST", "/a.txt", "Content-Length: 0"))
	time.Sleep(1200 * time.Millisecond)
	r := s.get(req("GET", "/metrics"))
	if r.status != 200 {
		t.Fatalf("/metrics: %v", r)
	}
	scrape := parseScrape(t, string(r.body))
	for where, q := range queries {
		for _, p := range checkQuery(scrape, vars, q) {
			t.Errorf("%s: %s\n  in %s", where, p, q)
		}
	}
	// The checks catch what they are for.
	for i, q := range []string{
		`sum(rate(tern_http_responses_totl[1m]))`,
		`sum by (pool) (tern_http_sent_bytes_total)`,
		`sum(tern_connections{state="idle"})`,
		`sum(rate(tern_http_responses_total{server=~"$srv"}[1m]))`,
		`sum(rate(tern_http_responses_total{colour="red"}[1m]))`,
		`sum(rat(tern_connections_accepted_total[1m]))`,
	} {
		if len(checkQuery(scrape, vars, q)) == 0 {
			t.Errorf("%d: the check passes %s", i, q)
		}
	}
}
