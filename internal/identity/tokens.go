package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	refreshTokenBytes = 32
	maxAccessTokenLen = 8 << 10
	maxUserAgentLen   = 512
	sessionCacheMax   = 100_000
)

// ClientMeta describes the client of a login or refresh.
type ClientMeta struct {
	IP        string
	UserAgent string
	// DeviceTokens are the device tokens the client presented (the
	// DeviceCookie cookies of a browser, device_token of the API), if
	// any; the first valid one for the account counts.
	DeviceTokens []string
}

// Claims are the verified claims of an access token.
type Claims struct {
	UserID    string // sub
	Email     string
	SessionID string // sid
	// Fingerprint is the fp claim: the hash of the device fingerprint the
	// session is bound to.
	Fingerprint string
	TokenID     string // jti
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// accessClaims is the JWT body of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	Email     string `json:"email"`
	SessionID string `json:"sid"`
	// Fingerprint (fp) is the hash of the session's device fingerprint.
	Fingerprint string `json:"fp,omitempty"`
}

// PasswordSignIn checks email and password and signs the user in through
// SignIn: the answer is tokens, with a device token (the result's
// DeviceToken, renewing the one of meta.DeviceTokens that was valid) that
// exempts this client from the account's throttle at its next sign-ins,
// or, for a user with two-factor authentication, a second-factor
// challenge (CompleteMFASignIn gives the device token). Every failure
// to authenticate is ErrInvalidCredentials; for an unknown email a dummy
// hash is still verified so that the answer takes about as long.
//
// It runs under the sign-in lockout (see lockout.passwordKeys): a locked
// key is refused with a *TooManyAttemptsError (ErrTooManyAttempts) before
// the password is looked at, even a right one. An attempt holds a slot on
// its keys while the password is checked, which bounds the checks in
// flight but is no failure; a wrong password counts as a failure, issued
// tokens forget the failures of the client's (account, source) pair or
// device token, and a second-factor challenge or an internal error counts
// nothing (CompleteMFA forgets them once the second factor is right).
func (s *Service) PasswordSignIn(ctx context.Context, email, password string, meta ClientMeta) (res SignInResult, err error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return SignInResult{}, ErrInvalidCredentials
	}
	var u store.User
	if len(email) <= MaxEmailLen {
		u, err = s.st.GetUserByEmail(ctx, email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			u = store.User{}
		case err != nil:
			return SignInResult{}, fmt.Errorf("login: %w", err)
		}
	}
	device := s.deviceID(meta.DeviceTokens, u)
	a, err := s.lockout.begin(ctx, u.ID, email, meta.IP, device)
	if err != nil {
		return SignInResult{}, err
	}
	defer func() { a.settle(ctx, err, err == nil && !res.MFARequired) }()
	if len(email) > MaxEmailLen || len(password) > 4*MaxPasswordLen {
		return SignInResult{}, ErrInvalidCredentials
	}
	hash := u.PasswordHash
	if hash == "" { // unknown user, or one without a local password
		hash = s.dummyHash
	}
	ok, err := s.verifyPassword(ctx, password, hash)
	if err != nil {
		if errors.Is(err, ErrMalformedHash) {
			s.log.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID, "err", err)
			return SignInResult{}, ErrInvalidCredentials
		}
		return SignInResult{}, fmt.Errorf("login: %w", err)
	}
	if !ok || u.PasswordHash == "" {
		return SignInResult{}, ErrInvalidCredentials
	}
	if NeedsRehash(u.PasswordHash, s.argon2) {
		u = s.rehash(ctx, u, password)
	}
	res, err = s.SignIn(ctx, u, meta, "password")
	if err != nil || res.MFARequired {
		return res, err // the device token comes with the second factor
	}
	if res.DeviceToken, err = s.newDeviceToken(u, device); err != nil {
		return SignInResult{}, fmt.Errorf("login: device token: %w", err)
	}
	return res, nil
}

// rehash stores password under the current parameters, best effort, and
// returns u with the hash stored.
func (s *Service) rehash(ctx context.Context, u store.User, password string) store.User {
	h, err := s.hashPassword(ctx, password)
	if err == nil {
		err = s.st.UpdateUserPassword(ctx, u.ID, h, s.clock())
	}
	if err != nil {
		s.log.WarnContext(ctx, "rehash password", "user_id", u.ID, "err", err)
		return u
	}
	u.PasswordHash = h
	return u
}

func (s *Service) startSession(ctx context.Context, u store.User, meta ClientMeta) (api.TokenPair, error) {
	now := s.clock()
	sess := store.Session{
		ID:          store.NewID(),
		UserID:      u.ID,
		UserAgent:   truncate(meta.UserAgent, maxUserAgentLen),
		IP:          meta.IP,
		Fingerprint: fingerprint(meta),
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.sessionTTL),
	}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return api.TokenPair{}, fmt.Errorf("create session: %w", err)
	}
	raw, hash, err := newRefreshToken()
	if err != nil {
		return api.TokenPair{}, err
	}
	rt := store.RefreshToken{TokenHash: hash, SessionID: sess.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: minTime(now.Add(s.refreshTTL), sess.ExpiresAt)}
	if err := s.st.CreateRefreshToken(ctx, rt); err != nil {
		return api.TokenPair{}, fmt.Errorf("create refresh token: %w", err)
	}
	access, exp, err := s.signAccess(ctx, u, sess, now)
	if err != nil {
		return api.TokenPair{}, err
	}
	s.log.InfoContext(ctx, "session started", "user_id", u.ID, "session_id", sess.ID)
	return api.TokenPair{AccessToken: access, RefreshToken: raw, TokenType: "Bearer", ExpiresIn: expiresIn(exp, now)}, nil
}

// Refresh exchanges a refresh token for a new pair. The token is spent: a
// second use fails and, as a spent token in other hands means it leaked,
// revokes the whole session (so the token that replaced it stops working
// too). A refresh from a client whose User-Agent differs from the one that
// logged in is refused (the session is bound to that fingerprint).
func (s *Service) Refresh(ctx context.Context, refreshToken string, meta ClientMeta) (api.TokenPair, error) {
	hash, ok := hashRefreshToken(refreshToken)
	if !ok {
		return api.TokenPair{}, fmt.Errorf("%w: malformed refresh token", ErrInvalidToken)
	}
	rt, err := s.st.GetRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return api.TokenPair{}, fmt.Errorf("%w: unknown refresh token", ErrInvalidToken)
	}
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	if rt.UsedAt != nil {
		return api.TokenPair{}, s.reuseDetected(ctx, rt)
	}
	now := s.clock()
	sess, err := s.st.GetSession(ctx, rt.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return api.TokenPair{}, fmt.Errorf("%w: unknown session", ErrInvalidToken)
	}
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	switch {
	case sess.RevokedAt != nil:
		return api.TokenPair{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrSessionRevoked)
	case sess.UserID != rt.UserID:
		return api.TokenPair{}, fmt.Errorf("%w: session belongs to another user", ErrInvalidToken)
	case !now.Before(rt.ExpiresAt):
		return api.TokenPair{}, fmt.Errorf("%w: refresh token expired", ErrInvalidToken)
	case !now.Before(sess.ExpiresAt):
		return api.TokenPair{}, fmt.Errorf("%w: session expired", ErrInvalidToken)
	case sess.Fingerprint != fingerprint(meta):
		s.log.WarnContext(ctx, "refresh from another device refused", "user_id", sess.UserID, "session_id", sess.ID, "ip", meta.IP)
		return api.TokenPair{}, fmt.Errorf("%w: client fingerprint changed", ErrInvalidToken)
	}
	u, err := s.st.GetUser(ctx, rt.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return api.TokenPair{}, fmt.Errorf("%w: user no longer exists", ErrInvalidToken)
	}
	if err != nil {
		return api.TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	raw, nextHash, err := newRefreshToken()
	if err != nil {
		return api.TokenPair{}, err
	}
	next := store.RefreshToken{TokenHash: nextHash, SessionID: sess.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: minTime(now.Add(s.refreshTTL), sess.ExpiresAt)}
	if err := s.st.RotateRefreshToken(ctx, hash, next, now); err != nil {
		if errors.Is(err, store.ErrConflict) { // spent by a concurrent call
			return api.TokenPair{}, s.reuseDetected(ctx, rt)
		}
		return api.TokenPair{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	s.touchSession(ctx, sess.ID, meta.IP, now) // sessions.go
	access, exp, err := s.signAccess(ctx, u, sess, now)
	if err != nil {
		return api.TokenPair{}, err
	}
	return api.TokenPair{AccessToken: access, RefreshToken: raw, TokenType: "Bearer", ExpiresIn: expiresIn(exp, now)}, nil
}

// reuseDetected revokes the session of a refresh token presented after it
// was spent.
func (s *Service) reuseDetected(ctx context.Context, rt store.RefreshToken) error {
	s.log.WarnContext(ctx, "spent refresh token reused; revoking the session", "user_id", rt.UserID, "session_id", rt.SessionID)
	if err := s.revoke(ctx, rt.SessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke session after refresh token reuse: %w", err)
	}
	return fmt.Errorf("%w: refresh token reused, session revoked: %w", ErrInvalidToken, ErrSessionRevoked)
}

// Logout revokes a session: its refresh token stops working and its access
// tokens stop verifying (at once in this process, within
// RevocationCacheTTL in others). Revoking twice is not an error; an
// unknown session is store.ErrNotFound.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	if err := s.revoke(ctx, sessionID); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

func (s *Service) revoke(ctx context.Context, sessionID string) error {
	if err := s.st.RevokeSession(ctx, sessionID, s.clock()); err != nil {
		return err
	}
	s.sessions.put(sessionID, sessionEntry{revoked: true, checked: s.now()})
	return nil
}

// signAccess signs an access token for u in sess with the current key. It
// never outlives the session.
func (s *Service) signAccess(ctx context.Context, u store.User, sess store.Session, now time.Time) (string, time.Time, error) {
	key, priv, loadedAt := s.keys.signer()
	if key == nil || s.now().Sub(loadedAt) >= s.keyReload {
		// First use, or time to look for a newer key. A failed periodic
		// reload keeps the current key.
		if err := s.reloadKeys(ctx, s.keyReload); err != nil {
			if key == nil {
				return "", time.Time{}, err
			}
			s.log.WarnContext(ctx, "reload signing keys", "err", err)
		}
		if key, priv, _ = s.keys.signer(); key == nil {
			if err := s.EnsureSigningKey(ctx); err != nil {
				return "", time.Time{}, err
			}
			key, priv, _ = s.keys.signer()
		}
	}
	iat := now.Truncate(time.Second)
	exp := minTime(iat.Add(s.accessTTL), sess.ExpiresAt)
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        uuid.NewString(),
		},
		Email:       u.Email,
		SessionID:   sess.ID,
		Fingerprint: sess.Fingerprint,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = key.kid
	signed, err := tok.SignedString(priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return signed, exp, nil
}

// Verify checks an access token: RS256 only, signed by a known key (by kid),
// iss and aud as configured, exp required, nbf and iat honoured with the
// configured leeway, and its session neither revoked nor expired. Every
// failure matches ErrInvalidToken; a revoked session also matches
// ErrSessionRevoked. Other errors are store failures.
func (s *Service) Verify(ctx context.Context, accessToken string) (Claims, error) {
	var c accessClaims
	if err := s.verifySigned(ctx, s.parser, accessToken, &c); err != nil {
		return Claims{}, err
	}
	if c.Subject == "" || c.SessionID == "" || c.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: missing sub, sid or iat", ErrInvalidToken)
	}
	if err := s.CheckSession(ctx, c.SessionID, c.Subject); err != nil {
		return Claims{}, err
	}
	return Claims{
		UserID:      c.Subject,
		Email:       c.Email,
		SessionID:   c.SessionID,
		Fingerprint: c.Fingerprint,
		TokenID:     c.ID,
		IssuedAt:    c.IssuedAt.Time,
		ExpiresAt:   c.ExpiresAt.Time,
	}, nil
}

// VerifyIssued checks a token the platform signed as OIDC issuer for a
// relying party other than its own API (a workspace token): RS256 only,
// signed by one of the platform's keys (by kid), iss equal to issuer, exp
// required, nbf and iat honoured with the configured leeway. A token whose
// aud names the platform's own audience (an access token) is refused: it
// is for the API alone. The caller checks aud and the session
// (CheckSession). Every failure matches ErrInvalidToken; other errors are
// store failures.
func (s *Service) VerifyIssued(ctx context.Context, token, issuer string, claims jwt.Claims) error {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(s.leeway),
		jwt.WithTimeFunc(s.now),
	)
	if err := s.verifySigned(ctx, p, token, claims); err != nil {
		return err
	}
	aud, err := claims.GetAudience()
	if err != nil || len(aud) == 0 {
		return fmt.Errorf("%w: no aud", ErrInvalidToken)
	}
	for _, a := range aud {
		if a == s.audience {
			return fmt.Errorf("%w: an access token of the platform's API", ErrInvalidToken)
		}
	}
	return nil
}

// verifySigned parses token into claims with p, checking its signature
// against the platform's keys.
func (s *Service) verifySigned(ctx context.Context, p *jwt.Parser, token string, claims jwt.Claims) error {
	if len(token) > maxAccessTokenLen {
		return fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	var loadErr error // a store failure, not the token's fault
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		k := s.keys.lookup(kid)
		if k == nil {
			// Possibly a key created by another process since the
			// last load; reloads are rate limited.
			if loadErr = s.reloadKeys(ctx, keyMissReloadInterval); loadErr != nil {
				return nil, loadErr
			}
			if k = s.keys.lookup(kid); k == nil {
				return nil, errors.New("unknown kid")
			}
		}
		return k.pub, nil
	})
	if loadErr != nil {
		return fmt.Errorf("verify: %w", loadErr)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return nil
}

// CheckSession checks that session sessionID of userID is alive: known,
// not revoked, not expired (its state is cached for RevocationCacheTTL,
// and a revocation in this process is seen at once). A dead session
// matches ErrInvalidToken (a revoked one also ErrSessionRevoked); other
// errors are store failures.
func (s *Service) CheckSession(ctx context.Context, sessionID, userID string) error {
	e, err := s.sessionState(ctx, sessionID)
	if err != nil {
		return err
	}
	switch {
	case e.missing:
		return fmt.Errorf("%w: unknown session", ErrInvalidToken)
	case e.revoked:
		return fmt.Errorf("%w: %w", ErrInvalidToken, ErrSessionRevoked)
	case e.userID != userID:
		return fmt.Errorf("%w: session belongs to another user", ErrInvalidToken)
	case !s.now().Before(e.expiresAt.Add(s.leeway)):
		return fmt.Errorf("%w: session expired", ErrInvalidToken)
	}
	return nil
}

// sessionState returns the session's state, from the cache if it was read
// from the store less than RevocationCacheTTL ago.
func (s *Service) sessionState(ctx context.Context, id string) (sessionEntry, error) {
	now := s.now()
	if e, ok := s.sessions.get(id, now); ok {
		return e, nil
	}
	sess, err := s.st.GetSession(ctx, id)
	var e sessionEntry
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = sessionEntry{missing: true}
	case err != nil:
		return sessionEntry{}, fmt.Errorf("verify: get session: %w", err)
	default:
		e = sessionEntry{userID: sess.UserID, revoked: sess.RevokedAt != nil, expiresAt: sess.ExpiresAt}
	}
	e.checked = now
	s.sessions.put(id, e)
	return e, nil
}

// sessionEntry is what Verify needs to know about a session.
type sessionEntry struct {
	userID    string
	revoked   bool
	missing   bool
	expiresAt time.Time
	checked   time.Time // when read from the store
}

// sessionCache is a small TTL cache of session states, bounded in size.
type sessionCache struct {
	mu  sync.RWMutex
	m   map[string]sessionEntry
	ttl time.Duration // <= 0: disabled
	max int
}

func (c *sessionCache) get(id string, now time.Time) (sessionEntry, bool) {
	if c.ttl <= 0 {
		return sessionEntry{}, false
	}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || now.Sub(e.checked) >= c.ttl || now.Before(e.checked) {
		return sessionEntry{}, false
	}
	return e, true
}

func (c *sessionCache) put(id string, e sessionEntry) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k, v := range c.m { // drop stale entries
			if e.checked.Sub(v.checked) >= c.ttl {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[id] = e
}

// newRefreshToken returns a new refresh token and the hex SHA-256 under
// which it is stored.
func newRefreshToken() (raw, hash string, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("refresh token: %w", err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(sum[:]), nil
}

// hashRefreshToken returns the stored form of a refresh token, or false if
// it is not one this package could have issued.
func hashRefreshToken(raw string) (string, bool) {
	if len(raw) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	if err != nil || len(b) != refreshTokenBytes {
		return "", false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), true
}

// fingerprint is the device fingerprint a session is bound to: a hash of
// the User-Agent (the IP is recorded but not bound, as it changes).
func fingerprint(meta ClientMeta) string {
	sum := sha256.Sum256([]byte("ua:" + truncate(meta.UserAgent, maxUserAgentLen)))
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func expiresIn(exp, now time.Time) int {
	return int(exp.Sub(now).Round(time.Second) / time.Second)
}
