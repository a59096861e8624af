// Command tern is an nginx-style web server for static and large files.
//
//	tern [-c FILE] [-p PREFIX] [-t | -T] [-s SIGNAL] [-v | -V]
//	tern serve [-listen ADDR] [-autoindex=false] [-gzip] [DIR]
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
	"time"

	"github.com/rs/zerolog"

	"tern/conf"
	"tern/filters"
)

func main() {
	// Every error log line names its level as error_log_level does.
	zerolog.LevelFieldMarshalFunc = conf.LevelName
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
		return serve(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "convert" {
		return convertMain(args[1:], stdout, stderr)
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
		fmt.Fprintln(stderr, "usage: tern [-c FILE] [-p PREFIX] [-t | -T] [-s SIGNAL] [-v | -V]\n       tern serve [-listen ADDR] [-autoindex=false] [-gzip] [DIR]   (tern serve -help)\n       tern convert [-lossy] nginx.conf > tern.hcl")
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
	// The files the configuration names: a log directory that cannot be
	// written fails the test and the start; a missing root is a warning.
	if ce := cfg.CheckPaths(); ce != nil {
		ce.WriteText(stderr)
		if ce.HasErrors() {
			fmt.Fprintf(stderr, "configuration file %s test failed\n", cfg.File)
			return 1
		}
	}
	if o.test || o.dump {
		if !checkFiles(cfg, stderr) {
			fmt.Fprintf(stderr, "configuration file %s test failed\n", cfg.File)
			return 1
		}
		fmt.Fprintf(stderr, "configuration file %s test is successful\n", cfg.File)
		if o.dump {
			if err := cfg.WriteHCL(stdout); err != nil {
				fmt.Fprintln(stderr, "tern:", err)
				return 1
			}
		}
		return 0
	}
	return start(cfg, stderr, func() (*conf.Config, error) { return reload(cfg.File, o.prefix) })
}

// reload reads the configuration again for a HUP: a configuration whose
// log files cannot be opened is refused as an invalid one is, and the
// old one keeps serving.
func reload(file, prefix string) (*conf.Config, error) {
	cfg, err := conf.Load(file, prefix)
	if err != nil {
		return nil, err
	}
	if ce := cfg.CheckPaths(); ce.HasErrors() {
		return nil, ce
	}
	return cfg, nil
}

// load reads the configuration, printing diagnostics on failure.
func load(file, prefix string, stderr io.Writer) (*conf.Config, int) {
	cfg, err := conf.Load(file, prefix)
	if err != nil {
		writeError(stderr, "tern", err)
		fmt.Fprintf(stderr, "configuration file %s test failed\n", file)
		return nil, 1
	}
	if cfg.Warnings != nil {
		cfg.Warnings.WriteText(stderr)
	}
	return cfg, 0
}

// writeError writes a configuration's diagnostics, with their source
// lines, or another error after "who: ".
func writeError(stderr io.Writer, who string, err error) {
	var ce *conf.Error
	if errors.As(err, &ce) {
		ce.WriteText(stderr)
		return
	}
	fmt.Fprintf(stderr, "%s: %v\n", who, err)
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
