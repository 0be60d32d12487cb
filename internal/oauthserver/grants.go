package oauthserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func oauthErr(code, desc, field string) *issuer.OAuthError {
	return &issuer.OAuthError{Code: code, Description: desc, Field: field}
}

// checkClient requires client_id to be the CLI (required unless optional).
func checkClient(form url.Values, optional bool) error {
	id := form.Get("client_id")
	if id == "" && optional {
		return nil
	}
	if id == "" {
		return oauthErr("invalid_request", "client_id is required", "client_id")
	}
	if id != CLIClientID {
		return &issuer.OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client_id is not a client of this server", Field: "client_id"}
	}
	if form.Has("client_secret") {
		return &issuer.OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "hks-cli is a public client: send no client_secret", Field: "client_secret"}
	}
	return nil
}

// authorizationCodeGrant trades an authorization code and its PKCE
// verifier for the platform's tokens (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (s *Service) authorizationCodeGrant(r *http.Request, form url.Values) (any, error) {
	if err := checkClient(form, false); err != nil {
		return nil, err
	}
	code, verifier, redirect := form.Get("code"), form.Get("code_verifier"), form.Get("redirect_uri")
	switch {
	case code == "":
		return nil, oauthErr("invalid_request", "code is required", "code")
	case verifier == "":
		return nil, oauthErr("invalid_request", "code_verifier is required (PKCE)", "code_verifier")
	case !codeVerifier.MatchString(verifier):
		return nil, oauthErr("invalid_request", "code_verifier must be 43 to 128 unreserved characters", "code_verifier")
	case redirect == "":
		return nil, oauthErr("invalid_request", "redirect_uri is required", "redirect_uri")
	}
	ctx := r.Context()
	hash := hashSecret("code", code)
	now := s.clock()
	c, err := s.st.UseAuthCode(ctx, hash, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oauthErr("invalid_grant", "the code is invalid or expired", "code")
	case errors.Is(err, store.ErrConflict):
		// RFC 6749 §4.1.2: a code used twice may have leaked; revoke what
		// its first use issued.
		if c.IssuedSessionID != "" {
			if err := s.id.Logout(ctx, c.IssuedSessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("revoke session of replayed code: %w", err)
			}
		}
		s.log.WarnContext(ctx, "authorization code replayed; its session is revoked", "user_id", c.UserID, "session_id", c.IssuedSessionID)
		return nil, oauthErr("invalid_grant", "the code was used already; the session it started is revoked", "code")
	case err != nil:
		return nil, err
	}
	switch {
	case !now.Before(c.ExpiresAt):
		return nil, oauthErr("invalid_grant", "the code is invalid or expired", "code")
	case c.ClientID != form.Get("client_id"):
		return nil, oauthErr("invalid_grant", "the code was issued to another client", "client_id")
	case c.RedirectURI != redirect:
		return nil, oauthErr("invalid_grant", "redirect_uri differs from the authorization request's", "redirect_uri")
	case subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.CodeChallenge)) != 1:
		return nil, oauthErr("invalid_grant", "code_verifier does not match the code_challenge", "code_verifier")
	}
	if c.SessionID != "" { // approved by a browser session: it must still be live
		sess, err := s.st.GetSession(ctx, c.SessionID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (sess.RevokedAt != nil || !now.Before(sess.ExpiresAt))) {
			return nil, oauthErr("invalid_grant", "the session that approved the code has ended", "code")
		}
		if err != nil {
			return nil, fmt.Errorf("get approving session: %w", err)
		}
	}
	tp, sid, err := s.startSession(ctx, r, c.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.st.SetAuthCodeSession(ctx, hash, sid); err != nil {
		return nil, fmt.Errorf("record session of code: %w", err)
	}
	return tp, nil
}

// startSession starts the client's own session for userID, bound to the
// client's device fingerprint.
func (s *Service) startSession(ctx context.Context, r *http.Request, userID string) (api.TokenPair, string, error) {
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return api.TokenPair{}, "", oauthErr("invalid_grant", "the user no longer exists", "")
	}
	if err != nil {
		return api.TokenPair{}, "", fmt.Errorf("get user: %w", err)
	}
	tp, err := s.id.StartSession(ctx, u, meta(r))
	if err != nil {
		return api.TokenPair{}, "", err
	}
	c, err := s.id.Verify(ctx, tp.AccessToken)
	if err != nil {
		return api.TokenPair{}, "", fmt.Errorf("verify new session: %w", err)
	}
	s.log.InfoContext(ctx, "cli session started", "user_id", u.ID, "session_id", c.SessionID)
	return tp, c.SessionID, nil
}

// refreshGrant trades a refresh token for new tokens (it rotates; reuse
// revokes the session).
func (s *Service) refreshGrant(r *http.Request, form url.Values) (any, error) {
	if err := checkClient(form, true); err != nil {
		return nil, err
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, oauthErr("invalid_request", "refresh_token is required", "refresh_token")
	}
	tp, err := s.id.Refresh(r.Context(), rt, meta(r))
	if errors.Is(err, identity.ErrInvalidToken) {
		return nil, &issuer.OAuthError{Code: "invalid_grant", Description: "the refresh token is invalid, expired or revoked; sign in again", Field: "refresh_token", Cause: err}
	}
	if err != nil {
		return nil, err
	}
	return tp, nil
}
