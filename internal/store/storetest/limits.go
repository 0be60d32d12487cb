package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testLimits(t *testing.T, f *fixture) {
	t.Helper()
	p := store.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: 4 * time.Minute, Window: time.Hour}
	const key = "email:alice@example.com"

	_, err := f.s.GetLoginThrottle(f.ctx, key)
	wantErr(t, err, store.ErrNotFound)
	ok(t, f.s.ResetLoginThrottle(f.ctx, key)) // unknown key: not an error

	at := f.now
	var st store.LoginThrottle
	for i := 1; i <= 2; i++ {
		at = at.Add(time.Second)
		st, err = f.s.RecordLoginFailure(f.ctx, key, at, p)
		ok(t, err)
		equal(t, st.Failures, i)
		equal(t, st.LockedUntil.IsZero(), true)
	}
	stored(t, f, f.s.GetLoginThrottle, key, store.LoginThrottle{Key: key, Failures: 2, LastFailureAt: at})

	// The third failure locks for Base; each further one doubles, up to Max.
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		at = at.Add(time.Second)
		st, err = f.s.RecordLoginFailure(f.ctx, key, at, p)
		ok(t, err)
		equal(t, st.Failures, 3+i)
		equal(t, st.LockedUntil, at.Add(want))
		got, err := f.s.GetLoginThrottle(f.ctx, key)
		ok(t, err)
		equal(t, got, st)
		locked, left := got.Locked(at)
		equal(t, locked, true)
		equal(t, left, want)
		locked, _ = got.Locked(at.Add(want))
		equal(t, locked, false)
	}

	// Keys are independent.
	other, err := f.s.RecordLoginFailure(f.ctx, "ip:192.0.2.1", at, p)
	ok(t, err)
	equal(t, other.Failures, 1)

	// A success resets.
	ok(t, f.s.ResetLoginThrottle(f.ctx, key))
	_, err = f.s.GetLoginThrottle(f.ctx, key)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetLoginThrottle(f.ctx, "ip:192.0.2.1")
	ok(t, err)

	// Failures older than the window are forgotten.
	st, err = f.s.RecordLoginFailure(f.ctx, key, at, p)
	ok(t, err)
	equal(t, st.Failures, 1)
	st, err = f.s.RecordLoginFailure(f.ctx, key, at.Add(2*time.Hour), p)
	ok(t, err)
	equal(t, st.Failures, 1)

	// Concurrent failures are all counted (the update is atomic).
	const n = 10
	for _, err := range race(n, func(int) error {
		_, err := f.s.RecordLoginFailure(f.ctx, "email:race@example.com", at, store.LockoutPolicy{Threshold: 100, Base: time.Minute, Max: time.Hour, Window: time.Hour})
		return err
	}) {
		ok(t, err)
	}
	got, err := f.s.GetLoginThrottle(f.ctx, "email:race@example.com")
	ok(t, err)
	equal(t, got.Failures, n)

	// Reservations: the check and the count in one step.
	rp := store.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	rkeys := []store.ThrottleKey{{Key: "email:res@example.com", Policy: rp}, {Key: "ip:198.51.100.0/64", Policy: store.LockoutPolicy{Threshold: 100, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}}}
	states, reserved, err := f.s.ReserveLoginAttempt(f.ctx, at, rkeys)
	ok(t, err)
	equal(t, reserved, true)
	equal(t, len(states), 2)
	equal(t, states[0].Failures, 1)
	equal(t, states[1].Failures, 1)
	// A refund takes the attempt back (and leaves the other key alone).
	ok(t, f.s.RefundLoginAttempt(f.ctx, rkeys[0].Key))
	ok(t, f.s.RefundLoginAttempt(f.ctx, rkeys[0].Key)) // nothing left: no error
	ok(t, f.s.RefundLoginAttempt(f.ctx, "email:unknown@example.com"))
	got, err = f.s.GetLoginThrottle(f.ctx, rkeys[0].Key)
	ok(t, err)
	equal(t, got.Failures, 0)
	// Concurrent reservations: no more than the threshold pass.
	var passed atomic.Int32
	for _, err := range race(20, func(int) error {
		_, r, err := f.s.ReserveLoginAttempt(f.ctx, at, rkeys)
		if r {
			passed.Add(1)
		}
		return err
	}) {
		ok(t, err)
	}
	equal(t, int(passed.Load()), rp.Threshold)
	states, reserved, err = f.s.ReserveLoginAttempt(f.ctx, at, rkeys)
	ok(t, err)
	equal(t, reserved, false)
	equal(t, states[0].Failures, 3)
	equal(t, states[0].LockedUntil, at.Add(time.Minute))
	equal(t, states[1].Failures, 4) // refused attempts change nothing
	// The refund of the attempt that locked lifts the lock.
	ok(t, f.s.RefundLoginAttempt(f.ctx, rkeys[0].Key))
	got, err = f.s.GetLoginThrottle(f.ctx, rkeys[0].Key)
	ok(t, err)
	equal(t, got.Failures, 2)
	equal(t, got.LockedUntil.IsZero(), true)
	_, reserved, err = f.s.ReserveLoginAttempt(f.ctx, at, rkeys[:1])
	ok(t, err)
	equal(t, reserved, true)

	// Keys are data, not SQL.
	evil := "email:x'); DROP TABLE login_throttles; --"
	_, err = f.s.RecordLoginFailure(f.ctx, evil, at, p)
	ok(t, err)
	got, err = f.s.GetLoginThrottle(f.ctx, evil)
	ok(t, err)
	equal(t, got.Key, evil)
}
