package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// headlines returns "LINE,COL: Summary" of each diagnostic in err, the
// file name dropped when it is testFile.
func headlines(t *testing.T, err error) []string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is a %T, not an *Error", err, err)
	}
	var out []string
	for _, d := range e.Diags {
		if d.Subject == nil {
			t.Fatalf("diagnostic %q has no Subject", d.Summary)
		}
		h := d.Summary
		if d.Subject.Start.Line > 0 {
			h = itoa(d.Subject.Start.Line) + "," + itoa(d.Subject.Start.Column) + ": " + h
		}
		if d.Subject.Filename != testFile {
			h = d.Subject.Filename + ":" + h
		}
		out = append(out, h)
	}
	return out
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		src   string
		extra []string // path, text pairs
		want  []string
	}{
		// Unknown names, wrong places, wrong shapes.
		{src: "bogus = 1", want: []string{"1,1: Unsupported argument"}},
		{src: "workers = 1", want: []string{"1,1: Unsupported argument"}},
		{src: "foo {\n}", want: []string{"1,1: Unsupported block type"}},
		{src: "http {\n  listen = [\"80\"]\n}", want: []string{"2,3: listen is not allowed here"}},
		{src: "http {\n  server {\n    location \"/\" {\n      server_name = [\"a\"]\n    }\n  }\n}",
			want: []string{"4,7: server_name is not allowed here"}},
		{src: "http {\n  worker_processes = 2\n}", want: []string{"2,3: worker_processes is not allowed here"}},
		{src: "http {\n  return = \"204\"\n}", want: []string{"2,3: return is not allowed here"}},
		{src: "http {\n  server {\n    alias = \"/x\"\n  }\n}", want: []string{"3,5: alias is not allowed here"}},
		{src: "http {\n  server {\n    types = {}\n  }\n}", want: []string{"3,5: types is not allowed here"}},
		{src: "http {\n  server {\n    location \"/\" {\n      http2 = true\n    }\n  }\n}", want: []string{"4,7: http2 is not allowed here"}},
		{src: "http {\n  server {\n    location \"/\" {\n      http2_max_concurrent_streams = 8\n    }\n  }\n}",
			want: []string{"4,7: http2_max_concurrent_streams is not allowed here"}},
		{src: "http {\n  server {\n    http2_recv_buffer_size = \"64k\"\n  }\n}", want: []string{"3,5: http2_recv_buffer_size is not allowed here"}},
		{src: "threads = 4", want: []string{"1,1: threads is not allowed here"}},
		{src: "server {\n}", want: []string{"1,1: A server block is not allowed here"}},
		{src: "http {\n  location \"/\" {\n  }\n}", want: []string{"2,3: A location block is not allowed here"}},
		{src: "http {\n  server {\n    location \"/a\" {\n      location \"/b\" {\n      }\n    }\n  }\n}",
			want: []string{"4,16: Invalid location"}},
		{src: "http {\n}\nhttp {\n}", want: []string{"3,1: Duplicate http block"}},
		{src: "http {\n  server \"x\" {\n  }\n}", want: []string{"2,10: Extraneous label for server"}},
		{src: "http {\n  server {\n    location {\n    }\n  }\n}", want: []string{"3,14: Missing match for location"}},
		{src: "http {\n  open_file_cache {\n  }\n}", want: []string{"2,3: Unsupported block type"}},

		// Syntax and expression errors come from HCL with their position.
		{src: "worker_processes = ", want: []string{"1,20: Missing expression"}},
		{src: "http {\n  root = \"a\"\n  root = \"b\"\n}", want: []string{"3,3: Attribute redefined"}},
		{src: "http {\n  root = html\n}", want: []string{"2,10: Variables not allowed"}},
		{src: "http {\n  root = null\n}", want: []string{"2,10: Invalid value"}},
		{src: "http {\n  root = upper(\"x\")\n}", want: []string{"2,10: Function calls not allowed"}},
		{src: "worker_connections = \"many\"", want: []string{"1,22: Invalid worker_connections"}},
		{src: "accept_mutex = \"sometimes\"", want: []string{"1,16: Invalid accept_mutex"}},
		{src: "worker_connections = 1.5", want: []string{"1,22: Invalid worker_connections"}},
		{src: "http {\n  index = [\"a\", 3, [\"b\"]]\n}", want: []string{"2,20: Invalid index"}},

		// Bad values and ranges.
		{src: "worker_processes = 0", want: []string{"1,20: Invalid worker_processes"}},
		{src: "worker_processes = \"many\"", want: []string{"1,20: Invalid worker_processes"}},
		{src: "worker_cpu_affinity = [\"0\", \"1-0\"]", want: []string{"1,29: Invalid worker_cpu_affinity"}},
		{src: "worker_cpu_affinity = []", want: []string{"1,23: Invalid worker_cpu_affinity"}},
		{src: "worker_connections = 0", want: []string{"1,22: Invalid worker_connections"}},
		{src: "http {\n  http2 = \"yes\"\n}", want: []string{"2,11: Invalid http2"}},
		{src: "http {\n  http2_max_concurrent_streams = 0\n}", want: []string{"2,34: Invalid http2_max_concurrent_streams"}},
		{src: "http {\n  http2_max_concurrent_streams = 65537\n}", want: []string{"2,34: Invalid http2_max_concurrent_streams"}},
		{src: "http {\n  http2_chunk_size = 0\n}", want: []string{"2,22: Invalid http2_chunk_size"}},
		{src: "http {\n  http2_chunk_size = \"16m\"\n}", want: []string{"2,22: Invalid http2_chunk_size"}},
		{src: "http {\n  http2_recv_buffer_size = 0\n}", want: []string{"2,28: Invalid http2_recv_buffer_size"}},
		{src: "accept_mutex_delay = 0", want: []string{"1,22: Invalid accept_mutex_delay"}},
		{src: "worker_shutdown_timeout = \"-1s\"", want: []string{"1,27: Invalid worker_shutdown_timeout"}},
		{src: "error_log = \"off\"", want: []string{"1,13: Invalid error_log"}},
		{src: "error_log_level = \"loud\"", want: []string{"1,19: Invalid error_log_level"}},
		{src: "pid = \"\"", want: []string{"1,7: Invalid pid"}},
		{src: "http {\n  keepalive_timeout = \"5x\"\n}", want: []string{"2,23: Invalid keepalive_timeout"}},
		{src: "http {\n  keepalive_timeout = true\n}", want: []string{"2,23: Invalid keepalive_timeout"}},
		{src: "http {\n  send_timeout = 0\n}", want: []string{"2,18: Invalid send_timeout"}},
		{src: "http {\n  client_max_body_size = \"1x\"\n}", want: []string{"2,26: Invalid client_max_body_size"}},
		{src: "http {\n  client_header_buffer_size = \"1g\"\n}", want: []string{"2,31: Invalid client_header_buffer_size"}},
		{src: "http {\n  large_client_header_buffers = \"4\"\n}", want: []string{"2,33: Invalid large_client_header_buffers"}},
		{src: "http {\n  large_client_header_buffers = \"0 8k\"\n}", want: []string{"2,33: Invalid large_client_header_buffers"}},
		{src: "http {\n  gzip_comp_level = 10\n}", want: []string{"2,21: Invalid gzip_comp_level"}},
		{src: "http {\n  max_ranges = -2\n}", want: []string{"2,16: Invalid max_ranges"}},
		{src: "http {\n  autoindex_format = \"yaml\"\n}", want: []string{"2,22: Invalid autoindex_format"}},
		{src: "http {\n  if_modified_since = \"after\"\n}", want: []string{"2,23: Invalid if_modified_since"}},
		{src: "http {\n  access_log_format = \"main\"\n}", want: []string{"2,23: Unknown log_format"}},
		{src: "http {\n  access_log_format = \"a-b\"\n}", want: []string{"2,23: Invalid access_log_format"}},
		{src: "http {\n  charset = \"utf 8\"\n}", want: []string{"2,13: Invalid charset"}},
		{src: "http {\n  default_type = \"text\"\n}", want: []string{"2,18: Invalid default_type"}},
		{src: "http {\n  gzip_types = [\"text/html\", \"bad\"]\n}", want: []string{"2,30: Invalid gzip_types"}},
		{src: "http {\n  index = [\"\"]\n}", want: []string{"2,12: Invalid index"}},
		{src: "http {\n  aio = \"threads=nope\"\n}", want: []string{"2,9: Invalid aio"}},
		{src: "http {\n  aio = \"on\"\n}", want: []string{"2,9: Invalid aio"}},
		{src: "http {\n  expires = \"modified @1h\"\n}", want: []string{"2,13: Invalid expires"}},
		{src: "http {\n  expires = \"@25h\"\n}", want: []string{"2,13: Invalid expires"}},
		{src: "http {\n  expires = \"soon\"\n}", want: []string{"2,13: Invalid expires"}},
		{src: "http {\n  open_file_cache = { inactive = \"1m\" }\n}", want: []string{"2,21: Invalid open_file_cache"}},
		{src: "http {\n  open_file_cache = { max = 1, valid = \"1m\" }\n}", want: []string{"2,32: Invalid open_file_cache"}},
		{src: "http {\n  open_file_cache = { max = 0 }\n}", want: []string{"2,29: Invalid open_file_cache.max"}},
		{src: "http {\n  open_file_cache = \"on\"\n}", want: []string{"2,21: Invalid open_file_cache"}},
		{src: "http {\n  open_file_cache = 5\n}", want: []string{"2,21: Invalid expression"}},
		{src: "http {\n  add_header = { \"Bad Name\" = \"x\" }\n}", want: []string{"2,18: Invalid add_header"}},
		{src: "http {\n  add_header = { \"X-A\" = \"a\\r\\nX-B: b\" }\n}", want: []string{"2,26: Invalid add_header"}},
		{src: "http {\n  add_header = { \"X-A\" = \"1\", \"x-a\" = \"2\" }\n}", want: []string{"2,31: Invalid add_header"}},
		{src: "http {\n  error_page = { \"200\" = \"/x\" }\n}", want: []string{"2,18: Invalid error_page"}},
		{src: "http {\n  error_page = { \"404\" = \"/x\", \"500 404\" = \"/y\" }\n}", want: []string{"2,32: Invalid error_page"}},
		{src: "http {\n  error_page = { \"404\" = \"= /x\" }\n}", want: []string{"2,26: Invalid error_page"}},
		{src: "http {\n  error_page = { \"404\" = \"=200\" }\n}", want: []string{"2,26: Invalid error_page"}},
		{src: "http {\n  error_page = { \"404\" = \"@fallback\" }\n}", want: []string{"2,26: Invalid error_page"}},
		{src: "http {\n  error_page = [\"404\"]\n}", want: []string{"2,16: Invalid expression"}},

		// Templates: an unknown variable, in both spellings.
		{src: "http {\n  server {\n    try_files = [\"$uri\", \"$foo\", \"=404\"]\n  }\n}", want: []string{"3,27: Unknown variable"}},
		{src: "http {\n  server {\n    try_files = [\"${foo}\", \"=404\"]\n  }\n}", want: []string{"3,19: Unknown variable"}},
		{src: "http {\n  server {\n    try_files = [\"$uri\"]\n  }\n}", want: []string{"3,17: Invalid try_files"}},
		{src: "http {\n  server {\n    try_files = [\"$uri\", \"=99\"]\n  }\n}", want: []string{"3,26: Invalid try_files"}},
		{src: "http {\n  server {\n    try_files = [\"$uri\", \"@app\"]\n  }\n}", want: []string{"3,26: Invalid try_files"}},
		{src: "http {\n  server {\n    return = \"1000 x\"\n  }\n}", want: []string{"3,14: Invalid return"}},
		{src: "http {\n  server {\n    return = \"moved\"\n  }\n}", want: []string{"3,14: Invalid return"}},
		{src: "http {\n  server {\n    return = \"302 $nope\"\n  }\n}", want: []string{"3,19: Unknown variable"}},

		// Thread pools.
		{src: "thread_pool \"a\" {\n}", want: []string{"1,1: Invalid thread_pool"}},
		{src: "thread_pool \"a\" {\n  threads = 0\n}", want: []string{"2,13: Invalid threads"}},
		{src: "thread_pool \"a\" {\n  threads = 1\n  max_queue = -1\n}", want: []string{"3,15: Invalid max_queue"}},
		{src: "thread_pool \"a\" {\n  threads = 1\n}\nthread_pool \"a\" {\n  threads = 2\n}", want: []string{"4,13: Duplicate thread_pool"}},
		{src: "thread_pool \"\" {\n  threads = 1\n}", want: []string{"1,13: Invalid thread_pool"}},

		// Servers and listen.
		{src: "http {\n  server {\n    listen = [\"80\", \"0.0.0.0:80\"]\n  }\n}", want: []string{"3,21: Duplicate listen address"}},
		{src: "http {\n  server {\n    listen = [\"80 default_server\"]\n  }\n  server {\n    listen = [\"*:80 default_server\"]\n  }\n}",
			want: []string{"6,15: Duplicate default_server"}},
		{src: "http {\n  server {\n    listen = [\"80 reuseport\"]\n  }\n  server {\n    listen = [\"80 backlog=10\"]\n  }\n}",
			want: []string{"6,15: Conflicting listen options"}},
		{src: "http {\n  server {\n    listen = [\"80 backlog=5\"]\n  }\n  server {\n    listen = [\"80 backlog=10\"]\n  }\n}",
			want: []string{"6,15: Conflicting listen options"}},
		{src: "http {\n  server {\n    listen = [\"80 http2\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 fast\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 backlog=0\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 sndbuf=0\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 rcvbuf=x\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 sndbuf=3g\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"80 sndbuf=64k\"]\n  }\n  server {\n    listen = [\"80 sndbuf=128k\"]\n  }\n}",
			want: []string{"6,15: Conflicting listen options"}},
		{src: "http {\n  server {\n    listen = [\"80 rcvbuf=64k\"]\n  }\n  server {\n    listen = [\"80 backlog=10\"]\n  }\n}",
			want: []string{"6,15: Conflicting listen options"}},
		{src: "http {\n  server {\n    listen = [\"70000\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"0\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"example.com:80\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"::1:80\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"[::1:80\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"[127.0.0.1]:80\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    listen = []\n  }\n}", want: []string{"3,14: Invalid listen"}},
		{src: "http {\n  server {\n    listen = [\"\"]\n  }\n}", want: []string{"3,15: Invalid listen"}},
		{src: "http {\n  server {\n    server_name = [\"ok\", \"~^(a\"]\n  }\n}", want: []string{"3,28: Invalid server_name"}},
		{src: "http {\n  server {\n    server_name = [\"a.*.b\"]\n  }\n}", want: []string{"3,20: Invalid server_name"}},

		// Locations.
		{src: "http {\n  server {\n    location \"~ (\" {\n    }\n  }\n}", want: []string{"3,17: Invalid location"}},
		{src: "http {\n  server {\n    location \"images\" {\n    }\n  }\n}", want: []string{"3,14: Invalid location"}},
		{src: "http {\n  server {\n    location \"@app\" {\n    }\n  }\n}", want: []string{"3,14: Invalid location"}},
		{src: "http {\n  server {\n    location \"/a\" {\n    }\n    location \"^~ /a\" {\n    }\n  }\n}",
			want: []string{"5,14: Duplicate location"}},
		{src: "http {\n  server {\n    location \"= /a\" {\n    }\n    location \"=/a\" {\n    }\n  }\n}",
			want: []string{"5,14: Duplicate location"}},
		{src: "http {\n  server {\n    location \"~ a\" {\n    }\n    location \"~ a\" {\n    }\n    location \"~* a\" {\n    }\n  }\n}",
			want: []string{"5,14: Duplicate location"}},
		{src: "http {\n  server {\n    location \"/a/\" {\n      root  = \"/r\"\n      alias = \"/b/\"\n    }\n  }\n}",
			want: []string{"5,7: Invalid alias"}},

		// Types and includes.
		{src: "http {\n  types = { \"text/x\" = [\"a.b\"] }\n}", want: []string{"2,25: Invalid types"}},
		{src: "http {\n  types = { \"nothing\" = [\"x\"] }\n}", want: []string{"2,13: Invalid types"}},
		{src: "http {\n  include = [\"missing.hcl\"]\n}",
			want: []string{"2,14: Cannot read configuration file"}},
		{src: "http {\n  include = [\"bad.hcl\"]\n}", extra: []string{"/etc/tern/bad.hcl", "\n  types = {"},
			want: []string{"/etc/tern/bad.hcl:2,12: Missing expression"}},
		{src: "http {\n  include = [\"inc.hcl\"]\n  gzip = true\n}", extra: []string{"/etc/tern/inc.hcl", "gzip = false\nlisten = [\"80\"]\n"},
			want: []string{"3,3: Duplicate gzip", "/etc/tern/inc.hcl:2,1: listen is not allowed here"}},
		{src: "http {\n  include = \"self.hcl\"\n}", extra: []string{"/etc/tern/self.hcl", "include = \"self.hcl\"\n"},
			want: []string{"/etc/tern/self.hcl:1,11: Invalid include"}},
		{src: "http {\n  include = \"a.hcl\"\n}", extra: []string{"/etc/tern/a.hcl", "include = \"b.hcl\"", "/etc/tern/b.hcl", "include = \"*.hcl\""},
			want: []string{"/etc/tern/b.hcl:1,11: Invalid include", "/etc/tern/b.hcl:1,11: Invalid include", "/etc/tern/b.hcl:1,11: Invalid include"}},
		{src: "http {\n  include = [\"[\"]\n}", want: []string{"2,14: Invalid include"}},

		// Several mistakes are all reported, in file order.
		{src: "worker_processes = 0\nbogus = 1\nhttp {\n  gzip = 3\n  server {\n    listen = [\"x\"]\n  }\n}",
			want: []string{"1,20: Invalid worker_processes", "2,1: Unsupported argument", "4,10: Invalid gzip", "6,15: Invalid listen"}},
	}
	for i, tt := range tests {
		_, err := loadText(tt.src, tt.extra...)
		if err == nil {
			t.Errorf("%d: %q: no error, want %q", i, tt.src, tt.want)
			continue
		}
		got := headlines(t, err)
		if len(got) != len(tt.want) {
			t.Errorf("%d: %q:\n got %q\nwant %q\n%s", i, tt.src, got, tt.want, errText(err))
			continue
		}
		for j := range got {
			if !strings.HasPrefix(got[j], tt.want[j]) {
				t.Errorf("%d: %q:\n got %q\nwant %q\n%s", i, tt.src, got, tt.want, errText(err))
				break
			}
		}
	}
}

func TestUnsupported(t *testing.T) {
	Unsupported["gzip"] = "on-the-fly compression lands with the gzip filter"
	Unsupported["upstream"] = "tern serves files"
	defer func() {
		delete(Unsupported, "gzip")
		delete(Unsupported, "upstream")
	}()
	_, err := loadText("http {\n  gzip = true\n  upstream \"app\" {\n  }\n  server {\n    location \"/\" {\n      gzip = false\n    }\n  }\n}")
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"2,3: gzip is not supported yet: on-the-fly compression lands with the gzip filter",
		"3,3: upstream is not supported yet: tern serves files",
		"7,7: gzip is not supported yet: on-the-fly compression lands with the gzip filter",
	}
	if got := headlines(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestErrorText(t *testing.T) {
	_, err := loadText("http {\n\tkeepalive_timeout = \"5x\"\n  server {\n    listen = [\"80 http2\"]\n  }\n}\n")
	want := `/etc/tern/tern.hcl:2,22: Invalid keepalive_timeout: "5x" is not a duration: unknown unit "x" (use ms, s, m, h, d, w, M or y)
  	keepalive_timeout = "5x"
  	                    ^~~~
/etc/tern/tern.hcl:4,15: Invalid listen: "80 http2": http2 is not a listen option: write http2 = true in the server (nginx 1.25.1 made it a directive too)
      listen = ["80 http2"]
                ^~~~~~~~~~
`
	if got := errText(err); got != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, want)
	}
	wantLines := `/etc/tern/tern.hcl:2,22: Invalid keepalive_timeout: "5x" is not a duration: unknown unit "x" (use ms, s, m, h, d, w, M or y)
/etc/tern/tern.hcl:4,15: Invalid listen: "80 http2": http2 is not a listen option: write http2 = true in the server (nginx 1.25.1 made it a directive too)`
	if got := err.Error(); got != wantLines {
		t.Errorf("Error():\n%s\nwant:\n%s", got, wantLines)
	}
}

func TestErrorTextMissingFile(t *testing.T) {
	_, err := LoadSnapshot("/nowhere/tern.hcl", "", map[string][]byte{})
	want := "/nowhere/tern.hcl: Cannot read configuration file: /nowhere/tern.hcl: file does not exist\n"
	if got := errText(err); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestIncludeDepth(t *testing.T) {
	// A chain of distinct files, each including the next.
	var extra []string
	for i := 1; i <= maxIncludeDepth+1; i++ {
		extra = append(extra, "/etc/tern/f"+itoa(i)+".hcl", "include = \"f"+itoa(i+1)+".hcl\"\n")
	}
	_, err := loadText("http {\n  include = \"f1.hcl\"\n}\n", extra...)
	want := []string{"/etc/tern/f" + itoa(maxIncludeDepth) + ".hcl:1,11: Invalid include"}
	if got := headlines(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestUnclosedBlock: a missing "}" is reported where HCL says the
// unclosed block opens, at the block the indentation points to, and
// where the file ends.
func TestUnclosedBlock(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"worker_processes = 1\nhttp {\n  server {\n    location \"/\" {\n      root = \"/tmp\"\n  }\n}\n", []string{
			"2,6: Unclosed configuration block",
			"4,18: Missing closing brace",
			"7,2: Unclosed configuration block",
		}},
		{"http {\n  server {\n    listen = [\"8080\"]\n", []string{
			"2,10: Unclosed configuration block",
			"3,22: Unclosed configuration block",
		}},
		// Closed blocks around an object constructor are not suspects.
		{"http {\n  types = {\n    \"text/x\" = [\"x\"]\n  }\n  server {\n", []string{
			"5,10: Unclosed configuration block",
			"5,11: Unclosed configuration block",
		}},
	}
	for i, tt := range tests {
		_, err := loadText(tt.src)
		if got := headlines(t, err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: got %q\nwant %q\n%s", i, got, tt.want, errText(err))
		}
	}
	_, err := loadText(tests[0].src)
	if !strings.Contains(errText(err), `the file ends here with 1 block(s) still open: "http {" at 2,6`) {
		t.Errorf("the end-of-file diagnostic does not list the open block:\n%s", errText(err))
	}
}
