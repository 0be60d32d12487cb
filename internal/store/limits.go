package store

import (
	"context"
	"time"
)

// LimitStore holds login failure counters and lockouts.
type LimitStore interface {
	// GetLoginThrottle returns the state of key; ErrNotFound if it has
	// none (no failures since the last reset).
	GetLoginThrottle(ctx context.Context, key string) (LoginThrottle, error)
	// RecordLoginFailure atomically applies p.Next to key's state (a new
	// key starts from zero) and returns the new state.
	RecordLoginFailure(ctx context.Context, key string, now time.Time, p LockoutPolicy) (LoginThrottle, error)
	// ResetLoginThrottle forgets key's failures; an unknown key is not an
	// error.
	ResetLoginThrottle(ctx context.Context, key string) error
	// ReserveLoginAttempt is the check and the count of one attempt in a
	// single transaction, so that concurrent attempts cannot all pass a
	// check before any failure is recorded: if any of keys is locked at
	// now it changes nothing and returns ok false; otherwise it applies
	// each key's policy Next (the attempt counts as a failure up front)
	// and returns ok true. Either way it returns the states of keys, in
	// their order. The caller then keeps the failure (a wrong secret),
	// resets (a success) or refunds it (RefundLoginAttempt: neither).
	ReserveLoginAttempt(ctx context.Context, now time.Time, keys []ThrottleKey) (states []LoginThrottle, ok bool, err error)
	// RefundLoginAttempt takes back one reserved attempt of key: one
	// failure fewer and no lock (while a key is locked nothing else is
	// reserved, so a lock is the refunded attempt's own). An unknown key
	// or one without failures is not an error.
	RefundLoginAttempt(ctx context.Context, key string) error
}

// ThrottleKey is a key with the policy of its failures.
type ThrottleKey struct {
	Key    string
	Policy LockoutPolicy
}

// LoginThrottle is the failed-attempt state of one key ("email:<address>",
// "ip:<address>", "mfa:<user id>").
type LoginThrottle struct {
	Key string
	// Failures counts failures since the last reset, or since the window
	// of the policy passed without one.
	Failures      int
	LastFailureAt time.Time
	// LockedUntil is when attempts are allowed again; zero: not locked.
	LockedUntil time.Time
}

// Locked reports whether attempts for the key are refused at now, and for
// how long still.
func (t LoginThrottle) Locked(now time.Time) (bool, time.Duration) {
	if t.LockedUntil.IsZero() || !now.Before(t.LockedUntil) {
		return false, 0
	}
	return true, t.LockedUntil.Sub(now)
}

// LockoutPolicy decides when failures lock a key and for how long.
type LockoutPolicy struct {
	// Threshold failures lock the key for Base; each further failure
	// after a lock doubles the lock, up to Max.
	Threshold int
	Base, Max time.Duration
	// Window: failures are forgotten when none happened for this long.
	Window time.Duration
}

// Next is the state after one more failure at now.
func (p LockoutPolicy) Next(t LoginThrottle, now time.Time) LoginThrottle {
	if locked, _ := t.Locked(now); !locked && !t.LastFailureAt.IsZero() && now.Sub(t.LastFailureAt) >= p.Window {
		t.Failures = 0
		t.LockedUntil = time.Time{}
	}
	t.Failures++
	t.LastFailureAt = now
	if p.Threshold > 0 && t.Failures >= p.Threshold {
		d := p.Base
		for i := p.Threshold; i < t.Failures && d < p.Max; i++ {
			d *= 2
		}
		if d > p.Max {
			d = p.Max
		}
		t.LockedUntil = now.Add(d)
	}
	return t
}
