package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testMFA(t *testing.T, f *fixture) {
	t.Helper()
	// Sequential parts sharing f (whose helpers fail f.t, so no subtests).
	testMFAEnrolment(t, f)
	testMFAStepReplay(t, f)
	testMFABackupCodes(t, f)
	testMFAChallenges(t, f)
	testMFARaces(t, f)
	testOrgRequire2FA(t, f)
}

func testMFAEnrolment(t *testing.T, f *fixture) {
	u := f.user("mfa-enrol@example.com")
	_, err := f.s.GetMFA(f.ctx, u.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.EnableMFA(f.ctx, u.ID, 1, nil, f.tick()), store.ErrNotFound)
	wantErr(t, f.s.UseMFAStep(f.ctx, u.ID, 1), store.ErrNotFound)
	wantErr(t, f.s.DeleteMFA(f.ctx, u.ID), store.ErrNotFound)
	wantErr(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: "no-such-user", Secret: []byte("x"), CreatedAt: f.tick(), UpdatedAt: f.tick()}), store.ErrConflict)

	at := f.tick()
	ok(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: u.ID, Secret: []byte("sealed-1"), EnabledAt: &at, LastStep: 99, CreatedAt: at, UpdatedAt: at}))
	m, err := f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	// EnabledAt and LastStep are not taken from a pending enrolment.
	equal(t, m, store.MFA{UserID: u.ID, Secret: []byte("sealed-1"), CreatedAt: at, UpdatedAt: at})

	// Restarting replaces the pending secret.
	at2 := f.tick()
	ok(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: u.ID, Secret: []byte("sealed-2"), CreatedAt: at2, UpdatedAt: at2}))
	m, err = f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	equal(t, m, store.MFA{UserID: u.ID, Secret: []byte("sealed-2"), CreatedAt: at2, UpdatedAt: at2})

	on := f.tick()
	ok(t, f.s.EnableMFA(f.ctx, u.ID, 1000, []string{"h1", "h2", "h3"}, on))
	m, err = f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	equal(t, m, store.MFA{UserID: u.ID, Secret: []byte("sealed-2"), EnabledAt: &on, LastStep: 1000, CreatedAt: at2, UpdatedAt: on})
	n, err := f.s.CountBackupCodes(f.ctx, u.ID)
	ok(t, err)
	equal(t, n, 3)

	// Enabled: no second enable, no new pending secret over it.
	wantErr(t, f.s.EnableMFA(f.ctx, u.ID, 1001, nil, f.tick()), store.ErrConflict)
	wantErr(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: u.ID, Secret: []byte("evil"), CreatedAt: f.tick(), UpdatedAt: f.tick()}), store.ErrConflict)
	m, err = f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	equal(t, string(m.Secret), "sealed-2")

	// Disable removes the enrolment and the backup codes.
	ok(t, f.s.DeleteMFA(f.ctx, u.ID))
	_, err = f.s.GetMFA(f.ctx, u.ID)
	wantErr(t, err, store.ErrNotFound)
	n, err = f.s.CountBackupCodes(f.ctx, u.ID)
	ok(t, err)
	equal(t, n, 0)
	wantErr(t, f.s.UseBackupCode(f.ctx, u.ID, "h1", f.tick()), store.ErrNotFound)
}

func testMFAStepReplay(t *testing.T, f *fixture) {
	u := f.user("mfa-step@example.com")
	at := f.tick()
	ok(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: u.ID, Secret: []byte("s"), CreatedAt: at, UpdatedAt: at}))
	ok(t, f.s.EnableMFA(f.ctx, u.ID, 50, nil, f.tick()))
	wantErr(t, f.s.UseMFAStep(f.ctx, u.ID, 50), store.ErrConflict) // the enrolling code's step
	wantErr(t, f.s.UseMFAStep(f.ctx, u.ID, 49), store.ErrConflict)
	ok(t, f.s.UseMFAStep(f.ctx, u.ID, 51))
	wantErr(t, f.s.UseMFAStep(f.ctx, u.ID, 51), store.ErrConflict)
	ok(t, f.s.UseMFAStep(f.ctx, u.ID, 60))
	wantErr(t, f.s.UseMFAStep(f.ctx, u.ID, 59), store.ErrConflict)
	m, err := f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	equal(t, m.LastStep, int64(60))
	// Steps beyond 32 bits (RFC 6238 after 2038) are stored intact.
	big := int64(1) << 40
	ok(t, f.s.UseMFAStep(f.ctx, u.ID, big))
	m, err = f.s.GetMFA(f.ctx, u.ID)
	ok(t, err)
	equal(t, m.LastStep, big)
}

func testMFABackupCodes(t *testing.T, f *fixture) {
	u, other := f.user("mfa-codes@example.com"), f.user("mfa-codes-other@example.com")
	ok(t, f.s.ReplaceBackupCodes(f.ctx, u.ID, []string{"a", "b", "c"}, f.tick()))
	ok(t, f.s.ReplaceBackupCodes(f.ctx, other.ID, []string{"a"}, f.tick()))
	ok(t, f.s.UseBackupCode(f.ctx, u.ID, "b", f.tick()))
	wantErr(t, f.s.UseBackupCode(f.ctx, u.ID, "b", f.tick()), store.ErrNotFound) // once only
	wantErr(t, f.s.UseBackupCode(f.ctx, u.ID, "zzz", f.tick()), store.ErrNotFound)
	n, err := f.s.CountBackupCodes(f.ctx, u.ID)
	ok(t, err)
	equal(t, n, 2)
	// Codes belong to their user.
	ok(t, f.s.UseBackupCode(f.ctx, other.ID, "a", f.tick()))
	ok(t, f.s.UseBackupCode(f.ctx, u.ID, "a", f.tick()))
	// Replacing drops old codes, spent or not.
	ok(t, f.s.ReplaceBackupCodes(f.ctx, u.ID, []string{"d", "e"}, f.tick()))
	wantErr(t, f.s.UseBackupCode(f.ctx, u.ID, "c", f.tick()), store.ErrNotFound)
	n, err = f.s.CountBackupCodes(f.ctx, u.ID)
	ok(t, err)
	equal(t, n, 2)
	ok(t, f.s.ReplaceBackupCodes(f.ctx, u.ID, nil, f.tick()))
	n, err = f.s.CountBackupCodes(f.ctx, u.ID)
	ok(t, err)
	equal(t, n, 0)
}

func testMFAChallenges(t *testing.T, f *fixture) {
	u := f.user("mfa-challenge@example.com")
	at := f.tick()
	c := store.MFAChallenge{TokenHash: "ch-1", UserID: u.ID, Method: "password", Fingerprint: "fp", CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
	ok(t, f.s.CreateMFAChallenge(f.ctx, c))
	wantErr(t, f.s.CreateMFAChallenge(f.ctx, c), store.ErrConflict)
	wantErr(t, f.s.CreateMFAChallenge(f.ctx, store.MFAChallenge{TokenHash: "ch-x", UserID: "no-such-user", CreatedAt: at, ExpiresAt: at}), store.ErrConflict)

	_, err := f.s.TakeMFAChallengeAttempt(f.ctx, "nope", 3, at)
	wantErr(t, err, store.ErrNotFound)
	for i := 1; i <= 3; i++ {
		got, err := f.s.TakeMFAChallengeAttempt(f.ctx, "ch-1", 3, at.Add(time.Second))
		ok(t, err)
		want := c
		want.Attempts = i
		equal(t, got, want)
	}
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-1", 3, at.Add(time.Second))
	wantErr(t, err, store.ErrConflict) // out of attempts

	// Expiry.
	c2 := store.MFAChallenge{TokenHash: "ch-2", UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	ok(t, f.s.CreateMFAChallenge(f.ctx, c2))
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-2", 5, at.Add(time.Minute))
	wantErr(t, err, store.ErrConflict)

	// Consumption is single use and ends the attempts.
	c3 := store.MFAChallenge{TokenHash: "ch-3", UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	ok(t, f.s.CreateMFAChallenge(f.ctx, c3))
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-3", 5, at)
	ok(t, err)
	ok(t, f.s.ConsumeMFAChallenge(f.ctx, "ch-3", at))
	wantErr(t, f.s.ConsumeMFAChallenge(f.ctx, "ch-3", at), store.ErrConflict)
	wantErr(t, f.s.ConsumeMFAChallenge(f.ctx, "nope", at), store.ErrNotFound)
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-3", 5, at)
	wantErr(t, err, store.ErrConflict)

	// Sweeping removes what expired before now, nothing else.
	n, err := f.s.DeleteExpiredMFAChallenges(f.ctx, at.Add(2*time.Minute))
	ok(t, err)
	equal(t, n, 2) // ch-2, ch-3
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-2", 5, at)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.TakeMFAChallengeAttempt(f.ctx, "ch-1", 5, at) // still there (4th attempt of 5)
	ok(t, err)
}

func testMFARaces(t *testing.T, f *fixture) {
	u := f.user("mfa-race@example.com")
	at := f.tick()
	ok(t, f.s.PutPendingMFA(f.ctx, store.MFA{UserID: u.ID, Secret: []byte("s"), CreatedAt: at, UpdatedAt: at}))
	ok(t, f.s.EnableMFA(f.ctx, u.ID, 10, []string{"code"}, at))
	const n = 8
	exactlyOneWins(t, race(n, func(int) error { return f.s.UseMFAStep(f.ctx, u.ID, 11) }), store.ErrConflict)
	exactlyOneWins(t, race(n, func(int) error { return f.s.UseBackupCode(f.ctx, u.ID, "code", at) }), store.ErrNotFound)

	ok(t, f.s.CreateMFAChallenge(f.ctx, store.MFAChallenge{TokenHash: "race", UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}))
	exactlyOneWins(t, race(n, func(int) error { return f.s.ConsumeMFAChallenge(f.ctx, "race", at) }), store.ErrConflict)

	ok(t, f.s.CreateMFAChallenge(f.ctx, store.MFAChallenge{TokenHash: "race-attempts", UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}))
	errs := race(n, func(int) error {
		_, err := f.s.TakeMFAChallengeAttempt(f.ctx, "race-attempts", 3, at)
		return err
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !isConflict(err):
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if won != 3 {
		t.Fatalf("%d of %d concurrent attempts were counted, want exactly 3 (the maximum)", won, n)
	}
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

func testOrgRequire2FA(t *testing.T, f *fixture) {
	owner := f.user("mfa-org-owner@example.com")
	o := f.org(owner, "mfa-org")
	got, err := f.s.GetOrganization(f.ctx, o.ID)
	ok(t, err)
	equal(t, got.Require2FA, false)
	o.Require2FA = true
	o.UpdatedAt = f.tick()
	o, err = f.s.UpdateOrganization(f.ctx, o.ID, put(o))
	ok(t, err)
	stored(t, f, f.s.GetOrganization, o.ID, o)
	list, _, err := f.s.ListUserOrganizations(f.ctx, owner.ID, store.Page{})
	ok(t, err)
	equal(t, len(list), 1)
	equal(t, list[0].Require2FA, true)

	o2 := store.Organization{ID: store.NewID(), Name: "Strict", Slug: "mfa-strict", Require2FA: true, CreatedAt: f.tick(), Version: 1}
	o2.UpdatedAt = o2.CreatedAt
	ok(t, f.s.CreateOrganization(f.ctx, o2, store.OrgMember{UserID: owner.ID}))
	stored(t, f, f.s.GetOrganization, o2.ID, o2)
}
