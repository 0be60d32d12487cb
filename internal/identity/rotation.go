package identity

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/every"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// DefaultKeyRotationInterval is how often the platform's signing key rotates
// unless configured otherwise.
const DefaultKeyRotationInterval = 30 * 24 * time.Hour

// ErrTokenTooLong: a token to sign would outlive the time for which JWKS
// serves its key after rotation (AccessTTL).
var ErrTokenTooLong = errors.New("token lifetime exceeds the access token lifetime")

// RetireSigningKey makes a key stop signing. JWKS keeps serving it, and
// Verify keeps accepting its tokens, until every token it signed has expired
// (AccessTTL plus the key reload interval and leeway after retirement).
func (s *Service) RetireSigningKey(ctx context.Context, kid string) error {
	if err := s.st.RetireSigningKey(ctx, kid, s.clock()); err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	s.log.InfoContext(ctx, "retired signing key", "kid", kid)
	return s.reloadKeys(ctx, 0)
}

// RotateKeys creates a new signing key, makes it current and retires every
// older unretired key explicitly. It returns the new kid and the retired
// ones.
func (s *Service) RotateKeys(ctx context.Context) (string, []string, error) {
	before, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("rotate keys: %w", err)
	}
	kid, err := s.createSigningKey(ctx)
	if err != nil {
		return "", nil, err
	}
	var retired []string
	now := s.clock()
	for _, k := range before {
		if k.RetiredAt != nil || k.ID == kid {
			continue
		}
		if err := s.st.RetireSigningKey(ctx, k.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return kid, retired, fmt.Errorf("retire signing key %s: %w", k.ID, err)
		}
		retired = append(retired, k.ID)
	}
	if err := s.reloadKeys(ctx, 0); err != nil {
		return kid, retired, err
	}
	s.log.InfoContext(ctx, "rotated signing keys", "kid", kid, "retired", retired)
	return kid, retired, nil
}

// RotateIfDue rotates the keys if the newest unretired key is at least
// interval old (or there is none). It reports whether it rotated.
func (s *Service) RotateIfDue(ctx context.Context, interval time.Duration) (bool, error) {
	if interval <= 0 {
		return false, errors.New("rotate keys: interval must be positive")
	}
	keys, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("rotate keys: %w", err)
	}
	now := s.clock()
	for _, k := range keys {
		if k.RetiredAt == nil && k.Algorithm == signingAlg && now.Sub(k.CreatedAt) < interval {
			return false, nil
		}
	}
	if _, _, err := s.RotateKeys(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// RunKeyRotation rotates the signing keys every interval until ctx ends. It
// checks at most every check (and at least hourly), so that a restart or
// another replica does not reset the schedule: the age of the newest key
// decides. Several replicas may rotate at about the same time; each then
// signs with the newest key and all keys stay served.
func (s *Service) RunKeyRotation(ctx context.Context, interval, check time.Duration) error {
	if check <= 0 || check > time.Hour {
		check = time.Hour
	}
	if check > interval {
		check = interval
	}
	return every.Do(ctx, check, func(ctx context.Context) {
		if _, err := s.RotateIfDue(ctx, interval); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "scheduled key rotation", "err", err)
		}
	})
}

// SignJWT signs claims with the current platform key (RS256, with its kid),
// for other tokens the platform issues as OIDC issuer. The token must not
// live longer than AccessTTL, so that JWKS serves its key for its whole
// life after a rotation; exp is required.
func (s *Service) SignJWT(ctx context.Context, claims jwt.Claims) (string, error) {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return "", errors.New("sign jwt: exp is required")
	}
	if exp.Sub(s.now()) > s.accessTTL {
		return "", fmt.Errorf("sign jwt: %w", ErrTokenTooLong)
	}
	key, priv, err := s.currentSigner(ctx)
	if err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = key.kid
	signed, err := tok.SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return signed, nil
}

// currentSigner returns the current key, reloading the keys when they are
// older than the reload interval (as signAccess does).
func (s *Service) currentSigner(ctx context.Context) (*signingKey, *rsa.PrivateKey, error) {
	key, priv, loadedAt := s.keys.signer()
	if key != nil && s.now().Sub(loadedAt) < s.keyReload {
		return key, priv, nil
	}
	if err := s.reloadKeys(ctx, s.keyReload); err != nil {
		if key == nil {
			return nil, nil, err
		}
		s.log.WarnContext(ctx, "reload signing keys", "err", err)
	}
	if key, priv, _ = s.keys.signer(); key == nil {
		if err := s.EnsureSigningKey(ctx); err != nil {
			return nil, nil, err
		}
		if key, priv, _ = s.keys.signer(); key == nil {
			return nil, nil, errors.New("no signing key")
		}
	}
	return key, priv, nil
}
