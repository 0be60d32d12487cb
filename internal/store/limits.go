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
	// BeginLoginAttempt reserves a slot for attempt id (a fresh random
	// id) on each of keys before its secret is checked, in a single
	// transaction, so that concurrent attempts cannot all pass the check:
	// if any key is locked at now, or already has as many attempts in
	// flight as its policy admits (LockoutPolicy.Admits), it changes
	// nothing and returns ok false; otherwise it adds a slot of id to
	// every key, held until EndLoginAttempt or until ttl passed (an
	// attempt whose process died), and returns ok true. A slot is not a
	// failure. An admitted attempt also takes its turn on every
	// DelayOnly key past its Threshold: the key's NextAdmission becomes
	// the attempt's LockoutPolicy.Admission time (a refused attempt takes
	// none). Either way it returns the states of keys in their order as
	// they were before this attempt, InFlight counting the slots held
	// before this one.
	BeginLoginAttempt(ctx context.Context, id string, now time.Time, ttl time.Duration, keys []ThrottleKey) (states []LoginThrottle, ok bool, err error)
	// EndLoginAttempt settles attempt id in a single transaction: it
	// applies each of failed's policy Next at now (the attempt was a
	// failure of those keys), forgets the failures of the reset keys, and
	// releases every slot of id. Unknown keys and ids are not an error.
	EndLoginAttempt(ctx context.Context, id string, now time.Time, failed []ThrottleKey, reset []string) error
	// SweepLoginThrottles deletes what no longer matters at now: the
	// state of keys that are not locked and have no failure within
	// window (none at all, or the last one at or before now-window; pass
	// the longest Window of the policies in use), and the slots of
	// attempts that expired. It returns the number of key states deleted.
	SweepLoginThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error)
	// RecordKnownSource notes that userID completed a sign-in from source
	// (a client address, an IPv6 client by its /64) at now, and keeps
	// only the keep most recent sources of userID.
	RecordKnownSource(ctx context.Context, userID, source string, now time.Time, keep int) error
	// KnownSource reports whether userID completed a sign-in from source
	// at or after since (RecordKnownSource).
	KnownSource(ctx context.Context, userID, source string, since time.Time) (bool, error)
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
	// InFlight counts the attempts holding a slot on the key (see
	// BeginLoginAttempt); only BeginLoginAttempt reports it.
	InFlight int
	// NextAdmission is when the turn of the next attempt on a DelayOnly
	// key past its Threshold begins (LockoutPolicy.Admission); zero or
	// past: at once.
	NextAdmission time.Time
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
	// DelayOnly makes the key a throttle that never locks: Next sets no
	// lock; past Threshold, attempts are admitted one after the other,
	// each Delay after the one before (Admission), and refused only while
	// their turn is more than MaxWait away.
	DelayOnly bool
	// MaxWait bounds how long an attempt on a DelayOnly key waits for
	// its turn (zero: no bound).
	MaxWait time.Duration
}

// failures are t's failures that still count at now (none once Window
// passed without one).
func (p LockoutPolicy) failures(t LoginThrottle, now time.Time) int {
	if !t.LastFailureAt.IsZero() && now.Sub(t.LastFailureAt) >= p.Window {
		return 0
	}
	return t.Failures
}

// Delay is how long an attempt on a DelayOnly key in state t waits at
// now before its secret is checked: nothing below Threshold failures,
// then Base, doubling with each further failure, up to Max.
func (p LockoutPolicy) Delay(t LoginThrottle, now time.Time) time.Duration {
	f := p.failures(t, now)
	if !p.DelayOnly || p.Threshold <= 0 || f < p.Threshold {
		return 0
	}
	d := p.Base
	for i := p.Threshold; i < f && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Admission is when an attempt on a DelayOnly key in state t that begins
// at now has its secret checked, and whether it is admitted at all. Below
// Threshold failures that is at once. Past it the key's attempts are
// serialized in time: the attempt's turn starts at the key's
// NextAdmission, or now if that passed, and lasts Delay, at whose end it
// is checked (which is the next attempt's NextAdmission, see
// BeginLoginAttempt); so one secret is checked per Delay however many
// attempts come at once. An attempt whose check would be more than
// MaxWait away is not admitted (and takes no turn).
func (p LockoutPolicy) Admission(t LoginThrottle, now time.Time) (at time.Time, ok bool) {
	d := p.Delay(t, now)
	if d == 0 {
		return now, true
	}
	at = now
	if t.NextAdmission.After(now) {
		at = t.NextAdmission
	}
	at = at.Add(d)
	return at, p.MaxWait <= 0 || at.Sub(now) <= p.MaxWait
}

// Admits reports whether one more attempt may start on a key in state t
// at now: the key is not locked, and fewer attempts are in flight than
// failures are still allowed before the lock (Threshold minus the
// failures in the window, at least one: after a lock ended attempts go
// one at a time). So no more than Threshold secrets are ever checked
// before a lock, however many attempts come at once.
//
// A DelayOnly key admits every attempt whose turn is close enough
// (Admission), however many are in flight.
func (p LockoutPolicy) Admits(t LoginThrottle, now time.Time) bool {
	if p.DelayOnly {
		_, ok := p.Admission(t, now)
		return ok
	}
	if locked, _ := t.Locked(now); locked {
		return false
	}
	return t.InFlight < max(p.Threshold-p.failures(t, now), 1)
}

// Next is the state after one more failure at now.
func (p LockoutPolicy) Next(t LoginThrottle, now time.Time) LoginThrottle {
	if locked, _ := t.Locked(now); !locked && !t.LastFailureAt.IsZero() && now.Sub(t.LastFailureAt) >= p.Window {
		t.Failures = 0
		t.LockedUntil = time.Time{}
	}
	t.Failures++
	t.LastFailureAt = now
	if p.Threshold > 0 && t.Failures >= p.Threshold && !p.DelayOnly {
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
