package conf

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// wantDefaultSettings is docs/reference.md and the field docs, written out by hand
// rather than taken from defaultSettings.
var wantDefaultSettings = Settings{
	Root:                      "/etc/tern/html",
	Index:                     []Template{mustTemplate("index.html")},
	AutoindexFormat:           "html",
	AutoindexExactSize:        true,
	DefaultType:               "application/octet-stream",
	Sendfile:                  true,
	SendfileMaxChunk:          256 << 10,
	AIO:                       AIO{Mode: AIOThreads, Pool: "default"},
	TCPNopush:                 true,
	TCPNodelay:                true,
	KeepaliveTimeout:          75 * time.Second,
	KeepaliveRequests:         1000,
	KeepaliveTime:             time.Hour,
	KeepaliveDisable:          KeepaliveDisableMSIE6,
	MaxHeaders:                1000,
	ClientHeaderTimeout:       60 * time.Second,
	ClientBodyTimeout:         60 * time.Second,
	SendTimeout:               60 * time.Second,
	ClientHeaderBufferSize:    1024,
	LargeClientHeaderBuffers:  Buffers{Num: 4, Size: 8192},
	ClientMaxBodySize:         1 << 20,
	ServerTokens:              true,
	Etag:                      true,
	IfModifiedSince:           IMSExact,
	MaxRanges:                 -1,
	GzipTypes:                 []string{"text/html", "text/css", "application/javascript", "application/json", "image/svg+xml", "text/plain"},
	GzipMinLength:             20,
	GzipCompLevel:             1,
	AccessLogs:                []AccessLog{{Path: "/etc/tern/logs/access.log"}},
	AccessLogFormat:           FormatJSON,
	LogNotFound:               true,
	ErrorLogLevel:             LevelInherit,
	AbsoluteRedirect:          true,
	PortInRedirect:            true,
	MergeSlashes:              true,
	HTTP2MaxConcurrentStreams: 128,
	HTTP2ChunkSize:            16 << 10,
	HTTP2RecvBufferSize:       256 << 10,
	SSL: SSL{
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS13,
		SessionTickets:   true,
		SessionTimeout:   5 * time.Minute,
		HandshakeTimeout: 60 * time.Second,
		VerifyDepth:      1,
	},
	RealIPHeader:      RealIPHeader{Kind: RealIPXRealIP, Name: "x_real_ip"},
	LimitReqStatus:    503,
	LimitReqLogLevel:  LogError,
	LimitConnStatus:   503,
	LimitConnLogLevel: LogError,
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, "http {\n  server {}\n}\n")
	main := *c
	main.HTTP, main.Sources = nil, nil
	want := Config{
		File:              testFile,
		Prefix:            "/etc/tern",
		WorkerCPUAffinity: Affinity{Mode: AffinityAuto},
		WorkerConnections: 1024,
		AcceptMutex:       true,
		AcceptMutexDelay:  500 * time.Millisecond,
		PID:               "/etc/tern/logs/tern.pid",
		ErrorLog:          "/etc/tern/logs/error.log",
		ErrorLogLevel:     zerolog.InfoLevel,
		ThreadPools:       map[string]*ThreadPool{"default": {Name: "default", Threads: 32, MaxQueue: 65536}},
		User:              "nobody",
	}
	if !reflect.DeepEqual(main, want) {
		t.Errorf("main context:\n got %+v\nwant %+v", main, want)
	}
	srv := c.HTTP.Servers[0]
	if !reflect.DeepEqual(srv.Root.Settings, wantDefaultSettings) {
		t.Errorf("settings:\n got %+v\nwant %+v", srv.Root.Settings, wantDefaultSettings)
	}
	if srv.Root.Modifier != ModNone || srv.Root.Server != srv || srv.Root.Name != "" {
		t.Errorf("Root = %+v", srv.Root)
	}
	if len(c.HTTP.Addrs) != 1 || len(srv.Addrs) != 1 || srv.Addrs[0] != c.HTTP.Addrs[0] {
		t.Fatalf("Addrs = %v, server's %v", c.HTTP.Addrs, srv.Addrs)
	}
	a := c.HTTP.Addrs[0]
	if a.Network != "tcp4" || a.Addr != "0.0.0.0:80" || a.Backlog != 511 || a.ReusePort || a.Default != srv {
		t.Errorf("default listen = %+v", a)
	}
	if c.HTTP.MIME.Len() != newMIME().Len() {
		t.Errorf("MIME has %d entries, want the built-in %d", c.HTTP.MIME.Len(), newMIME().Len())
	}
	if got := mustLoad(t, ""); got.HTTP != nil {
		t.Errorf("a file without http has HTTP %+v", got.HTTP)
	}
}

func TestMainDirectives(t *testing.T) {
	tests := []struct {
		src  string
		get  func(*Config) any
		want any
	}{
		{`worker_processes = "auto"`, func(c *Config) any { return c.WorkerProcesses }, 0},
		{`worker_processes = 4`, func(c *Config) any { return c.WorkerProcesses }, 4},
		{`worker_processes = "8"`, func(c *Config) any { return c.WorkerProcesses }, 8},
		{`worker_cpu_affinity = "off"`, func(c *Config) any { return c.WorkerCPUAffinity }, Affinity{Mode: AffinityOff}},
		{`worker_cpu_affinity = "auto"`, func(c *Config) any { return c.WorkerCPUAffinity }, Affinity{Mode: AffinityAuto}},
		{`worker_cpu_affinity = ["0", "1", "2-3", "4,6"]`, func(c *Config) any { return c.WorkerCPUAffinity },
			Affinity{Mode: AffinityList, CPUs: [][]int{{0}, {1}, {2, 3}, {4, 6}}}},
		{`worker_cpu_affinity = "0-1"`, func(c *Config) any { return c.WorkerCPUAffinity },
			Affinity{Mode: AffinityList, CPUs: [][]int{{0, 1}}}},
		{`worker_connections = 4096`, func(c *Config) any { return c.WorkerConnections }, 4096},
		{`worker_rlimit_nofile = 65536`, func(c *Config) any { return c.WorkerRlimitNofile }, uint64(65536)},
		{`worker_shutdown_timeout = "30s"`, func(c *Config) any { return c.WorkerShutdownTimeout }, 30 * time.Second},
		{`worker_shutdown_timeout = 90`, func(c *Config) any { return c.WorkerShutdownTimeout }, 90 * time.Second},
		{`accept_mutex = false`, func(c *Config) any { return c.AcceptMutex }, false},
		{`accept_mutex_delay = "100ms"`, func(c *Config) any { return c.AcceptMutexDelay }, 100 * time.Millisecond},
		{`pid = "off"`, func(c *Config) any { return c.PID }, ""},
		{`pid = "run/tern.pid"`, func(c *Config) any { return c.PID }, "/etc/tern/run/tern.pid"},
		{`pid = "/run/tern.pid"`, func(c *Config) any { return c.PID }, "/run/tern.pid"},
		{`error_log = "stderr"`, func(c *Config) any { return c.ErrorLog }, "stderr"},
		{`error_log = "stdout"`, func(c *Config) any { return c.ErrorLog }, "stdout"},
		{`error_log = "../log/err.log"`, func(c *Config) any { return c.ErrorLog }, "/etc/log/err.log"},
		{`error_log_level = "debug"`, func(c *Config) any { return c.ErrorLogLevel }, LogDebug},
		{`error_log_level = "info"`, func(c *Config) any { return c.ErrorLogLevel }, LogInfo},
		{`error_log_level = "notice"`, func(c *Config) any { return c.ErrorLogLevel }, LogNotice},
		{`error_log_level = "warn"`, func(c *Config) any { return c.ErrorLogLevel }, LogWarn},
		{`error_log_level = "error"`, func(c *Config) any { return c.ErrorLogLevel }, LogError},
		{`error_log_level = "crit"`, func(c *Config) any { return c.ErrorLogLevel }, LogCrit},
		{`error_log_level = "alert"`, func(c *Config) any { return c.ErrorLogLevel }, LogAlert},
		{"thread_pool \"disk\" {\n threads = 4\n}", func(c *Config) any { return *c.ThreadPools["disk"] },
			ThreadPool{Name: "disk", Threads: 4, MaxQueue: 65536}},
		{"thread_pool \"default\" {\n threads = 8\n max_queue = 0\n}", func(c *Config) any { return *c.ThreadPools["default"] },
			ThreadPool{Name: "default", Threads: 8, MaxQueue: 0}},
		{"thread_pool \"disk\" {\n threads = 4\n}", func(c *Config) any { return len(c.ThreadPools) }, 2},
	}
	for i, tt := range tests {
		c, err := loadText(tt.src)
		if err != nil {
			t.Errorf("%d: %s:\n%s", i, tt.src, errText(err))
			continue
		}
		if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: %s: got %#v, want %#v", i, tt.src, got, tt.want)
		}
	}
}

// settingsCase is one Settings directive as written in a location and
// what it must decode to.
type settingsCase struct {
	src  string
	get  func(*Settings) any
	want any
}

var settingsCases = []settingsCase{
	{`root = "www"`, func(s *Settings) any { return s.Root }, "/etc/tern/www"},
	{`root = "/srv/www/"`, func(s *Settings) any { return s.Root }, "/srv/www"},
	{`alias = "/srv/img/"`, func(s *Settings) any { return s.Alias }, "/srv/img/"},
	{`alias = "img"`, func(s *Settings) any { return s.Alias }, "/etc/tern/img"},
	{`alias = "img/"`, func(s *Settings) any { return s.Alias }, "/etc/tern/img/"},
	{`index = ["index.htm", "index.html"]`, func(s *Settings) any { return s.Index }, []string{"index.htm", "index.html"}},
	{`index = "default.html"`, func(s *Settings) any { return s.Index }, []string{"default.html"}},
	{`index = []`, func(s *Settings) any { return s.Index }, []Template(nil)},
	{`autoindex = true`, func(s *Settings) any { return s.Autoindex }, true},
	{`autoindex_format = "json"`, func(s *Settings) any { return s.AutoindexFormat }, "json"},
	{`try_files = ["$uri", "${uri}/", "=404"]`, func(s *Settings) any { return templateStrings(s.TryFiles) },
		[]string{"$uri", "${uri}/", "=404"}},
	{`try_files = ["$uri", "/index.html"]`, func(s *Settings) any { return templateStrings(s.TryFiles) },
		[]string{"$uri", "/index.html"}},
	{`try_files = []`, func(s *Settings) any { return s.TryFiles }, []Template(nil)},
	{`error_page = { "404" = "/404.html", "500 502 503 504" = "/50x.html", 403 = "=200 /empty.gif" }`,
		func(s *Settings) any { return errorPageStrings(s.ErrorPages) },
		map[int]string{404: "/404.html", 500: "/50x.html", 502: "/50x.html", 503: "/50x.html", 504: "/50x.html", 403: "=200 /empty.gif"}},
	{`error_page = { "404" = "https://$host/missing?from=$uri" }`, func(s *Settings) any { return errorPageStrings(s.ErrorPages) },
		map[int]string{404: "https://$host/missing?from=$uri"}},
	{`error_page = {}`, func(s *Settings) any { return s.ErrorPages }, map[int]ErrorPage(nil)},
	{`add_header = { "X-Frame-Options" = "DENY", "Cache-Control" = "public", "X-A" = "" }`,
		func(s *Settings) any { return s.AddHeaders },
		[]Header{{Name: "X-Frame-Options", Value: mustTemplate("DENY")}, {Name: "Cache-Control", Value: mustTemplate("public")}, {Name: "X-A", Value: mustTemplate("")}}},
	{`add_header = {}`, func(s *Settings) any { return s.AddHeaders }, []Header(nil)},
	{`error_log = "logs/site.log"`, func(s *Settings) any { return s.ErrorLog }, "/etc/tern/logs/site.log"},
	{`error_log = "stderr"`, func(s *Settings) any { return s.ErrorLog }, "stderr"},
	{`error_log_level = "warn"`, func(s *Settings) any { return s.ErrorLogLevel }, LogWarn},
	{`expires = "off"`, func(s *Settings) any { return s.Expires }, Expires{}},
	{`expires = "epoch"`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresEpoch}},
	{`expires = "max"`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresMax}},
	{`expires = "30d"`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresAfter, After: 30 * 24 * time.Hour}},
	{`expires = "-1h"`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresAfter, After: -time.Hour}},
	{`expires = 3600`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresAfter, After: time.Hour}},
	{`expires = "0"`, func(s *Settings) any { return s.Expires }, Expires{Mode: ExpiresAfter}},
	{`stub_status = true`, func(s *Settings) any { return s.StubStatus }, true},
	{`metrics = true`, func(s *Settings) any { return s.Metrics }, true},
	{`health = true`, func(s *Settings) any { return s.Health }, true},
	{`default_type = "text/plain"`, func(s *Settings) any { return s.DefaultType }, "text/plain"},
	{`default_type = "text/plain; charset=utf-8"`, func(s *Settings) any { return s.DefaultType }, "text/plain; charset=utf-8"},
	{`charset = "utf-8"`, func(s *Settings) any { return s.Charset }, "utf-8"},
	{`charset = "off"`, func(s *Settings) any { return s.Charset }, ""},
	{`sendfile = false`, func(s *Settings) any { return s.Sendfile }, false},
	{`sendfile_max_chunk = "512k"`, func(s *Settings) any { return s.SendfileMaxChunk }, int64(512 << 10)},
	{`sendfile_max_chunk = 0`, func(s *Settings) any { return s.SendfileMaxChunk }, int64(0)},
	{`limit_rate = "2m"`, func(s *Settings) any { return s.LimitRate }, int64(2 << 20)},
	{`limit_rate = 100`, func(s *Settings) any { return s.LimitRate }, int64(100)},
	{`limit_rate_after = "500k"`, func(s *Settings) any { return s.LimitRateAfter }, int64(500 << 10)},
	{`http2_chunk_size = "8k"`, func(s *Settings) any { return s.HTTP2ChunkSize }, int64(8 << 10)},
	{`http2_chunk_size = 1`, func(s *Settings) any { return s.HTTP2ChunkSize }, int64(1)},
	{`aio = "off"`, func(s *Settings) any { return s.AIO }, AIO{Mode: AIOOff}},
	{`aio = "threads"`, func(s *Settings) any { return s.AIO }, AIO{Mode: AIOThreads, Pool: "default"}},
	{`aio = "threads=default"`, func(s *Settings) any { return s.AIO }, AIO{Mode: AIOThreads, Pool: "default"}},
	{`aio = "threads=disk"`, func(s *Settings) any { return s.AIO }, AIO{Mode: AIOThreads, Pool: "disk"}},
	{`tcp_nopush = false`, func(s *Settings) any { return s.TCPNopush }, false},
	{`tcp_nodelay = false`, func(s *Settings) any { return s.TCPNodelay }, false},
	{`keepalive_timeout = 0`, func(s *Settings) any { return s.KeepaliveTimeout }, time.Duration(0)},
	{`keepalive_timeout = "65s"`, func(s *Settings) any { return s.KeepaliveTimeout }, 65 * time.Second},
	{`keepalive_requests = 100`, func(s *Settings) any { return s.KeepaliveRequests }, 100},
	{`client_header_timeout = "10s"`, func(s *Settings) any { return s.ClientHeaderTimeout }, 10 * time.Second},
	{`client_body_timeout = "1m"`, func(s *Settings) any { return s.ClientBodyTimeout }, time.Minute},
	{`send_timeout = "500ms"`, func(s *Settings) any { return s.SendTimeout }, 500 * time.Millisecond},
	{`client_header_buffer_size = "4k"`, func(s *Settings) any { return s.ClientHeaderBufferSize }, 4096},
	{`client_header_buffer_size = 2048`, func(s *Settings) any { return s.ClientHeaderBufferSize }, 2048},
	{`large_client_header_buffers = "8 16k"`, func(s *Settings) any { return s.LargeClientHeaderBuffers }, Buffers{8, 16 << 10}},
	{`client_max_body_size = 0`, func(s *Settings) any { return s.ClientMaxBodySize }, int64(0)},
	{`client_max_body_size = "10m"`, func(s *Settings) any { return s.ClientMaxBodySize }, int64(10 << 20)},
	{`server_tokens = false`, func(s *Settings) any { return s.ServerTokens }, false},
	{`disable_symlinks = true`, func(s *Settings) any { return s.DisableSymlinks }, true},
	{`etag = false`, func(s *Settings) any { return s.Etag }, false},
	{`if_modified_since = "off"`, func(s *Settings) any { return s.IfModifiedSince }, IMSOff},
	{`if_modified_since = "before"`, func(s *Settings) any { return s.IfModifiedSince }, IMSBefore},
	{`if_modified_since = "exact"`, func(s *Settings) any { return s.IfModifiedSince }, IMSExact},
	{`max_ranges = 4`, func(s *Settings) any { return s.MaxRanges }, 4},
	{`max_ranges = 0`, func(s *Settings) any { return s.MaxRanges }, 0},
	{`max_ranges = -1`, func(s *Settings) any { return s.MaxRanges }, -1},
	{`gzip_static = true`, func(s *Settings) any { return s.GzipStatic }, true},
	{`gzip = true`, func(s *Settings) any { return s.Gzip }, true},
	{`gzip_types = ["Text/CSS", "*"]`, func(s *Settings) any { return s.GzipTypes }, []string{"text/css", "*"}},
	{`gzip_min_length = "1k"`, func(s *Settings) any { return s.GzipMinLength }, int64(1024)},
	{`gzip_comp_level = 9`, func(s *Settings) any { return s.GzipCompLevel }, 9},
	{`access_log = "off"`, func(s *Settings) any { return logsString(s) }, ""},
	{`access_log = "stdout"`, func(s *Settings) any { return logsString(s) }, "stdout"},
	{`access_log = "stderr"`, func(s *Settings) any { return logsString(s) }, "stderr"},
	{`access_log = "/var/log/tern/a.log"`, func(s *Settings) any { return logsString(s) }, "/var/log/tern/a.log"},
	{`access_log = ["a.log combined buffer=32k flush=5s", "stdout json if=$arg_log"]`, func(s *Settings) any { return logsString(s) },
		"/etc/tern/a.log combined buffer=32k flush=5s|stdout json if=$arg_log"},
	{`access_log_format = "combined"`, func(s *Settings) any { return s.AccessLogFormat.Name }, "combined"},
	{`log_not_found = false`, func(s *Settings) any { return s.LogNotFound }, false},
	{`open_file_cache = { max = 10000, inactive = "20s" }`, func(s *Settings) any { return s.OpenFileCache },
		&OpenFileCache{Max: 10000, Inactive: 20 * time.Second}},
	{`open_file_cache = { max = 10 }`, func(s *Settings) any { return s.OpenFileCache },
		&OpenFileCache{Max: 10, Inactive: 60 * time.Second}},
	{`open_file_cache = "off"`, func(s *Settings) any { return s.OpenFileCache }, (*OpenFileCache)(nil)},
}

// logsString writes the access_log destinations of s, "|" between them.
func logsString(s *Settings) string {
	var out []string
	for _, l := range s.AccessLogs {
		out = append(out, l.String())
	}
	return strings.Join(out, "|")
}

// asStrings turns a []Template into the strings it was written as, for
// comparison; anything else is returned as it is.
func asStrings(v any) any {
	list, ok := v.([]Template)
	if !ok || list == nil {
		return v
	}
	return templateStrings(list)
}

func TestSettingsDirectives(t *testing.T) {
	for i, tt := range settingsCases {
		src := "thread_pool \"disk\" {\n  threads = 2\n}\nhttp {\n  server {\n    location \"/\" {\n      " + tt.src + "\n    }\n  }\n}\n"
		c, err := loadText(src)
		if err != nil {
			t.Errorf("%d: %s:\n%s", i, tt.src, errText(err))
			continue
		}
		srv := c.HTTP.Servers[0]
		if got := tt.get(&srv.Locations[0].Settings); !reflect.DeepEqual(asStrings(got), tt.want) {
			t.Errorf("%d: %s: got %#v, want %#v", i, tt.src, got, tt.want)
		}
		// The server keeps its default.
		if got, def := tt.get(&srv.Root.Settings), tt.get(&wantDefaultSettings); !reflect.DeepEqual(asStrings(got), asStrings(def)) {
			t.Errorf("%d: %s: the server got %#v, want the default %#v", i, tt.src, got, def)
		}
	}
}

func templateStrings(ts []Template) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func errorPageStrings(pages map[int]ErrorPage) map[int]string {
	out := make(map[int]string)
	for code, p := range pages {
		s := p.URI.String()
		if p.Status != 0 {
			s = "=" + itoa(p.Status) + " " + s
		}
		out[code] = s
	}
	return out
}

func itoa(n int) string { return FormatSize(int64(n)) }
