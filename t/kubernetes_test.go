package t

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// contrib/kubernetes: the manifests parse, agree with each other and with
// the configuration they carry (probes on a health location, a grace
// period longer than the drain), and, where kubectl can, pass kubectl.

const kubeDir = "../contrib/kubernetes"

// kubeObjects parses every manifest (not the kustomization) by kind.
func kubeObjects(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	objs := map[string]map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o map[string]any
			if err := dec.Decode(&o); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			kind, _ := o["kind"].(string)
			if kind == "" || o["apiVersion"] == nil || dig(o, "metadata", "name") == nil {
				t.Fatalf("%s: an object without kind, apiVersion or name", f)
			}
			objs[kind] = o
		}
	}
	return objs
}

// dig follows keys (strings for maps, ints for lists) into v.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetesManifests(t *testing.T) {
	objs := kubeObjects(t)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if objs[kind] == nil {
			t.Fatalf("no %s in %s", kind, kubeDir)
		}
	}
	dep, svc, pdb, cm := objs["Deployment"], objs["Service"], objs["PodDisruptionBudget"], objs["ConfigMap"]
	labels := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for what, sel := range map[string]any{
		"the Deployment's selector": dig(dep, "spec", "selector", "matchLabels"),
		"the Service's selector":    dig(svc, "spec", "selector"),
		"the PDB's selector":        dig(pdb, "spec", "selector", "matchLabels"),
	} {
		m, ok := sel.(map[string]any)
		if !ok || len(m) == 0 {
			t.Fatalf("%s is empty", what)
		}
		for k, v := range m {
			if labels[k] != v {
				t.Errorf("%s %s=%v does not select the pods (labels %v)", what, k, v, labels)
			}
		}
	}
	c := dig(dep, "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range dig(c, "ports").([]any) {
		ports[dig(p, "name").(string)] = dig(p, "containerPort").(int)
	}
	if tp := dig(svc, "spec", "ports", 0, "targetPort"); ports[tp.(string)] == 0 {
		t.Errorf("the Service's targetPort %v is not a port of the container (%v)", tp, ports)
	}
	if dig(c, "readinessProbe", "httpGet", "port") != "http" || ports["http"] == 0 {
		t.Errorf("the readiness probe is not on the http port")
	}

	// The configuration: valid, and what the Deployment assumes of it.
	hcl, _ := dig(cm, "data", "tern.hcl").(string)
	if cmName := dig(dep, "spec", "template", "spec", "volumes", 0, "configMap", "name"); cmName != dig(cm, "metadata", "name") {
		t.Errorf("the Deployment mounts ConfigMap %v, not %v", cmName, dig(cm, "metadata", "name"))
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tern.hcl")
	os.WriteFile(cfg, []byte(hcl), 0o644)
	code, dump, errOut := runTern(t, dir, "-T", "-c", cfg)
	if code != 0 {
		t.Fatalf("the ConfigMap's tern.hcl: tern -T exits %d\n%s", code, errOut)
	}
	path := dig(c, "readinessProbe", "httpGet", "path").(string)
	healthRE := regexp.MustCompile(`(?s)listen = \["0\.0\.0\.0:` + strconv.Itoa(ports["http"]) + ` [^\n]*\n.*?location "= ` + regexp.QuoteMeta(path) + `" \{[^}]*health = true`)
	if !healthRE.MatchString(dump) {
		t.Errorf("the readiness probe's %s on port %d is not a health location of the configuration:\n%s", path, ports["http"], dump)
	}
	m := regexp.MustCompile(`worker_shutdown_timeout = "(\d+)s"`).FindStringSubmatch(dump)
	if m == nil {
		t.Fatalf("no worker_shutdown_timeout in seconds in\n%s", dump)
	}
	drain, _ := strconv.Atoi(m[1])
	pause, _ := dig(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	grace, _ := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if drain == 0 || pause == 0 || grace <= pause+drain {
		t.Errorf("terminationGracePeriodSeconds %d must exceed the preStop pause %d plus worker_shutdown_timeout %d", grace, pause, drain)
	}
	if live := dig(c, "livenessProbe"); dig(live, "periodSeconds").(int)*dig(live, "failureThreshold").(int) <= grace {
		t.Errorf("the liveness probe may give up (%v) before a drain ends (%d s)", live, grace)
	}
	if dig(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
		dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Errorf("the pod should run as non-root on a read-only root")
	}
}

// kubectl runs kubectl with args, bounded.
func kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kubectl", args...).CombinedOutput()
	return string(out), err
}

// TestKubectl renders the kustomization with kubectl (offline), then asks
// kubectl create --dry-run=client to build every object, which needs an
// API server for discovery: without one, that part skips and says so.
func TestKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		skipLoudly(t, "kubectl is not installed (apt-get install kubectl): contrib/kubernetes is only parsed, by TestKubernetesManifests")
	}
	rendered, err := kubectl("kustomize", kubeDir)
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, rendered)
	}
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if !strings.Contains(rendered, "\nkind: "+kind+"\n") {
			t.Errorf("kubectl kustomize renders no %s", kind)
		}
	}
	file := filepath.Join(t.TempDir(), "all.yaml")
	os.WriteFile(file, []byte(rendered), 0o644)
	out, err := kubectl("create", "--dry-run=client", "-o", "name", "-f", file)
	if err != nil && (strings.Contains(out, "connection refused") || strings.Contains(out, "unable to recognize") ||
		strings.Contains(out, "failed to download openapi")) {
		skipLoudly(t, "kubectl create --dry-run=client needs an API server (for discovery and the OpenAPI schema) and none is reachable; kubectl kustomize rendered the manifests: "+firstLine(out))
	}
	if err != nil {
		t.Fatalf("kubectl create --dry-run=client: %v\n%s", err, out)
	}
	for _, want := range []string{"configmap/tern-config", "deployment.apps/tern", "service/tern", "poddisruptionbudget.policy/tern"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl create --dry-run=client does not create %s:\n%s", want, out)
		}
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "refused") || strings.Contains(l, "recognize") || strings.Contains(l, "openapi") {
			return strings.TrimSpace(l)
		}
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}
