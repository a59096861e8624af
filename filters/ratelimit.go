package filters

import (
	"math"
	"time"
)

// limit_rate paces a response (nginx's write filter): the bytes a
// response may have sent by now are its rate times the time since it
// started, plus limit_rate_after, plus a head start of one quantum. The
// write filter sends at most what is allowed — with the same writev,
// sendfile and thread-pool sends as without a limit, each call just
// shorter — and when the allowance runs out it waits on a loop timer
// (WaitTimer) for the next quantum instead of sending a few bytes at a
// time. nginx counts whole seconds from the request's start, which lets
// a response run up to a second's worth ahead of its rate; tern counts
// nanoseconds from the response's start, so a 2 MB/s download measures
// 2 MB/s over any ten seconds.

const (
	// rateQuanta is how many sends a second a rate-limited response
	// makes at most when the client keeps up: one quantum is a
	// twentieth of the rate, 50 ms of data.
	rateQuanta = 20
	// minQuantum keeps a low rate from sending a few bytes at a time;
	// below minQuantum bytes a second, a quantum is a second's worth, so
	// that the head start stays within a second of the rate, as nginx's
	// (limit_rate 15 sends 15 bytes a second, not 512 at once).
	minQuantum = 512
)

// quantum is the smallest send of a response limited to rate bytes/s.
func quantum(rate int64) int64 { return max(rate/rateQuanta, min(minQuantum, rate)) }

// rateAllowance returns how many bytes t may send now under its
// limit_rate, and whether that is enough to send at all; when it is
// not, it sets t.Delay to how long until a quantum is allowed. now is
// the loop's clock.
func (t *Txn) rateAllowance(now int64) (int64, bool) {
	rate := t.LimitRate
	q := quantum(rate)
	// float64: rate × nanoseconds overflows int64 within hours.
	earned := float64(rate) * float64(now-t.RateStart) / float64(time.Second)
	allow := int64(earned) + q + t.LimitRateAfter - t.Sent
	if allow >= q {
		return allow, true
	}
	need := q - allow
	t.Delay = time.Duration(math.Ceil(float64(need) * float64(time.Second) / float64(rate)))
	if t.Delay < time.Millisecond {
		t.Delay = time.Millisecond
	}
	return allow, false
}
