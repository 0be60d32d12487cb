package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testUsers(t *testing.T, f *fixture) {
	u := f.user("Alice@Example.COM")
	stored(t, f, f.s.GetUser, u.ID, u)

	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.COM"} {
		got, err := f.s.GetUserByEmail(f.ctx, email)
		ok(t, err)
		equal(t, got, u)
	}
	_, err := f.s.GetUserByEmail(f.ctx, "bob@example.com")
	wantErr(t, err, store.ErrNotFound)

	for _, tc := range []struct {
		name string
		u    store.User
	}{
		{"same email other case", store.User{ID: store.NewID(), Email: "alice@EXAMPLE.com", CreatedAt: f.now, UpdatedAt: f.now}},
		{"same id", store.User{ID: u.ID, Email: "other@example.com", CreatedAt: f.now, UpdatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateUser(f.ctx, tc.u), store.ErrConflict)
		})
	}

	admin := store.User{ID: store.NewID(), Email: "root@example.com", PlatformAdmin: true, CreatedAt: f.now, UpdatedAt: f.now}
	ok(t, f.s.CreateUser(f.ctx, admin))
	stored(t, f, f.s.GetUser, admin.ID, admin)

	later := f.tick()
	ok(t, f.s.UpdateUserPassword(f.ctx, u.ID, "new-hash", later))
	got, err := f.s.GetUser(f.ctx, u.ID)
	ok(t, err)
	u.PasswordHash, u.UpdatedAt = "new-hash", later
	equal(t, got, u)
	wantErr(t, f.s.UpdateUserPassword(f.ctx, store.NewID(), "x", later), store.ErrNotFound)

	n, err := f.s.CountUsers(f.ctx)
	ok(t, err)
	equal(t, n, 2)
}

func testTimestamps(t *testing.T, f *fixture) {
	// Written in another zone, returned in UTC with microseconds intact.
	zone := time.FixedZone("UTC+9", 9*3600)
	at := time.Date(2031, 12, 31, 23, 59, 59, 999999000, time.UTC)
	u := store.User{ID: store.NewID(), Email: "tz@example.com", CreatedAt: at.In(zone), UpdatedAt: at.Add(time.Microsecond).In(zone)}
	ok(t, f.s.CreateUser(f.ctx, u))
	got, err := f.s.GetUser(f.ctx, u.ID)
	ok(t, err)
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	equal(t, got.CreatedAt, at)
	equal(t, got.UpdatedAt, at.Add(time.Microsecond))

	now := time.Now().UTC().Truncate(time.Microsecond)
	x := store.Session{ID: store.NewID(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	ok(t, f.s.CreateSession(f.ctx, x))
	gx, err := f.s.GetSession(f.ctx, x.ID)
	ok(t, err)
	equal(t, gx, x)
}

func testSessions(t *testing.T, f *fixture) {
	u := f.user("s@example.com")
	other := f.user("o@example.com")
	a, b := f.session(u), f.session(u)
	f.session(other)

	stored(t, f, f.s.GetSession, a.ID, a)

	list, err := f.s.ListUserSessions(f.ctx, u.ID)
	ok(t, err)
	equal(t, list, []store.Session{a, b})

	none, err := f.s.ListUserSessions(f.ctx, store.NewID())
	ok(t, err)
	equal(t, len(none), 0)

	first := f.tick()
	ok(t, f.s.RevokeSession(f.ctx, a.ID, first))
	ok(t, f.s.RevokeSession(f.ctx, a.ID, f.tick())) // twice: no error, first time kept
	got, err := f.s.GetSession(f.ctx, a.ID)
	ok(t, err)
	a.RevokedAt = ptr(first)
	equal(t, got, a)
	wantErr(t, f.s.RevokeSession(f.ctx, store.NewID(), first), store.ErrNotFound)

	wantErr(t, f.s.CreateSession(f.ctx, a), store.ErrConflict)
	orphan := store.Session{ID: store.NewID(), UserID: store.NewID(), CreatedAt: f.now, ExpiresAt: f.now}
	wantErr(t, f.s.CreateSession(f.ctx, orphan), store.ErrConflict)
}

func testRefreshTokens(t *testing.T, f *fixture) {
	u := f.user("r@example.com")
	x := f.session(u)
	r1 := f.refresh(x, "hash-1")

	stored(t, f, f.s.GetRefreshToken, "hash-1", r1)
	_, err := f.s.GetRefreshToken(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.CreateRefreshToken(f.ctx, r1), store.ErrConflict)

	used := f.tick()
	r2 := store.RefreshToken{TokenHash: "hash-2", SessionID: x.ID, UserID: u.ID, CreatedAt: used, ExpiresAt: used.Add(time.Hour)}
	ok(t, f.s.RotateRefreshToken(f.ctx, "hash-1", r2, used))
	got, err := f.s.GetRefreshToken(f.ctx, "hash-1")
	ok(t, err)
	r1.UsedAt = ptr(used)
	equal(t, got, r1)
	stored(t, f, f.s.GetRefreshToken, "hash-2", r2)

	// Reusing a spent token loses.
	r3 := store.RefreshToken{TokenHash: "hash-3", SessionID: x.ID, UserID: u.ID, CreatedAt: used, ExpiresAt: used}
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "hash-1", r3, f.tick()), store.ErrConflict)
	_, err = f.s.GetRefreshToken(f.ctx, "hash-3")
	wantErr(t, err, store.ErrNotFound)

	// Unknown old token.
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "missing", r3, f.tick()), store.ErrNotFound)

	// Atomic: if next cannot be inserted, old stays unused.
	dup := r2
	dup.CreatedAt = f.tick()
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "hash-2", dup, f.tick()), store.ErrConflict)
	got, err = f.s.GetRefreshToken(f.ctx, "hash-2")
	ok(t, err)
	if got.UsedAt != nil {
		t.Fatalf("failed rotation marked the old token used at %v", got.UsedAt)
	}

	// Deleting the session's user cascades is not part of the interface;
	// but a token for an unknown session is refused.
	orphan := store.RefreshToken{TokenHash: "orphan", SessionID: store.NewID(), UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.now}
	wantErr(t, f.s.CreateRefreshToken(f.ctx, orphan), store.ErrConflict)
}

// race runs fn from n goroutines released together and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOneWins checks one nil error and ErrConflict (or loser) for the rest.
func exactlyOneWins(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("goroutine %d: error = %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody won: %v", errs)
	}
	return winner
}

func testRotateRefreshTokenRace(t *testing.T, f *fixture) {
	u := f.user("race@example.com")
	x := f.session(u)
	f.refresh(x, "old")
	const n = 8
	at := f.tick()
	errs := race(n, func(i int) error {
		next := store.RefreshToken{TokenHash: fmt.Sprintf("next-%d", i), SessionID: x.ID, UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		return f.s.RotateRefreshToken(f.ctx, "old", next, at)
	})
	w := exactlyOneWins(t, errs, store.ErrConflict)
	for i := range n {
		_, err := f.s.GetRefreshToken(f.ctx, fmt.Sprintf("next-%d", i))
		if i == w {
			ok(t, err)
		} else {
			wantErr(t, err, store.ErrNotFound)
		}
	}
}

func testSigningKeys(t *testing.T, f *fixture) {
	keys, err := f.s.ListSigningKeys(f.ctx)
	ok(t, err)
	equal(t, len(keys), 0)

	old := store.SigningKey{ID: "kid-1", Algorithm: "RS256", PrivateKey: []byte{0, 1, 2, 0xff, 0}, PublicKey: []byte("pub-1"), CreatedAt: f.tick(), RetiredAt: ptr(f.now.Add(time.Hour))}
	newer := store.SigningKey{ID: "kid-2", Algorithm: "RS256", PrivateKey: []byte("sealed"), PublicKey: []byte{0x30, 0x82}, CreatedAt: f.tick()}
	ok(t, f.s.CreateSigningKey(f.ctx, old))
	ok(t, f.s.CreateSigningKey(f.ctx, newer))
	wantErr(t, f.s.CreateSigningKey(f.ctx, old), store.ErrConflict)

	keys, err = f.s.ListSigningKeys(f.ctx)
	ok(t, err)
	equal(t, keys, []store.SigningKey{newer, old})
}

func testSettings(t *testing.T, f *fixture) {
	_, err := f.s.GetSetting(f.ctx, "setup_token")
	wantErr(t, err, store.ErrNotFound)

	ok(t, f.s.PutSetting(f.ctx, "setup_token", "a"))
	ok(t, f.s.PutSetting(f.ctx, "other", ""))
	v, err := f.s.GetSetting(f.ctx, "setup_token")
	ok(t, err)
	equal(t, v, "a")
	ok(t, f.s.PutSetting(f.ctx, "setup_token", "b")) // upsert
	v, err = f.s.GetSetting(f.ctx, "setup_token")
	ok(t, err)
	equal(t, v, "b")
	v, err = f.s.GetSetting(f.ctx, "other")
	ok(t, err)
	equal(t, v, "")

	for _, tc := range []struct {
		name, key, value string
		want             error
	}{
		{"wrong value", "setup_token", "a", store.ErrNotFound},
		{"absent key", "missing", "b", store.ErrNotFound},
		{"right value", "setup_token", "b", nil},
		{"already deleted", "setup_token", "b", store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.s.DeleteSettingIf(f.ctx, tc.key, tc.value)
			if tc.want == nil {
				ok(t, err)
			} else {
				wantErr(t, err, tc.want)
			}
		})
	}
	_, err = f.s.GetSetting(f.ctx, "setup_token")
	wantErr(t, err, store.ErrNotFound)
}

func testDeleteSettingIfRace(t *testing.T, f *fixture) {
	ok(t, f.s.PutSetting(f.ctx, "setup_token", "h"))
	errs := race(8, func(int) error { return f.s.DeleteSettingIf(f.ctx, "setup_token", "h") })
	exactlyOneWins(t, errs, store.ErrNotFound)
}
