package identity

import (
	"context"

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
	Tokens      *TokenPair
	MFARequired bool
	MFAToken    string
}

// SignIn completes a sign-in of u whose first factor (password, federated
// provider) succeeded. method names that factor ("password", "oidc:<id>",
// "github") for the session record.
func (s *Service) SignIn(ctx context.Context, u store.User, meta ClientMeta, method string) (SignInResult, error) {
	tp, err := s.startSession(ctx, u, meta)
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Tokens: &tp}, nil
}
