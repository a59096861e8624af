//go:build !race

package conf

// raceEnabled skips allocation counts: under the race detector sync.Pool
// drops entries on purpose, so regexp matching allocates.
const raceEnabled = false
