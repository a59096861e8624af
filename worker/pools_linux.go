//go:build linux

package worker

import (
	"tern/conf"
	"tern/event"
	"tern/threadpool"
)

// startPools starts the thread pools that a location's aio names ("default"
// when aio = "threads") or its auth_basic uses (authPool), each draining its completions on the worker's
// loop through the loop's one eventfd.
func startPools(cfg *conf.Config, loop *event.Loop) map[string]*threadpool.Pool {
	used := map[string]bool{}
	mark := func(s *conf.Settings) {
		if s.AIO.Mode == conf.AIOThreads {
			used[s.AIO.Pool] = true
		}
		if s.AuthBasic != "" {
			// user files are read and slow hashes checked there
			used[authPool(s)] = true
		}
	}
	cfg.EachLocation(func(l *conf.Location) { mark(&l.Settings) })
	pools := make(map[string]*threadpool.Pool, len(used))
	for name := range used {
		tp := cfg.ThreadPools[name]
		if tp == nil {
			continue // conf refuses an unknown pool; "default" always exists
		}
		p := threadpool.New(tp.Name, tp.Threads, tp.MaxQueue, loop)
		loop.OnWake(p)
		pools[name] = p
	}
	return pools
}

// stopPools waits for the tasks in flight and runs their completions, so
// that no pool goroutine still uses a socket or file when they close.
func stopPools(pools map[string]*threadpool.Pool) {
	for _, p := range pools {
		p.Close()
	}
	for _, p := range pools {
		p.Drain()
	}
}
