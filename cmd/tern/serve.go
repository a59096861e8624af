package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"tern/conf"
)

// serveUsage is the help of tern serve.
const serveUsage = `usage: tern serve [-listen ADDR] [-autoindex=false] [-gzip] [-user USER] [DIR]

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
  -user USER         run as root, who the workers run as (default: the
                     owner of DIR, else nobody if nobody may read DIR,
                     else root, with a note)

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
	fs.StringVar(&o.User, "user", "", "")
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
	if o.User == "" && os.Geteuid() == 0 {
		o.User = serveUser(o.Dir, stderr)
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

// serveUser picks who the workers of tern serve run as when it runs as
// root and -user does not say: the owner of dir, who can read it; else
// nobody, as a configuration file's default, if nobody may read dir;
// else root, saying so — the quick start works where root's own files
// are served, and the terminal tells how to do better.
func serveUser(dir string, stderr io.Writer) string {
	if st, err := os.Stat(dir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			if u, err := user.LookupId(strconv.Itoa(int(sys.Uid))); err == nil {
				return u.Username
			}
		}
	}
	nobody := &conf.Config{User: "nobody"}
	if u, err := nobody.LookupUser(); err == nil {
		if ok, _ := u.CanRead(dir); ok {
			return "nobody"
		}
	}
	fmt.Fprintf(stderr, "tern: the workers run as root: nobody may not read %s (-user USER chooses who they run as)\n", dir)
	return "root"
}
