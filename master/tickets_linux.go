//go:build linux

package master

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
	"tern/internal/acmezone"
	"tern/master/acme"
)

// Session ticket keys (nginx's 80-byte format: name, HMAC key, AES-256
// key), made by the master and shared with every worker, so that a client
// resumes its session on any worker. The master makes a new key every
// rotation period (the longest ssl_session_timeout of the TLS servers
// that have no ssl_session_ticket_key files), keeping the previous one
// for the tickets it sealed, and hands both to new workers on reload and
// to a new master on a binary upgrade; nginx makes new keys on every
// reload.
//
// The keys live at the start of the master's Zone (the ACME area
// follows them), as one event.Blob: the time the current key became
// current (Unix seconds, 8 bytes big-endian), then the keys, current
// first. worker/ssl's ZoneKeys reads the same layout; a
// worker takes the blob at each handshake, so a rotation reaches it at
// once.
const (
	// TicketKeysEnv names the descriptor of the old master's keys zone
	// on a binary upgrade.
	TicketKeysEnv = "TERN_TICKET_KEYS_FD"
	ticketKeySize = conf.TicketKeySize256
	// keptKeys is how many keys the ring holds: the current one and the
	// one before it.
	keptKeys = 2
	// ticketZoneSize holds the blob with room to spare.
	ticketZoneSize = 4096
	// ACMEOffset is where the zone's ACME area begins, after the
	// keys: what the master's ACME client publishes (master/acme,
	// internal/acmezone), acmezone.Size bytes.
	ACMEOffset = ticketZoneSize
)

// ticketRing is the master's keys and their zone.
type ticketRing struct {
	zone      *event.Zone
	blob      event.Blob
	keys      [][]byte
	rotatedAt time.Time
	period    time.Duration
}

// newTicketRing makes the zone and its first key, or takes the keys and
// schedule of an old master that handed its zone over (TicketKeysEnv).
func newTicketRing(cfg *conf.Config) (*ticketRing, bool, error) {
	z, err := event.NewZone("tern-shared", ticketZoneSize+acmezone.Size)
	if err != nil {
		return nil, false, err
	}
	r := &ticketRing{zone: z, blob: z.Blob(0, ticketZoneSize)}
	inherited := r.adopt()
	if !inherited {
		r.keys = [][]byte{newTicketKey()}
		r.rotatedAt = time.Now()
	}
	r.period = rotationPeriod(cfg)
	r.publish()
	return r, inherited, nil
}

// adopt takes the keys of the zone an old master handed over, if any.
func (r *ticketRing) adopt() bool {
	v, ok := os.LookupEnv(TicketKeysEnv)
	if !ok {
		return false
	}
	os.Unsetenv(TicketKeysEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < listenFDsStart {
		return false
	}
	defer unix.Close(fd)
	old, err := event.MapZone(fd)
	if err != nil {
		return false
	}
	defer old.Close()
	at, keys, err := parseRing(old.Blob(0, ticketZoneSize).Load(nil))
	if err != nil || len(keys) == 0 {
		return false
	}
	r.keys, r.rotatedAt = keys, at
	return true
}

// parseRing reads the blob's layout.
func parseRing(b []byte) (time.Time, [][]byte, error) {
	if len(b) < 8 || (len(b)-8)%ticketKeySize != 0 {
		return time.Time{}, nil, errors.New("ticket keys: bad layout")
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	var keys [][]byte
	for k := b[8:]; len(k) > 0; k = k[ticketKeySize:] {
		keys = append(keys, k[:ticketKeySize:ticketKeySize])
	}
	return at, keys, nil
}

// publish writes the keys where the workers read them.
func (r *ticketRing) publish() {
	b := binary.BigEndian.AppendUint64(nil, uint64(r.rotatedAt.Unix()))
	for _, k := range r.keys {
		b = append(b, k...)
	}
	r.blob.Store(b)
}

// rotationPeriod is the longest ssl_session_timeout of the TLS servers
// that use the master's keys; 0 when none does.
func rotationPeriod(cfg *conf.Config) time.Duration {
	var p time.Duration
	if cfg.HTTP == nil {
		return 0
	}
	for _, a := range cfg.HTTP.Addrs {
		if !a.SSL {
			continue
		}
		for _, srv := range a.Servers {
			if s := &srv.Root.SSL; len(s.TicketKeyFiles) == 0 && s.SessionTickets {
				p = max(p, s.SessionTimeout)
			}
		}
	}
	return p
}

// next is when the current key is due to be replaced; zero when no
// rotation is scheduled.
func (r *ticketRing) next() time.Time {
	if r == nil || r.period <= 0 {
		return time.Time{}
	}
	return r.rotatedAt.Add(r.period)
}

// rotate makes a new current key if it is due, and reports whether it
// did.
func (r *ticketRing) rotate(now time.Time) bool {
	if n := r.next(); n.IsZero() || now.Before(n) {
		return false
	}
	r.keys = append([][]byte{newTicketKey()}, r.keys[:min(len(r.keys), keptKeys-1)]...)
	r.rotatedAt = now
	r.publish()
	return true
}

// configure follows a new configuration's rotation period (a reload);
// the keys stay.
func (r *ticketRing) configure(cfg *conf.Config) { r.period = rotationPeriod(cfg) }

func (r *ticketRing) close() {
	if r != nil {
		r.zone.Close()
	}
}

func newTicketKey() []byte {
	k := make([]byte, ticketKeySize)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // does not fail on Linux
	}
	return k
}

// acmeStopWait bounds how long a stopping master waits for its ACME
// keepers: an order in flight is abandoned.
const acmeStopWait = 2 * time.Second

// acmeRetry is the first back-off of the ACME keepers: acme.RetryEnv
// when set (the end-to-end tests), else the package's default.
func acmeRetry() time.Duration {
	d, err := time.ParseDuration(os.Getenv(acme.RetryEnv))
	if err != nil {
		return 0
	}
	return d
}
