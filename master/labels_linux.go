//go:build linux

package master

import (
	"tern/conf"
	"tern/event"
)

// registerLabels gives cfg's server labels and thread pools their ids in
// the shared memory before its workers start, so that every worker finds
// them (event/labels_linux.go). Ids are never taken back: a reload keeps
// the counters of the servers that stay.
func (m *Master) registerLabels(cfg *conf.Config) {
	servers := m.shm.RegisterLabels(event.ServerLabels, cfg.ServerLabels())
	pools := m.shm.RegisterLabels(event.PoolLabels, cfg.PoolLabels())
	for _, ids := range [][]int{servers, pools} {
		for _, id := range ids {
			if id == 0 {
				m.log.Warn().Int("servers", event.MaxServerLabels-1).Int("pools", event.MaxPoolLabels-1).
					Msg("more server names or thread pools than metrics labels: the rest count as \"other\"")
				return
			}
		}
	}
}
