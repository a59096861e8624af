// Package filters holds the HTTP message a worker builds for each request
// and the response filter chain that transforms it: not-modified, range,
// gzip, headers, chunked, header serialisation, and at the end the write
// filter, the only filter that touches the socket or the thread pool.
package filters

// Method is a request method tern knows by name.
type Method uint8

// Known methods; anything else is MethodOther (its name is in MethodName).
const (
	MethodOther Method = iota
	MethodGET
	MethodHEAD
	MethodPOST
	MethodPUT
	MethodDELETE
	MethodOPTIONS
	MethodTRACE
	MethodPATCH
	MethodCONNECT
)

// Version is an HTTP version as major*10+minor: 10, 11 or 20.
type Version uint8

// The HTTP versions tern speaks.
const (
	HTTP10 Version = 10
	HTTP11 Version = 11
	// HTTP20 is a request on an HTTP/2 stream: no chunked framing, no
	// Connection header; the stream's DATA frames carry the body.
	HTTP20 Version = 20
)

// Request is a parsed request head. Its byte slices point into the
// connection's read buffer and stay valid until the response is finished;
// Path points into the transaction's own buffer.
type Request struct {
	Method     Method
	MethodName []byte
	// Target is the request-target as received, query included: what
	// $request_uri and the access log show.
	Target []byte
	// RawPath is the target's path before decoding ("*" for asterisk-form).
	RawPath []byte
	// Path is RawPath percent-decoded once, with "." and ".." resolved and
	// slashes merged. It always starts with "/".
	Path []byte
	// Args is the query string, without the "?".
	Args    []byte
	Version Version
	// Host is the host from an absolute-form target, else the Host
	// header: lower-cased, port and trailing dot removed.
	Host []byte
	// HostHeader is the Host header as sent, for $host fallbacks and logs.
	HostHeader []byte
	// KeepAlive is what the client asked for: HTTP/1.1 unless
	// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
	KeepAlive bool
	// ContentLength is the body length, or -1 without Content-Length.
	ContentLength int64
	// Chunked is set for "Transfer-Encoding: chunked".
	Chunked bool
	// Expect100 is set for "Expect: 100-continue" on HTTP/1.1.
	Expect100 bool

	// Header values the filters read; nil when absent. The first of
	// repeated fields is kept.
	IfMatch           []byte
	IfNoneMatch       []byte
	IfModifiedSince   []byte
	IfUnmodifiedSince []byte
	IfRange           []byte
	Range             []byte
	AcceptEncoding    []byte
	UserAgent         []byte
	Referer           []byte
	Authorization     []byte

	// HeaderLen is the size of the whole request head in bytes.
	HeaderLen int
	// Line is the request line ($request); Head holds the header lines
	// that follow it, for the variables that read any header ($http_*,
	// $cookie_*).
	Line []byte
	Head []byte
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// Reset clears r for the next request, keeping nothing.
func (r *Request) Reset() { *r = Request{ContentLength: -1} }

// File is an open file a response body is sent from. Files may be shared
// by several responses through the worker's file cache, which owns the
// descriptor; a File is never closed while a response refers to it.
type File struct {
	FD    int
	Size  int64
	MTime int64 // seconds since the epoch
	// Name is the path, for error messages ("was truncated"). It points
	// into the request's or the cache's memory.
	Name []byte
	// Data holds the whole contents when the file is small and cached;
	// a response then goes out with one writev, no sendfile.
	Data []byte
	// seen is a region of the file the page cache was seen to hold
	// (ready, aio threads), and when: every response sending from this
	// File — open_file_cache shares one between requests — trusts it
	// for trustCached without looking again.
	seen   filled
	seenAt int64
	// slowAt is when a response sending this File last found its disk
	// slow (loop clock; 0: never): see slowRemembered.
	slowAt int64
}

// Segment is one piece of a response body: memory, or a region of a file.
type Segment struct {
	Mem  []byte
	File *File
	Off  int64
	Len  int64
}

// Size is the number of bytes the segment sends.
func (s *Segment) Size() int64 {
	if s.File != nil {
		return s.Len
	}
	return int64(len(s.Mem))
}

// InMemory reports whether the segment's bytes are in memory: a memory
// segment, or a region of a file whose contents are cached.
func (s *Segment) InMemory() bool {
	return s.File == nil || s.File.Data != nil
}

// Bytes returns the bytes of an in-memory segment.
func (s *Segment) Bytes() []byte {
	if s.File == nil {
		return s.Mem
	}
	return s.File.Data[s.Off : s.Off+s.Len]
}

const (
	// maxSegments is how many pieces a body holds inline: a file, or a
	// multipart range response of three parts with their boundaries.
	maxSegments = 8
	// maxKeptSegments bounds the grown segment list a body keeps for
	// the next response: a multipart response of up to 127 ranges
	// reuses it, and one odd request with thousands of ranges does not
	// pin their memory for the life of the worker.
	maxKeptSegments = 256
)

// Body is a response body: a list of segments, and, for a body made
// while it is sent (gzip output, chunk framing), the Producer that makes
// the rest.
type Body struct {
	Segs []Segment
	// Producer, when not nil, appends more segments each time the write
	// filter has sent all of Segs (see Producer).
	Producer Producer
	buf      [maxSegments]Segment
}

// Reset empties the body, keeping its storage: the inline array, or a
// list grown past it by a multipart response, up to maxKeptSegments.
func (b *Body) Reset() {
	b.Producer = nil
	clear(b.buf[:])
	if c := cap(b.Segs); c > maxSegments && c <= maxKeptSegments {
		clear(b.Segs[:c])
		b.Segs = b.Segs[:0]
		return
	}
	b.Segs = b.buf[:0]
}

// AddMem appends a memory segment.
func (b *Body) AddMem(p []byte) {
	if len(p) > 0 {
		b.Segs = append(b.Segs, Segment{Mem: p})
	}
}

// AddFile appends a file region.
func (b *Body) AddFile(f *File, off, n int64) {
	if n > 0 {
		b.Segs = append(b.Segs, Segment{File: f, Off: off, Len: n})
	}
}

// Size is the total number of body bytes.
func (b *Body) Size() int64 {
	var n int64
	for i := range b.Segs {
		n += b.Segs[i].Size()
	}
	return n
}

// Response is what a handler builds and the filters transform and send.
type Response struct {
	Status int
	// ContentType without charset; "" sends none.
	ContentType string
	// ContentTypeBytes, when not nil, is sent instead of ContentType and
	// Charset: a type built per response in a Txn buffer (a multipart
	// range response's "multipart/byteranges; boundary=...").
	ContentTypeBytes []byte
	// Charset, when not "", is appended as "; charset=".
	Charset string
	// ContentLength is the body length, or -1 when unknown (chunked on
	// HTTP/1.1, close-delimited on HTTP/1.0).
	ContentLength int64
	// LastModified is in seconds since the epoch; 0 sends none.
	LastModified int64
	// LastModifiedText, when set, is LastModified already formatted (a
	// cached file's), saving the formatting per response.
	LastModifiedText []byte
	// ETag is the entity tag with its quotes, nil for none.
	ETag []byte
	// Location is sent as is.
	Location []byte
	// ContentEncoding, when not "", is sent (gzip).
	ContentEncoding string
	// Vary adds "Vary: Accept-Encoding".
	Vary bool
	// AcceptRanges adds "Accept-Ranges: bytes".
	AcceptRanges bool
	// ContentRange is the value of Content-Range, nil for none.
	ContentRange []byte
	// Allow is the value of Allow (405), "" for none.
	Allow string
	// Headers are added after the standard ones (add_header, expires).
	Headers []Header
	// Chunked frames the body as chunks (RFC 9112 §7.1) and sends
	// "Transfer-Encoding: chunked"; the chunked filter sets it for an
	// HTTP/1.1 body of unknown length.
	Chunked bool
	// KeepAlive says whether the connection stays open after this
	// response; the worker decides, the header filter writes it.
	KeepAlive bool
	// KeepAliveTimeout, when not 0, is sent as "Keep-Alive: timeout=N"
	// with a kept connection (keepalive_timeout's second value).
	KeepAliveTimeout int64
	// HeaderOnly sends the head alone (HEAD, 304, 204).
	HeaderOnly bool
	// Body is what follows the head.
	Body Body

	hdrBuf [8]Header
}

// maxKeptHeaders bounds the grown header list a response keeps for the
// next one (expires plus a long add_header list).
const maxKeptHeaders = 64

// Header is one extra response header.
type Header struct {
	Name  string
	Value []byte
}

// Reset clears r for the next response.
func (r *Response) Reset() {
	r.Status = 0
	r.ContentType = ""
	r.ContentTypeBytes = nil
	r.Charset = ""
	r.ContentLength = -1
	r.LastModified = 0
	r.LastModifiedText = nil
	r.ETag = nil
	r.Location = nil
	r.ContentEncoding = ""
	r.Vary = false
	r.AcceptRanges = false
	r.ContentRange = nil
	r.Allow = ""
	clear(r.hdrBuf[:])
	if c := cap(r.Headers); c > len(r.hdrBuf) && c <= maxKeptHeaders {
		// add_header lists longer than the inline array keep their
		// grown slice, so that they stop allocating after the first
		// response.
		clear(r.Headers[:c])
		r.Headers = r.Headers[:0]
	} else {
		r.Headers = r.hdrBuf[:0]
	}
	r.Chunked = false
	r.KeepAlive = false
	r.KeepAliveTimeout = 0
	r.HeaderOnly = false
	r.Body.Reset()
}

// AddHeader appends an extra header.
func (r *Response) AddHeader(name string, value []byte) {
	r.Headers = append(r.Headers, Header{Name: name, Value: value})
}
