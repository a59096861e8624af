package filters

import (
	"testing"
	"time"
)

func TestRateAllowance(t *testing.T) {
	const sec = int64(time.Second)
	tests := []struct {
		rate, after, sent, now int64
		allow                  int64
		ok                     bool
		delay                  time.Duration
	}{
		// A quantum (a twentieth of the rate, at least 512, at most a
		// second's worth) to start.
		{rate: 2 << 20, now: 0, allow: 2 << 20 / 20, ok: true},
		{rate: 1000, now: 0, allow: 512, ok: true},
		{rate: 15, now: 0, allow: 15, ok: true},
		{rate: 15, sent: 15, now: 0, allow: 0, delay: time.Second},
		{rate: 15, sent: 15, now: sec, allow: 15, ok: true},
		// The quantum spent: wait until another is earned.
		{rate: 1000, sent: 512, now: 0, allow: 0, delay: 512 * time.Millisecond},
		{rate: 1000, sent: 512, now: sec / 2, allow: 500, delay: 12 * time.Millisecond},
		{rate: 1000, sent: 512, now: sec, allow: 1000, ok: true},
		// limit_rate_after adds to the allowance.
		{rate: 1000, after: 1 << 20, sent: 1000, now: 0, allow: 512 + 1<<20 - 1000, ok: true},
		// Hours at a high rate do not overflow.
		{rate: 1 << 30, sent: 0, now: 10 * 3600 * sec, allow: 10*3600*(1<<30) + (1<<30)/20, ok: true},
		{rate: 1 << 30, sent: (1 << 30) / 20, now: 0, allow: 0, delay: 50 * time.Millisecond},
		// At least a millisecond's wait.
		{rate: 1 << 30, sent: 1000, now: 0, allow: (1<<30)/20 - 1000, delay: time.Millisecond},
	}
	for i, tt := range tests {
		tx := &Txn{LimitRate: tt.rate, LimitRateAfter: tt.after, Sent: tt.sent}
		allow, ok := tx.rateAllowance(tt.now)
		if allow != tt.allow || ok != tt.ok || (!ok && tx.Delay != tt.delay) {
			t.Errorf("%d: allowance %d %v delay %v, want %d %v %v", i, allow, ok, tx.Delay, tt.allow, tt.ok, tt.delay)
		}
	}
}
