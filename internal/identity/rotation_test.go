package identity

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func jwksKids(t *testing.T, s *Service) []string {
	t.Helper()
	b, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set api.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// TestRotateKeysRetiresAndKeepsServing: a token signed before rotation
// verifies after it; JWKS lists both keys until the old key's last token
// has expired, then only the new one; the old key is retired explicitly.
func TestRotateKeysRetiresAndKeepsServing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old := e.signedIn(t, "rot@example.com")
	oldKid := kidOf(t, old.AccessToken)

	e.clock.Advance(time.Minute)
	newKid, retired, err := e.svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(retired, []string{oldKid}) || newKid == oldKid {
		t.Fatalf("rotate: new %s retired %v, old %s", newKid, retired, oldKid)
	}
	keys, err := e.st.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if (k.ID == oldKid) != (k.RetiredAt != nil) {
			t.Fatalf("key %s retired_at %v", k.ID, k.RetiredAt)
		}
	}
	// New tokens use the new key; the old token still verifies, here and
	// in another process that loads the keys afresh.
	fresh := e.login(t, "rot@example.com")
	if kidOf(t, fresh.AccessToken) != newKid {
		t.Fatal("new token not signed with the new key")
	}
	other := e.service(t, e.sealer)
	for _, s := range []*Service{e.svc, other} {
		if _, err := s.Verify(ctx, old.AccessToken); err != nil {
			t.Fatalf("token from before the rotation: %v", err)
		}
		if got, want := jwksKids(t, s), sortedOf(oldKid, newKid); !slices.Equal(got, want) {
			t.Fatalf("jwks %v, want %v", got, want)
		}
	}

	// Just before the old key's last token can have expired: still served.
	keep := e.svc.keysKeepFor
	e.clock.Advance(keep - time.Second)
	e.svc.keys.loadedAt = time.Time{} // force a reload at the new time
	if got := jwksKids(t, e.svc); len(got) != 2 {
		t.Fatalf("jwks before the old key's tokens expired: %v", got)
	}
	// After: only the new key; the old token is refused.
	e.clock.Advance(2 * time.Second)
	e.svc.keys.loadedAt = time.Time{}
	if got := jwksKids(t, e.svc); !slices.Equal(got, []string{newKid}) {
		t.Fatalf("jwks after the old key's tokens expired: %v", got)
	}
	if _, err := e.svc.Verify(ctx, old.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old token after expiry: %v", err)
	}
}

func sortedOf(s ...string) []string { slices.Sort(s); return s }

func TestRotateIfDue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := e.svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RotateIfDue(ctx, 0); err == nil {
		t.Fatal("zero interval accepted")
	}
	rotated, err := e.svc.RotateIfDue(ctx, time.Hour)
	if err != nil || rotated {
		t.Fatalf("fresh key rotated: %v %v", rotated, err)
	}
	e.clock.Advance(time.Hour)
	if rotated, err = e.svc.RotateIfDue(ctx, time.Hour); err != nil || !rotated {
		t.Fatalf("old key not rotated: %v %v", rotated, err)
	}
	if rotated, err = e.svc.RotateIfDue(ctx, time.Hour); err != nil || rotated {
		t.Fatalf("rotated twice: %v %v", rotated, err)
	}
}

func TestRetireSigningKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tok := e.signedIn(t, "ret@example.com")
	kid := kidOf(t, tok.AccessToken)
	if err := e.svc.RetireSigningKey(ctx, "no-such-kid"); err == nil {
		t.Fatal("unknown kid retired")
	}
	if err := e.svc.RetireSigningKey(ctx, kid); err != nil {
		t.Fatal(err)
	}
	// A retired key does not sign: the next token comes from a new key,
	// and the retired key's token still verifies.
	next := e.login(t, "ret@example.com")
	if kidOf(t, next.AccessToken) == kid {
		t.Fatal("retired key still signs")
	}
	if _, err := e.svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
}

func TestSignJWTLifetime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := e.clock.Now()
	if _, err := e.svc.SignJWT(ctx, jwt.RegisteredClaims{}); err == nil {
		t.Fatal("token without exp signed")
	}
	long := jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(e.svc.AccessTTL() + time.Minute))}
	if _, err := e.svc.SignJWT(ctx, long); !errors.Is(err, ErrTokenTooLong) {
		t.Fatalf("token outliving its key signed: %v", err)
	}
	ok := jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute))}
	if _, err := e.svc.SignJWT(ctx, ok); err != nil {
		t.Fatal(err)
	}
}

func TestSessionsManagement(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(t, "sess@example.com")
	other := e.user(t, "other@example.com")
	a, b, c := e.login(t, "sess@example.com"), e.login(t, "sess@example.com"), e.login(t, "sess@example.com")
	o := e.login(t, "other@example.com")
	ca, err := e.svc.Verify(ctx, a.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Fingerprint != fingerprint(testMeta) || ca.Fingerprint == "" {
		t.Fatalf("fp claim %q", ca.Fingerprint)
	}
	co, _ := e.svc.Verify(ctx, o.AccessToken)

	// Refresh records the last IP.
	e.clock.Advance(time.Second)
	if _, err := e.svc.Refresh(ctx, a.RefreshToken, ClientMeta{IP: "203.0.113.9", UserAgent: testMeta.UserAgent}); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListSessions(ctx, u.ID, ca.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("sessions: %+v", list)
	}
	for _, x := range list {
		if x.Current != (x.ID == ca.SessionID) {
			t.Fatalf("current flag: %+v", x)
		}
		if x.ID == ca.SessionID && (x.LastIP != "203.0.113.9" || x.LastSeenAt == nil) {
			t.Fatalf("last activity: %+v", x)
		}
		if x.ID != ca.SessionID && x.LastIP != testMeta.IP {
			t.Fatalf("ip of an untouched session: %+v", x)
		}
	}

	// Another user's session is not found, and stays valid.
	if err := e.svc.RevokeUserSession(ctx, u.ID, co.SessionID); err == nil {
		t.Fatal("revoked another user's session")
	}
	if _, err := e.svc.Verify(ctx, o.AccessToken); err != nil {
		t.Fatal(err)
	}
	_ = other

	cb, _ := e.svc.Verify(ctx, b.AccessToken)
	if err := e.svc.RevokeUserSession(ctx, u.ID, cb.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Verify(ctx, b.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("revoked session's token: %v", err)
	}
	// Revoke all but the current one (a's): c is revoked, in another
	// process too once its cache entry is older than RevocationCacheTTL.
	peer := e.service(t, e.sealer)
	if _, err := peer.Verify(ctx, c.AccessToken); err != nil {
		t.Fatal(err)
	}
	ids, err := e.svc.RevokeAllSessions(ctx, u.ID, ca.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("revoked %v", ids)
	}
	if _, err := e.svc.Verify(ctx, c.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("c after revoke-all: %v", err)
	}
	if _, err := peer.Verify(ctx, c.AccessToken); err != nil {
		t.Fatalf("peer within its cache TTL: %v", err)
	}
	e.clock.Advance(DefaultRevocationCacheTTL)
	if _, err := peer.Verify(ctx, c.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("peer after its cache TTL: %v", err)
	}
	list, _ = e.svc.ListSessions(ctx, u.ID, ca.SessionID)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("sessions after revoke-all: %+v", list)
	}
}
