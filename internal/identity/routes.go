package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// RefreshRequest is the body of POST /auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// SetupRequest is the body of POST /auth/setup.
type SetupRequest struct {
	Token    string `json:"token" doc:"the one-time setup token hks server printed"`
	Email    string `json:"email"`
	Password string `json:"password" doc:"8 to 256 characters"`
}

// Me is the signed-in user.
type Me struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	PlatformAdmin bool      `json:"platform_admin"`
	SessionID     string    `json:"session_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

func meOut(u store.User, sid string) Me {
	return Me{ID: u.ID, Email: u.Email, PlatformAdmin: u.PlatformAdmin, SessionID: sid, CreatedAt: u.CreatedAt}
}

// Authenticate implements httpapi.Authenticator with Verify.
func (s *Service) Authenticate(ctx context.Context, token string) (httpapi.Principal, error) {
	c, err := s.Verify(ctx, token)
	if err != nil {
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{UserID: c.UserID, Email: c.Email, SessionID: c.SessionID}, nil
}

// toAPIError maps identity errors onto client errors without their text.
func toAPIError(err error) error {
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		return httpapi.Invalid(httpapi.Field(fe.Field, fe.Message))
	case errors.Is(err, ErrInvalidCredentials):
		e := httpapi.Unauthorized("invalid email or password")
		e.Cause = err
		return e
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrSessionRevoked):
		e := httpapi.Unauthorized("the token is invalid, expired or revoked; sign in again")
		e.Cause = err
		return e
	case errors.Is(err, ErrSetupDone):
		e := httpapi.Conflict("", "setup is done already; sign in instead")
		e.Cause = err
		return e
	case errors.Is(err, ErrInvalidSetupToken):
		e := httpapi.Invalid(httpapi.Field("token", "is not the setup token this server printed"))
		e.Cause = err
		return e
	case errors.Is(err, store.ErrConflict):
		e := httpapi.Conflict("email", "a user with this email exists")
		e.Cause = err
		return e
	}
	return err
}

func meta(r *http.Request) ClientMeta {
	return ClientMeta{IP: httpapi.ClientIP(r.Context()), UserAgent: r.UserAgent()}
}

func (s *Service) login(r *http.Request) (any, error) {
	var req LoginRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	var fes []httpapi.FieldError
	if req.Email == "" {
		fes = append(fes, httpapi.Field("email", "is required"))
	}
	if req.Password == "" {
		fes = append(fes, httpapi.Field("password", "is required"))
	}
	if len(fes) > 0 {
		return nil, httpapi.Invalid(fes...)
	}
	tp, err := s.Login(r.Context(), req.Email, req.Password, meta(r))
	if err != nil {
		return nil, toAPIError(err)
	}
	return noStore(tp), nil
}

func (s *Service) refresh(r *http.Request) (any, error) {
	var req RefreshRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.RefreshToken == "" {
		return nil, httpapi.Invalid(httpapi.Field("refresh_token", "is required"))
	}
	tp, err := s.Refresh(r.Context(), req.RefreshToken, meta(r))
	if err != nil {
		return nil, toAPIError(err)
	}
	return noStore(tp), nil
}

// noStore keeps token answers out of caches (RFC 6749 §5.1).
func noStore(tp TokenPair) *httpapi.Response {
	return &httpapi.Response{Body: tp, Header: http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}}
}

func (s *Service) logout(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	if err := s.Logout(r.Context(), p.SessionID); err != nil {
		return nil, toAPIError(err)
	}
	return nil, nil
}

func (s *Service) me(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	u, err := s.GetUser(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.Unauthorized("the user of this token no longer exists")
	}
	if err != nil {
		return nil, err
	}
	return meOut(u, p.SessionID), nil
}

func (s *Service) setup(r *http.Request) (any, error) {
	var req SetupRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Token == "" {
		return nil, httpapi.Invalid(httpapi.Field("token", "is required"))
	}
	u, err := s.Setup(r.Context(), req.Token, req.Email, req.Password)
	if err != nil {
		return nil, toAPIError(err)
	}
	return meOut(u, ""), nil
}

func (s *Service) jwks(w http.ResponseWriter, r *http.Request) {
	b, err := s.JWKS(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

var _ httpapi.Authenticator = (*Service)(nil)

// Routes returns the sign-in routes. s may be a zero Service when only the
// route table is wanted (the OpenAPI document).
func (s *Service) Routes() []httpapi.Route {
	unauth := []int{http.StatusUnauthorized}
	return []httpapi.Route{
		{Method: "POST", Path: "/auth/login", Tag: "auth", Public: true, Summary: "Sign in with email and password", Request: LoginRequest{}, Response: TokenPair{}, Errors: unauth, Handle: s.login},
		{Method: "POST", Path: "/auth/refresh", Tag: "auth", Public: true, Summary: "Trade a refresh token for new tokens (the refresh token rotates)", Request: RefreshRequest{}, Response: TokenPair{}, Errors: unauth, Handle: s.refresh},
		{Method: "POST", Path: "/auth/logout", Tag: "auth", Summary: "End the caller's session", Status: http.StatusNoContent, Handle: s.logout},
		{Method: "GET", Path: "/auth/me", Tag: "auth", Summary: "The signed-in user", Response: Me{}, Handle: s.me},
		{Method: "POST", Path: "/auth/setup", Tag: "auth", Public: true, Summary: "Create the first administrator with the one-time setup token", Request: SetupRequest{}, Response: Me{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}, Handle: s.setup},
		{Method: "GET", Path: "/.well-known/jwks.json", Tag: "auth", Public: true, Summary: "Public keys that verify access tokens (RFC 7517)", Response: JSONWebKeySet{}, Raw: http.HandlerFunc(s.jwks)},
	}
}
