package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestNewRejectsBadConfig(t *testing.T) {
	st := newStore(t)
	good := func() Config {
		return Config{Store: st, Sealer: newSealer(t, 1), Logger: testLogger(t), Now: time.Now, Issuer: testIssuer, Audience: testAudience, Argon2: testArgon2}
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	tests := map[string]func(*Config){
		"no store":           func(c *Config) { c.Store = nil },
		"no sealer":          func(c *Config) { c.Sealer = nil },
		"no logger":          func(c *Config) { c.Logger = nil },
		"no clock":           func(c *Config) { c.Now = nil },
		"no issuer":          func(c *Config) { c.Issuer = "" },
		"relative issuer":    func(c *Config) { c.Issuer = "hks.example.com" },
		"issuer with query":  func(c *Config) { c.Issuer = "https://hks.example.com?x=1" },
		"no audience":        func(c *Config) { c.Audience = "" },
		"negative ttl":       func(c *Config) { c.AccessTTL = -time.Minute },
		"refresh < access":   func(c *Config) { c.AccessTTL = time.Hour; c.RefreshTTL = time.Minute },
		"leeway too large":   func(c *Config) { c.Leeway = time.Minute },
		"cache ttl too long": func(c *Config) { c.RevocationCacheTTL = time.Hour },
		"bad argon2":         func(c *Config) { c.Argon2 = Argon2Params{Memory: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32} },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := good()
			mod(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

func TestLoginAndVerify(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(t, "Alice@Example.com")

	p, err := e.svc.Login(ctx, "  alice@example.COM ", "correct horse battery", testMeta)
	if err != nil {
		t.Fatalf("Login (email in another case): %v", err)
	}
	if p.TokenType != "Bearer" || p.ExpiresIn != 900 || p.AccessToken == "" || p.RefreshToken == "" {
		t.Fatalf("unexpected pair %+v", p)
	}
	js, _ := json.Marshal(p)
	for _, k := range []string{`"access_token":`, `"refresh_token":`, `"token_type":"Bearer"`, `"expires_in":900`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("TokenPair JSON %s lacks %s", js, k)
		}
	}

	// The token's header and claims as the brief specifies them.
	seg := strings.Split(p.AccessToken, ".")
	var hdr map[string]any
	var body map[string]any
	mustDecodeSeg(t, seg[0], &hdr)
	mustDecodeSeg(t, seg[1], &body)
	if hdr["alg"] != "RS256" || hdr["kid"] == "" || hdr["kid"] == nil {
		t.Errorf("header %v", hdr)
	}
	for _, k := range []string{"sub", "email", "sid", "iss", "aud", "exp", "iat", "nbf", "jti"} {
		if _, ok := body[k]; !ok {
			t.Errorf("claim %s missing from %v", k, body)
		}
	}

	c, err := e.svc.Verify(ctx, p.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.UserID != u.ID || c.Email != "Alice@Example.com" || c.SessionID == "" || c.TokenID == "" {
		t.Fatalf("claims %+v", c)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt); got != 15*time.Minute {
		t.Fatalf("lifetime %v", got)
	}
	sess, err := e.st.GetSession(ctx, c.SessionID)
	if err != nil || sess.UserID != u.ID || sess.IP != testMeta.IP || sess.UserAgent != testMeta.UserAgent || sess.Fingerprint == "" {
		t.Fatalf("session %+v, %v", sess, err)
	}
	got, err := e.svc.GetUser(ctx, c.UserID)
	if err != nil || got.Email != u.Email {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}
	if _, err := e.svc.GetUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser(unknown) = %v", err)
	}
}

func mustDecodeSeg(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestLoginRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(t, "alice@example.com")
	noPW := store.User{ID: store.NewID(), Email: "fed@example.com", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateUser(ctx, noPW); err != nil {
		t.Fatal(err)
	}
	broken := store.User{ID: store.NewID(), Email: "broken@example.com", PasswordHash: "$argon2id$garbage", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateUser(ctx, broken); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, email, pw string }{
		{"wrong password", "alice@example.com", "wrong password"},
		{"empty password", "alice@example.com", ""},
		{"unknown user", "bob@example.com", "correct horse battery"},
		{"empty email", "", "correct horse battery"},
		{"federated user, empty password", "fed@example.com", ""},
		{"federated user, the dummy password", "fed@example.com", "hks-dummy-password-for-unknown-users"},
		{"malformed stored hash", "broken@example.com", "correct horse battery"},
		{"password of 5000 bytes", "alice@example.com", strings.Repeat("x", 5000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.Login(ctx, tt.email, tt.pw, testMeta); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("Login(%q, %.20q) = %v, want ErrInvalidCredentials", tt.email, tt.pw, err)
			}
		})
	}
}

func TestLoginRehashesWithNewParameters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(t, "alice@example.com")
	stronger := testArgon2
	stronger.Time = 2
	svc2 := e.service(t, e.sealer, func(c *Config) { c.Argon2 = stronger })
	if _, err := svc2.Login(ctx, "alice@example.com", "correct horse battery", testMeta); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.PasswordHash, "t=2") || NeedsRehash(got.PasswordHash, stronger) {
		t.Fatalf("password not rehashed: %s", got.PasswordHash)
	}
	if _, err := svc2.Login(ctx, "alice@example.com", "correct horse battery", testMeta); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

// forge signs claims with an arbitrary method and key, for the table of
// tokens Verify must refuse.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	} else {
		delete(tok.Header, "kid")
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pair := e.signedIn(t, "alice@example.com")
	good, err := e.svc.Verify(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	key, priv, _ := e.svc.keys.signer()
	now := e.clock.Now()
	claims := func(mod func(*accessClaims)) *accessClaims {
		c := &accessClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    testIssuer,
				Subject:   good.UserID,
				Audience:  jwt.ClaimStrings{testAudience},
				ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
				NotBefore: jwt.NewNumericDate(now),
				IssuedAt:  jwt.NewNumericDate(now),
				ID:        "jti-1",
			},
			Email:     good.Email,
			SessionID: good.SessionID,
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	// Positive control: the forger makes tokens Verify accepts.
	if _, err := e.svc.Verify(ctx, forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(nil))); err != nil {
		t.Fatalf("control token refused: %v", err)
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tamperSig := func(tok string) string {
		seg := strings.Split(tok, ".")
		sig := []byte(seg[2])
		i := len(sig) / 2
		if sig[i] == 'A' {
			sig[i] = 'B'
		} else {
			sig[i] = 'A'
		}
		return seg[0] + "." + seg[1] + "." + string(sig)
	}
	tamperBody := func(tok string) string {
		seg := strings.Split(tok, ".")
		var body map[string]any
		mustDecodeSeg(t, seg[1], &body)
		body["sub"] = "someone-else"
		b, _ := json.Marshal(body)
		return seg[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + seg[2]
	}

	// Another user's revoked session, to check revocation by itself.
	bob := e.signedIn(t, "bob@example.com")
	bobClaims, err := e.svc.Verify(ctx, bob.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, bobClaims.SessionID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   string
		revoked bool
		why     string // in the error text (logged, never sent)
	}{
		{"empty", "", false, "invalid number of segments"},
		{"garbage", "not.a.jwt", false, "could not JSON decode header"},
		{"too long", strings.Repeat("a", 10000), false, "too long"},
		{"tampered signature", tamperSig(pair.AccessToken), false, "verification error"},
		{"tampered claims", tamperBody(pair.AccessToken), false, "verification error"},
		{"signature stripped", strings.Join(strings.Split(pair.AccessToken, ".")[:2], ".") + ".", false, "verification error"},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, key.kid, claims(nil)), false, "signing method none is invalid"},
		{"HS256 with the public key as secret (DER)", forge(t, jwt.SigningMethodHS256, pubDER, key.kid, claims(nil)), false, "signing method HS256 is invalid"},
		{"HS256 with the public key as secret (PEM)", forge(t, jwt.SigningMethodHS256, pubPEM, key.kid, claims(nil)), false, "signing method HS256 is invalid"},
		{"RS512 with the right key", forge(t, jwt.SigningMethodRS512, priv, key.kid, claims(nil)), false, "signing method RS512 is invalid"},
		{"PS256 with the right key", forge(t, jwt.SigningMethodPS256, priv, key.kid, claims(nil)), false, "signing method PS256 is invalid"},
		{"expired", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-31 * time.Second))
			c.IssuedAt = jwt.NewNumericDate(now.Add(-16 * time.Minute))
			c.NotBefore = c.IssuedAt
		})), false, "token is expired"},
		{"no exp", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.ExpiresAt = nil })), false, "exp claim is required"},
		{"not yet valid (nbf)", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) })), false, "not valid yet"},
		{"issued in the future (iat)", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.IssuedAt = jwt.NewNumericDate(now.Add(5 * time.Minute)) })), false, "used before issued"},
		{"no iat", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.IssuedAt = nil })), false, "missing sub, sid or iat"},
		{"wrong audience", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"workspace-1"} })), false, "invalid audience"},
		{"no audience", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.Audience = nil })), false, "aud claim is required"},
		{"wrong issuer", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.Issuer = "http://evil.example.com" })), false, "invalid issuer"},
		{"no issuer", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.Issuer = "" })), false, "iss claim is required"},
		{"unknown kid", forge(t, jwt.SigningMethodRS256, priv, "no-such-kid", claims(nil)), false, "unknown kid"},
		{"no kid", forge(t, jwt.SigningMethodRS256, priv, "", claims(nil)), false, "no kid"},
		{"signed by a different RSA key", forge(t, jwt.SigningMethodRS256, otherKey, key.kid, claims(nil)), false, "verification error"},
		{"different RSA key, own kid", forge(t, jwt.SigningMethodRS256, otherKey, Thumbprint(&otherKey.PublicKey), claims(nil)), false, "unknown kid"},
		{"no sid", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.SessionID = "" })), false, "missing sub, sid or iat"},
		{"unknown session", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.SessionID = store.NewID() })), false, "unknown session"},
		{"session of another user", forge(t, jwt.SigningMethodRS256, priv, key.kid, claims(func(c *accessClaims) { c.Subject = bobClaims.UserID })), false, "session belongs to another user"},
		{"revoked session", bob.AccessToken, true, "session revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.svc.Verify(ctx, tt.token)
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken (%s)", c, err, tt.why)
			}
			if errors.Is(err, ErrSessionRevoked) != tt.revoked {
				t.Fatalf("Verify error %v: ErrSessionRevoked = %v, want %v", err, !tt.revoked, tt.revoked)
			}
		})
	}
}

func TestVerifyExpiryWithClock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.signedIn(t, "alice@example.com")

	e.clock.Advance(15*time.Minute + 20*time.Second) // expired, within leeway
	if _, err := e.svc.Verify(ctx, p.AccessToken); err != nil {
		t.Fatalf("token 20s past exp refused despite 30s leeway: %v", err)
	}
	e.clock.Advance(15 * time.Second) // 35s past exp
	if _, err := e.svc.Verify(ctx, p.AccessToken); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p1 := e.signedIn(t, "alice@example.com")
	c1, err := e.svc.Verify(ctx, p1.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Minute)
	p2, err := e.svc.Refresh(ctx, p1.RefreshToken, testMeta)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	c2, err := e.svc.Verify(ctx, p2.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c2.SessionID != c1.SessionID || c2.UserID != c1.UserID {
		t.Fatalf("refreshed claims %+v differ from %+v", c2, c1)
	}

	// The spent token is refused, and its reuse revokes the session.
	_, err = e.svc.Refresh(ctx, p1.RefreshToken, testMeta)
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("reuse of spent token: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, p2.RefreshToken, testMeta); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("new refresh token after reuse: %v, want ErrSessionRevoked", err)
	}
	if _, err := e.svc.Verify(ctx, p2.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("access token after reuse: %v, want ErrSessionRevoked", err)
	}
	sess, err := e.st.GetSession(ctx, c1.SessionID)
	if err != nil || sess.RevokedAt == nil {
		t.Fatalf("session not revoked in the store: %+v, %v", sess, err)
	}
}

func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.signedIn(t, "alice@example.com")
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range n {
		wg.Go(func() {
			_, err := e.svc.Refresh(ctx, p.RefreshToken, testMeta)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Refresh: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes of one token succeeded, want 1", wins)
	}
	// The losers presented a spent token: the session is revoked.
	if _, err := e.svc.Verify(ctx, p.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("Verify after concurrent reuse: %v", err)
	}
}

func TestRefreshRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.SessionTTL = 10 * 24 * time.Hour })
	e.user(t, "alice@example.com")

	t.Run("malformed", func(t *testing.T) {
		for _, tok := range []string{"", "short", strings.Repeat("A", 43) + "=", strings.Repeat("*", 43), strings.Repeat("A", 1000)} {
			t.Run(testutil.CaseName(tok), func(t *testing.T) {
				if _, err := e.svc.Refresh(ctx, tok, testMeta); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("Refresh(%.20q) = %v", tok, err)
				}
			})
		}
	})
	t.Run("unknown", func(t *testing.T) {
		raw, _, _ := newRefreshToken()
		if _, err := e.svc.Refresh(ctx, raw, testMeta); !errors.Is(err, ErrInvalidToken) {
			t.Fatal(err)
		}
	})
	t.Run("other device", func(t *testing.T) {
		p := e.login(t, "alice@example.com")
		if _, err := e.svc.Refresh(ctx, p.RefreshToken, ClientMeta{IP: testMeta.IP, UserAgent: "curl/8"}); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh from another user agent: %v", err)
		}
		// Refused without spending the token: the real client goes on.
		if _, err := e.svc.Refresh(ctx, p.RefreshToken, ClientMeta{IP: "198.51.100.7", UserAgent: testMeta.UserAgent}); err != nil {
			t.Fatalf("refresh from the same device on another IP: %v", err)
		}
	})
	t.Run("after logout", func(t *testing.T) {
		p := e.login(t, "alice@example.com")
		c, err := e.svc.Verify(ctx, p.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Logout(ctx, c.SessionID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Logout(ctx, c.SessionID); err != nil {
			t.Fatalf("second logout: %v", err)
		}
		if _, err := e.svc.Refresh(ctx, p.RefreshToken, testMeta); !errors.Is(err, ErrSessionRevoked) {
			t.Fatalf("refresh after logout: %v", err)
		}
		if _, err := e.svc.Verify(ctx, p.AccessToken); !errors.Is(err, ErrSessionRevoked) {
			t.Fatalf("verify after logout: %v", err)
		}
	})
	t.Run("refresh token expired", func(t *testing.T) {
		p := e.login(t, "alice@example.com")
		e.clock.Advance(7*24*time.Hour + time.Second)
		if _, err := e.svc.Refresh(ctx, p.RefreshToken, testMeta); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh after 7 days: %v", err)
		}
	})
	t.Run("session lifetime is absolute", func(t *testing.T) {
		p := e.login(t, "alice@example.com")
		var err error
		for range 4 { // 4 × 3 days > 10-day session
			e.clock.Advance(3 * 24 * time.Hour)
			if p, err = e.svc.Refresh(ctx, p.RefreshToken, testMeta); err != nil {
				break
			}
			c, verr := e.svc.Verify(ctx, p.AccessToken)
			if verr != nil {
				t.Fatal(verr)
			}
			sess, _ := e.st.GetSession(ctx, c.SessionID)
			if c.ExpiresAt.After(sess.ExpiresAt) {
				t.Fatalf("access token outlives its session: %v > %v", c.ExpiresAt, sess.ExpiresAt)
			}
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh past the session's end: %v", err)
		}
	})
	t.Run("logout unknown session", func(t *testing.T) {
		if err := e.svc.Logout(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Logout(unknown) = %v", err)
		}
	})
}

// TestRevocationAcrossProcesses: a session revoked by another process stops
// verifying within RevocationCacheTTL, and at once with the cache disabled.
func TestRevocationAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(t, "alice@example.com")
	other := e.service(t, e.sealer)
	uncached := e.service(t, e.sealer, func(c *Config) { c.RevocationCacheTTL = -1 })

	p := e.login(t, "alice@example.com")
	c, err := other.Verify(ctx, p.AccessToken) // other caches the session
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uncached.Verify(ctx, p.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, c.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Verify(ctx, p.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("revoking process: %v", err)
	}
	if _, err := uncached.Verify(ctx, p.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("process without cache: %v", err)
	}
	if _, err := other.Verify(ctx, p.AccessToken); err != nil {
		t.Fatalf("within the cache window the other process may still accept: %v", err)
	}
	e.clock.Advance(DefaultRevocationCacheTTL)
	if _, err := other.Verify(ctx, p.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("other process after the cache window: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	e.user(f, "alice@example.com")
	p := e.login(f, "alice@example.com")
	f.Add(p.AccessToken)
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Replace(p.AccessToken, ".", "..", 1))
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := e.svc.Verify(context.Background(), tok)
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify error %v is not ErrInvalidToken", err)
		}
	})
}
