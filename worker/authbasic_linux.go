//go:build linux

package worker

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/threadpool"
	"tern/worker/auth"
)

// auth_basic (nginx's ngx_http_auth_basic_module). nginx opens and reads
// the user file on every request, on its event loop, and checks bcrypt
// there too (tens of milliseconds per request). tern keeps each file
// parsed in memory and checks, at most once a second, on a pool thread,
// whether it changed (then reads it again there); a password whose hash
// is slow to check (MD5 crypt, bcrypt) is checked on a pool thread too,
// and a match is remembered, so that the next requests with the same
// credentials cost one SHA-256 on the loop. Meanwhile the request is
// parked (statusPark) and its phases run again when the pool answers.

const (
	// userFileValid is how long a user file read from disk is trusted
	// before it is checked again for changes.
	userFileValid = time.Second
	// maxVerified bounds the remembered matches; when full, one is
	// dropped for each new one.
	maxVerified = 4096
	// maxUserFiles bounds the user files a worker keeps, which a path
	// with variables may make many of.
	maxUserFiles = 1024
)

// authState is a worker's auth_basic state: its user files and the
// credentials verified. It belongs to the loop goroutine.
type authState struct {
	files map[string]*userFile
	// verified holds the keys (credKey) of credentials that matched.
	verified map[[sha256.Size]byte]struct{}
	salt     [32]byte
	// scratch holds what credKey hashes, wiped after each use.
	scratch []byte
}

func newAuthState() *authState {
	a := &authState{
		files:    make(map[string]*userFile),
		verified: make(map[[sha256.Size]byte]struct{}),
	}
	rand.Read(a.salt[:])
	return a
}

// userFile is one auth_basic_user_file as the worker knows it.
type userFile struct {
	path string
	// table is the parsed file, nil until a read succeeded; err is the
	// last check's failure (the table is then not used).
	table *auth.Table
	err   error
	// checkedAt is the loop time of the last completed check.
	checkedAt int64
	check     fileCheck
	// waiting are the requests parked until the check in flight is done.
	waiting []waiter
}

// waiter is a parked request, recognised by its serial number, since
// the request may be freed and reused by the time the wait is over.
type waiter struct {
	rq     *request
	serial uint64
}

// fileCheck stats a user file on a pool thread and reads it again if it
// changed since the last read.
type fileCheck struct {
	threadpool.TaskState
	w   *Worker
	f   *userFile
	sig fileSig // in: the last read's; out: the current one
	// have says that the worker has a table read with sig.
	have bool
	// out
	table *auth.Table
	err   error
}

// fileSig tells whether a file changed: a rename over it changes the
// inode, an edit in place the size or the times.
type fileSig struct {
	dev, ino   uint64
	size       int64
	mtim, ctim unix.Timespec
}

func sigOf(st *unix.Stat_t) fileSig {
	return fileSig{dev: st.Dev, ino: st.Ino, size: st.Size, mtim: st.Mtim, ctim: st.Ctim}
}

// Run checks the file on a pool goroutine.
func (t *fileCheck) Run() {
	t.table, t.err = nil, nil
	f, err := os.Open(t.f.path)
	if err != nil {
		t.err = err
		return
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.err = os.NewSyscallError("fstat", err)
		return
	}
	if sig := sigOf(&st); sig == t.sig && t.have {
		return // unchanged: table stays nil, the old one is kept
	} else {
		t.sig = sig
	}
	if st.Size > auth.MaxFileSize {
		t.err = auth.ErrTooLarge
		return
	}
	b := make([]byte, st.Size)
	n, err := f.ReadAt(b, 0)
	if err != nil && n < len(b) {
		// It shrank while being read: what was read is the file.
		b = b[:n]
	}
	t.table, t.err = auth.Parse(b)
}

// Done takes the result on the loop goroutine.
func (t *fileCheck) Done() { t.w.fileChecked(t) }

// fileChecked updates the file from its check and wakes the requests
// that waited for it.
func (w *Worker) fileChecked(t *fileCheck) {
	f := t.f
	f.checkedAt = w.loop.Now()
	switch {
	case t.err != nil:
		if f.err == nil || f.err.Error() != t.err.Error() {
			w.log.Error().Err(t.err).Str("file", f.path).Msg("reading auth_basic_user_file failed")
		}
		f.err, f.table = t.err, nil
	case t.table != nil:
		f.err, f.table = nil, t.table
		// Matches remembered against the old file stay valid only
		// if the hash did not change: the hash is part of the key.
		for _, u := range t.table.Unknown {
			w.log.Warn().Str("file", f.path).Str("user", u).Msg("password hash of an unsupported scheme (DES or SHA crypt?): that user cannot log in")
		}
	default:
		f.err = nil // unchanged
	}
	waiting := f.waiting
	f.waiting = f.waiting[:0]
	for _, wt := range waiting {
		if rq := wt.rq; rq.serial == wt.serial && rq.parkedOn == f {
			rq.unpark()
		}
	}
}

// verifyTask checks one password against a slow hash on a pool thread.
// It belongs to its request.
type verifyTask struct {
	threadpool.TaskState
	c        *conn
	rq       *request
	hash     string
	password []byte
	key      [sha256.Size]byte
	ok       bool
}

// Run checks, then wipes the password copy.
func (t *verifyTask) Run() {
	t.ok = auth.Check(t.hash, t.password)
	clear(t.password)
}

// Done resumes the request with the verdict.
func (t *verifyTask) Done() {
	c, rq := t.c, t.rq
	if t.ok {
		rq.w.auth.remember(t.key)
	}
	if rq.orphan {
		rq.w.putRequest(rq) // its HTTP/2 stream is gone
		return
	}
	if rq.stream == nil && c.closing {
		c.close()
		return
	}
	if rq.parkedOn == t {
		rq.verdictKey, rq.verdict = t.key, verdictOf(t.ok)
		rq.unpark()
	}
}

// Verdicts of a password check that the request carries across the
// restart of its phases.
const (
	verdictNone int8 = iota
	verdictMatch
	verdictMismatch
)

func verdictOf(ok bool) int8 {
	if ok {
		return verdictMatch
	}
	return verdictMismatch
}

// authBasic is nginx's auth_basic handler for rq.Loc: 0 when the
// credentials match, 401 (with the realm) when they are missing or wrong,
// 403 when the user file does not exist, 500 when it cannot be read, or
// statusPark while the pool reads the file or checks the password.
func (w *Worker) authBasic(rq *request) int {
	loc := rq.Loc
	user, pass, ok := rq.credentials()
	if !ok {
		rq.errLog().WithLevel(conf.LogInfo).Bytes("uri", rq.Req.Path).Msg("no user/password was provided for basic authentication")
		return rq.challenge(loc)
	}
	if w.auth == nil {
		w.auth = newAuthState()
	}
	var f *userFile
	if loc.AuthBasicUserFileVars.IsZero() {
		f = w.auth.file(loc.AuthBasicUserFile)
	} else {
		f = w.auth.fileAt(rq.userFilePath(loc.AuthBasicUserFileVars))
	}
	if f.table == nil && f.err == nil || w.loop.Now()-f.checkedAt >= int64(userFileValid) {
		return w.checkFile(rq, f)
	}
	if f.err != nil {
		if errors.Is(f.err, fs.ErrNotExist) {
			return 403 // nginx: ENOENT is 403, other failures 500
		}
		return 500
	}
	hash, found := f.table.Lookup(user)
	if !found {
		rq.errLog().Error().Bytes("user", user).Str("file", f.path).Msg("user was not found in auth_basic_user_file")
		return rq.challenge(loc)
	}
	scheme := auth.SchemeOf(hash)
	switch {
	case scheme == auth.SchemeUnknown:
		rq.errLog().Error().Bytes("user", user).Str("file", f.path).Msg("password hash of an unsupported scheme")
		return 500
	case !scheme.Slow():
		if auth.Check(hash, pass) {
			return 0
		}
		rq.errLog().Error().Bytes("user", user).Msg("password mismatch")
		return rq.challenge(loc)
	}
	key := w.auth.credKey(f.path, user, pass, hash)
	if _, ok := w.auth.verified[key]; ok {
		return 0
	}
	if rq.verdict != verdictNone && rq.verdictKey == key {
		if rq.verdict == verdictMatch {
			return 0
		}
		rq.errLog().Error().Bytes("user", user).Msg("password mismatch")
		return rq.challenge(loc)
	}
	return w.verify(rq, hash, pass, key)
}

// challenge answers 401 with the location's realm (WWW-Authenticate is
// added when the response goes out, error pages included).
func (rq *request) challenge(loc *conf.Location) int {
	rq.realm = loc.AuthBasic
	return 401
}

// credentials decodes the request's Basic credentials into rq.authBuf.
func (rq *request) credentials() (user, pass []byte, ok bool) {
	if rq.Req.Authorization == nil {
		return nil, nil, false
	}
	user, pass, rq.authBuf, ok = auth.ParseBasic(rq.Req.Authorization, rq.authBuf)
	return user, pass, ok
}

// file returns the worker's record of the user file at path.
func (a *authState) file(path string) *userFile {
	f := a.files[path]
	if f == nil {
		f = &userFile{path: path}
		a.files[path] = f
	}
	return f
}

// fileAt is file for a path expanded from variables: found without
// allocating; a new one makes room by forgetting another that nothing
// waits for, since the paths a variable takes have no bound.
func (a *authState) fileAt(path []byte) *userFile {
	if f := a.files[string(path)]; f != nil {
		return f
	}
	if len(a.files) >= maxUserFiles {
		for p, f := range a.files {
			if !f.check.InFlight() && len(f.waiting) == 0 {
				delete(a.files, p)
				break
			}
		}
	}
	return a.file(string(path))
}

// userFilePath expands auth_basic_user_file's variables into
// rq.authPath; a relative result is taken from the prefix, as nginx's.
func (rq *request) userFilePath(t conf.Template) []byte {
	b := t.Append(rq.authPath[:0], rq)
	if len(b) == 0 || b[0] != '/' {
		n := len(b)
		b = append(b, rq.w.cfg.Prefix...)
		b = append(b, '/')
		b = append(b, b[:n]...)
		copy(b, b[n:])
		b = b[:len(b)-n]
	}
	rq.authPath = b
	return b
}

// credKey derives the key under which a match of these credentials
// against this hash is remembered: a salted SHA-256, so that the map
// holds no password, and a changed hash in the file misses.
func (a *authState) credKey(path string, user, pass []byte, hash string) [sha256.Size]byte {
	b := append(a.scratch[:0], a.salt[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(path)))
	b = append(b, path...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(user)))
	b = append(b, user...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pass)))
	b = append(b, pass...)
	b = append(b, hash...)
	key := sha256.Sum256(b)
	clear(b)
	a.scratch = b[:0]
	return key
}

// remember records a match, dropping another one when full.
func (a *authState) remember(key [sha256.Size]byte) {
	if len(a.verified) >= maxVerified {
		for k := range a.verified {
			delete(a.verified, k)
			break
		}
	}
	a.verified[key] = struct{}{}
}

// authPool is the pool auth_basic uses in loc: its aio pool, else the
// default one (started for it, see startPools).
func authPool(s *conf.Settings) string {
	if s.AIO.Mode == conf.AIOThreads {
		return s.AIO.Pool
	}
	return "default"
}

// checkFile parks rq until f has been checked on a pool thread, posting
// the check unless one is in flight. Without a pool (its queue full),
// the check runs here, on the loop: correctness over latency.
func (w *Worker) checkFile(rq *request, f *userFile) int {
	t := &f.check
	if !t.InFlight() {
		t.w, t.f, t.have = w, f, f.table != nil
		pool := w.env.Pools[authPool(&rq.Loc.Settings)]
		if pool == nil || pool.Post(t) != nil {
			t.Run()
			w.fileChecked(t)
			return w.authBasic(rq)
		}
	}
	f.waiting = append(f.waiting, waiter{rq: rq, serial: rq.serial})
	rq.parkedOn = f
	return statusPark
}

// verify parks rq while its password is checked against hash on a pool
// thread.
func (w *Worker) verify(rq *request, hash string, pass []byte, key [sha256.Size]byte) int {
	t := &rq.verify
	t.c, t.rq, t.hash, t.key = rq.conn, rq, hash, key
	t.password = append(t.password[:0], pass...)
	pool := w.env.Pools[authPool(&rq.Loc.Settings)]
	if pool == nil {
		return 500
	}
	if err := pool.Post(t); err != nil {
		clear(t.password)
		w.log.Error().Err(err).Msg("checking a password: thread pool task refused")
		return 500
	}
	rq.parkedOn = t
	return statusPark
}
