//go:build linux

package master

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tern/conf"
	"tern/event"
)

// The limit_req and limit_conn zones: one shared table (event.Table) per
// zone, made by the master and handed to every worker after its
// listening sockets, in the order of the configuration's HTTP.Zones. A
// reload keeps the table of a zone whose name, kind, size and key are
// unchanged (conf.LimitZone.Identity), so its counts and buckets go on;
// a changed zone starts empty, as nginx would after its "zone is already
// bound" refusal was fixed. A binary upgrade hands the tables to the new
// master too (ZonesEnv), which keeps those its configuration still has
// with the same identity, when the new binary's table layout is the
// same. A table stays open in the master while a generation that has it
// has workers, so that the master can free a lock a dying worker held
// (ForceUnlock), as it does the accept lock.

// ZonesEnv names the zone tables an old master hands to the new binary:
// "FD=ID;..." where ID is zoneID of the zone's identity.
const ZonesEnv = "TERN_ZONES"

// zone is one zone's table in the master, and how many generations
// hold it.
type zone struct {
	id    string
	table *event.Table
	refs  int
}

// zoneSet is the tables of one generation, in HTTP.Zones order.
type zoneSet struct {
	list []*zone
}

// zoneID is a zone identity in a form fit for an environment variable.
func zoneID(z *conf.LimitZone) string {
	sum := sha256.Sum256([]byte(z.Identity()))
	return hex.EncodeToString(sum[:12])
}

// openZones returns the tables of cfg's zones: those of old (the running
// generation) and inherited (from an old master, by ID) that have the
// same identity, new ones for the rest. Inherited tables it takes are
// removed from inherited. On error every table made here is closed.
func openZones(cfg *conf.Config, old *zoneSet, inherited map[string]int, log zerolog.Logger) (*zoneSet, error) {
	set := &zoneSet{}
	if cfg.HTTP == nil {
		return set, nil
	}
	kept := map[string]*zone{}
	if old != nil {
		for _, z := range old.list {
			kept[z.id] = z
		}
	}
	for _, cz := range cfg.HTTP.Zones {
		id := zoneID(cz)
		if z := kept[id]; z != nil {
			z.refs++
			set.list = append(set.list, z)
			continue
		}
		if fd, ok := inherited[id]; ok {
			delete(inherited, id)
			if event.CompatibleTable(fd, cz.Size) {
				if t, err := event.MapTable(fd); err == nil {
					log.Info().Str("zone", cz.Name).Msg("keeping the zone of the old binary")
					set.list = append(set.list, &zone{id: id, table: t, refs: 1})
					continue
				}
			}
			unix.Close(fd)
			log.Warn().Str("zone", cz.Name).Msg("the old binary's zone has another layout: starting it empty")
		}
		t, err := event.NewTable(cz.Name, cz.Size)
		if err != nil {
			set.release()
			return nil, fmt.Errorf("zone %q: %w", cz.Name, err)
		}
		set.list = append(set.list, &zone{id: id, table: t, refs: 1})
	}
	return set, nil
}

// fds are the tables' fds, in order, to hand to a worker.
func (s *zoneSet) fds() []int {
	fds := make([]int, len(s.list))
	for i, z := range s.list {
		fds[i] = z.table.FD()
	}
	return fds
}

// forceUnlock frees the tables' locks held by the dead worker pid.
func (s *zoneSet) forceUnlock(pid int) bool {
	held := false
	for _, z := range s.list {
		if z.table.ForceUnlock(pid) {
			held = true
		}
	}
	return held
}

// release drops the set's hold on its tables, closing those no other
// generation holds.
func (s *zoneSet) release() {
	if s == nil {
		return
	}
	for _, z := range s.list {
		if z.refs--; z.refs == 0 {
			z.table.Close()
		}
	}
	s.list = nil
}

// zonesEnv is ZonesEnv's value for tables handed over as fds first,
// first+1, ...
func (s *zoneSet) zonesEnv(first int) string {
	var b strings.Builder
	for i, z := range s.list {
		fmt.Fprintf(&b, "%d=%s;", first+i, z.id)
	}
	return b.String()
}

// takeInheritedZones reads and removes ZonesEnv: the tables an old
// master handed over, by ID, made close-on-exec.
func takeInheritedZones() map[string]int {
	v, ok := os.LookupEnv(ZonesEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(ZonesEnv)
	out := map[string]int{}
	for _, item := range strings.Split(v, ";") {
		fdText, id, ok := strings.Cut(item, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			continue
		}
		unix.CloseOnExec(fd)
		out[id] = fd
	}
	return out
}
