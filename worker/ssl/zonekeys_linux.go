//go:build linux

package ssl

import (
	"tern/conf"
	"tern/event"
)

// ZoneKeys are the ticket keys the master shares with its workers in a
// zone of shared memory (master/tickets_linux.go): one event.Blob holding
// the time the current key became current (8 bytes), then 80-byte keys,
// the current one first. Keys reads the blob each time, so a rotation
// reaches every worker at its next handshake.
type ZoneKeys struct {
	blob event.Blob
}

// zoneKeysSize is the size of the zone and of its one blob.
const zoneKeysSize = 4096

// NewZoneKeys reads the keys from zone.
func NewZoneKeys(zone *event.Zone) *ZoneKeys {
	return &ZoneKeys{blob: zone.Blob(0, zoneKeysSize)}
}

// Keys returns the current keys; called on handshake goroutines.
func (z *ZoneKeys) Keys() [][]byte {
	b := z.blob.Load(make([]byte, 0, 8+2*conf.TicketKeySize256))
	if len(b) < 8 {
		return nil
	}
	var keys [][]byte
	for k := b[8:]; len(k) >= conf.TicketKeySize256; k = k[conf.TicketKeySize256:] {
		keys = append(keys, k[:conf.TicketKeySize256:conf.TicketKeySize256])
	}
	return keys
}
