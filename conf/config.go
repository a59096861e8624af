// Package conf reads tern's HCL configuration (docs/configuration.md) into an immutable
// effective configuration: every default filled in, every duration and size
// parsed, inheritance from http to server to location resolved, and every
// mistake reported as an HCL diagnostic with its file, line and column.
//
// Nothing in a *Config changes after Load returns it; the worker reads it
// from its event loop without locks, and a reload builds a new one.
//
// The language follows nginx's directive names and semantics. Where tern
// deliberately differs:
//
//   - types and include are http-level only: there is one MIME table.
//   - alias is refused in regular expression locations (tern has no
//     captures); named locations (@name) and nested locations are refused.
//   - Regular expressions are Go's RE2, not PCRE.
//   - listen takes IP addresses, "*" and "localhost", never other names,
//     and a server without listen listens on 0.0.0.0:80 whoever runs it.
//     The same reuseport/backlog options may be repeated in several
//     servers (nginx refuses any repetition); different ones are an error.
//   - worker_cpu_affinity takes CPU lists ("0-3"), not bitmasks.
//   - An empty list or map unsets what a level inherits (try_files = [],
//     add_header = {}); max_ranges = -1 is unlimited.
//   - error_log cannot be "off"; error_page has no bare "=".
//   - allow and deny are attributes, each written once per block: a
//     block's rules are the allow run and the deny run in the order the
//     two are written (tern convert rewrites nginx rules that alternate
//     more often). An address with host bits set after its prefix
//     length ("10.1.2.3/8") is an error, not a warning.
//   - auth_basic without an auth_basic_user_file is an error (nginx
//     silently does not authenticate).
//   - A directive listed in Unsupported is an error wherever it appears.
package conf

import (
	"time"

	"github.com/rs/zerolog"
)

// Config is the effective configuration of the main context.
type Config struct {
	// File is the absolute path of the main configuration file, or a
	// bracketed pseudo-name such as "<serve>" for a configuration built in
	// memory.
	File string
	// Prefix is the absolute directory that relative paths resolve against:
	// -p, else the directory of File.
	Prefix string

	// WorkerProcesses is the number of workers; 0 means "auto" (one per CPU
	// the master may run on). Default: auto.
	WorkerProcesses int
	// WorkerCPUAffinity says where each worker runs. Default: auto.
	WorkerCPUAffinity Affinity
	// WorkerConnections caps the open connections of one worker, listening
	// sockets excluded. Default: 1024.
	WorkerConnections int
	// WorkerRlimitNofile is the RLIMIT_NOFILE a worker sets for itself;
	// 0 leaves it as inherited. Default: 0.
	WorkerRlimitNofile uint64
	// WorkerShutdownTimeout bounds a gracefully stopping worker's life;
	// 0 waits for every connection. Default: 0.
	WorkerShutdownTimeout time.Duration
	// AcceptMutex selects the shared accept lock (true) or EPOLLEXCLUSIVE
	// wake-ups (false). Default: true.
	AcceptMutex bool
	// AcceptMutexDelay caps how long a worker without the accept lock
	// waits before trying it again. Default: 500ms.
	AcceptMutexDelay time.Duration
	// User and Group are who the workers run as when the master is root
	// (Group "": the group named as the user, else the user's primary
	// group). A master that is not root ignores them. UserSet says the
	// configuration named the user. Default: nobody.
	User, Group string
	UserSet     bool
	// PID is the absolute path of the pid file, or "" for none (tern serve).
	// Default: PREFIX/logs/tern.pid.
	PID string
	// ErrorLog is an absolute path or "stderr". Default: PREFIX/logs/error.log.
	ErrorLog string
	// ErrorLogLevel is the least severe level written (LogDebug to
	// LogAlert, loglevel.go). Default: notice (LogNotice).
	ErrorLogLevel zerolog.Level

	// ThreadPools holds every thread pool by name; "default" is always
	// present (32 threads, a queue of 65536) unless redefined.
	ThreadPools map[string]*ThreadPool

	// HTTP is the http block, or nil when the file has none.
	HTTP *HTTP

	// ACMEIssuers are the acme_issuer blocks, of the main context and of
	// http, in the order they are written.
	ACMEIssuers []*ACMEIssuer

	// Sources maps the absolute path (or pseudo-name) of every file the
	// configuration was read from to its text: the snapshot that a worker
	// or an upgraded binary decodes instead of re-reading the disk.
	// Certificates, keys and the other files of TLS servers are in it too.
	Sources map[string][]byte

	// Warnings, when not nil, are diagnostics that did not stop the
	// load, such as a certificate that expires within 30 days; -t prints
	// them with WriteText.
	Warnings *Error
}

// AffinityMode is how workers are pinned to CPUs.
type AffinityMode int8

const (
	// AffinityAuto pins worker i to the i-th CPU the master may run on,
	// wrapping around.
	AffinityAuto AffinityMode = iota
	// AffinityOff leaves workers unpinned.
	AffinityOff
	// AffinityList pins worker i to CPUs[i] (the last list is reused when
	// there are more workers than lists, as nginx).
	AffinityList
)

// Affinity is worker_cpu_affinity.
type Affinity struct {
	// Mode is auto, off or an explicit list.
	Mode AffinityMode
	// CPUs holds one list of CPU numbers per worker, for AffinityList,
	// each sorted without duplicates. The configuration writes a list as
	// in taskset -c ("0-3,8"); see ParseCPUList.
	CPUs [][]int
}

// ThreadPool is a thread_pool block.
type ThreadPool struct {
	// Name is the block label; aio = "threads=NAME" refers to it.
	Name string
	// Threads is the number of pool threads. Default: 32.
	Threads int
	// MaxQueue bounds the tasks waiting for a thread; a task posted to a
	// full queue fails (the request gets 500). Default: 65536.
	MaxQueue int
}

// HTTP is the effective http block.
type HTTP struct {
	// Servers in the order they appear.
	Servers []*Server
	// Addrs lists every distinct listening address with the servers that
	// listen on it, in the order the addresses first appear.
	Addrs []*Addr
	// MIME maps file extensions to media types: the built-in table, then
	// included files, then types attributes, later entries winning.
	MIME *MIME
	// Vars are the user variables — made by set and map, and the named
	// groups of regular expressions — indexed by Var.N.
	Vars []UserVar
	// LogFormats are the log_format blocks, in order.
	LogFormats []*LogFormat
	// Zones are the limit_req_zone and limit_conn_zone blocks, in the
	// order they are defined: the order the master hands their shared
	// memory to workers.
	Zones []*LimitZone
	// CharsetMaps are the charset_map blocks, in order.
	CharsetMaps []*CharsetMap

	// settings are the http-level settings the servers inherit, kept for
	// WriteHCL.
	settings *Settings
}

// UserVar is a variable the configuration makes.
type UserVar struct {
	// Name is the name without "$".
	Name string
	// Map computes the value when set has not given one; nil for a
	// variable only set or named groups give a value.
	Map *Map
}

// Addr is one listening address and the virtual servers on it.
type Addr struct {
	// Network is "tcp4" or "tcp6".
	Network string
	// Addr is the normalised host:port, e.g. "0.0.0.0:8080",
	// "127.0.0.1:80", "[::1]:8080", "[::]:80".
	Addr string
	// ReusePort gives every worker a socket of its own (SO_REUSEPORT).
	ReusePort bool
	// Backlog is the listen(2) backlog. Default: 511, as nginx.
	Backlog int
	// SndBuf and RcvBuf are the socket's SO_SNDBUF and SO_RCVBUF
	// (listen's sndbuf= and rcvbuf=), which connections accepted from it
	// inherit; 0 leaves the kernel's default and its autotuning
	// (docs/directives/listen.md).
	SndBuf, RcvBuf int
	// ProxyProtocol expects every connection to start with a PROXY
	// protocol header (version 1 or 2) from a load balancer, which says
	// whose connection it relays ($proxy_protocol_addr); real_ip_header
	// "proxy_protocol" makes that the client's address.
	ProxyProtocol bool
	// SSL makes it a TLS listener: a server listening on it with "ssl"
	// makes it one for every server on it, as nginx.
	SSL bool
	// Default is the server that answers a Host that no server_name
	// matches: the one marked default_server, else the first.
	Default *Server
	// Servers listening on this address, in configuration order.
	Servers []*Server

	names serverNames
}

// Server is an effective server block.
type Server struct {
	// Names are the server_name entries as written, lowercased except
	// for regular expressions ("~..."), which keep their case and match
	// case-insensitively.
	Names []string
	// Name is the server's name, as nginx's: the first of Names, without
	// the leading "." of a ".example.com" entry; "" without a
	// server_name. It is $server_name, and the host of a redirect with
	// server_name_in_redirect.
	Name string
	// Addrs are the addresses this server listens on.
	Addrs []*Addr
	// Root holds the server's own settings: what a request gets when no
	// location matches. Its Modifier is ModNone.
	Root *Location
	// Locations in configuration order.
	Locations []*Location
	// ACME is acme_certificate: the certificate comes from an ACME
	// issuer, not from ssl_certificate; nil for none.
	ACME *ACMECertificate

	locs locationIndex
}

// Modifier is the kind of a location match.
type Modifier int8

const (
	// ModNone marks a server's own settings (no location block).
	ModNone Modifier = iota
	// ModPrefix: location "/path/" — longest prefix wins.
	ModPrefix
	// ModExact: location "= /path" — the path alone.
	ModExact
	// ModPrefixNoRegex: location "^~ /path/" — a prefix that, when it is
	// the longest match, skips the regular expressions.
	ModPrefixNoRegex
	// ModRegex: location "~ re" — case-sensitive, first match in order.
	ModRegex
	// ModRegexCaseless: location "~* re" — case-insensitive.
	ModRegexCaseless
)

// Location is an effective location block: its match and every setting,
// inherited from the server and http levels where it does not set its own.
type Location struct {
	// Name is the block label as written, e.g. "^~ /static/".
	Name string
	// Modifier is the kind of match; ModNone for a server's Root.
	Modifier Modifier
	// Path is the prefix or exact path, or the regular expression's source.
	Path string
	// Regex is the compiled expression of a ModRegex or ModRegexCaseless
	// location (Go RE2 syntax, not PCRE), nil otherwise.
	Regex *Regex
	// Server is the server this location belongs to.
	Server *Server
	// Script is the location's statements (set, rewrite, return, break,
	// if), run in its rewrite phase; a server's Root holds the server's,
	// run before a location is chosen. Not inherited.
	Script []Stmt
	// If marks the location of an if block: it shares its location's
	// match and inherits all its settings.
	If bool
	// Locations are the locations nested in this one, in configuration
	// order.
	Locations []*Location

	locs locationIndex
	// Guard is set when the access phase has work here (allow or deny,
	// auth_basic, internal): a request elsewhere skips it with one test.
	Guard bool

	Settings
}

// Settings are the directives that may appear at http, server and
// location level; a Location carries the effective value of each.
type Settings struct {
	// Root is the absolute document root. Default: PREFIX/html.
	Root string
	// RootVars, when not zero, is a root with variables, expanded per
	// request (Root then holds it as written); a relative result is
	// taken from the prefix.
	RootVars Template
	// Alias replaces the location's prefix (absolute path; "" when unset).
	Alias string
	// AliasVars, when not zero, is an alias with variables; in a regular
	// expression location its captures make the whole path, as nginx.
	AliasVars Template
	// Index files tried for a URI ending in "/". Default: ["index.html"].
	Index []Template
	// Autoindex lists directories that have no index file. Default: false.
	Autoindex bool
	// AutoindexFormat is "html", "json", "jsonp" or "xml". Default: "html".
	AutoindexFormat string
	// AutoindexExactSize lists sizes in bytes; false rounds them to K, M
	// or G. Default: true.
	AutoindexExactSize bool
	// AutoindexLocaltime lists dates in local time rather than GMT.
	// Default: false.
	AutoindexLocaltime bool
	// TryFiles is try_files; nil when unset. The last entry is the
	// fallback: "=CODE" or a URI.
	TryFiles []Template
	// ErrorPages maps a status to the page that replaces its body.
	ErrorPages map[int]ErrorPage
	// AddHeaders are sent on 200, 201, 204, 206, 301, 302, 303, 304, 307
	// and 308 responses (on every response when Always), sorted by name.
	AddHeaders []Header
	// Expires sets Expires and Cache-Control. Default: off.
	Expires Expires
	// AbsoluteRedirect makes a Location that starts with "/" absolute.
	// Default: true.
	AbsoluteRedirect bool
	// ServerNameInRedirect uses the server's first name in an absolute
	// Location rather than the request's host. Default: false.
	ServerNameInRedirect bool
	// PortInRedirect puts the port that accepted the connection in an
	// absolute Location (but 80). Default: true.
	PortInRedirect bool
	// MergeSlashes merges runs of slashes in the request path; a
	// server's own value applies (http and server only). Default: true.
	MergeSlashes bool
	// RewriteLog logs each rewrite and if regular expression's outcome
	// at notice level. Default: false.
	RewriteLog bool
	// StubStatus serves nginx's stub_status text. Default: false.
	StubStatus bool
	// Metrics serves Prometheus text. Default: false.
	Metrics bool
	// Health answers 200 while the server serves and 503 once it drains
	// (a graceful stop, WINCH, an upgrade's hand-over), from memory,
	// before return and try_files. Default: false.
	Health bool

	// DefaultType is the media type of an extension the table lacks.
	// Default: "application/octet-stream".
	DefaultType string
	// Charset, when not "", is appended to text/* content types as
	// "; charset=VALUE". Default: "" (off).
	Charset string
	// CharsetTypes, when not nil, are the media types (lower case) that
	// Charset applies to, text/html always included and "*" for every
	// type, as nginx's charset_types; nil is every text/* type.
	// Default: nil.
	CharsetTypes []string
	// SourceCharset is the charset of the files; when it differs from
	// Charset, file bodies are recoded by the charset_map between them
	// (Recode). Default: "" (off).
	SourceCharset string
	// OverrideCharset recodes responses that name a charset of their
	// own. tern makes none (it proxies nothing), so it changes nothing.
	// Default: false.
	OverrideCharset bool
	// Recode is how file bodies are recoded from SourceCharset to
	// Charset, nil when they are not. Computed at load, not written.
	Recode *Recode

	// Sendfile sends file bodies with sendfile(2). Default: true.
	Sendfile bool
	// SendfileMaxChunk bounds one sendfile call so that a fast client
	// cannot monopolise the loop. Default: 256 KiB (nginx: 2 MiB; see
	// docs/directives/sendfile_max_chunk.md).
	SendfileMaxChunk int64
	// AIO is the aio directive. Default: threads on the "default" pool.
	AIO AIO
	// TCPNopush holds back a response head until the body follows it.
	// Default: true.
	TCPNopush bool
	// TCPNodelay disables Nagle on keep-alive connections. Default: true.
	TCPNodelay bool

	// KeepaliveTimeout closes an idle keep-alive connection; 0 disables
	// keep-alive. Default: 75s.
	KeepaliveTimeout time.Duration
	// KeepaliveHeader, when not 0, is sent as "Keep-Alive: timeout=N"
	// (keepalive_timeout's second value). Default: 0.
	KeepaliveHeader time.Duration
	// KeepaliveTime bounds the life of a keep-alive connection: a
	// request that starts later than this after the accept is its last.
	// Default: 1h.
	KeepaliveTime time.Duration
	// KeepaliveDisable turns keep-alive off for old browsers that
	// mishandle it: MSIE 6 and older after a POST, and Safari on macOS.
	// Default: msie6.
	KeepaliveDisable KeepaliveDisable
	// MaxHeaders bounds the header fields of a request (more is 400);
	// the default server's applies. Default: 1000.
	MaxHeaders int
	// KeepaliveRequests is how many requests one connection may carry.
	// Default: 1000.
	KeepaliveRequests int
	// ClientHeaderTimeout runs from a request's first byte to the end of
	// its header. Default: 60s.
	ClientHeaderTimeout time.Duration
	// ClientBodyTimeout runs between two reads of a request body.
	// Default: 60s.
	ClientBodyTimeout time.Duration
	// SendTimeout runs between two writes of a response. Default: 60s.
	SendTimeout time.Duration
	// ClientHeaderBufferSize is the buffer a request header is first read
	// into. Default: 1 KiB.
	ClientHeaderBufferSize int
	// LargeClientHeaderBuffers bounds a request line and each header line
	// (Size) and the whole header (Num × Size). Default: 4 × 8 KiB.
	LargeClientHeaderBuffers Buffers
	// ClientMaxBodySize is the largest request body accepted; 0 means no
	// limit. Default: 1 MiB.
	ClientMaxBodySize int64

	// ServerTokens adds the version to the Server header and error pages.
	// Default: true.
	ServerTokens bool
	// DisableSymlinks refuses (403) a path with a symlink in it.
	// Default: false.
	DisableSymlinks bool
	// SymlinksIfNotOwner allows a symlink whose target has the link's
	// owner (disable_symlinks "if_not_owner"). Default: false.
	SymlinksIfNotOwner bool
	// SymlinksFrom, when not zero, is where the check starts: the part
	// of a path that it expands to (e.g. $document_root) is not checked
	// (disable_symlinks "from="). Default: none.
	SymlinksFrom Template
	// Etag sends ETag on file responses. Default: true.
	Etag bool
	// IfModifiedSince is how If-Modified-Since is compared. Default: exact.
	IfModifiedSince IMSMode
	// MaxRanges caps the ranges of one request; -1 is unlimited (the
	// default, as nginx), 0 turns ranges off.
	MaxRanges int
	// GzipStatic serves FILE.gz to clients that accept gzip. Default: false.
	GzipStatic bool
	// Gzip compresses responses on the fly. Default: false.
	Gzip bool
	// GzipTypes are the media types Gzip compresses, lowercased; "*" is
	// every type, and text/html always is (as nginx). Default: text/html,
	// text/css, application/javascript, application/json, image/svg+xml
	// and text/plain.
	GzipTypes []string
	// GzipMinLength is the smallest response Gzip compresses. Default: 20.
	GzipMinLength int64
	// GzipCompLevel is 1 (fastest) to 9 (smallest). Default: 1.
	GzipCompLevel int

	// ErrorLog is where the errors of the requests this block handles
	// go, as nginx's error_log in http, server and location: a path,
	// "stderr" or "stdout"; "" for the main context's error_log.
	ErrorLog string
	// ErrorLogLevel is the least severe level logged there; LevelInherit
	// (the default) for the main context's error_log_level.
	ErrorLogLevel zerolog.Level

	// AccessLogs are where each request is logged; none is off.
	// Default: PREFIX/logs/access.log.
	AccessLogs []AccessLog
	// AccessLogFormat is the format of the AccessLogs that name none.
	// Default: json.
	AccessLogFormat *LogFormat
	// LogNotFound logs, at error, each request for a file that does not
	// exist (nginx's log_not_found). Default: true.
	LogNotFound bool
	// OpenFileCache caches open descriptors and stat results; nil is off.
	OpenFileCache *OpenFileCache

	// LimitRate paces each response to this many bytes a second; 0 is
	// no limit. Default: 0.
	LimitRate int64
	// LimitRateAfter is how many bytes of a response go out before
	// LimitRate applies. Default: 0.
	LimitRateAfter int64
	// SecureLink is secure_link: the link's hash and expiry time, as
	// "HASH,EXPIRES" (from the arguments, usually); SecureLinkMD5 is
	// what the MD5 in HASH must be of. Both unset: no $secure_link.
	SecureLink    Template
	SecureLinkMD5 Template
	// SecureLinkSecret is secure_link_secret, the older form: the URI
	// holds /MD5/LINK and MD5 is of LINK and the secret. Default: none.
	SecureLinkSecret string
	// ValidReferers are the Referer values that leave $invalid_referer
	// empty; nil when valid_referers is not set. Default: none.
	ValidReferers *Referers
	// RealIPFrom are the addresses (set_real_ip_from) whose word about
	// the client's address is taken: a request from one gets its
	// address from RealIPHeader. Empty: none. Default: none.
	RealIPFrom []AccessRule
	// RealIPHeader is where the client's address is read. Default:
	// X-Real-IP.
	RealIPHeader RealIPHeader
	// RealIPRecursive skips, in X-Forwarded-For, every address of a
	// trusted proxy, from the last, to find the client's. Default: false.
	RealIPRecursive bool
	// LimitReq are the limit_req of the level, checked in order; a level
	// that has its own replaces what it inherits. Default: none.
	LimitReq []LimitReq
	// LimitReqStatus answers a request limit_req refuses. Default: 503.
	LimitReqStatus int
	// LimitReqLogLevel is the level of "limiting requests" in the error
	// log; delays are logged a level lower. Default: error.
	LimitReqLogLevel zerolog.Level
	// LimitReqDryRun counts and logs but refuses and delays nothing.
	// Default: false.
	LimitReqDryRun bool
	// LimitConn are the limit_conn of the level. Default: none.
	LimitConn []LimitConn
	// LimitConnStatus answers a request limit_conn refuses. Default: 503.
	LimitConnStatus int
	// LimitConnLogLevel is the level of "limiting connections" in the
	// error log. Default: error.
	LimitConnLogLevel zerolog.Level
	// LimitConnDryRun counts and logs but refuses nothing. Default: false.
	LimitConnDryRun bool

	// HTTP2 turns HTTP/2 on for a server (http and server level): a TLS
	// address offers "h2" through ALPN to the servers that have it, and
	// a plain address whose default server has it takes HTTP/2 with
	// prior knowledge (a connection that starts with the HTTP/2
	// preface). HTTP/1.1 goes on working on both. Default: false.
	HTTP2 bool
	// HTTP2MaxConcurrentStreams is the most streams a client may have
	// open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS; http and
	// server level). Default: 128.
	HTTP2MaxConcurrentStreams int
	// HTTP2ChunkSize is the largest DATA frame payload of a response, in
	// bytes (at most the client's SETTINGS_MAX_FRAME_SIZE). Default: 8k.
	HTTP2ChunkSize int64
	// HTTP2RecvBufferSize is the buffer each worker reads HTTP/2
	// connections into, in bytes (http level only; at least two frames
	// of 16 KiB are used). Default: 256k.
	HTTP2RecvBufferSize int64

	// Access are the allow and deny rules in order, the first that
	// matches the client deciding; nil allows everyone. A server or
	// location that has allow or deny replaces what it inherits.
	Access []AccessRule
	// Satisfy is how the access rules and auth_basic combine: all must
	// pass, or any one. Default: all.
	Satisfy Satisfy
	// Internal makes a location answer 404 to a request that did not
	// reach it through an internal redirect (index, try_files,
	// error_page). Location only. Default: false.
	Internal bool
	// AuthBasic is the realm of HTTP Basic authentication; "" is off.
	// Default: off.
	AuthBasic string
	// AuthBasicUserFile is the absolute path of the htpasswd file that
	// auth_basic checks passwords against; it is read again when it
	// changes. Default: none.
	AuthBasicUserFile string
	// AuthBasicUserFileVars is set when the path uses variables: it is
	// expanded per request, and AuthBasicUserFile is its text.
	AuthBasicUserFileVars Template
	// SSL holds the ssl_* directives, which only http and server set; a
	// location carries its server's.
	SSL SSL
}

// KeepaliveDisable is keepalive_disable: the browsers that do not get
// keep-alive.
type KeepaliveDisable uint8

const (
	// KeepaliveDisableMSIE6: MSIE 6 and older, after a POST.
	KeepaliveDisableMSIE6 KeepaliveDisable = 1 << iota
	// KeepaliveDisableSafari: Safari on macOS.
	KeepaliveDisableSafari
)

// AIOMode is the aio directive's mode.
type AIOMode int8

const (
	// AIOOff sends and reads on the event loop's thread.
	AIOOff AIOMode = iota
	// AIOThreads sends file regions whose pages are not cached from a
	// thread pool.
	AIOThreads
)

// AIO is the aio directive: "off", "threads" or "threads=POOL".
type AIO struct {
	// Mode is off or threads.
	Mode AIOMode
	// Pool names the thread pool; "default" when not given.
	Pool string
}

// Buffers is large_client_header_buffers: "NUM SIZE".
type Buffers struct {
	// Num is how many buffers one request header may use.
	Num int
	// Size is the size of each buffer in bytes.
	Size int
}

// IMSMode is if_modified_since.
type IMSMode int8

const (
	// IMSExact answers 304 only when the date equals the file's mtime.
	IMSExact IMSMode = iota
	// IMSOff ignores If-Modified-Since.
	IMSOff
	// IMSBefore answers 304 when the file is not newer than the date
	// (RFC 9110 §13.1.3).
	IMSBefore
)

// ExpiresMode is the form of an expires value.
type ExpiresMode int8

const (
	// ExpiresOff sends neither Expires nor Cache-Control.
	ExpiresOff ExpiresMode = iota
	// ExpiresEpoch sends "Thu, 01 Jan 1970 00:00:01 GMT" and no-cache.
	ExpiresEpoch
	// ExpiresMax sends "Thu, 31 Dec 2037 23:55:55 GMT" and
	// max-age=315360000.
	ExpiresMax
	// ExpiresAfter sends now+After and max-age (no-cache when negative).
	ExpiresAfter
	// ExpiresModified sends the file's Last-Modified+After ("modified
	// TIME"), and a max-age counted from now (no-cache when past).
	ExpiresModified
	// ExpiresDaily sends the next time of day After ("@15h30m", local
	// time) and the max-age until then.
	ExpiresDaily
)

// Expires is the expires directive.
type Expires struct {
	// Mode is the form of the value.
	Mode ExpiresMode
	// After is the time from now, for ExpiresAfter; it may be negative.
	After time.Duration
	// Var, when not zero, is a value with variables, parsed per request
	// as the directive's value ("off", "epoch", "max", "@TIME", a
	// time); Mode is then ExpiresAfter, or ExpiresModified for
	// "modified $var". A value that does not parse sends nothing, as
	// nginx.
	Var Template
}

// Header is one add_header entry.
type Header struct {
	// Name is the header name as written.
	Name string
	// Value is sent with its variables expanded; an empty result sends
	// nothing, as nginx.
	Value Template
	// Always sends it whatever the status (nginx's "always").
	Always bool
}

// ErrorPage is one error_page entry.
type ErrorPage struct {
	// URI is where the request is redirected internally (it starts with
	// "/") or, otherwise, the Location of a 302 (or Status) redirect.
	URI Template
	// Status, when not 0, replaces the response status ("=CODE").
	Status int
}

// OpenFileCache is open_file_cache = { max, inactive }.
type OpenFileCache struct {
	// Max is the number of entries kept.
	Max int
	// Inactive drops an entry not used for this long. Default: 60s.
	Inactive time.Duration
}
