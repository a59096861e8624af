package t

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load is a bounded load loop against a server: some clients keep one
// connection alive across requests (opening a new one when the server
// answers Connection: close), others open a new connection per request.
// Every failed connect, reset, short or malformed response, non-2xx
// status or unexpected body counts as a failure, with the client's local
// port, so that a test can tell which connections a killed worker held.
type load struct {
	t    testing.TB
	addr string
	// reqs are the requests the clients make, in turn; pause is a
	// client's rest between two.
	reqs  []loadReq
	pause time.Duration

	stop chan struct{}
	wg   sync.WaitGroup
	ok   atomic.Int64

	mu       sync.Mutex
	failures []failure
}

// failure is one failed request.
type failure struct {
	port int // the client's local port, 0 when the connect failed
	err  string
	at   time.Time
}

func (f failure) String() string {
	return fmt.Sprintf("%s port %d: %s", f.at.Format("15:04:05.000"), f.port, f.err)
}

// loadReq is one kind of request of a load: the request's head without
// its final CRLF (a fresh client adds Connection: close), and what the
// response must be.
type loadReq struct {
	method string
	head   string
	status int
	// body checks a response body; nil accepts any.
	body func(*response) bool
}

// loadLimit bounds any load loop, whatever the test does.
const loadLimit = 60 * time.Second

// startLoad starts keepAlive + fresh clients requesting path.
func startLoad(t testing.TB, addr, path string, keepAlive, fresh int, body func([]byte) bool) *load {
	r := loadReq{method: "GET", head: "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n"}
	if body != nil {
		r.body = func(resp *response) bool { return body(resp.body) }
	}
	return startMixedLoad(t, addr, []loadReq{r}, keepAlive, fresh, 0, loadLimit)
}

// startMixedLoad starts keepAlive + fresh clients making reqs in turn,
// resting pause between two, for at most limit.
func startMixedLoad(t testing.TB, addr string, reqs []loadReq, keepAlive, fresh int, pause, limit time.Duration) *load {
	l := &load{t: t, addr: addr, reqs: reqs, pause: pause, stop: make(chan struct{})}
	for i := 0; i < keepAlive+fresh; i++ {
		l.wg.Add(1)
		go l.client(i, i < keepAlive)
	}
	deadline := time.AfterFunc(limit, func() { l.halt() })
	t.Cleanup(func() { deadline.Stop(); l.halt() })
	return l
}

var haltMu sync.Mutex

// halt stops the clients after their current request and waits for them.
func (l *load) halt() {
	haltMu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	haltMu.Unlock()
	l.wg.Wait()
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) fail(port int, format string, args ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, failure{port: port, err: fmt.Sprintf(format, args...), at: time.Now()})
	l.mu.Unlock()
}

// Failures returns the failures so far.
func (l *load) Failures() []failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]failure(nil), l.failures...)
}

// client runs client n until stop.
func (l *load) client(n int, keepAlive bool) {
	defer l.wg.Done()
	var c net.Conn
	var br *bufio.Reader
	port := 0
	closeConn := func() {
		if c != nil {
			c.Close()
			c = nil
		}
	}
	defer closeConn()
	end := "\r\n"
	if !keepAlive {
		end = "Connection: close\r\n\r\n"
	}
	for i := n; !l.stopped(); i++ {
		rq := &l.reqs[i%len(l.reqs)]
		if l.pause > 0 {
			time.Sleep(l.pause)
		}
		if c == nil {
			var err error
			c, err = net.DialTimeout("tcp", l.addr, 5*time.Second)
			if err != nil {
				l.fail(0, "connect: %v", err)
				c = nil
				time.Sleep(10 * time.Millisecond)
				continue
			}
			port = c.LocalAddr().(*net.TCPAddr).Port
			br = bufio.NewReader(c)
		}
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.Write([]byte(rq.head + end)); err != nil {
			l.fail(port, "write: %v", err)
			closeConn()
			continue
		}
		r, err := readResponse(br, rq.method)
		switch {
		case err != nil:
			l.fail(port, "read: %v", err)
			closeConn()
			continue
		case rq.status == 0 && (r.status < 200 || r.status > 299), rq.status != 0 && r.status != rq.status:
			l.fail(port, "%s: status %d", strings.Fields(rq.head)[1], r.status)
		case rq.body != nil && !rq.body(r):
			l.fail(port, "%s: unexpected body %q", strings.Fields(rq.head)[1], trunc(string(r.body)))
		default:
			l.ok.Add(1)
		}
		if !keepAlive || strings.EqualFold(r.header("Connection"), "close") {
			closeConn()
		}
	}
}

// report logs the outcome and returns the failures.
func (l *load) report(name string) []failure {
	f := l.Failures()
	l.t.Logf("%s: %d requests answered, %d failed", name, l.ok.Load(), len(f))
	for i, x := range f {
		if i == 10 {
			l.t.Logf("  ... %d more", len(f)-10)
			break
		}
		l.t.Logf("  %v", x)
	}
	return f
}
