package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testOAuth(t *testing.T, f *fixture) {
	t.Helper()
	u := f.user("oauth@example.com")
	other := f.user("oauth-other@example.com")
	a, b, c := f.session(u), f.session(u), f.session(u)
	o := f.session(other)

	// Touch: last activity, per user.
	seen := f.tick()
	ok(t, f.s.TouchSession(f.ctx, a.ID, "192.0.2.7", seen))
	ok(t, f.s.TouchSession(f.ctx, o.ID, "198.51.100.1", seen))
	wantErr(t, f.s.TouchSession(f.ctx, store.NewID(), "192.0.2.7", seen), store.ErrNotFound)
	act, err := f.s.ListSessionActivity(f.ctx, u.ID)
	ok(t, err)
	equal(t, act, map[string]store.SessionActivity{a.ID: {LastIP: "192.0.2.7", LastSeenAt: seen}})
	// Touching does not change what ListUserSessions returns.
	stored(t, f, f.s.GetSession, a.ID, a)

	// Revoke all but one; an already revoked session keeps its time.
	early := f.tick()
	ok(t, f.s.RevokeSession(f.ctx, c.ID, early))
	ids, err := f.s.RevokeUserSessions(f.ctx, u.ID, b.ID, f.tick())
	ok(t, err)
	equal(t, ids, []string{a.ID})
	for id, revoked := range map[string]bool{a.ID: true, b.ID: false, c.ID: true, o.ID: false} {
		s, err := f.s.GetSession(f.ctx, id)
		ok(t, err)
		if (s.RevokedAt != nil) != revoked {
			t.Errorf("session %s revoked=%v, want %v", id, s.RevokedAt != nil, revoked)
		}
	}
	s, err := f.s.GetSession(f.ctx, c.ID)
	ok(t, err)
	equal(t, *s.RevokedAt, early)

	// Revoke all, none excepted.
	ids, err = f.s.RevokeUserSessions(f.ctx, u.ID, "", f.tick())
	ok(t, err)
	equal(t, ids, []string{b.ID})
	ids, err = f.s.RevokeUserSessions(f.ctx, u.ID, "", f.tick())
	ok(t, err)
	equal(t, len(ids), 0)
	// Another user's sessions are untouched.
	s, err = f.s.GetSession(f.ctx, o.ID)
	ok(t, err)
	if s.RevokedAt != nil {
		t.Fatalf("another user's session revoked: %+v", s)
	}

	// Signing key retirement.
	k := store.SigningKey{ID: "kid-oauth", Algorithm: "RS256", PrivateKey: []byte{1}, PublicKey: []byte{2}, CreatedAt: f.tick()}
	ok(t, f.s.CreateSigningKey(f.ctx, k))
	retired := f.tick()
	ok(t, f.s.RetireSigningKey(f.ctx, k.ID, retired))
	ok(t, f.s.RetireSigningKey(f.ctx, k.ID, f.tick())) // twice: first time kept
	wantErr(t, f.s.RetireSigningKey(f.ctx, "no-such-kid", f.tick()), store.ErrNotFound)
	ks, err := f.s.ListSigningKeys(f.ctx)
	ok(t, err)
	i := slices.IndexFunc(ks, func(x store.SigningKey) bool { return x.ID == k.ID })
	if i < 0 || ks[i].RetiredAt == nil || !ks[i].RetiredAt.Equal(retired) {
		t.Fatalf("retired key: %+v", ks)
	}

	t.Run("authorization codes", func(t *testing.T) { testAuthCodes(t, f) })
	t.Run("device codes", func(t *testing.T) { testDeviceCodes(t, f) })
}

func testAuthCodes(t *testing.T, f *fixture) {
	u := f.user("authcode@example.com")
	created := f.tick()
	c := store.AuthCode{CodeHash: "hash-" + store.NewID(), ClientID: "hks-cli", RedirectURI: "http://127.0.0.1:5555/callback",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Scope: "openid", UserID: u.ID, SessionID: "sess-browser",
		CreatedAt: created, ExpiresAt: created.Add(time.Minute)}
	ok(t, f.s.CreateAuthCode(f.ctx, c))
	wantErr(t, f.s.CreateAuthCode(f.ctx, c), store.ErrConflict)

	// The first use returns the code as it was; a second is ErrConflict
	// with the code as spent, including the session its exchange started.
	used := f.tick()
	got, err := f.s.UseAuthCode(f.ctx, c.CodeHash, used)
	ok(t, err)
	equal(t, got, c)
	ok(t, f.s.SetAuthCodeSession(f.ctx, c.CodeHash, "sess-cli"))
	got, err = f.s.UseAuthCode(f.ctx, c.CodeHash, f.tick())
	wantErr(t, err, store.ErrConflict)
	if got.UsedAt == nil || !got.UsedAt.Equal(used) || got.IssuedSessionID != "sess-cli" || got.UserID != u.ID {
		t.Fatalf("replayed code: %+v", got)
	}
	_, err = f.s.UseAuthCode(f.ctx, "no-such-hash", f.tick())
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.SetAuthCodeSession(f.ctx, "no-such-hash", "x"), store.ErrNotFound)

	// Concurrent exchanges: exactly one wins.
	c2 := c
	c2.CodeHash = "hash-" + store.NewID()
	ok(t, f.s.CreateAuthCode(f.ctx, c2))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	at := f.tick()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.UseAuthCode(f.ctx, c2.CodeHash, at)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("concurrent use: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Fatalf("concurrent use: %d wins, %d conflicts", wins, conflicts)
	}

	// Hashes are data, never SQL.
	evil := store.AuthCode{CodeHash: "x'; DROP TABLE oauth_auth_codes; --", ClientID: "hks-cli", RedirectURI: "http://127.0.0.1/",
		CodeChallenge: "c", UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(time.Minute)}
	ok(t, f.s.CreateAuthCode(f.ctx, evil))
	got, err = f.s.UseAuthCode(f.ctx, evil.CodeHash, f.tick())
	ok(t, err)
	equal(t, got.CodeHash, evil.CodeHash)

	// Sweeping expired codes.
	old := store.AuthCode{CodeHash: "hash-old-" + store.NewID(), ClientID: "hks-cli", RedirectURI: "http://127.0.0.1/", CodeChallenge: "c",
		UserID: u.ID, CreatedAt: created.Add(-time.Hour), ExpiresAt: created.Add(-59 * time.Minute)}
	ok(t, f.s.CreateAuthCode(f.ctx, old))
	n, err := f.s.DeleteExpiredOAuthCodes(f.ctx, created.Add(-30*time.Minute))
	ok(t, err)
	if n < 1 {
		t.Fatalf("swept %d codes", n)
	}
	_, err = f.s.UseAuthCode(f.ctx, old.CodeHash, f.tick())
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.UseAuthCode(f.ctx, c.CodeHash, f.tick())
	wantErr(t, err, store.ErrConflict) // not expired before the cut: kept
}

func testDeviceCodes(t *testing.T, f *fixture) {
	u := f.user("devicecode@example.com")
	created := f.tick()
	d := store.DeviceCode{DeviceCodeHash: "dev-" + store.NewID(), UserCodeHash: "user-" + store.NewID(), ClientID: "hks-cli", Scope: "openid",
		Status: store.DevicePending, Interval: 5, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute)}
	ok(t, f.s.CreateDeviceCode(f.ctx, d))
	wantErr(t, f.s.CreateDeviceCode(f.ctx, d), store.ErrConflict)
	dupUser := d
	dupUser.DeviceCodeHash = "dev-" + store.NewID()
	wantErr(t, f.s.CreateDeviceCode(f.ctx, dupUser), store.ErrConflict)

	stored(t, f, f.s.GetDeviceCodeByUserCode, d.UserCodeHash, d)
	_, err := f.s.GetDeviceCodeByUserCode(f.ctx, "no-such")
	wantErr(t, err, store.ErrNotFound)

	// First poll: pending, recorded.
	p1 := created.Add(time.Second)
	got, err := f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, p1, 0)
	ok(t, err)
	equal(t, got, d)
	// Too fast: the interval grows by 5 s.
	p2 := p1.Add(2 * time.Second)
	got, err = f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, p2, 0)
	ok(t, err)
	if got.LastPolledAt == nil || !got.LastPolledAt.Equal(p1) || got.Interval != 5 {
		t.Fatalf("second poll saw %+v", got)
	}
	cur, err := f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCodeHash)
	ok(t, err)
	if cur.Interval != 10 || !cur.LastPolledAt.Equal(p2) || cur.Status != store.DevicePending {
		t.Fatalf("after slow poll: %+v", cur)
	}

	// With slack, a poll a little early is in time.
	slackPoll := p2.Add(9 * time.Second)
	got, err = f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, slackPoll, 2*time.Second)
	ok(t, err)
	equal(t, got.Interval, 10)
	cur, err = f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCodeHash)
	ok(t, err)
	equal(t, cur.Interval, 10)
	p2 = slackPoll

	// Approve; deciding twice is a conflict.
	decided := p2.Add(time.Second)
	ok(t, f.s.DecideDeviceCode(f.ctx, d.UserCodeHash, true, u.ID, decided))
	wantErr(t, f.s.DecideDeviceCode(f.ctx, d.UserCodeHash, false, u.ID, decided), store.ErrConflict)
	wantErr(t, f.s.DecideDeviceCode(f.ctx, "no-such", true, u.ID, decided), store.ErrNotFound)

	// A poll too soon after the last one does not consume the approval.
	got, err = f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, p2.Add(3*time.Second), 0)
	ok(t, err)
	equal(t, got.Status, store.DeviceApproved)
	cur, err = f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCodeHash)
	ok(t, err)
	equal(t, cur.Status, store.DeviceApproved)
	equal(t, cur.Interval, 15)
	// A poll in time sees it approved once; the next sees it consumed.
	p3 := p2.Add(3 * time.Second).Add(15 * time.Second)
	got, err = f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, p3, 0)
	ok(t, err)
	if got.Status != store.DeviceApproved || got.UserID != u.ID || got.DecidedAt == nil || !got.DecidedAt.Equal(decided) {
		t.Fatalf("approved poll: %+v", got)
	}
	got, err = f.s.PollDeviceCode(f.ctx, d.DeviceCodeHash, p3.Add(time.Minute), 0)
	ok(t, err)
	equal(t, got.Status, store.DeviceConsumed)
	_, err = f.s.PollDeviceCode(f.ctx, "no-such", p3, 0)
	wantErr(t, err, store.ErrNotFound)

	// Deny.
	d2 := d
	d2.DeviceCodeHash, d2.UserCodeHash = "dev-"+store.NewID(), "user-"+store.NewID()
	ok(t, f.s.CreateDeviceCode(f.ctx, d2))
	ok(t, f.s.DecideDeviceCode(f.ctx, d2.UserCodeHash, false, u.ID, decided))
	got, err = f.s.PollDeviceCode(f.ctx, d2.DeviceCodeHash, p3, 0)
	ok(t, err)
	equal(t, got.Status, store.DeviceDenied)
	got, err = f.s.PollDeviceCode(f.ctx, d2.DeviceCodeHash, p3.Add(time.Minute), 0)
	ok(t, err)
	equal(t, got.Status, store.DeviceDenied)

	// Sweep.
	n, err := f.s.DeleteExpiredOAuthCodes(f.ctx, created.Add(11*time.Minute))
	ok(t, err)
	if n < 2 {
		t.Fatalf("swept %d", n)
	}
	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCodeHash)
	wantErr(t, err, store.ErrNotFound)
}
