package conf

// docs/reference.md is made from this table and docs/directives (see
// reference_test.go), docs/variables.md from the variable table
// (variables_doc_test.go).
//go:generate go test -run ^(TestReference|TestVariablesDoc)$ -update

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rs/zerolog"
)

// Limits on values that end up in an int or in a kernel call.
const (
	// maxInt32 bounds counts and sizes the worker keeps in int fields or
	// passes to the kernel as int (listen backlog, buffer sizes).
	maxInt32 = math.MaxInt32
	// maxBufferSize bounds a header buffer: one is allocated per busy
	// connection, so a typo such as "8g" must not pass.
	maxBufferSize = 64 << 20
	// maxConcurrentStreams bounds http2_max_concurrent_streams: each
	// stream holds a request's state, and a client may fill them all.
	maxConcurrentStreams = 1 << 16
	// maxFramePayload is the largest HTTP/2 frame payload (RFC 9113
	// §4.2): http2_chunk_size cannot be more.
	maxFramePayload = 1<<24 - 1
)

// coreDirectives lists every attribute of the language once, but for the
// ssl_* ones. The Settings directives (inSettings and narrower) are shared
// by http, server and location: one decoder, one default
// (defaultSettings), one writer.
var coreDirectives = []directive{
	// Main context.
	{name: "worker_processes", ctx: inMain, decode: decodeWorkerProcesses},
	{name: "worker_cpu_affinity", ctx: inMain, decode: decodeAffinity},
	{name: "worker_connections", ctx: inMain, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 1, maxInt32); ok {
			t.cfg.WorkerConnections = int(n)
		}
	}},
	{name: "worker_rlimit_nofile", ctx: inMain, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 0, math.MaxInt64); ok {
			t.cfg.WorkerRlimitNofile = uint64(n)
		}
	}},
	{name: "worker_shutdown_timeout", ctx: inMain, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.duration(a, 0); ok {
			t.cfg.WorkerShutdownTimeout = v
		}
	}},
	{name: "accept_mutex", ctx: inMain, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.boolean(a); ok {
			t.cfg.AcceptMutex = v
		}
	}},
	{name: "accept_mutex_delay", ctx: inMain, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		// 0 would make a worker without the lock spin on epoll_wait.
		if v, ok := d.duration(a, time.Millisecond); ok {
			t.cfg.AcceptMutexDelay = v
		}
	}},
	{name: "pid", ctx: inMain, decode: decodePID},
	{name: "user", ctx: inMain, decode: decodeUser},
	{name: "error_log", ctx: inMain | inSettings, decode: decodeErrorLog, show: func(s *Settings) string {
		if s.ErrorLog == "" {
			return ""
		}
		return hclQuote(s.ErrorLog)
	}},
	{name: "error_log_level", ctx: inMain | inSettings, decode: decodeErrorLogLevel, show: showErrorLogLevel},

	// Inside thread_pool "NAME" { }.
	{name: "threads", ctx: inThreadPool, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 1, maxThreads); ok {
			t.pool.Threads = int(n)
		}
	}},
	{name: "max_queue", ctx: inThreadPool, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 0, maxInt32); ok {
			t.pool.MaxQueue = int(n)
		}
	}},

	// http only: there is one MIME table per configuration.
	{name: "include", ctx: inHTTP, decode: func(*decoder, *hcl.Attribute, *target) {
		// Read by httpBody before the other attributes.
	}},
	{name: "types", ctx: inHTTP, decode: decodeTypes},

	// server only.
	{name: "listen", ctx: inServer, decode: decodeListen},
	{name: "server_name", ctx: inServer, decode: decodeServerName},

	// Settings: paths and content.
	{name: "root", ctx: inSettings, decode: decodeRoot, show: func(s *Settings) string { return hclQuote(s.Root) }},
	{name: "alias", ctx: inLocation, decode: decodeAlias, show: showAlias},
	{name: "index", ctx: inSettings, decode: decodeIndex, show: showIndex},
	flag("autoindex", func(s *Settings) *bool { return &s.Autoindex }),
	choice("autoindex_format", func(s *Settings) *string { return &s.AutoindexFormat }, "html", "json", "jsonp", "xml"),
	flag("autoindex_exact_size", func(s *Settings) *bool { return &s.AutoindexExactSize }),
	flag("autoindex_localtime", func(s *Settings) *bool { return &s.AutoindexLocaltime }),
	{name: "try_files", ctx: inServer | inLocation, decode: decodeTryFiles, show: showTryFiles},
	{name: "error_page", ctx: inSettings, decode: decodeErrorPage, show: showErrorPages},
	{name: "add_header", ctx: inSettings, decode: decodeAddHeader, show: showHeaders},
	{name: "expires", ctx: inSettings, decode: decodeExpires, show: showExpires},
	// The rewrite module's statements (rewrite.go): written by WriteHCL
	// with their block, not inherited.
	{name: "set", ctx: inServer | inLocation, decode: decodeSet},
	{name: "rewrite", ctx: inServer | inLocation, decode: decodeRewrite},
	{name: "return", ctx: inServer | inLocation, decode: decodeReturn},
	{name: "break", ctx: inServer | inLocation, decode: decodeBreak},
	flag("rewrite_log", func(s *Settings) *bool { return &s.RewriteLog }),
	flag("absolute_redirect", func(s *Settings) *bool { return &s.AbsoluteRedirect }),
	flag("server_name_in_redirect", func(s *Settings) *bool { return &s.ServerNameInRedirect }),
	flag("port_in_redirect", func(s *Settings) *bool { return &s.PortInRedirect }),
	{name: "merge_slashes", ctx: inHTTP | inServer, decode: flagDecoder(func(s *Settings) *bool { return &s.MergeSlashes }),
		show: func(s *Settings) string { return strconv.FormatBool(s.MergeSlashes) }},
	{name: "stub_status", ctx: inServer | inLocation, decode: flagDecoder(func(s *Settings) *bool { return &s.StubStatus }),
		show: func(s *Settings) string { return strconv.FormatBool(s.StubStatus) }},
	{name: "metrics", ctx: inServer | inLocation, decode: flagDecoder(func(s *Settings) *bool { return &s.Metrics }),
		show: func(s *Settings) string { return strconv.FormatBool(s.Metrics) }},
	{name: "health", ctx: inServer | inLocation, decode: flagDecoder(func(s *Settings) *bool { return &s.Health }),
		show: func(s *Settings) string { return strconv.FormatBool(s.Health) }},
	{name: "default_type", ctx: inSettings, decode: decodeDefaultType, show: func(s *Settings) string { return hclQuote(s.DefaultType) }},
	{name: "charset", ctx: inSettings, decode: decodeCharset, show: showCharset},
	{name: "charset_types", ctx: inSettings, decode: decodeCharsetTypes, show: showCharsetTypes},
	{name: "source_charset", ctx: inSettings, decode: decodeSourceCharset, show: showSourceCharset},
	flag("override_charset", func(s *Settings) *bool { return &s.OverrideCharset }),

	// Settings: sending.
	flag("sendfile", func(s *Settings) *bool { return &s.Sendfile }),
	byteSize("sendfile_max_chunk", 0, math.MaxInt64, func(s *Settings) *int64 { return &s.SendfileMaxChunk }),
	{name: "aio", ctx: inSettings, decode: decodeAIO, show: showAIO},
	flag("tcp_nopush", func(s *Settings) *bool { return &s.TCPNopush }),
	flag("tcp_nodelay", func(s *Settings) *bool { return &s.TCPNodelay }),

	// Settings: connections and limits. A zero timeout would close a
	// connection before it could send a byte; keepalive_timeout 0 is
	// nginx's way to turn keep-alive off.
	{name: "keepalive_timeout", ctx: inSettings, decode: decodeKeepaliveTimeout, show: showKeepaliveTimeout},
	timeout("keepalive_time", time.Millisecond, func(s *Settings) *time.Duration { return &s.KeepaliveTime }),
	{name: "keepalive_disable", ctx: inSettings, decode: decodeKeepaliveDisable, show: showKeepaliveDisable},
	count("max_headers", 1, maxInt32, func(s *Settings) *int { return &s.MaxHeaders }),
	count("keepalive_requests", 0, maxInt32, func(s *Settings) *int { return &s.KeepaliveRequests }),
	timeout("client_header_timeout", time.Millisecond, func(s *Settings) *time.Duration { return &s.ClientHeaderTimeout }),
	timeout("client_body_timeout", time.Millisecond, func(s *Settings) *time.Duration { return &s.ClientBodyTimeout }),
	timeout("send_timeout", time.Millisecond, func(s *Settings) *time.Duration { return &s.SendTimeout }),
	{name: "client_header_buffer_size", ctx: inSettings, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.size(a, 1, maxBufferSize); ok {
			t.set.ClientHeaderBufferSize = int(n)
		}
	}, show: func(s *Settings) string { return hclQuote(FormatSize(int64(s.ClientHeaderBufferSize))) }},
	{name: "large_client_header_buffers", ctx: inSettings, decode: decodeLargeBuffers, show: showLargeBuffers},
	byteSize("client_max_body_size", 0, math.MaxInt64, func(s *Settings) *int64 { return &s.ClientMaxBodySize }),

	// Settings: response headers and conditionals.
	flag("server_tokens", func(s *Settings) *bool { return &s.ServerTokens }),
	{name: "disable_symlinks", ctx: inSettings, decode: decodeDisableSymlinks, show: showDisableSymlinks},
	flag("etag", func(s *Settings) *bool { return &s.Etag }),
	{name: "if_modified_since", ctx: inSettings, decode: decodeIMS, show: showIMS},
	// -1, the default, is unlimited; nginx cannot say that, tern can, so
	// that a location may lift a limit it inherits.
	count("max_ranges", -1, maxInt32, func(s *Settings) *int { return &s.MaxRanges }),

	// Settings: compression.
	flag("gzip_static", func(s *Settings) *bool { return &s.GzipStatic }),
	flag("gzip", func(s *Settings) *bool { return &s.Gzip }),
	{name: "gzip_types", ctx: inSettings, decode: decodeGzipTypes, show: func(s *Settings) string { return hclList(s.GzipTypes) }},
	byteSize("gzip_min_length", 0, math.MaxInt64, func(s *Settings) *int64 { return &s.GzipMinLength }),
	count("gzip_comp_level", 1, 9, func(s *Settings) *int { return &s.GzipCompLevel }),

	// Settings: logging and caching.
	{name: "access_log", ctx: inSettings, decode: decodeAccessLog, show: showAccessLog},
	{name: "access_log_format", ctx: inSettings, decode: decodeAccessLogFormat, show: showAccessLogFormat},
	flag("log_not_found", func(s *Settings) *bool { return &s.LogNotFound }),
	{name: "open_file_cache", ctx: inSettings, decode: decodeOpenFileCache, show: showOpenFileCache},

	// Settings: limits.
	byteSize("limit_rate", 0, math.MaxInt64/2, func(s *Settings) *int64 { return &s.LimitRate }),
	byteSize("limit_rate_after", 0, math.MaxInt64/2, func(s *Settings) *int64 { return &s.LimitRateAfter }),
	{name: "limit_req", ctx: inSettings, decode: decodeLimitReq, show: showLimitReq},
	statusDirective("limit_req_status", func(s *Settings) *int { return &s.LimitReqStatus }),
	logLevelDirective("limit_req_log_level", func(s *Settings) *zerolog.Level { return &s.LimitReqLogLevel }),
	flag("limit_req_dry_run", func(s *Settings) *bool { return &s.LimitReqDryRun }),
	{name: "limit_conn", ctx: inSettings, decode: decodeLimitConn, show: showLimitConn},
	statusDirective("limit_conn_status", func(s *Settings) *int { return &s.LimitConnStatus }),
	logLevelDirective("limit_conn_log_level", func(s *Settings) *zerolog.Level { return &s.LimitConnLogLevel }),
	flag("limit_conn_dry_run", func(s *Settings) *bool { return &s.LimitConnDryRun }),

	// Inside limit_req_zone "NAME" { } and limit_conn_zone "NAME" { }.
	{name: "key", ctx: inReqZone | inConnZone, decode: decodeZoneKey},
	{name: "size", ctx: inReqZone | inConnZone, decode: decodeZoneSize},
	{name: "rate", ctx: inReqZone, decode: decodeZoneRate},

	// Settings: secure links and referers (links.go).
	{name: "secure_link", ctx: inSettings, decode: decodeSecureLink, show: showTemplate(func(s *Settings) *Template { return &s.SecureLink })},
	{name: "secure_link_md5", ctx: inSettings, decode: decodeSecureLinkMD5, show: showTemplate(func(s *Settings) *Template { return &s.SecureLinkMD5 })},
	{name: "secure_link_secret", ctx: inLocation, decode: decodeSecureLinkSecret, show: func(s *Settings) string {
		if s.SecureLinkSecret == "" {
			return ""
		}
		return hclQuote(s.SecureLinkSecret)
	}},
	{name: "valid_referers", ctx: inSettings, decode: decodeValidReferers, show: showValidReferers},

	// Settings: the client's address behind proxies (realip.go).
	{name: "set_real_ip_from", ctx: inSettings, decode: decodeRealIPFrom, show: showRealIPFrom},
	{name: "real_ip_header", ctx: inSettings, decode: decodeRealIPHeader, show: showRealIPHeader},
	flag("real_ip_recursive", func(s *Settings) *bool { return &s.RealIPRecursive }),

	// Settings: HTTP/2. http2 and the stream limit are per server, as
	// nginx's; the read buffer is the worker's, so http level only.
	{name: "http2", ctx: inHTTP | inServer, decode: flagDecoder(func(s *Settings) *bool { return &s.HTTP2 }),
		show: func(s *Settings) string { return strconv.FormatBool(s.HTTP2) }},
	{name: "http2_max_concurrent_streams", ctx: inHTTP | inServer, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if n, ok := d.integer(a, 1, maxConcurrentStreams); ok {
			t.set.HTTP2MaxConcurrentStreams = int(n)
		}
	}, show: func(s *Settings) string { return strconv.Itoa(s.HTTP2MaxConcurrentStreams) }},
	byteSize("http2_chunk_size", 1, maxFramePayload, func(s *Settings) *int64 { return &s.HTTP2ChunkSize }),
	{name: "http2_recv_buffer_size", ctx: inHTTP, decode: func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.size(a, 1, maxBufferSize); ok {
			t.set.HTTP2RecvBufferSize = v
		}
	}, show: func(s *Settings) string { return hclQuote(FormatSize(s.HTTP2RecvBufferSize)) }},

	// Settings: access (access.go).
	{name: "allow", ctx: inSettings, decode: decodeAccess, showPairs: showAccess},
	{name: "deny", ctx: inSettings, decode: decodeAccess},
	{name: "satisfy", ctx: inSettings, decode: decodeSatisfy, show: showSatisfy},
	{name: "internal", ctx: inLocation, decode: flagDecoder(func(s *Settings) *bool { return &s.Internal }),
		show: func(s *Settings) string { return strconv.FormatBool(s.Internal) }},
	{name: "auth_basic", ctx: inSettings, decode: decodeAuthBasic, show: showAuthBasic},
	{name: "auth_basic_user_file", ctx: inSettings, decode: decodeAuthBasicUserFile, show: showAuthBasicUserFile},
}

// directiveTable is every directive: the core ones, then TLS's (ssl.go),
// then ACME's (acme.go).
var directiveTable = slices.Concat(coreDirectives, sslDirectives, acmeDirectives)

// flag is a boolean Settings directive.
func flag(name string, field func(*Settings) *bool) directive {
	return directive{name: name, ctx: inSettings, decode: flagDecoder(field),
		show: func(s *Settings) string { return strconv.FormatBool(*field(s)) }}
}

func flagDecoder(field func(*Settings) *bool) func(*decoder, *hcl.Attribute, *target) {
	return func(d *decoder, a *hcl.Attribute, t *target) {
		if v, ok := d.boolean(a); ok {
			*field(t.set) = v
		}
	}
}

// timeout is a Settings duration of at least lo.
func timeout(name string, lo time.Duration, field func(*Settings) *time.Duration) directive {
	return directive{name: name, ctx: inSettings,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.duration(a, lo); ok {
				*field(t.set) = v
			}
		},
		show: func(s *Settings) string { return hclQuote(FormatDuration(*field(s))) }}
}

// byteSize is a Settings size in [lo, hi].
func byteSize(name string, lo, hi int64, field func(*Settings) *int64) directive {
	return directive{name: name, ctx: inSettings,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.size(a, lo, hi); ok {
				*field(t.set) = v
			}
		},
		show: func(s *Settings) string { return hclQuote(FormatSize(*field(s))) }}
}

// count is a Settings integer in [lo, hi].
func count(name string, lo, hi int64, field func(*Settings) *int) directive {
	return directive{name: name, ctx: inSettings,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.integer(a, lo, hi); ok {
				*field(t.set) = int(v)
			}
		},
		show: func(s *Settings) string { return strconv.Itoa(*field(s)) }}
}

// choice is a Settings keyword stored as its string.
func choice(name string, field func(*Settings) *string, words ...string) directive {
	return directive{name: name, ctx: inSettings,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			if v, ok := d.keyword(a, words...); ok {
				*field(t.set) = v
			}
		},
		show: func(s *Settings) string { return hclQuote(*field(s)) }}
}
