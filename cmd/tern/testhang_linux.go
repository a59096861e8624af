//go:build linux && ternhang

package main

// A test-only build: `go build -tags ternhang ./cmd/tern` makes a tern
// whose workers never accept (t/upgrade_test.go upgrades to it and
// expects the rollback after the timeout). Never built otherwise.
func init() { workersNeverAccept = true }
