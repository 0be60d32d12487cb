package identity

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerify measures Verify of a valid access token as a request
// sees it: RS256 signature check plus the session revocation check, served
// from the cache (the usual case: a client makes many requests within
// RevocationCacheTTL) or read from SQLite every time.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name     string
		cacheTTL time.Duration
	}{
		{"session-cached", DefaultRevocationCacheTTL},
		{"session-uncached", -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			e := newEnv(b, func(c *Config) { c.RevocationCacheTTL = bc.cacheTTL })
			e.user(b, "alice@example.com")
			p := e.login(b, "alice@example.com")
			if _, err := e.svc.Verify(ctx, p.AccessToken); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.Verify(ctx, p.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("session-cached-parallel", func(b *testing.B) {
		ctx := context.Background()
		e := newEnv(b)
		e.user(b, "alice@example.com")
		p := e.login(b, "alice@example.com")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.svc.Verify(ctx, p.AccessToken); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkIssue measures issuing tokens: signing an access token alone,
// and a whole refresh (rotating the refresh token in SQLite and signing).
func BenchmarkIssue(b *testing.B) {
	ctx := context.Background()
	b.Run("access-token", func(b *testing.B) {
		e := newEnv(b)
		u := e.user(b, "alice@example.com")
		p := e.login(b, "alice@example.com")
		c, err := e.svc.Verify(ctx, p.AccessToken)
		if err != nil {
			b.Fatal(err)
		}
		sess, err := e.st.GetSession(ctx, c.SessionID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := e.svc.signAccess(ctx, u, sess, e.clock.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refresh", func(b *testing.B) {
		e := newEnv(b)
		e.user(b, "alice@example.com")
		p := e.login(b, "alice@example.com")
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if p, err = e.svc.Refresh(ctx, p.RefreshToken, testMeta); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPasswordHash measures one argon2id hash (what a login or a
// password change costs) with the default parameters, and with t=1 for
// comparison.
func BenchmarkPasswordHash(b *testing.B) {
	t1 := DefaultArgon2Params()
	t1.Time = 1
	for _, bc := range []struct {
		name string
		p    Argon2Params
	}{
		{"default-m=64MiB,t=2,p=2", DefaultArgon2Params()},
		{"m=64MiB,t=1,p=2", t1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := HashPassword("correct horse battery staple", bc.p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}
