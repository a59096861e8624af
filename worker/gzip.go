package worker

import "tern/filters"

// gzipOK reports whether a precompressed body may go to this client, as
// nginx's ngx_http_gzip_ok with its defaults: Accept-Encoding accepts
// gzip, and the request is HTTP/1.1 (gzip_http_version 1.1: an HTTP/1.0
// proxy could cache the compressed body for clients that cannot take
// it). nginx also refuses with a Via header (gzip_proxied off) and for
// MSIE 6 (gzip_disable "msie6"); tern has neither setting and does not.
// Accept-Encoding is read as the gzip filter reads it (RFC 9110 §12.5.3,
// "*" included, where nginx looks for "gzip" only), so that gzip_static
// and gzip agree on every client.
func gzipOK(r *filters.Request) bool {
	return r.Version >= filters.HTTP11 && filters.AcceptsGzip(r.AcceptEncoding)
}
