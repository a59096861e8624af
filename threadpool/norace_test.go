//go:build !race

package threadpool

const raceEnabled = false
