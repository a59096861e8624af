// Command tern is an nginx-style web server for static and large files.
//
//	tern [-c FILE] [-p PREFIX] [-t | -T] [-s SIGNAL] [-v | -V]
//	tern serve [-listen ADDR] [DIR]
//
// See README.md and docs/operations.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"tern/conf"
	"tern/filters"
)

func main() {
	// A worker is this binary started by the master (docs/design.md#processes).
	if code, ok := workerRole(); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line of the main form.
type options struct {
	file, prefix string
	test, dump   bool
	signal       string
	version      int // 1 for -v, 2 for -V
	// upgradeTimeout bounds -s upgrade; 0: TERN_UPGRADE_TIMEOUT or 10s.
	upgradeTimeout time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return serve(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "convert" {
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: tern convert nginx.conf > tern.hcl")
			return 1
		}
		if !convertNginx(args[1], stdout, stderr) {
			return 1
		}
		return 0
	}
	var o options
	fs := flag.NewFlagSet("tern", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.file, "c", "tern.hcl", "configuration `file`")
	fs.StringVar(&o.prefix, "p", "", "`prefix` relative paths resolve against (default: the configuration file's directory)")
	fs.BoolVar(&o.test, "t", false, "test the configuration and exit")
	fs.BoolVar(&o.dump, "T", false, "test the configuration, print the effective configuration and exit")
	fs.StringVar(&o.signal, "s", "", "send `signal` to the master: stop, quit, reload, reopen, upgrade")
	fs.DurationVar(&o.upgradeTimeout, "upgrade-timeout", 0, "how long -s upgrade waits for the new master's workers to answer (default: $TERN_UPGRADE_TIMEOUT, else 10s)")
	v := fs.Bool("v", false, "print the version and exit")
	vv := fs.Bool("V", false, "print the version and build settings and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tern [-c FILE] [-p PREFIX] [-t | -T] [-s SIGNAL] [-v | -V]\n       tern serve [-listen ADDR] [DIR]\n       tern convert nginx.conf > tern.hcl")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tern: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 1
	}
	switch {
	case *vv:
		printVersion(stdout, true)
		return 0
	case *v:
		printVersion(stdout, false)
		return 0
	}
	if o.signal != "" {
		return signalMaster(o, stderr)
	}
	cfg, code := load(o.file, o.prefix, stderr)
	if cfg == nil {
		return code
	}
	if o.test || o.dump {
		fmt.Fprintf(stderr, "configuration file %s test is successful\n", cfg.File)
		if o.dump {
			if err := cfg.WriteHCL(stdout); err != nil {
				fmt.Fprintln(stderr, "tern:", err)
				return 1
			}
		}
		return 0
	}
	return start(cfg, stderr, func() (*conf.Config, error) { return conf.Load(cfg.File, o.prefix) })
}

// load reads the configuration, printing diagnostics on failure.
func load(file, prefix string, stderr io.Writer) (*conf.Config, int) {
	cfg, err := conf.Load(file, prefix)
	if err != nil {
		var ce *conf.Error
		if errors.As(err, &ce) {
			ce.WriteText(stderr)
		} else {
			fmt.Fprintln(stderr, "tern:", err)
		}
		fmt.Fprintf(stderr, "configuration file %s test failed\n", file)
		return nil, 1
	}
	return cfg, 0
}

// serve runs `tern serve [-listen ADDR] [DIR]`; flags may come before or
// after DIR.
func serve(args []string, stderr io.Writer) int {
	dir, listen := ".", "127.0.0.1:8080"
	haveDir := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-listen" || a == "--listen":
			if i+1 == len(args) {
				fmt.Fprintln(stderr, "tern serve: -listen needs an address")
				return 1
			}
			i++
			listen = args[i]
		case strings.HasPrefix(a, "-listen=") || strings.HasPrefix(a, "--listen="):
			listen = a[strings.IndexByte(a, '=')+1:]
		case a == "-h" || a == "-help" || a == "--help":
			fmt.Fprintln(stderr, "usage: tern serve [-listen ADDR] [DIR]")
			return 0
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "tern serve: unknown flag %s\nusage: tern serve [-listen ADDR] [DIR]\n", a)
			return 1
		case haveDir:
			fmt.Fprintf(stderr, "tern serve: more than one directory (%s, %s)\n", dir, a)
			return 1
		default:
			dir, haveDir = a, true
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "tern serve: %s is not a directory\n", dir)
		return 1
	}
	cfg, err := conf.Serve(dir, listen)
	if err != nil {
		var ce *conf.Error
		if errors.As(err, &ce) {
			ce.WriteText(stderr)
		} else {
			fmt.Fprintln(stderr, "tern serve:", err)
		}
		return 1
	}
	fmt.Fprintf(stderr, "tern: serving %s on http://%s/\n", dir, cfg.HTTP.Addrs[0].Addr)
	return start(cfg, stderr, nil)
}

func printVersion(w io.Writer, long bool) {
	fmt.Fprintf(w, "tern version: tern/%s\n", filters.ServerVersion)
	if !long {
		return
	}
	fmt.Fprintf(w, "built with %s for %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			fmt.Fprintf(w, "  %s=%s\n", s.Key, s.Value)
		}
		for _, d := range bi.Deps {
			fmt.Fprintf(w, "  dep %s %s\n", d.Path, d.Version)
		}
	}
}
