package main

import (
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// nginx's HTTP/2 directives in tern convert: http2 and the three tuning
// directives tern has keep their names; nginx's obsolete ones name what
// replaced them; push is gone from nginx and tern alike.

// http2Plain are the HTTP/2 directives tern spells and reads as nginx.
var http2Plain = map[string]kind{
	"http2": kBool, "http2_max_concurrent_streams": kNumber,
	"http2_chunk_size": kString, "http2_recv_buffer_size": kString,
}

// http2Dropped are nginx's HTTP/2 directives tern does without, and why.
var http2Dropped = map[string]string{
	"http2_body_preread_size":     "tern discards request bodies within a stream window of 64k",
	"http2_idle_timeout":          "obsolete in nginx: keepalive_timeout closes idle HTTP/2 connections",
	"http2_recv_timeout":          "obsolete in nginx: client_header_timeout bounds a header block",
	"http2_max_field_size":        "obsolete in nginx: large_client_header_buffers bounds a field",
	"http2_max_header_size":       "obsolete in nginx: large_client_header_buffers bounds the header list",
	"http2_max_requests":          "obsolete in nginx: tern serves streams until keepalive_timeout or a GOAWAY",
	"http2_streams_index_size":    "obsolete in nginx, and tern keeps no index",
	"http2_push":                  "server push is gone (nginx 1.25.1 removed it too)",
	"http2_push_preload":          "server push is gone (nginx 1.25.1 removed it too)",
	"http2_max_concurrent_pushes": "server push is gone (nginx 1.25.1 removed it too)",
}

// http2 converts the HTTP/2 directives; it reports false for a directive
// that is not one of them.
func (c *converter) http2(body *hclwrite.Body, b *block, d *directive) bool {
	if k, ok := http2Plain[d.name]; ok {
		c.plain(body, b, d, d.name, k)
		return true
	}
	if why, ok := http2Dropped[d.name]; ok {
		// Obsolete or gone in nginx too: nothing served changes.
		c.inform(d, "%s not converted: %s", d.name, why)
		comment(body, "nginx: "+line(d)+" (not converted: "+why+")")
		return true
	}
	return false
}

// listenHTTP2 turns the "http2" of a listen (nginx before 1.25.1) into
// http2 = true on the server. On a plain address that also keeps
// HTTP/1.x working, which nginx's listen ... http2 did not.
func (c *converter) listenHTTP2(body *hclwrite.Body, d *directive, ssl bool) {
	if !ssl {
		c.inform(d, "listen %s http2: tern serves HTTP/2 with prior knowledge and HTTP/1.x side by side on a plain address (nginx before 1.25.1: HTTP/2 only)", d.args[0])
	}
	body.SetAttributeValue("http2", cty.True)
}
