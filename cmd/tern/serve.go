package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tern/conf"
)

// serveUsage is the help of tern serve.
const serveUsage = `usage: tern serve [-listen ADDR] [-autoindex=false] [-gzip] [DIR]

Serve DIR (default: the current directory) over HTTP, with no
configuration file: worker_processes "auto", every other directive at its
default, both logs on standard error, in the foreground until Ctrl-C.
Flags may come before or after DIR.

  -listen ADDR       the address to listen on: PORT, HOST:PORT or [V6]:PORT
                     (default 127.0.0.1:8080; "8080" or "0.0.0.0:8080" for
                     every IPv4 address)
  -autoindex=false   answer a directory without index.html with 403 instead
                     of listing it (listing is on by default here, as
                     python3 -m http.server; a configuration file's
                     autoindex is off by default, as nginx's)
  -gzip              compress text responses on the fly for clients that
                     accept gzip, and serve FILE.gz in place of FILE where
                     it exists

Examples:
  tern serve                        # this directory on http://127.0.0.1:8080/
  tern serve -listen 8000 public    # ./public on port 8000 of every IPv4 address
  tern serve -gzip /srv/www

For a configuration file, see tern -h and docs/configuration.md.
`

// serve runs tern serve. Flags may come before or after DIR, as in
// "tern serve DIR -listen 8000".
func serve(args []string, stdout, stderr io.Writer) int {
	o := conf.ServeOptions{Listen: "127.0.0.1:8080", Autoindex: true}
	fs := flag.NewFlagSet("tern serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with the usage
	fs.StringVar(&o.Listen, "listen", o.Listen, "")
	fs.BoolVar(&o.Autoindex, "autoindex", o.Autoindex, "")
	fs.BoolVar(&o.Gzip, "gzip", false, "")
	var dirs []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, serveUsage)
				return 0
			}
			fmt.Fprintf(stderr, "tern serve: %v\n\n%s", err, serveUsage)
			return 1
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(dirs) {
	case 0:
		o.Dir = "."
	case 1:
		o.Dir = dirs[0]
	default:
		fmt.Fprintf(stderr, "tern serve: one directory, not %d (%q)\n", len(dirs), dirs)
		return 1
	}
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "tern serve: %s is not a directory\n", o.Dir)
		return 1
	}
	cfg, err := conf.Serve(o)
	if err != nil {
		writeError(stderr, "tern serve", err)
		return 1
	}
	fmt.Fprintf(stderr, "tern: serving %s (directory listings %s, gzip %s)\n", cfg.HTTP.Servers[0].Root.Root, onOff(o.Autoindex), onOff(o.Gzip))
	return start(cfg, stderr, nil)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
