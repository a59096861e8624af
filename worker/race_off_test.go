//go:build !race

package worker

// raceEnabled skips the allocation count of the TLS path: under the race
// detector sync.Pool drops what it is given at random, and crypto/tls
// keeps its record buffers in one.
const raceEnabled = false
