package ssl

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"time"

	"tern/conf"
)

// Session tickets (RFC 5077 §4's recommended format, which nginx and
// OpenSSL use): key name (16) | IV (16) | AES-CBC(session state) |
// HMAC-SHA256 of everything before it (32). A key is nginx's
// ssl_session_ticket_key file: 48 bytes (name, AES-128 key, HMAC key)
// or 80 bytes (name, HMAC key, AES-256 key). The state inside is Go's
// (tls.SessionState), so tickets do not cross between tern and nginx,
// but tern servers sharing key files resume each other's sessions, and
// the key name in a ticket is the file's first 16 bytes, as nginx's.
//
// Every ticket also records when its session was made and which
// server identity (certificates and client verification) made it:
// ssl_session_timeout is enforced on resumption, and a session never
// resumes on a server that would have checked the client otherwise.

// TicketKeys gives the keys of session tickets: the first encrypts,
// every one decrypts. Keys is called on handshake goroutines.
type TicketKeys interface {
	Keys() [][]byte
}

// StaticKeys are keys that do not change: ssl_session_ticket_key files.
type StaticKeys [][]byte

// Keys returns the keys.
func (k StaticKeys) Keys() [][]byte { return k }

// NewKey makes a random key in nginx's 80-byte format.
func NewKey() []byte {
	k := make([]byte, conf.TicketKeySize256)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return k
}

const (
	keyNameLen  = 16
	ticketIVLen = aes.BlockSize
	ticketMAC   = sha256.Size
	// ticketMin is the shortest ticket: name, IV, one block, MAC.
	ticketMin = keyNameLen + ticketIVLen + aes.BlockSize + ticketMAC
)

// splitKey returns a key's name, AES key and HMAC key (nginx's
// ngx_ssl_session_ticket_keys).
func splitKey(k []byte) (name, aesKey, hmacKey []byte) {
	if len(k) == conf.TicketKeySize128 {
		return k[:16], k[16:32], k[32:48]
	}
	return k[:16], k[48:80], k[16:48]
}

var errNoTicketKey = errors.New("tls: no session ticket key")

// sealTicket encrypts state with key.
func sealTicket(key, state []byte) ([]byte, error) {
	if len(key) != conf.TicketKeySize128 && len(key) != conf.TicketKeySize256 {
		return nil, errNoTicketKey
	}
	name, aesKey, hmacKey := splitKey(key)
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(state)%aes.BlockSize
	ct := len(state) + pad
	t := make([]byte, keyNameLen+ticketIVLen+ct, keyNameLen+ticketIVLen+ct+ticketMAC)
	copy(t, name)
	iv := t[keyNameLen : keyNameLen+ticketIVLen]
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	body := t[keyNameLen+ticketIVLen:]
	copy(body, state)
	for i := len(state); i < ct; i++ {
		body[i] = byte(pad) // PKCS #7
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	mac := hmac.New(sha256.New, hmacKey)
	mac.Write(t)
	return mac.Sum(t), nil
}

// openTicket decrypts a ticket made with one of keys; nil when none of
// them made it or it does not authenticate.
func openTicket(keys [][]byte, t []byte) []byte {
	if len(t) < ticketMin || (len(t)-keyNameLen-ticketIVLen-ticketMAC)%aes.BlockSize != 0 {
		return nil
	}
	for _, k := range keys {
		if len(k) != conf.TicketKeySize128 && len(k) != conf.TicketKeySize256 {
			continue
		}
		name, aesKey, hmacKey := splitKey(k)
		if subtle.ConstantTimeCompare(name, t[:keyNameLen]) != 1 {
			continue
		}
		mac := hmac.New(sha256.New, hmacKey)
		mac.Write(t[:len(t)-ticketMAC])
		if !hmac.Equal(mac.Sum(nil), t[len(t)-ticketMAC:]) {
			return nil
		}
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			return nil
		}
		iv := t[keyNameLen : keyNameLen+ticketIVLen]
		body := bytes.Clone(t[keyNameLen+ticketIVLen : len(t)-ticketMAC])
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
		pad := int(body[len(body)-1])
		if pad == 0 || pad > aes.BlockSize {
			return nil // authenticated, so this is not an oracle: a bad key
		}
		return body[:len(body)-pad]
	}
	return nil
}

// sessionTag marks tern's entry in tls.SessionState.Extra:
// tag (4) | creation time, Unix seconds (8) | server identity (8).
var sessionTag = []byte("tern")

const sessionExtraLen = 4 + 8 + 8

func sessionExtra(now time.Time, id [8]byte) []byte {
	b := make([]byte, 0, sessionExtraLen)
	b = append(b, sessionTag...)
	b = binary.BigEndian.AppendUint64(b, uint64(now.Unix()))
	return append(b, id[:]...)
}

// sessionValid checks tern's entry of a session's Extra: made by a
// server with identity id, no longer ago than timeout.
func sessionValid(extra [][]byte, now time.Time, id [8]byte, timeout time.Duration) bool {
	for _, e := range extra {
		if len(e) != sessionExtraLen || !bytes.HasPrefix(e, sessionTag) {
			continue
		}
		made := time.Unix(int64(binary.BigEndian.Uint64(e[4:12])), 0)
		age := now.Sub(made)
		return [8]byte(e[12:20]) == id && age >= -time.Minute && age <= timeout
	}
	return false
}
