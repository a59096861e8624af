package conf

import (
	"fmt"
	"slices"
	"strings"
)

// VarKind says which variable a template part reads. The worker evaluates
// each kind (conf.Vars); conf only compiles names into kinds.
type VarKind uint8

// The variables, with nginx's names and meanings (nginx's "Embedded
// Variables" of ngx_http_core_module, ngx_http_stub_status_module and the
// rewrite, map and regex modules). The doc of each is in builtinVars.
const (
	// varLiteral marks a template part that is text, not a variable.
	varLiteral VarKind = iota

	VarURI
	VarRequestURI
	VarArgs
	VarIsArgs
	VarHost
	VarHostname
	VarServerName
	VarServerAddr
	VarServerPort
	VarServerProtocol
	VarRemoteAddr
	VarRemotePort
	VarRemoteUser
	VarBinaryRemoteAddr
	VarScheme
	VarHTTPS
	VarHTTP2
	VarRequestMethod
	VarRequest
	VarRequestLength
	VarRequestTime
	VarRequestFilename
	VarRequestID
	VarRequestCompletion
	VarDocumentRoot
	VarRealpathRoot
	VarContentType
	VarContentLength
	VarStatus
	VarBodyBytesSent
	VarBytesSent
	VarConnection
	VarConnectionRequests
	VarConnectionTime
	VarConnectionsActive
	VarConnectionsReading
	VarConnectionsWriting
	VarConnectionsWaiting
	VarMsec
	VarTimeISO8601
	VarTimeLocal
	VarPID
	VarNginxVersion
	VarSSLProtocol
	VarSSLCipher
	VarSSLServerName
	VarSSLSessionReused
	VarSSLSessionID
	VarSSLALPNProtocol
	VarSSLClientVerify
	VarSSLClientSDN
	VarSSLClientIDN
	VarSSLClientSerial
	VarRealIPRemoteAddr
	VarRealIPRemotePort
	VarProxyProtocolAddr
	VarProxyProtocolPort
	VarProxyProtocolServerAddr
	VarProxyProtocolServerPort
	VarLimitRate
	VarLimitReqStatus
	VarLimitConnStatus
	VarSecureLink
	VarSecureLinkExpires
	VarInvalidReferer
	VarSSLClientCert
	VarSSLClientRawCert
	VarSSLClientEscapedCert
	VarSSLClientSDNLegacy
	VarSSLClientIDNLegacy
	VarSSLClientVStart
	VarSSLClientVEnd
	VarSSLClientVRemain
	VarSSLCiphers

	// The families: a prefix and a name, in Var.Name.

	// VarArg is $arg_NAME: the query argument NAME (case-insensitive).
	VarArg
	// VarHTTP is $http_NAME: the request header NAME, with "_" for "-".
	VarHTTP
	// VarCookie is $cookie_NAME: the cookie NAME.
	VarCookie
	// VarSentHTTP is $sent_http_NAME: the response header NAME.
	VarSentHTTP

	// VarCapture is $0 to $9: a group of the last regular expression
	// that matched with groups (Var.N).
	VarCapture
	// VarUser is a variable made by set or map, or a named group of a
	// regular expression: Var.N indexes the configuration's user
	// variables (HTTP.Vars).
	VarUser

	numVarKinds
)

// Var is one variable of a template.
type Var struct {
	Kind VarKind
	// N is the group of a VarCapture or the index of a VarUser.
	N int
	// Name is the name of a family member, normalised: lower case, and
	// for VarHTTP and VarSentHTTP with "_" where the header has "-".
	// For a VarUser it is the variable's name.
	Name string
}

// String returns the variable as written in a configuration, e.g. "$uri".
func (v Var) String() string {
	switch v.Kind {
	case VarCapture:
		return fmt.Sprintf("$%d", v.N)
	case VarUser:
		return "$" + v.Name
	}
	for _, f := range varFamilies {
		if f.kind == v.Kind {
			return "$" + f.prefix + v.Name
		}
	}
	for _, b := range builtinVars {
		if b.kind == v.Kind {
			return "$" + b.name
		}
	}
	return fmt.Sprintf("Var(%d)", v.Kind)
}

// VarDoc describes a variable for the reference documentation.
type VarDoc struct {
	// Name is the name without "$"; a family ends in "_" ("arg_").
	Name string
	// Doc says what it holds.
	Doc string
}

// builtin is one variable known by its name alone.
type builtin struct {
	name string
	kind VarKind
	doc  string
}

// builtinVars are the variables of a static server. Several names may
// share a kind ($document_uri is $uri).
var builtinVars = []builtin{
	{"uri", VarURI, "the current URI, decoded and normalised, without the query; rewrite and internal redirects change it"},
	{"document_uri", VarURI, "the same as $uri"},
	{"request_uri", VarRequestURI, "the request target as the client sent it, query included"},
	{"args", VarArgs, "the query string, without \"?\"; set may change it"},
	{"query_string", VarArgs, "the same as $args"},
	{"is_args", VarIsArgs, "\"?\" when the request has a query, else empty"},
	{"host", VarHost, "the host of the request line, else the Host header, else the server's first name: lower case, without port"},
	{"hostname", VarHostname, "the machine's host name"},
	{"server_name", VarServerName, "the name of the server that handles the request: its first server_name, without the leading dot of .example.com"},
	{"server_addr", VarServerAddr, "the address that accepted the connection"},
	{"server_port", VarServerPort, "the port that accepted the connection"},
	{"server_protocol", VarServerProtocol, "the request's protocol: \"HTTP/1.0\", \"HTTP/1.1\" or \"HTTP/2.0\""},
	{"remote_addr", VarRemoteAddr, "the client's address"},
	{"remote_port", VarRemotePort, "the client's port"},
	{"remote_user", VarRemoteUser, "the user name of Basic authentication (auth_basic), whether or not it was accepted"},
	{"binary_remote_addr", VarBinaryRemoteAddr, "the client's address in binary: 4 bytes for IPv4, 16 for IPv6"},
	{"scheme", VarScheme, "\"http\" (\"https\" on a TLS listener)"},
	{"https", VarHTTPS, "\"on\" on a TLS listener, else empty"},
	{"http2", VarHTTP2, "\"h2\" for a request over HTTP/2 on TLS, \"h2c\" over HTTP/2 in cleartext, else empty"},
	{"request_method", VarRequestMethod, "the request method"},
	{"request", VarRequest, "the whole request line"},
	{"request_length", VarRequestLength, "bytes read from the client for this request: head and body"},
	{"request_time", VarRequestTime, "seconds since the request's first byte, with millisecond resolution"},
	{"request_filename", VarRequestFilename, "the file path of the current URI: root or alias, and the URI"},
	{"request_id", VarRequestID, "32 random hexadecimal digits, unique to the request"},
	{"request_completion", VarRequestCompletion, "\"OK\" once the whole response was sent, else empty"},
	{"document_root", VarDocumentRoot, "the root (or alias) of the current request"},
	{"realpath_root", VarRealpathRoot, "$document_root with every symbolic link resolved"},
	{"content_type", VarContentType, "the request's Content-Type header"},
	{"content_length", VarContentLength, "the request's Content-Length header"},
	{"status", VarStatus, "the response status, three digits"},
	{"body_bytes_sent", VarBodyBytesSent, "bytes of the response body sent"},
	{"bytes_sent", VarBytesSent, "bytes sent to the client, head included"},
	{"connection", VarConnection, "the connection's serial number"},
	{"connection_requests", VarConnectionRequests, "how many requests the connection has carried, this one included"},
	{"connection_time", VarConnectionTime, "seconds since the connection was accepted, with millisecond resolution"},
	{"connections_active", VarConnectionsActive, "open client connections of every worker (stub_status's Active)"},
	{"connections_reading", VarConnectionsReading, "connections reading a request head (stub_status's Reading)"},
	{"connections_writing", VarConnectionsWriting, "connections sending a response (stub_status's Writing)"},
	{"connections_waiting", VarConnectionsWaiting, "idle keep-alive connections (stub_status's Waiting)"},
	{"msec", VarMsec, "the current time in seconds, with millisecond resolution"},
	{"time_iso8601", VarTimeISO8601, "the local time in ISO 8601, e.g. 2026-11-23T06:55:00+00:00"},
	{"time_local", VarTimeLocal, "the local time in the common log format, e.g. 23/Nov/2026:06:55:00 +0000"},
	{"pid", VarPID, "the worker's process id"},
	{"nginx_version", VarNginxVersion, "tern's version (the name nginx configurations use)"},
	{"ssl_protocol", VarSSLProtocol, "the TLS version of the connection: \"TLSv1.2\", \"TLSv1.3\"; empty without TLS"},
	{"ssl_cipher", VarSSLCipher, "the cipher suite, by OpenSSL's name: \"ECDHE-ECDSA-AES128-GCM-SHA256\", \"TLS_AES_128_GCM_SHA256\""},
	{"ssl_server_name", VarSSLServerName, "the server name the client sent (SNI), else empty"},
	{"ssl_session_reused", VarSSLSessionReused, "\"r\" when the TLS session was resumed, else \".\""},
	{"ssl_session_id", VarSSLSessionID, "the TLS session's ID, 64 hexadecimal digits, the same when the session is resumed; empty when the session has no ticket (ssl_session_tickets off, or a client that takes none)"},
	{"ssl_alpn_protocol", VarSSLALPNProtocol, "the protocol agreed through ALPN (\"http/1.1\"), else empty"},
	{"ssl_client_verify", VarSSLClientVerify, "\"SUCCESS\", \"FAILED:REASON\" or \"NONE\": the check of the client certificate (ssl_verify_client)"},
	{"ssl_client_s_dn", VarSSLClientSDN, "the subject of the client certificate, RFC 2253"},
	{"ssl_client_i_dn", VarSSLClientIDN, "the issuer of the client certificate, RFC 2253"},
	{"ssl_client_serial", VarSSLClientSerial, "the serial number of the client certificate, in hexadecimal"},
	{"realip_remote_addr", VarRealIPRemoteAddr, "the connection's own client address, before set_real_ip_from and real_ip_header replaced $remote_addr"},
	{"realip_remote_port", VarRealIPRemotePort, "the connection's own client port, before real_ip_header"},
	{"proxy_protocol_addr", VarProxyProtocolAddr, "the client address the PROXY protocol header gave (listen ... proxy_protocol), else empty"},
	{"proxy_protocol_port", VarProxyProtocolPort, "the client port the PROXY protocol header gave, else empty"},
	{"proxy_protocol_server_addr", VarProxyProtocolServerAddr, "the server address the PROXY protocol header gave, else empty"},
	{"proxy_protocol_server_port", VarProxyProtocolServerPort, "the server port the PROXY protocol header gave, else empty"},
	{"limit_rate", VarLimitRate, "the response's rate limit in bytes a second (limit_rate), 0 for none; set may change it"},
	{"limit_req_status", VarLimitReqStatus, "what limit_req did: PASSED, DELAYED, REJECTED, DELAYED_DRY_RUN, REJECTED_DRY_RUN; empty when no limit applied"},
	{"limit_conn_status", VarLimitConnStatus, "what limit_conn did: PASSED, REJECTED, REJECTED_DRY_RUN; empty when no limit applied"},
	{"secure_link", VarSecureLink, "secure_link's verdict: \"1\" for a valid link, \"0\" for a valid link past its expiry, empty for a bad one"},
	{"secure_link_expires", VarSecureLinkExpires, "the expiry time secure_link read from the link, else empty"},
	{"invalid_referer", VarInvalidReferer, "\"1\" when the Referer is not one valid_referers accepts, empty when it is"},
	{"ssl_client_cert", VarSSLClientCert, "the client certificate in PEM, every line but the first starting with a tab (nginx's header-folded form)"},
	{"ssl_client_raw_cert", VarSSLClientRawCert, "the client certificate in PEM"},
	{"ssl_client_escaped_cert", VarSSLClientEscapedCert, "the client certificate in PEM, percent-encoded as a URL component"},
	{"ssl_client_s_dn_legacy", VarSSLClientSDNLegacy, "the subject of the client certificate in OpenSSL's one-line form: /C=../O=../CN=.."},
	{"ssl_client_i_dn_legacy", VarSSLClientIDNLegacy, "the issuer of the client certificate in OpenSSL's one-line form"},
	{"ssl_client_v_start", VarSSLClientVStart, "the start of the client certificate's validity: \"Nov 30 18:27:20 2026 GMT\""},
	{"ssl_client_v_end", VarSSLClientVEnd, "the end of the client certificate's validity"},
	{"ssl_client_v_remain", VarSSLClientVRemain, "days until the client certificate expires"},
	{"ssl_ciphers", VarSSLCiphers, "the cipher suites the client offered, by OpenSSL's names, separated by \":\" (unknown ones in hexadecimal)"},
}

// family is a variable prefix followed by a name.
type family struct {
	prefix string
	kind   VarKind
	doc    string
}

var varFamilies = []family{
	{"arg_", VarArg, "the query argument NAME; names compare without regard to case"},
	{"http_", VarHTTP, "the request header NAME, lower case with \"_\" for \"-\" ($http_user_agent); repeated headers are joined with \", \" (\"; \" for Cookie)"},
	{"cookie_", VarCookie, "the value of the cookie NAME"},
	{"sent_http_", VarSentHTTP, "the response header NAME as it will be sent, e.g. $sent_http_content_type"},
}

// Variables lists every variable name for the reference documentation:
// the built-ins, the families (NAME is the part that follows) and the
// captures.
func Variables() []VarDoc {
	docs := make([]VarDoc, 0, len(builtinVars)+len(varFamilies)+1)
	for _, b := range builtinVars {
		docs = append(docs, VarDoc{b.name, b.doc})
	}
	for _, f := range varFamilies {
		docs = append(docs, VarDoc{f.prefix + "NAME", f.doc})
	}
	docs = append(docs, VarDoc{"0 to 9", "$1 to $9: the groups of the last regular expression that matched (location, rewrite, if, map, server_name); named groups are variables of their own"})
	return docs
}

// maxCapture is the highest numbered group a template may name ($9),
// as nginx.
const maxCapture = 9

// lookupVar resolves a variable name (without "$"). A name that is
// neither built in, nor a family member, nor a capture is a user
// variable (set, map, a named group), resolved when the whole http block
// is known.
func lookupVar(name string) (Var, bool) {
	if name[0] >= '0' && name[0] <= '9' {
		if len(name) == 1 {
			return Var{Kind: VarCapture, N: int(name[0] - '0')}, true
		}
		return Var{}, false
	}
	for _, b := range builtinVars {
		if b.name == name {
			return Var{Kind: b.kind}, true
		}
	}
	low := strings.ToLower(name)
	for _, f := range varFamilies {
		if rest, ok := strings.CutPrefix(low, f.prefix); ok && rest != "" {
			return Var{Kind: f.kind, Name: rest}, true
		}
	}
	return Var{Kind: VarUser, N: -1, Name: name}, true
}

// isBuiltinName reports whether name (without "$") is a built-in or a
// family member: a name set and map must not take.
func isBuiltinName(name string) bool {
	v, ok := lookupVar(name)
	return ok && v.Kind != VarUser
}

// IsBuiltinVariable reports whether name (without "$") is one of tern's
// variables: built in, a member of a family ($arg_, $http_, $cookie_,
// $sent_http_) or a capture ($1 ... $9). Any other name must be made by
// set, a map or a named group of a regular expression.
func IsBuiltinVariable(name string) bool {
	return name != "" && isBuiltinName(name)
}

// knownVarNames lists the built-in names for a message.
func knownVarNames() string {
	names := make([]string, 0, len(builtinVars))
	for _, b := range builtinVars {
		names = append(names, "$"+b.name)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

// Vars supplies variable values when a Template is expanded. The worker
// implements it on its request state, appending without allocating.
type Vars interface {
	// AppendVar appends the value of v to dst and returns the result.
	// dst must not alias memory the implementation writes.
	AppendVar(dst []byte, v *Var) []byte
}
