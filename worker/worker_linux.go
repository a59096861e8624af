//go:build linux

// Package worker is a tern worker process: one epoll event loop serving
// every connection on one goroutine, the HTTP/1.x
// connection and request state machines, routing, the static handler and
// the access log.
package worker

import (
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/filters"
	"tern/threadpool"
	"tern/worker/http2"
	"tern/worker/limit"
	"tern/worker/ssl"
)

// Listener is a listening socket handed to a worker and the configured
// address it serves.
type Listener struct {
	FD   int
	Addr *conf.Addr
	// Exclusive registers it with EPOLLEXCLUSIVE (accept_mutex off).
	Exclusive bool
}

// Worker serves HTTP on a set of listening sockets. Everything in it
// belongs to the goroutine that calls Run, except the methods documented
// as safe from other goroutines.
type Worker struct {
	cfg   *conf.Config
	mime  *conf.MIME
	loop  *event.Loop
	acc   *event.Acceptor
	addrs []*conf.Addr // by event.Listener.Index

	conns    connTable
	idle     connList // idle connections, least recently used first
	active   int      // open client connections
	maxConns int
	seq      uint64 // connection serial numbers, for the access log

	bufs  bufPool
	free  []*request
	chain filters.Chain
	env   filters.Env
	files *fileCache
	hs    handlerState
	// closers close files on the pools (closer_linux.go), by pool.
	closers map[*threadpool.Pool]*fdCloser
	// streamChain is the chain of a response on an HTTP/2 stream, and
	// h2 what the worker's HTTP/2 connections share (nil when no server
	// has http2).
	streamChain filters.Chain
	h2          *http2.Shared
	// auth is auth_basic's state, made on first use.
	auth *authState
	// extFree are connExts not in use.
	extFree []*connExt
	// zones are the limit_req and limit_conn zones by conf.LimitZone
	// Index; monoBase turns the loop's clock into CLOCK_MONOTONIC.
	zones    []*limit.Zone
	monoBase int64
	// acme is what the master's ACME client publishes (UseACME), nil
	// without it; acmeBuf is the loop's scratch buffer for its
	// challenges.
	acme    *ssl.ACMEStore
	acmeBuf []byte

	log   zerolog.Logger
	logs  map[string]*accessLog
	clock logClock
	// hostname is the machine's name ($hostname).
	hostname string
	writers  map[string]*LogWriter // every log this worker writes, by path
	// locLogs are the error logs of the locations that have one of
	// their own (error_log or error_log_level in http, server or
	// location); the others log to log.
	locLogs map[*conf.Location]*zerolog.Logger
	// logErrBase is the slot's LogWriteErrors when the worker took it:
	// a slot's counters go on from its earlier workers'.
	logErrBase uint64
	pid        int
	ready      func()

	quitting bool
	// orphaned: the master is gone (health answers 503).
	orphaned     bool
	shutdownTick event.Timer
	publishTick  event.Timer
	lastWarn     int64

	// ssl is the TLS engine, nil when no address is a TLS one.
	ssl *ssl.Engine

	// shm, stats and mutex: see stats_linux.go; labels:
	// labels_linux.go.
	shm    *event.Shared
	stats  *event.Counters
	labels labelled
	mutex  *event.AcceptMutex
}

// New creates a worker for cfg on the given listening sockets. Errors go to
// log. logs are the writers of every log file the worker writes, by path
// (the master opened them: a worker never does), "stdout" and "stderr"
// included when used; the caller closes them after Run.
func New(cfg *conf.Config, lns []Listener, log zerolog.Logger, logs map[string]*LogWriter) (*Worker, error) {
	loop, err := event.New()
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:      cfg,
		mime:     cfg.HTTP.MIME,
		loop:     loop,
		maxConns: cfg.WorkerConnections,
		files:    newFileCache(),
		log:      log,
		pid:      os.Getpid(),
		logs:     make(map[string]*accessLog),
		writers:  logs,
		stats:    new(event.Counters),
	}
	w.idle.t = &w.conns
	// A timer for each connection, and a few of the worker's own.
	loop.ReserveTimers(w.maxConns + 16)
	w.hostname, _ = os.Hostname()
	w.chain = filters.NewChain()
	if hasHTTP2(cfg) {
		w.streamChain = filters.NewStreamChain()
		w.h2 = http2.NewShared(int(cfg.HTTP.Servers[0].Root.HTTP2RecvBufferSize), loop.Now)
	}
	w.bufs = newBufPool(cfg.HTTP)
	w.acc = event.NewAcceptor(loop, w)
	w.acc.Backoff = cfg.AcceptMutexDelay
	for i, l := range lns {
		w.addrs = append(w.addrs, l.Addr)
		w.acc.Add(&event.Listener{FD: l.FD, Index: i, Exclusive: l.Exclusive, Own: l.Addr.ReusePort})
	}
	w.coverSpecific()
	if err := w.openAccessLogs(); err != nil {
		loop.Close()
		return nil, err
	}
	if err := w.openErrorLogs(); err != nil {
		loop.Close()
		return nil, err
	}
	w.env.Tick(time.Now())
	w.env.Clock = loop.Now
	w.monoBase = monoOffset(loop)
	w.env.Pools = startPools(cfg, loop)
	w.limitConns()
	if hasTLS(cfg) {
		// Keys of this worker alone, until UseTicketKeys gives it the
		// master's.
		w.ssl = ssl.NewEngine(loop, cfg, ssl.StaticKeys{ssl.NewKey()})
	}
	w.initLabels(nil, 0) // private until UseShared
	return w, nil
}

// openAccessLogs sets up every distinct access_log of the configuration
// on its writer, with the flush and buffer its destinations ask for; a
// write that fails is reported in the error log (rate-limited by the
// writer) and counted in metrics.
func (w *Worker) openAccessLogs() error {
	for _, path := range w.cfg.AccessLogPaths() {
		lw := w.writers[path]
		if lw == nil {
			return fmt.Errorf("access log %s: not handed over by the master", path)
		}
		lw.OnError(func(err error, failed uint64) {
			w.log.Error().Err(err).Str("access_log", path).Uint64("failed_writes", failed).
				Msg("writing the access log failed, lines are lost")
		})
		flush, buffer := w.cfg.LogPolicy(path)
		lw.SetPolicy(flush, int(buffer))
		w.logs[path] = newAccessLog(lw, w.pid, &w.clock)
	}
	return nil
}

// openErrorLogs sets up the error log of every location whose error_log
// or error_log_level is not the main context's: the worker's logger (its
// pid and worker fields) on that file, at that level, one per distinct
// pair.
func (w *Worker) openErrorLogs() error {
	type dest struct {
		path  string
		level zerolog.Level
	}
	loggers := map[dest]*zerolog.Logger{}
	var err error
	w.cfg.EachLocation(func(l *conf.Location) {
		if l.ErrorLog == "" && l.ErrorLogLevel == conf.LevelInherit || err != nil {
			return
		}
		d := dest{cmp.Or(l.ErrorLog, w.cfg.ErrorLog), l.ErrorLogLevel}
		if d.level == conf.LevelInherit {
			d.level = w.cfg.ErrorLogLevel
		}
		lg := loggers[d]
		if lg == nil {
			lw := w.writers[d.path]
			if lw == nil {
				err = fmt.Errorf("error log %s: not handed over by the master", d.path)
				return
			}
			logger := w.log.Output(lw).Level(d.level)
			lg = &logger
			loggers[d] = lg
		}
		if w.locLogs == nil {
			w.locLogs = map[*conf.Location]*zerolog.Logger{}
		}
		w.locLogs[l] = lg
	})
	return err
}

// errLogFor is the error log of the requests loc handles: its own, when
// it has an error_log or error_log_level of its own, else the worker's
// (nginx logs a request's errors where its location says).
func (w *Worker) errLogFor(loc *conf.Location) *zerolog.Logger {
	if lg := w.locLogs[loc]; lg != nil {
		return lg
	}
	return &w.log
}

// errLog is the error log of the request's location (errLogFor).
func (rq *request) errLog() *zerolog.Logger { return rq.w.errLogFor(rq.Loc) }

// OnReady sets what Run calls once the worker polls its listening
// sockets: the master retires the old workers of a reload only then.
func (w *Worker) OnReady(f func()) { w.ready = f }

// Loop is the worker's event loop, for Submit and Wake from elsewhere.
func (w *Worker) Loop() *event.Loop { return w.loop }

// Run serves until Stop, or until Quit and the last connection closes.
// The loop's goroutine is not locked to its OS thread: nothing it does
// depends on the thread (the CPU pinning and no_new_privs hold for every
// thread of the process), and a locked goroutine's Gosched, which the
// loop makes every 8 ms (event.yieldEvery), is a hand-over through a
// second thread (10.6 µs, two context switches) instead of 0.1–0.2 µs.
func (w *Worker) Run() error {
	// A write to a socket the peer closed returns EPIPE instead of
	// raising a signal, as nginx's SIG_IGN.
	signal.Ignore(syscall.SIGPIPE)
	if err := w.acc.Enable(); err != nil {
		return err
	}
	if w.ready != nil {
		w.ready()
	}
	w.loop.SetTimer(&w.publishTick, publishEvery, publisher{w})
	var err error
	for !w.loop.Stopped() {
		if err = w.loop.RunOnce(); err != nil {
			break
		}
		if w.quitting && w.active == 0 {
			break
		}
	}
	stopPools(w.env.Pools)
	for _, c := range w.closers {
		c.closeNow()
	}
	if w.ssl != nil {
		w.ssl.Close()
	}
	w.log.Info().Uint64("inline_sends", w.env.Stats.InlineSends).
		Uint64("offloaded_sends", w.env.Stats.OffloadedSends).
		Uint64("offloaded_opens", w.env.Stats.OffloadedOpens).
		Uint64("offloaded_listings", w.env.Stats.OffloadedListings).
		Uint64("offloaded_closes", w.env.Stats.OffloadedCloses).
		Uint64("offloaded_close_batches", w.env.Stats.OffloadedCloseBatches).Msg("worker exiting")
	w.closeAll()
	w.loop.Close()
	return err
}

// Stop closes every connection and makes Run return (TERM, INT). Call it
// on the loop goroutine (through Loop().Submit from elsewhere).
func (w *Worker) Stop() {
	w.loop.Stop()
}

// Quit stops accepting, closes idle keep-alive connections and lets the
// others finish their requests (QUIT); Run returns when none is left, or
// after worker_shutdown_timeout. Call it on the loop goroutine.
func (w *Worker) Quit() {
	if w.quitting {
		return
	}
	w.quitting = true
	// Stop accepting and close this process's copy of the listening
	// sockets: the master and the new workers hold them open.
	w.acc.Close()
	w.idle.each(func(c *conn) {
		// An idle connection gets a short grace, then closes. A
		// keep-alive client whose next request crosses the stop then
		// gets its answer (with Connection: close) instead of a reset
		// (nginx closes at once unless keepalive_min_timeout is set);
		// a connection that has not sent a byte gets the same grace,
		// not client_header_timeout.
		if rest := time.Duration(c.When() - w.loop.Now()); rest > quitGrace {
			w.loop.SetTimer(&c.Timer, quitGrace, c)
		}
	})
	// An HTTP/2 connection is told with GOAWAY, finishes the streams it
	// took, and closes.
	w.conns.each(func(c *conn) {
		if c.state == stH2 {
			c.shutdownH2()
		}
	})
	if d := w.cfg.WorkerShutdownTimeout; d > 0 {
		w.loop.SetTimer(&w.shutdownTick, d, shutdownTimeout{w})
	}
}

// quitGrace is how long an idle connection may still send a request
// after a graceful stop begins.
const quitGrace = time.Second

type shutdownTimeout struct{ w *Worker }

// Timeout ends a graceful stop that took worker_shutdown_timeout.
func (s shutdownTimeout) Timeout() {
	s.w.log.Warn().Int("connections", s.w.active).Msg("worker_shutdown_timeout expired, closing connections")
	s.w.loop.Stop()
}

// closeAll closes every client connection.
func (w *Worker) closeAll() {
	w.conns.each(func(c *conn) { c.close() })
}

// Accepted takes a new connection (event.AcceptHandler).
func (w *Worker) Accepted(l *event.Listener, fd int, peer *unix.RawSockaddrAny) {
	event.Inc(&w.stats.Accepts)
	if w.active >= w.maxConns && !w.reuseIdle() {
		w.warnFull()
		unix.Close(fd)
		return
	}
	c := w.conns.slot(fd)
	w.seq++
	*c = conn{w: w, fd: int32(fd), listener: uint16(w.connAddr(l.Index, fd)), id: w.seq, peer: sockPeer(peer), born: w.loop.Now()}
	c.Timer = event.Timer{}
	if err := w.loop.Add(fd, event.In|event.Out|event.RDHup|event.ET, c); err != nil {
		w.log.Error().Err(err).Msg("registering a connection")
		unix.Close(fd)
		*c = conn{}
		return
	}
	if w.addrs[c.listener].ProxyProtocol {
		c.ext().awaitProxy = true
	}
	w.active++
	w.accepted()
	if a := w.addrs[c.listener]; a.SSL {
		c.beginTLS(a)
	} else {
		w.loop.SetTimer(&c.Timer, a.Default.Root.ClientHeaderTimeout, c)
	}
	w.idle.pushBack(c)
}

// AcceptError logs a failed accept (event.AcceptHandler).
func (w *Worker) AcceptError(l *event.Listener, err error) {
	w.log.Error().Err(err).Str("listen", w.addrs[l.Index].Addr).Msg("accept failed")
}

// reuseIdle closes the least recently used idle connection to make room
// for a new one, as nginx's ngx_drain_connections. It reports false when
// none is idle.
func (w *Worker) reuseIdle() bool {
	c := w.idle.front()
	if c == nil {
		return false
	}
	c.close()
	return true
}

// sockPeer converts the accept4 address.
func sockPeer(rsa *unix.RawSockaddrAny) peerAddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafePointer(rsa))
		return peerAddr{ip: netip.AddrFrom4(sa.Addr).As16(), port: sa.Port>>8 | sa.Port<<8}
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafePointer(rsa))
		return peerAddr{ip: sa.Addr, port: sa.Port>>8 | sa.Port<<8}
	}
	return peerAddr{}
}

// hasTLS reports whether cfg has a TLS address.
func hasTLS(cfg *conf.Config) bool {
	for _, a := range cfg.HTTP.Addrs {
		if a.SSL {
			return true
		}
	}
	return false
}

// hasHTTP2 reports whether a server of cfg has http2 on.
func hasHTTP2(cfg *conf.Config) bool {
	for _, srv := range cfg.HTTP.Servers {
		if srv.Root.HTTP2 {
			return true
		}
	}
	return false
}

// getRequest takes a request from the free list.
func (w *Worker) getRequest() *request {
	if n := len(w.free); n > 0 {
		rq := w.free[n-1]
		w.free = w.free[:n-1]
		return rq
	}
	return newRequest(w)
}

func (w *Worker) putRequest(rq *request) {
	if rq.connHolds > 0 {
		w.releaseConns(rq)
	}
	rq.file.release()
	rq.reset()
	w.free = append(w.free, rq)
}

// UseTicketKeys seals session tickets with keys, the master's shared ones,
// for the servers without ssl_session_ticket_key files. Call it before
// Run.
func (w *Worker) UseTicketKeys(keys ssl.TicketKeys) {
	if w.ssl != nil {
		w.ssl.SetTicketKeys(keys)
	}
}
