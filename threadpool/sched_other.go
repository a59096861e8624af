//go:build !linux

package threadpool

// batchThread has no equivalent off Linux.
func batchThread() {}
