package conf

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Thread pool limits.
const (
	// defaultThreads and defaultMaxQueue are nginx's implicit "default"
	// pool.
	defaultThreads  = 32
	defaultMaxQueue = 65536
	// maxThreads bounds one worker's pool: these are OS threads, and
	// more than this only adds scheduling and memory.
	maxThreads = 4096
)

// defaultConfig is the main context before the configuration says
// anything.
func defaultConfig(prefix string) *Config {
	return &Config{
		Prefix:            prefix,
		WorkerProcesses:   0,
		WorkerCPUAffinity: Affinity{Mode: AffinityAuto},
		WorkerConnections: 1024,
		AcceptMutex:       true,
		AcceptMutexDelay:  500 * time.Millisecond,
		PID:               filepath.Join(prefix, "logs", "tern.pid"),
		ErrorLog:          filepath.Join(prefix, "logs", "error.log"),
		ErrorLogLevel:     LogNotice,
		ThreadPools:       make(map[string]*ThreadPool),
		User:              defaultUser,
	}
}

// decodeMain decodes the main context: thread pools first, because aio
// in the http block names them, then the directives, then http.
func (d *decoder) decodeMain(body hcl.Body) *Config {
	cfg := defaultConfig(d.prefix)
	d.pools = cfg.ThreadPools
	content := d.content(body, inMain)
	defined := make(map[string]hcl.Range)
	for _, b := range content.Blocks {
		switch b.Type {
		case "thread_pool":
			d.threadPool(b, defined)
		case "acme_issuer":
			// Before http, whose servers name them.
			d.acmeIssuer(b)
		}
	}
	if d.pools[defaultPool] == nil {
		d.pools[defaultPool] = &ThreadPool{Name: defaultPool, Threads: defaultThreads, MaxQueue: defaultMaxQueue}
	}
	d.apply(content.Attributes, &target{cfg: cfg})
	var first *hcl.Block
	for _, b := range content.Blocks {
		switch {
		case b.Type != "http":
		case first != nil:
			d.errorf(b.DefRange, "Duplicate http block",
				"a configuration has one http block; the first is at %s", at(first.DefRange))
		default:
			first = b
			cfg.HTTP = d.decodeHTTP(b.Body)
		}
	}
	cfg.ACMEIssuers = d.issuerOrder
	return cfg
}

// threadPool decodes thread_pool "NAME" { threads = N, max_queue = M }.
func (d *decoder) threadPool(b *hcl.Block, defined map[string]hcl.Range) {
	name := b.Labels[0]
	content := d.content(b.Body, inThreadPool)
	if name == "" {
		d.errorf(b.LabelRanges[0], "Invalid thread_pool", "the pool needs a name")
		return
	}
	if prev, dup := defined[name]; dup {
		d.errorf(b.LabelRanges[0], "Duplicate thread_pool",
			"thread pool %q is already defined at %s", name, at(prev))
		return
	}
	defined[name] = b.LabelRanges[0]
	if _, ok := content.Attributes["threads"]; !ok {
		d.errorf(b.DefRange, "Invalid thread_pool", "thread pool %q needs threads = N (at least 1)", name)
	}
	p := &ThreadPool{Name: name, MaxQueue: defaultMaxQueue}
	d.apply(content.Attributes, &target{pool: p})
	d.pools[name] = p
}

// at formats where rng starts, for "already defined at" messages.
func at(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}

// decodeWorkerProcesses reads "auto" (0) or a number of at least 1.
func decodeWorkerProcesses(d *decoder, a *hcl.Attribute, t *target) {
	v, ok := d.value(a.Expr, nil)
	if !ok {
		return
	}
	if v.Type() == cty.String && v.AsString() == "auto" {
		t.cfg.WorkerProcesses = 0
		return
	}
	if n, ok := d.integer(a, 1, maxWorkers); ok {
		t.cfg.WorkerProcesses = int(n)
	}
}

// maxWorkers is nginx's NGX_MAX_PROCESSES: the size of its process table.
const maxWorkers = 1024

// decodeAffinity reads "auto", "off", one CPU list, or a list of CPU lists
// (one per worker). See ParseCPUList for the syntax.
func decodeAffinity(d *decoder, a *hcl.Attribute, t *target) {
	lists, ranges, ok := d.stringList(a.Name, a.Expr, nil)
	if !ok {
		return
	}
	if len(lists) == 1 && (lists[0] == "auto" || lists[0] == "off") {
		t.cfg.WorkerCPUAffinity = Affinity{Mode: AffinityAuto}
		if lists[0] == "off" {
			t.cfg.WorkerCPUAffinity.Mode = AffinityOff
		}
		return
	}
	if len(lists) == 0 {
		d.invalid(a.Name, a.Expr.Range(), "want \"auto\", \"off\" or a list of CPU lists such as [\"0\", \"1\"]")
		return
	}
	aff := Affinity{Mode: AffinityList}
	for i, s := range lists {
		cpus, err := ParseCPUList(s)
		if err != nil {
			d.invalid(a.Name, ranges[i], "%q is not a CPU list such as \"0\", \"0-3\" or \"0,2\": %v", s, err)
			ok = false
		}
		aff.CPUs = append(aff.CPUs, cpus)
	}
	if ok {
		t.cfg.WorkerCPUAffinity = aff
	}
}

// decodePID reads a path, or "off" for no pid file.
func decodePID(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	switch {
	case !ok:
	case s == "off":
		t.cfg.PID = ""
	default:
		if p, ok := d.path(a); ok {
			t.cfg.PID = p
		}
	}
}

// decodeErrorLog reads a path, "stderr" or "stdout": the main context's
// error log, or that of the requests of an http, server or location
// block. nginx's "error_log off" writes to a file named off; tern refuses
// it instead.
func decodeErrorLog(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	switch {
	case !ok:
		return
	case s == "off":
		d.invalid(a.Name, a.Expr.Range(), "the error log cannot be off: raise error_log_level to \"crit\" instead")
		return
	case !slices.Contains(stdStreams, s):
		if s, ok = d.path(a); !ok {
			return
		}
	}
	if t.set != nil {
		t.set.ErrorLog = s
	} else {
		t.cfg.ErrorLog = s
	}
}
