package t

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// response is a parsed HTTP response, with the header lines in the order
// they came.
type response struct {
	proto   string
	status  int
	reason  string
	headers [][2]string
	body    []byte
	// interim holds the status of 1xx responses that came first.
	interim []int
}

// header returns the first value of name (case-insensitive), "" if none.
func (r *response) header(name string) string {
	v, _ := r.lookup(name)
	return v
}

func (r *response) lookup(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// names lists the header names in order.
func (r *response) names() []string {
	var n []string
	for _, h := range r.headers {
		n = append(n, h[0])
	}
	return n
}

func (r *response) String() string {
	return fmt.Sprintf("%s %d %s %v body=%d bytes", r.proto, r.status, r.reason, r.headers, len(r.body))
}

// readResponse reads one response to a request with the given method:
// 1xx responses first, then the head, then a body delimited as RFC 9112
// §6.3 says.
func readResponse(br *bufio.Reader, method string) (*response, error) {
	r := &response{}
	for {
		if err := readHead(br, r); err != nil {
			return nil, err
		}
		if r.status >= 200 {
			break
		}
		r.interim = append(r.interim, r.status)
		r.headers = nil
	}
	if method == "HEAD" || r.status == 204 || r.status == 304 {
		return r, nil
	}
	var err error
	switch {
	case strings.EqualFold(r.header("Transfer-Encoding"), "chunked"):
		r.body, err = readChunked(br)
	case r.header("Content-Length") != "":
		n, perr := strconv.Atoi(r.header("Content-Length"))
		if perr != nil {
			return nil, perr
		}
		r.body = make([]byte, n)
		_, err = io.ReadFull(br, r.body)
	default:
		r.body, err = io.ReadAll(br)
	}
	return r, err
}

func readHead(br *bufio.Reader, r *response) error {
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	parts := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
	if len(parts) < 2 {
		return fmt.Errorf("bad status line %q", line)
	}
	r.proto = parts[0]
	if r.status, err = strconv.Atoi(parts[1]); err != nil {
		return fmt.Errorf("bad status line %q", line)
	}
	if len(parts) == 3 {
		r.reason = parts[2]
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("bad header line %q", line)
		}
		r.headers = append(r.headers, [2]string{name, strings.TrimSpace(value)})
	}
}

func readChunked(br *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q", line)
		}
		if size == 0 {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if strings.TrimRight(l, "\r\n") == "" {
					return body, nil
				}
			}
		}
		chunk := make([]byte, size+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		if string(chunk[size:]) != "\r\n" {
			return nil, fmt.Errorf("chunk not followed by CRLF")
		}
		body = append(body, chunk[:size]...)
	}
}
