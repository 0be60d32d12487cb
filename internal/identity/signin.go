package identity

import (
	"context"
	"fmt"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Cookie names of browser sessions. A browser signed in through a federated
// provider (or the sign-in page) holds its access token in AccessCookie
// (HttpOnly, Path=/) and its refresh token in RefreshCookie (HttpOnly,
// Path=/auth); CSRFCookie carries the double-submit token that must be
// echoed in the CSRFHeader of state-changing requests authenticated by
// cookie.
const (
	AccessCookie  = "hks_access"
	RefreshCookie = "hks_refresh"
	CSRFCookie    = "hks_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// SignInResult is the outcome of a successful first factor: either tokens,
// or a second-factor challenge to answer with MFAToken.
type SignInResult struct {
	Tokens      *api.TokenPair
	MFARequired bool
	MFAToken    string
	// DeviceToken is the client's device token after a right password
	// (PasswordSignIn); "" otherwise.
	DeviceToken string
}

// SignIn completes a sign-in of u whose first factor (password, federated
// provider) succeeded. method names that factor ("password", "oidc:<id>",
// "github") for the session record. For a user with two-factor
// authentication enabled it starts no session: the result has MFARequired
// and an MFAToken (single use, MFAChallengeTTL, MaxMFAAttempts, bound to the
// client's device fingerprint) that CompleteMFA trades, with a TOTP or
// backup code, for tokens.
func (s *Service) SignIn(ctx context.Context, u store.User, meta ClientMeta, method string) (SignInResult, error) {
	mfa, err := s.MFAEnabled(ctx, u.ID)
	if err != nil {
		return SignInResult{}, fmt.Errorf("sign in: %w", err)
	}
	if mfa {
		return s.challenge(ctx, u, meta, method)
	}
	tp, err := s.startSession(ctx, u, meta)
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Tokens: &tp}, nil
}

// Login signs in with email and password and returns tokens. It is
// PasswordSignIn for callers that cannot answer a second factor: for a user
// with two-factor authentication it fails with ErrMFARequired.
func (s *Service) Login(ctx context.Context, email, password string, meta ClientMeta) (api.TokenPair, error) {
	res, err := s.PasswordSignIn(ctx, email, password, meta)
	if err != nil {
		return api.TokenPair{}, err
	}
	if res.MFARequired {
		return api.TokenPair{}, ErrMFARequired
	}
	return *res.Tokens, nil
}
