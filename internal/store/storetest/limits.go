package storetest

import (
	"errors"
	"slices"
	"strconv"
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

	testLoginAttempts(t, f, at)
	testSweepLoginThrottles(t, f, at)
	testAdmissionSchedule(t, f, at)
	testKnownSources(t, f, at)

	// Keys are data, not SQL.
	evil := "email:x'); DROP TABLE login_throttles; --"
	_, err = f.s.RecordLoginFailure(f.ctx, evil, at, p)
	ok(t, err)
	got, err = f.s.GetLoginThrottle(f.ctx, evil)
	ok(t, err)
	equal(t, got.Key, evil)
}

// testLoginAttempts: slots in flight bound concurrent attempts without
// counting as failures; settling counts, resets and releases.
func testLoginAttempts(t *testing.T, f *fixture, at time.Time) {
	t.Helper()
	rp := store.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	wide := store.LockoutPolicy{Threshold: 100, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	rkeys := []store.ThrottleKey{{Key: "pair:res@example.com|198.51.100.0", Policy: rp}, {Key: "ip:198.51.100.0", Policy: wide}}
	begin := func(id string, keys []store.ThrottleKey) ([]store.LoginThrottle, bool) {
		t.Helper()
		states, reserved, err := f.s.BeginLoginAttempt(f.ctx, id, at, time.Minute, keys)
		ok(t, err)
		equal(t, len(states), len(keys))
		return states, reserved
	}
	failures := func(key string) int {
		t.Helper()
		got, err := f.s.GetLoginThrottle(f.ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return 0
		}
		ok(t, err)
		return got.Failures
	}

	// A slot is not a failure: three in flight fill a threshold of 3.
	for i, id := range []string{"a1", "a2", "a3"} {
		states, reserved := begin(id, rkeys)
		equal(t, reserved, true)
		equal(t, states[0].InFlight, i)
		equal(t, states[0].Failures, 0)
	}
	equal(t, failures(rkeys[0].Key), 0)
	states, reserved := begin("a4", rkeys)
	equal(t, reserved, false)
	equal(t, states[0].InFlight, 3)
	equal(t, states[1].InFlight, 3)
	// Releasing a slot without a failure (a right secret) frees it.
	ok(t, f.s.EndLoginAttempt(f.ctx, "a1", at, nil, nil))
	_, reserved = begin("a5", rkeys)
	equal(t, reserved, true)
	equal(t, failures(rkeys[0].Key), 0)
	// A failure turns its slot into a failure: 1 failure + 2 in flight is
	// the threshold.
	ok(t, f.s.EndLoginAttempt(f.ctx, "a2", at, rkeys, nil))
	equal(t, failures(rkeys[0].Key), 1)
	equal(t, failures(rkeys[1].Key), 1)
	_, reserved = begin("a6", rkeys)
	equal(t, reserved, false)
	// Slots of a dead process expire after their ttl.
	states, reserved, err := f.s.BeginLoginAttempt(f.ctx, "a7", at.Add(time.Minute), time.Minute, rkeys)
	ok(t, err)
	equal(t, reserved, true)
	equal(t, states[0].InFlight, 0)
	ok(t, f.s.EndLoginAttempt(f.ctx, "a7", at, nil, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "a3", at, nil, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "a5", at, nil, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "unknown", at, nil, []string{"pair:unknown"})) // unknown: no error

	// Concurrent attempts that all fail: no more than the threshold get a
	// slot, and the key ends locked. (The key has 1 failure.)
	var passed atomic.Int32
	for _, err := range race(20, func(i int) error {
		id := "r" + strconv.Itoa(i)
		_, r, err := f.s.BeginLoginAttempt(f.ctx, id, at, time.Minute, rkeys)
		if err != nil || !r {
			return err
		}
		passed.Add(1)
		return f.s.EndLoginAttempt(f.ctx, id, at, rkeys, nil)
	}) {
		ok(t, err)
	}
	equal(t, int(passed.Load()), rp.Threshold-1)
	states, reserved = begin("locked", rkeys)
	equal(t, reserved, false)
	equal(t, states[0].Failures, 3)
	equal(t, states[0].LockedUntil, at.Add(time.Minute))
	equal(t, states[1].Failures, 3) // refused attempts change nothing
	// After the lock, attempts go one at a time.
	after := at.Add(time.Minute)
	_, reserved, err = f.s.BeginLoginAttempt(f.ctx, "one", after, time.Minute, rkeys)
	ok(t, err)
	equal(t, reserved, true)
	_, reserved, err = f.s.BeginLoginAttempt(f.ctx, "two", after, time.Minute, rkeys)
	ok(t, err)
	equal(t, reserved, false)
	// A success resets the keys it names, and releases the slot.
	ok(t, f.s.EndLoginAttempt(f.ctx, "one", after, nil, []string{rkeys[0].Key}))
	equal(t, failures(rkeys[0].Key), 0)
	equal(t, failures(rkeys[1].Key), 3)
	states, reserved, err = f.s.BeginLoginAttempt(f.ctx, "three", after, time.Minute, rkeys)
	ok(t, err)
	equal(t, reserved, true)
	equal(t, states[0].InFlight, 0)
	ok(t, f.s.EndLoginAttempt(f.ctx, "three", after, nil, nil))
}

// testSweepLoginThrottles: a refused attempt leaves no rows for keys it
// named; the sweep deletes keys without failures in the window and not
// locked, and expired slots, and keeps the rest; a DelayOnly key admits
// every attempt and is never locked.
func testSweepLoginThrottles(t *testing.T, f *fixture, at time.Time) {
	t.Helper()
	p := store.LockoutPolicy{Threshold: 1, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	exists := func(key string) bool {
		t.Helper()
		_, err := f.s.GetLoginThrottle(f.ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return false
		}
		ok(t, err)
		return true
	}
	// A locked key refuses; the fresh key named with it gets no row.
	ok(t, f.s.EndLoginAttempt(f.ctx, "", at, []store.ThrottleKey{{Key: "sweep:locked", Policy: p}}, nil))
	_, reserved, err := f.s.BeginLoginAttempt(f.ctx, "refused", at, time.Minute,
		[]store.ThrottleKey{{Key: "sweep:locked", Policy: p}, {Key: "sweep:new", Policy: p}})
	ok(t, err)
	equal(t, reserved, false)
	equal(t, exists("sweep:new"), false)

	// Keys: admitted without failures (a slot, then released), an old
	// failure, a recent failure, and a lock outlasting the window.
	_, reserved, err = f.s.BeginLoginAttempt(f.ctx, "fresh", at, time.Minute, []store.ThrottleKey{{Key: "sweep:fresh", Policy: p}})
	ok(t, err)
	equal(t, reserved, true)
	ok(t, f.s.EndLoginAttempt(f.ctx, "fresh", at, nil, nil))
	_, reserved, err = f.s.BeginLoginAttempt(f.ctx, "held", at, time.Minute, []store.ThrottleKey{{Key: "sweep:held", Policy: p}})
	ok(t, err)
	equal(t, reserved, true)
	old := store.LockoutPolicy{Threshold: 100, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	ok(t, f.s.EndLoginAttempt(f.ctx, "", at, []store.ThrottleKey{{Key: "sweep:old", Policy: old}}, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "", at.Add(90*time.Minute), []store.ThrottleKey{{Key: "sweep:recent", Policy: old}}, nil))
	long := store.LockoutPolicy{Threshold: 1, Base: 3 * time.Hour, Max: 3 * time.Hour, Window: 3 * time.Hour}
	ok(t, f.s.EndLoginAttempt(f.ctx, "", at, []store.ThrottleKey{{Key: "sweep:longlock", Policy: long}}, nil))

	n, err := f.s.SweepLoginThrottles(f.ctx, at.Add(2*time.Hour), time.Hour)
	ok(t, err)
	if n < 3 {
		t.Fatalf("swept %d keys, want at least sweep:locked, :fresh, :held and :old", n)
	}
	for key, want := range map[string]bool{"sweep:locked": false, "sweep:fresh": false, "sweep:held": false, "sweep:old": false,
		"sweep:recent": true, "sweep:longlock": true} {
		if got := exists(key); got != want {
			t.Errorf("after the sweep, %s exists: %v, want %v", key, got, want)
		}
	}
	// The expired slot of "held" went with the sweep: a new attempt sees
	// none in flight.
	states, reserved, err := f.s.BeginLoginAttempt(f.ctx, "after", at.Add(2*time.Hour), time.Minute, []store.ThrottleKey{{Key: "sweep:held", Policy: p}})
	ok(t, err)
	equal(t, reserved, true)
	equal(t, states[0].InFlight, 0)
	ok(t, f.s.EndLoginAttempt(f.ctx, "after", at, nil, nil))

	// A DelayOnly key: every attempt is admitted, however many are in
	// flight or have failed, and no failure locks it.
	d := store.LockoutPolicy{Threshold: 2, Base: time.Second, Max: 4 * time.Second, Window: time.Hour, DelayOnly: true}
	dk := []store.ThrottleKey{{Key: "sweep:delay", Policy: d}}
	for i := range 5 {
		id := "d" + strconv.Itoa(i)
		states, reserved, err := f.s.BeginLoginAttempt(f.ctx, id, at, time.Minute, dk)
		ok(t, err)
		equal(t, reserved, true)
		equal(t, states[0].InFlight, i)
	}
	for i := range 5 {
		ok(t, f.s.EndLoginAttempt(f.ctx, "d"+strconv.Itoa(i), at, dk, nil))
	}
	got, err := f.s.GetLoginThrottle(f.ctx, "sweep:delay")
	ok(t, err)
	equal(t, got.Failures, 5)
	equal(t, got.LockedUntil.IsZero(), true)
	equal(t, d.Delay(got, at), 4*time.Second)
	equal(t, d.Delay(got, at.Add(time.Hour)), time.Duration(0))
}

// testAdmissionSchedule: past its threshold, a DelayOnly key admits
// attempts one Delay apart (each takes its turn atomically with its
// admission, however many come at once) and refuses those whose turn is
// more than MaxWait away, without moving the schedule; once the turns
// passed, the next attempt is admitted at once again.
func testAdmissionSchedule(t *testing.T, f *fixture, at time.Time) {
	t.Helper()
	d := store.LockoutPolicy{Threshold: 2, Base: 4 * time.Second, Max: 4 * time.Second, Window: time.Hour, DelayOnly: true, MaxWait: 10 * time.Second}
	key := []store.ThrottleKey{{Key: "schedule:account", Policy: d}}
	// Below the threshold: no turns.
	states, reserved, err := f.s.BeginLoginAttempt(f.ctx, "s0", at, time.Minute, key)
	ok(t, err)
	equal(t, reserved, true)
	equal(t, states[0].NextAdmission.IsZero(), true)
	ok(t, f.s.EndLoginAttempt(f.ctx, "s0", at, key, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "", at, key, nil))

	// Past it, ten attempts at once: two are admitted, at +4s and +8s
	// (the third's turn, +12s, is past MaxWait), whichever they are.
	const n = 10
	admitted := make([]time.Time, n)
	var refused atomic.Int32
	for _, err := range race(n, func(i int) error {
		states, reserved, err := f.s.BeginLoginAttempt(f.ctx, "race"+strconv.Itoa(i), at, time.Minute, key)
		if err != nil {
			return err
		}
		if !reserved {
			refused.Add(1)
			return nil
		}
		admitted[i], _ = d.Admission(states[0], at)
		return nil
	}) {
		ok(t, err)
	}
	equal(t, refused.Load(), int32(n-2))
	var turns []time.Duration
	for _, a := range admitted {
		if !a.IsZero() {
			turns = append(turns, a.Sub(at))
		}
	}
	slices.Sort(turns)
	equal(t, turns, []time.Duration{4 * time.Second, 8 * time.Second})
	got, err := f.s.GetLoginThrottle(f.ctx, "schedule:account")
	ok(t, err)
	equal(t, got.NextAdmission, at.Add(8*time.Second)) // the refusals took no turn

	// 3s later the next turn ends at +12s, 9s away: admitted.
	states, reserved, err = f.s.BeginLoginAttempt(f.ctx, "s1", at.Add(3*time.Second), time.Minute, key)
	ok(t, err)
	equal(t, reserved, true)
	next, _ := d.Admission(states[0], at.Add(3*time.Second))
	equal(t, next, at.Add(12*time.Second))
	// After the turns passed, an attempt waits only its Delay.
	later := at.Add(time.Minute)
	states, reserved, err = f.s.BeginLoginAttempt(f.ctx, "s2", later, time.Minute, key)
	ok(t, err)
	equal(t, reserved, true)
	next, _ = d.Admission(states[0], later)
	equal(t, next, later.Add(4*time.Second))
	for i := range n {
		ok(t, f.s.EndLoginAttempt(f.ctx, "race"+strconv.Itoa(i), at, nil, nil))
	}
	ok(t, f.s.EndLoginAttempt(f.ctx, "s1", at, nil, nil))
	ok(t, f.s.EndLoginAttempt(f.ctx, "s2", at, nil, nil))
}

// testKnownSources: the sources a user signed in from are known since
// their last sign-in, per user, and only the most recent few are kept.
func testKnownSources(t *testing.T, f *fixture, at time.Time) {
	t.Helper()
	u, other := f.user("known@example.com"), f.user("known2@example.com")
	known := func(userID, source string, since time.Time) bool {
		t.Helper()
		k, err := f.s.KnownSource(f.ctx, userID, source, since)
		ok(t, err)
		return k
	}
	equal(t, known(u.ID, "192.0.2.1", at.Add(-time.Hour)), false)
	for i := range 4 {
		ok(t, f.s.RecordKnownSource(f.ctx, u.ID, "192.0.2."+strconv.Itoa(i), at.Add(time.Duration(i)*time.Second), 3))
	}
	// Signing in again from the oldest renews it; the keep most recent
	// remain: .0 (renewed), .3, .2; .1 went.
	ok(t, f.s.RecordKnownSource(f.ctx, u.ID, "192.0.2.0", at.Add(10*time.Second), 3))
	ok(t, f.s.RecordKnownSource(f.ctx, u.ID, "192.0.2.3", at.Add(11*time.Second), 3))
	for src, want := range map[string]bool{"192.0.2.0": true, "192.0.2.1": false, "192.0.2.2": true, "192.0.2.3": true} {
		if got := known(u.ID, src, at); got != want {
			t.Errorf("source %s known: %v, want %v", src, got, want)
		}
	}
	// Known only since the last sign-in from it.
	equal(t, known(u.ID, "192.0.2.2", at.Add(2*time.Second)), true)
	equal(t, known(u.ID, "192.0.2.2", at.Add(3*time.Second)), false)
	// Per user; sources are data, not SQL.
	equal(t, known(other.ID, "192.0.2.0", at), false)
	evil := "x'); DROP TABLE login_sources; --"
	ok(t, f.s.RecordKnownSource(f.ctx, other.ID, evil, at, 3))
	equal(t, known(other.ID, evil, at), true)
}
