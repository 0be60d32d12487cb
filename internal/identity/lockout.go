package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Default sign-in lockout policies: five failures for one email lock it
// for a minute, doubling with each further failure up to an hour; fifty
// failures from one IP (any emails) lock that IP the same way. Failures
// are forgotten after a day without one.
var (
	DefaultEmailLockout = store.LockoutPolicy{Threshold: 5, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	DefaultIPLockout    = store.LockoutPolicy{Threshold: 50, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
)

// lockout throttles password sign-in per email and per client IP, and
// second factors per user (MFAFailurePolicy). The Service holds one, and
// every check of a password goes through it:
// PasswordSignIn (POST /auth/login and the sign-in forms of the
// authorization server) and the password that disables 2FA; a sign-in
// completed with a second factor resets the email's failures. Its state
// lives in the database (store.LimitStore), so every replica shares it.
type lockout struct {
	st        store.LimitStore
	email, ip store.LockoutPolicy
	log       *slog.Logger
	now       func() time.Time
}

func newLockout(st store.LimitStore, email, ip store.LockoutPolicy, log *slog.Logger, now func() time.Time) (*lockout, error) {
	if email == (store.LockoutPolicy{}) {
		email = DefaultEmailLockout
	}
	if ip == (store.LockoutPolicy{}) {
		ip = DefaultIPLockout
	}
	for _, p := range []struct {
		name string
		p    store.LockoutPolicy
	}{{"EmailLockout", email}, {"IPLockout", ip}} {
		if p.p.Threshold <= 0 || p.p.Base <= 0 || p.p.Max < p.p.Base || p.p.Window < p.p.Max {
			return nil, fmt.Errorf("%s policy: need Threshold > 0, 0 < Base <= Max <= Window", p.name)
		}
	}
	return &lockout{st: st, email: email, ip: ip, log: log, now: now}, nil
}

const maxKeyLen = 400

func emailKey(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > maxKeyLen {
		e = strings.ToValidUTF8(e[:maxKeyLen], "")
	}
	return "email:" + e
}

// ipKey counts an IPv6 client by its /64 (ratelimit.IPKey).
func ipKey(ip string) string { return "ip:" + ratelimit.IPKey(ip) }

// attempt is a reserved attempt (lockout.reserve): it counts as a failure
// of its keys until succeeded or refund says otherwise.
type attempt struct {
	l *lockout
	// reset are the keys a success resets; keep those it only takes the
	// attempt back from.
	reset, keep []string
	done        bool
}

// begin reserves one password attempt for email from ip (ip "": the email
// alone); see reserve. A success resets the email and takes the attempt
// back from the IP: one good account must not clear an IP that is
// guessing at others.
func (l *lockout) begin(ctx context.Context, email, ip string) (*attempt, error) {
	keys := []store.ThrottleKey{{Key: emailKey(email), Policy: l.email}}
	if ip != "" {
		keys = append(keys, store.ThrottleKey{Key: ipKey(ip), Policy: l.ip})
	}
	return l.reserve(ctx, "password", keys, 1)
}

// reserve reserves one attempt on keys before the secret (field: a
// "password" or a second-factor "code") is checked. If a key is locked it
// counts nothing and answers a *TooManyAttemptsError with the time left;
// otherwise the attempt counts as a failure of every key up front,
// atomically with the check, so that concurrent attempts cannot all slip
// under a threshold. A success resets the first nreset keys and takes the
// attempt back from the others. Settle the attempt with failed,
// succeeded or refund.
func (l *lockout) reserve(ctx context.Context, field string, keys []store.ThrottleKey, nreset int) (*attempt, error) {
	now := l.now()
	states, ok, err := l.st.ReserveLoginAttempt(ctx, now, keys)
	if err != nil {
		return nil, fmt.Errorf("lockout: %w", err)
	}
	if !ok {
		var wait time.Duration
		for _, t := range states {
			if locked, left := t.Locked(now); locked && left > wait {
				wait = left
			}
		}
		l.log.WarnContext(ctx, "attempt refused: locked after repeated failures", "field", field)
		return nil, &TooManyAttemptsError{Field: field, RetryAfter: max(wait, time.Second)}
	}
	a := &attempt{l: l}
	for i, k := range keys {
		if locked, left := states[i].Locked(now); locked {
			l.log.WarnContext(ctx, "locked after repeated failures", "key_kind", strings.SplitN(k.Key, ":", 2)[0], "field", field,
				"failures", states[i].Failures, "locked_for", left.String())
		}
		if i < nreset {
			a.reset = append(a.reset, k.Key)
		} else {
			a.keep = append(a.keep, k.Key)
		}
	}
	return a, nil
}

// failed keeps the attempt counted (a wrong password).
func (a *attempt) failed() { a.done = true }

// succeeded resets the keys it should and takes the attempt back from
// the others (a right secret: a sign-in that issued tokens, a right code).
func (a *attempt) succeeded(ctx context.Context) {
	if a.done {
		return
	}
	a.done = true
	for _, k := range a.reset {
		a.l.resetKey(ctx, k)
	}
	for _, k := range a.keep {
		a.l.refund(ctx, k)
	}
}

// refund takes the attempt back from every key, without a reset: the
// secret was not found wrong (an internal error, or a right password that
// still needs a second factor).
func (a *attempt) refund(ctx context.Context) {
	if a.done {
		return
	}
	a.done = true
	for _, k := range append(a.reset, a.keep...) {
		a.l.refund(ctx, k)
	}
}

// settle ends a with the outcome of a password check: a wrong password
// (ErrInvalidCredentials) stays counted, issued tokens reset the email,
// anything else is refunded.
func (a *attempt) settle(ctx context.Context, err error, issued bool) {
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		a.failed()
	case err == nil && issued:
		a.succeeded(ctx)
	default:
		a.refund(ctx)
	}
}

func (l *lockout) refund(ctx context.Context, key string) {
	if err := l.st.RefundLoginAttempt(ctx, key); err != nil {
		l.log.ErrorContext(ctx, "lockout: refund attempt", "error", err)
	}
}

// succeeded resets the email's failures (not the IP's): a sign-in
// completed by a second factor.
func (l *lockout) succeeded(ctx context.Context, email string) { l.resetKey(ctx, emailKey(email)) }

func (l *lockout) resetKey(ctx context.Context, key string) {
	if err := l.st.ResetLoginThrottle(ctx, key); err != nil {
		l.log.ErrorContext(ctx, "lockout: reset after success", "error", err)
	}
}
