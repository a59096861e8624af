//go:build linux

package ssl

import (
	"bytes"
	"crypto/tls"
	"io"
	"strings"
	"testing"
)

// TestSessionID: $ssl_session_id is made with a session's first ticket,
// is the same when the session is resumed (on TLS 1.3, where each
// resumption is a new ticket, too), differs between sessions, and is
// empty for a session that has no ticket.
func TestSessionID(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		r := newIdleRig(t)
		cfg := r.f.clientConfig("a.test")
		cfg.MaxVersion = v
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		// connect makes a connection, answers once (a TLS 1.3 client
		// takes its tickets in with the answer) and returns its ID.
		connect := func() ([]byte, bool) {
			c, client, _ := r.openWith(cfg)
			if _, err := c.Writev([][]byte{[]byte("ok")}, false); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, make([]byte, 2)); err != nil {
				t.Fatal(err)
			}
			return bytes.Clone(c.SessionID()), c.Resumed()
		}
		first, resumed := connect()
		if len(first) != sessionIDLen || resumed {
			t.Fatalf("%x: a new session: ID %x, resumed %v", v, first, resumed)
		}
		for i := 0; i < 2; i++ {
			again, resumed := connect()
			if !resumed || !bytes.Equal(again, first) {
				t.Fatalf("%x: resumption %d: ID %x (resumed %v), want %x", v, i, again, resumed, first)
			}
		}
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		other, resumed := connect()
		if resumed || len(other) != sessionIDLen || bytes.Equal(other, first) {
			t.Fatalf("%x: another session: ID %x (resumed %v), the first %x", v, other, resumed, first)
		}
	}
	off := strings.Replace(twoServers, `server_name = ["a.test"]`, `server_name = ["a.test"]
    ssl_session_tickets = false`, 1)
	r := newIdleRigConf(t, off)
	c, _, _ := r.open()
	if id := c.SessionID(); id != nil {
		t.Fatalf("no tickets: ID %x", id)
	}
}
