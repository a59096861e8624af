//go:build !linux

package conf

// haveOpenat2 is not asked where tern cannot serve.
func haveOpenat2() bool { return true }
