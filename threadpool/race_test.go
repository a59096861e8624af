//go:build race

package threadpool

// raceEnabled: the race detector's hooks in x/sys make the buffer that
// event.Loop.Wake writes escape, so allocation counts differ under -race.
const raceEnabled = true
