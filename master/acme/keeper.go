//go:build linux

package acme

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"tern/conf"
)

// keeper keeps one certificate: it serves the stored one, and orders a
// new one when there is none or it is due, retrying with back-off.
type keeper struct {
	m    *Manager
	is   *conf.ACMEIssuer
	cert *conf.ACMECertificate
	id   string

	cancel context.CancelFunc
	done   chan struct{}
}

// Back-off after a failed order: retry, doubling up to maxRetry, each
// wait drawn between half and all of its value, so that the masters
// of a fleet that failed together do not retry together.
const (
	defaultRetry = time.Minute
	maxRetry     = 6 * time.Hour
	// orderTimeout bounds one attempt, from the directory to the
	// certificate.
	orderTimeout = 5 * time.Minute
)

func (k *keeper) start() {
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel, k.done = cancel, make(chan struct{})
	go func() {
		defer close(k.done)
		k.run(ctx)
	}()
}

func (k *keeper) stop() { k.cancel() }

// run is the keeper's life: serve what is stored, order when due, wait.
func (k *keeper) run(ctx context.Context) {
	retry := k.m.retry
	if retry <= 0 {
		retry = defaultRetry
	}
	wait := retry
	var ordered time.Time
	for {
		cur, err := loadStored(k.cert)
		if err != nil {
			k.m.logger().Error().Err(err).Str("certificate", k.id).Msg("the stored certificate cannot be used: ordering a new one")
		}
		now := time.Now()
		if cur != nil && now.Before(cur.leaf.NotAfter) {
			k.m.serve(ctx, cur.zc)
		}
		if cur != nil && now.Before(cur.renewAt(k.is.RenewBefore)) {
			at := cur.renewAt(k.is.RenewBefore)
			k.m.logger().Info().Str("certificate", k.id).Time("not_after", cur.leaf.NotAfter).Time("renew_at", at).
				Msg("certificate in use")
			wait = retry
			if !sleep(ctx, time.Until(at)) {
				return
			}
			continue
		}
		if since := time.Since(ordered); since < retry {
			// Due as soon as issued (renew_before longer than the
			// lifetime): at most one order per first back-off.
			if !sleep(ctx, retry-since) {
				return
			}
		}
		err = k.obtain(ctx)
		if ctx.Err() != nil {
			if err != nil {
				k.m.logger().Info().Str("certificate", k.id).Msg("order abandoned: the keeper stops (a stop, an upgrade's old master, a reload without the server)")
			}
			return
		}
		if err == nil {
			wait, ordered = retry, time.Now()
			continue
		}
		d := wait/2 + rand.N(wait/2+1)
		ev := k.m.logger().Error().Err(err).Str("certificate", k.id).Str("retry_in", d.Round(time.Second).String())
		if cur != nil {
			ev = ev.Time("current_not_after", cur.leaf.NotAfter)
		}
		ev.Msg("ordering the certificate failed: the current certificate, if any, keeps serving")
		wait = min(wait*2, maxRetry)
		if !sleep(ctx, d) {
			return
		}
	}
}

// sleep waits d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// obtain orders and stores a new certificate, under the issuer's lock.
// Another master may have stored one while this one waited for the
// lock: then there is nothing to order.
func (k *keeper) obtain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, orderTimeout)
	defer cancel()
	unlock, err := lockState(ctx, k.is)
	if err != nil {
		return err
	}
	defer unlock()
	if cur, _ := loadStored(k.cert); cur != nil && time.Now().Before(cur.renewAt(k.is.RenewBefore)) {
		return nil
	}
	err = k.order(ctx)
	if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		k.m.counted(err == nil) // not an order a stop abandoned
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("the order took longer than " + orderTimeout.String())
	}
	return err
}
