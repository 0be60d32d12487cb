package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/audit"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func meOut(u store.User, sid string) api.Me {
	return api.Me{ID: u.ID, Email: u.Email, PlatformAdmin: u.PlatformAdmin, SessionID: sid, CreatedAt: u.CreatedAt}
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
	var tooMany *TooManyAttemptsError
	switch {
	case errors.As(err, &fe):
		return httpapi.Invalid(httpapi.Field(fe.Field, fe.Message))
	case errors.As(err, &tooMany):
		msg := "too many failed sign-ins from this address or device: sign-in is locked"
		if tooMany.Queued {
			msg = QueuedMessage
		}
		e := httpapi.TooManyRequests(tooMany.RetryAfter, lockedFor(msg, tooMany.RetryAfter))
		e.Cause = err
		return e
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
	return ClientMeta{IP: httpapi.ClientIP(r.Context()), UserAgent: r.UserAgent(), DeviceTokens: RequestDeviceTokens(r)}
}

func (s *Service) login(r *http.Request) (any, error) {
	var req api.LoginRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	var fes []api.FieldError
	if req.Email == "" {
		fes = append(fes, httpapi.Field("email", "is required"))
	}
	if req.Password == "" {
		fes = append(fes, httpapi.Field("password", "is required"))
	}
	if fe := checkSession(req.Session); fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return nil, httpapi.Invalid(fes...)
	}
	if req.Session == api.SessionCookie {
		if err := httpapi.CheckBrowserSignIn(r); err != nil {
			return nil, err
		}
	}
	audit.SetActor(r.Context(), "", req.Email)
	m := meta(r)
	if req.DeviceToken != "" {
		m.DeviceTokens = append([]string{req.DeviceToken}, m.DeviceTokens...)
	}
	res, err := s.PasswordSignIn(r.Context(), req.Email, req.Password, m)
	if err != nil {
		return nil, toAPIError(err)
	}
	if u, err := s.st.GetUserByEmail(r.Context(), req.Email); err == nil {
		audit.SetActor(r.Context(), u.ID, u.Email)
	}
	if res.MFARequired {
		audit.SetAction(r.Context(), "auth.login.mfa_required")
	}
	return s.signInAnswer(res, req.Session), nil
}

// checkSession checks the session field of a sign-in request.
func checkSession(v string) *api.FieldError {
	if v != "" && v != api.SessionCookie {
		fe := httpapi.Field("session", `must be "cookie" or left out`)
		return &fe
	}
	return nil
}

// signInAnswer is the answer of a sign-in step, not to be cached, with
// the device token (after a completed sign-in) also as a cookie. For a
// browser session (session "cookie") the tokens are set as the session's
// HttpOnly cookies and left out of the body, so that no script of the
// page ever holds them.
func (s *Service) signInAnswer(res SignInResult, session string) *httpapi.Response {
	h := http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
	if res.DeviceToken != "" {
		h.Add("Set-Cookie", s.DeviceTokenCookie(res.DeviceToken).String())
	}
	body := loginResponse(res)
	if session == api.SessionCookie && res.Tokens != nil {
		for _, c := range s.SessionCookies(*res.Tokens) {
			h.Add("Set-Cookie", c.String())
		}
		body.AccessToken, body.RefreshToken = "", ""
	}
	return &httpapi.Response{Body: body, Header: h}
}

func (s *Service) refresh(r *http.Request) (any, error) {
	var req api.RefreshRequest
	// A browser sends no body: its refresh token is the RefreshCookie
	// (the CSRF middleware has checked the double-submit token).
	browser := false
	if c, err := r.Cookie(RefreshCookie); err == nil && c.Value != "" && r.ContentLength == 0 {
		req.RefreshToken, browser = c.Value, true
	} else if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.RefreshToken == "" {
		return nil, httpapi.Invalid(httpapi.Field("refresh_token", "is required"))
	}
	tp, err := s.Refresh(r.Context(), req.RefreshToken, meta(r))
	if err != nil {
		return nil, toAPIError(err)
	}
	if c, err := s.Verify(r.Context(), tp.AccessToken); err == nil {
		audit.SetActor(r.Context(), c.UserID, c.Email)
	}
	if browser {
		resp := noStore(api.TokenPair{TokenType: tp.TokenType, ExpiresIn: tp.ExpiresIn}) // tokens stay in HttpOnly cookies
		for _, c := range s.SessionCookies(tp) {
			resp.Header.Add("Set-Cookie", c.String())
		}
		return resp, nil
	}
	return noStore(tp), nil
}

// SessionCookies are the cookies of a browser session holding tp: the
// access and refresh tokens (HttpOnly) and a fresh CSRF double-submit
// token (readable by the page, which echoes it in CSRFHeader). They are
// Secure when the issuer (the external URL) is https, the rule of
// httpapi.IsHTTPSURL that also decides HSTS.
func (s *Service) SessionCookies(tp api.TokenPair) []*http.Cookie {
	secure := httpapi.IsHTTPSURL(s.issuer)
	var b [32]byte
	_, _ = rand.Read(b[:])
	return []*http.Cookie{
		{Name: AccessCookie, Value: tp.AccessToken, Path: "/", MaxAge: tp.ExpiresIn, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode},
		{Name: RefreshCookie, Value: tp.RefreshToken, Path: "/auth", MaxAge: int(s.refreshTTL / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode},
		{Name: CSRFCookie, Value: base64.RawURLEncoding.EncodeToString(b[:]), Path: "/", MaxAge: int(s.refreshTTL / time.Second), Secure: secure, SameSite: http.SameSiteLaxMode},
	}
}

// clearSessionCookies expire the browser session's cookies.
func (s *Service) clearSessionCookies() http.Header {
	secure := httpapi.IsHTTPSURL(s.issuer)
	h := http.Header{}
	for _, c := range []*http.Cookie{
		{Name: AccessCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode},
		{Name: RefreshCookie, Path: "/auth", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode},
		{Name: CSRFCookie, Path: "/", MaxAge: -1, Secure: secure, SameSite: http.SameSiteLaxMode},
	} {
		h.Add("Set-Cookie", c.String())
	}
	return h
}

// noStore keeps token answers out of caches (RFC 6749 §5.1).
func noStore(tp api.TokenPair) *httpapi.Response {
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
	if _, err := r.Cookie(RefreshCookie); p.ByCookie || err == nil {
		return &httpapi.Response{Status: http.StatusNoContent, Header: s.clearSessionCookies()}, nil
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
	var req api.SetupRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Token == "" {
		return nil, httpapi.Invalid(httpapi.Field("token", "is required"))
	}
	audit.SetActor(r.Context(), "", req.Email)
	u, err := s.Setup(r.Context(), req.Token, req.Email, req.Password)
	if err != nil {
		return nil, toAPIError(err)
	}
	audit.SetActor(r.Context(), u.ID, u.Email)
	audit.SetTarget(r.Context(), "user", u.ID)
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
	// A cookie sign-in (session "cookie") that is not JSON from this site
	// is refused (httpapi.CheckBrowserSignIn).
	browserSignIn := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnsupportedMediaType}
	return []httpapi.Route{
		{Method: "POST", Path: "/auth/login", Tag: "auth", Public: true, Summary: "Sign in with email and password; a user with 2FA gets mfa_required and an mfa_token for POST /auth/login/mfa", Request: api.LoginRequest{}, Response: api.LoginResponse{}, Errors: browserSignIn, Handle: s.login},
		{Method: "POST", Path: "/auth/refresh", Tag: "auth", Public: true, Summary: "Trade a refresh token for new tokens (the refresh token rotates)", Request: api.RefreshRequest{}, Response: api.TokenPair{}, Errors: unauth, Handle: s.refresh},
		{Method: "POST", Path: "/auth/logout", Tag: "auth", Summary: "End the caller's session", Status: http.StatusNoContent, Handle: s.logout},
		{Method: "GET", Path: "/auth/me", Tag: "auth", Summary: "The signed-in user", Response: api.Me{}, Handle: s.me},
		{Method: "POST", Path: "/auth/setup", Tag: "auth", Public: true, Summary: "Create the first administrator with the one-time setup token", Request: api.SetupRequest{}, Response: api.Me{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}, Handle: s.setup},
		{Method: "GET", Path: "/.well-known/jwks.json", Tag: "auth", Public: true, Summary: "Public keys that verify access tokens (RFC 7517)", Response: api.JSONWebKeySet{}, Raw: http.HandlerFunc(s.jwks)},
	}
}

// lockedFor is what a locked-out client is told: what and for how long
// (the seconds of Retry-After, which a person does not see).
func lockedFor(what string, d time.Duration) string {
	return fmt.Sprintf("%s; try again in %d s", what, httpapi.RetryAfterSeconds(d))
}
