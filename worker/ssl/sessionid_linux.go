//go:build linux

package ssl

import (
	"bytes"
	"crypto/rand"
)

// The session's ID ($ssl_session_id) is an entry of its own in
// tls.SessionState.Extra, so that tickets made before it existed still
// resume (sessionValid wants its entry's exact length).
var sessionIDTag = []byte("tsid")

const sessionIDLen = 32

// The states of Conn.sid: none yet; offered in the client's ticket, so
// the session's if the handshake resumes it; this connection's session's.
const (
	sidNone uint8 = iota
	sidOffered
	sidOwn
)

func sessionIDExtra(id []byte) []byte {
	return append(append(make([]byte, 0, len(sessionIDTag)+sessionIDLen), sessionIDTag...), id...)
}

// offeredSessionID notes the ID in the Extra of a ticket the client
// offered: the session's if the handshake resumes it.
func (c *Conn) offeredSessionID(extra [][]byte) {
	for _, e := range extra {
		if len(e) == len(sessionIDTag)+sessionIDLen && bytes.HasPrefix(e, sessionIDTag) {
			copy(c.sid[:], e[len(sessionIDTag):])
			c.sidState = sidOffered
			return
		}
	}
}

// ticketSessionID is the ID a ticket of this connection's session
// carries: the resumed session's, or a new one for a new session.
func (c *Conn) ticketSessionID(resumed bool) []byte {
	if c.sidState == sidOffered && resumed {
		c.sidState = sidOwn
	}
	if c.sidState != sidOwn {
		if _, err := rand.Read(c.sid[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		c.sidState = sidOwn
	}
	return c.sid[:]
}

// settleSessionID keeps an offered ID only if the session was resumed.
func (c *Conn) settleSessionID(resumed bool) {
	if c.sidState == sidOffered {
		c.sidState = sidNone
		if resumed {
			c.sidState = sidOwn
		}
	}
}
