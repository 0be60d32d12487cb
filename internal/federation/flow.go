package federation

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	// StateCookie binds a sign-in in progress to the browser.
	StateCookie = "hks_federation"
	// StateTTL is how long a sign-in may take at the provider.
	StateTTL = 10 * time.Minute
	// MFAPage is where a browser is sent when the user must answer a
	// second factor; the mfa_token travels in the URL fragment, which is
	// never sent to a server nor in a Referer.
	MFAPage = "/login/mfa"

	stateAD         = "hks federation state v1"
	stateCookiePath = "/auth/callback/"
	maxCookieLen    = 4096
	maxReturnTo     = 1024
)

// flowState is sealed into StateCookie.
type flowState struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
}

// Routes returns the federated sign-in routes (all public).
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/auth/providers", Tag: "auth", Public: true, Summary: "The federated sign-in providers",
			Response: api.List[api.ProviderInfo]{}, Handle: s.providers},
		{Method: "GET", Path: "/auth/login/{provider}", Tag: "auth", Public: true, Status: http.StatusFound,
			Summary: "Start signing in at a provider: redirects there (authorization code, PKCE S256, state, nonce)",
			Query:   []httpapi.Param{{Name: "return_to", Type: "string", Description: "path on this site to return to after sign-in (default /)"}},
			Errors:  []int{http.StatusBadGateway}, Handle: s.login},
		{Method: "GET", Path: "/auth/callback/{provider}", Tag: "auth", Public: true, Response: api.CallbackAnswer{},
			Summary: "Where the provider returns the browser: signs in and redirects to return_to with session cookies, or answers JSON when asked with Accept: application/json",
			Query: []httpapi.Param{{Name: "code", Type: "string", Description: "authorization code"}, {Name: "state", Type: "string", Description: "the state sent to the provider"},
				{Name: "error", Type: "string", Description: "the provider's error code"}},
			Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusBadGateway}, Handle: s.callback},
	}
}

func (s *Service) providers(*http.Request) (any, error) {
	out := make([]api.ProviderInfo, 0, len(s.order))
	for _, id := range s.order {
		p := s.provider[id]
		out = append(out, api.ProviderInfo{ID: id, Name: p.cfg.Name, Type: p.cfg.Type})
	}
	return httpapi.NewList(out, ""), nil
}

func (s *Service) lookup(r *http.Request) (*provider, error) {
	p, ok := s.provider[r.PathValue("provider")]
	if !ok {
		return nil, httpapi.NotFound("provider")
	}
	return p, nil
}

func (s *Service) login(r *http.Request) (any, error) {
	p, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	returnTo, err := parseReturnTo(r.URL.Query().Get("return_to"))
	if err != nil {
		return nil, err
	}
	oc := p.oauth
	if p.cfg.Type == config.ProviderOIDC {
		if _, oc, err = s.discover(r.Context(), p); err != nil {
			return nil, badGateway("the provider's discovery document could not be fetched; try again later", err)
		}
	}
	st := flowState{Provider: p.cfg.ID, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo, Expires: s.now().Add(StateTTL).Unix()}
	value, err := s.sealState(st)
	if err != nil {
		return nil, err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier)}
	if p.cfg.Type == config.ProviderOIDC {
		opts = append(opts, oidc.Nonce(st.Nonce))
	}
	h := http.Header{"Location": {oc.AuthCodeURL(st.State, opts...)}, "Cache-Control": {"no-store"}}
	h.Add("Set-Cookie", (&http.Cookie{Name: StateCookie, Value: value, Path: stateCookiePath, MaxAge: int(StateTTL / time.Second),
		HttpOnly: true, Secure: s.secure || r.TLS != nil, SameSite: http.SameSiteLaxMode}).String())
	return &httpapi.Response{Status: http.StatusFound, Header: h}, nil
}

// external is what a provider says about the user.
type external struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// outcome is what a callback learned, for its audit record.
type outcome struct {
	user   store.User
	email  string
	action string
}

func (s *Service) callback(r *http.Request) (any, error) {
	p, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	var o outcome
	v, err := s.signIn(r, p, &o)
	s.record(r, p, o, v, err)
	return v, err
}

// record writes the audit record of a callback; failing to write it is
// logged, never the client's problem.
func (s *Service) record(r *http.Request, p *provider, o outcome, v any, err error) {
	if s.audit == nil {
		return
	}
	rec := store.AuditRecord{ID: store.NewID(), Time: s.now().UTC().Truncate(time.Microsecond), ActorID: o.user.ID, ActorEmail: o.email,
		Action: o.action, Result: store.AuditSuccess, IP: httpapi.ClientIP(r.Context()), UserAgent: truncate(r.UserAgent(), 512),
		RequestID: httpapi.RequestID(r.Context()), Detail: p.method()}
	if o.user.ID != "" {
		rec.TargetType, rec.TargetID = "user", o.user.ID
		rec.ActorEmail = o.user.Email
	}
	if resp, ok := v.(*httpapi.Response); ok {
		rec.Status = resp.Status
	}
	if err != nil {
		e := asAPIError(err)
		rec.Action, rec.Result, rec.Status = "auth.login.failed", store.AuditFailure, e.Status
		rec.Detail = truncate(p.method()+": "+e.Type, 256)
	}
	if rec.Action == "" {
		rec.Action = "auth.login"
	}
	if aerr := s.audit.Append(context.WithoutCancel(r.Context()), rec); aerr != nil {
		httpapi.Logger(r.Context()).Error("audit federated sign-in", "error", aerr)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Service) signIn(r *http.Request, p *provider, o *outcome) (any, error) {
	secure := s.secure || r.TLS != nil
	clearState := (&http.Cookie{Name: StateCookie, Value: "", Path: stateCookiePath, MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}).String()
	// refuse answers e and ends the sign-in: its state cookie goes.
	refuse := func(e *httpapi.Error) error {
		c := *e
		c.Header = e.Header.Clone()
		if c.Header == nil {
			c.Header = http.Header{}
		}
		c.Header.Add("Set-Cookie", clearState)
		return &c
	}
	q := r.URL.Query()
	stateParam := q.Get("state")
	if stateParam == "" {
		return nil, refuse(httpapi.Invalid(httpapi.Field("state", "is required")))
	}
	st, err := s.openState(r, p.cfg.ID)
	if err != nil {
		return nil, refuse(asAPIError(err))
	}
	if subtle.ConstantTimeCompare([]byte(stateParam), []byte(st.State)) != 1 {
		return nil, refuse(stateError("the state does not match the sign-in this browser started; start the sign-in again", nil))
	}
	if e := q.Get("error"); e != "" {
		return nil, refuse(&httpapi.Error{Status: http.StatusUnauthorized, Type: "federation-denied", Title: "Sign-in refused by the provider",
			Detail: "the provider refused the sign-in: " + oauthErrorCode(e)})
	}
	code := q.Get("code")
	if code == "" {
		return nil, refuse(httpapi.Invalid(httpapi.Field("code", "is required")))
	}
	var ext external
	if p.cfg.Type == config.ProviderOIDC {
		ext, err = s.exchangeOIDC(r.Context(), p, code, st)
	} else {
		ext, err = s.exchangeGitHub(r.Context(), p, code, st)
	}
	if err != nil {
		return nil, refuse(asAPIError(err))
	}
	o.email = ext.Email
	u, err := s.link(r.Context(), p, ext)
	if err != nil {
		return nil, refuse(asAPIError(err))
	}
	meta := identity.ClientMeta{IP: httpapi.ClientIP(r.Context()), UserAgent: r.UserAgent()}
	o.user = u
	res, err := s.id.SignIn(r.Context(), u, meta, p.method())
	if err != nil {
		return nil, refuse(asAPIError(err))
	}
	if res.MFARequired {
		o.action = "auth.login.mfa_required"
	}
	s.log.InfoContext(r.Context(), "federated sign-in", "provider", p.cfg.ID, "user_id", u.ID, "mfa_required", res.MFARequired)
	h := http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
	h.Add("Set-Cookie", clearState)
	if wantsJSON(r) {
		a := api.CallbackAnswer{MFARequired: res.MFARequired, MFAToken: res.MFAToken}
		if res.Tokens != nil {
			a.AccessToken, a.RefreshToken, a.TokenType, a.ExpiresIn = res.Tokens.AccessToken, res.Tokens.RefreshToken, res.Tokens.TokenType, res.Tokens.ExpiresIn
		}
		return &httpapi.Response{Status: http.StatusOK, Header: h, Body: a}, nil
	}
	if res.MFARequired || res.Tokens == nil {
		h.Set("Location", MFAPage+"?return_to="+url.QueryEscape(st.ReturnTo)+"#mfa_token="+url.QueryEscape(res.MFAToken))
		return &httpapi.Response{Status: http.StatusSeeOther, Header: h}, nil
	}
	for _, c := range s.id.SessionCookies(*res.Tokens) {
		c.Secure = c.Secure || secure // the rule of the state cookie (and of HSTS)
		h.Add("Set-Cookie", c.String())
	}
	h.Set("Location", st.ReturnTo)
	return &httpapi.Response{Status: http.StatusSeeOther, Header: h}, nil
}

func (s *Service) exchangeOIDC(ctx context.Context, p *provider, code string, st flowState) (external, error) {
	verifier, oc, err := s.discover(ctx, p)
	if err != nil {
		return external{}, badGateway("the provider's discovery document could not be fetched; try again later", err)
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.client), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return external{}, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return external{}, badGateway("the provider answered without an ID token", nil)
	}
	idt, err := verifier.Verify(oidc.ClientContext(ctx, s.client), raw)
	if err != nil {
		detail := "the provider's ID token failed verification (signature, issuer or audience)"
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			detail = "the provider's ID token has expired"
		}
		return external{}, &httpapi.Error{Status: http.StatusUnauthorized, Type: "federation-invalid-token", Title: "Invalid ID token", Detail: detail, Cause: err}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return external{}, &httpapi.Error{Status: http.StatusUnauthorized, Type: "federation-invalid-token", Title: "Invalid ID token",
			Detail: "the ID token's nonce does not match this sign-in"}
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return external{}, badGateway("the provider's ID token claims could not be read", err)
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	return external{Subject: idt.Subject, Email: claims.Email, EmailVerified: verified}, nil
}

// link finds or creates the user of ext.
func (s *Service) link(ctx context.Context, p *provider, ext external) (store.User, error) {
	if ext.Subject == "" || len(ext.Subject) > 255 {
		return store.User{}, badGateway("the provider did not identify the user", nil)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	u, ok, err := s.linked(ctx, p, ext, now)
	switch {
	case errors.Is(err, errStaleLink):
		// The linked user is gone (deleted while signing in, or a link
		// left behind): this is a first sign-in. Should the link still
		// be there, creating or linking meets it and refuses (409).
		s.log.WarnContext(ctx, "federated identity linked to a deleted user: treated as not linked", "provider", p.cfg.ID)
	case ok || err != nil:
		return u, err
	}
	if ext.Email == "" || !ext.EmailVerified {
		return store.User{}, &httpapi.Error{Status: http.StatusForbidden, Type: "federation-unverified-email", Title: "Email not verified",
			Detail: "the provider did not report a verified email address for this account; verify it there and sign in again"}
	}
	fi := store.FederatedIdentity{Provider: p.cfg.ID, Subject: ext.Subject, Email: ext.Email, CreatedAt: now, LastLoginAt: now}
	if p.cfg.LinkByVerifiedEmail {
		u, err := s.st.GetUserByEmail(ctx, ext.Email)
		if err == nil {
			fi.UserID = u.ID
			if err := s.st.CreateFederatedIdentity(ctx, fi); err != nil && !errors.Is(err, store.ErrConflict) {
				return store.User{}, err
			}
			if u2, ok, err := s.linked(ctx, p, ext, now); ok || err != nil {
				s.log.InfoContext(ctx, "federated identity linked by verified email", "provider", p.cfg.ID, "user_id", u2.ID)
				return u2, err
			}
			return store.User{}, fmt.Errorf("link %s identity: vanished after linking", p.cfg.ID)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
	}
	u, err = s.id.CreateFederatedUser(ctx, ext.Email, fi)
	var fe *identity.FieldError
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &fe):
		return store.User{}, &httpapi.Error{Status: http.StatusForbidden, Type: "federation-unusable-email", Title: "Unusable email",
			Detail: "the provider's email address for this account cannot be used here", Cause: err}
	case errors.Is(err, store.ErrConflict):
		// A concurrent first sign-in of the same identity won the race.
		if u, ok, lerr := s.linked(ctx, p, ext, now); ok || lerr != nil {
			return u, lerr
		}
		return store.User{}, &httpapi.Error{Status: http.StatusConflict, Type: "federation-email-taken", Title: "Account exists",
			Detail: "an account with this email exists already; sign in to it another way (this provider does not link accounts by email)", Cause: err}
	}
	return store.User{}, err
}

// errStaleLink is the cause of the refusal of an identity whose link
// names a user that no longer exists.
var errStaleLink = errors.New("federated identity linked to a deleted user")

func staleLinkError() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusConflict, Type: "federation-stale-link", Title: "Linked account deleted",
		Detail: "this provider account is linked to an account that has been deleted; ask an administrator to remove the link, then sign in again",
		Cause:  errStaleLink}
}

// linked returns the user already linked to ext, if any. A link to a user
// that no longer exists is refused with a 409 problem (errors.Is
// errStaleLink).
func (s *Service) linked(ctx context.Context, p *provider, ext external, now time.Time) (store.User, bool, error) {
	fi, err := s.st.GetFederatedIdentity(ctx, p.cfg.ID, ext.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	u, err := s.st.GetUser(ctx, fi.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, staleLinkError()
	}
	if err != nil {
		return store.User{}, false, err
	}
	if err := s.st.TouchFederatedIdentity(ctx, p.cfg.ID, ext.Subject, ext.Email, now); err != nil {
		s.log.WarnContext(ctx, "record federated sign-in", "provider", p.cfg.ID, "err", err)
	}
	return u, true, nil
}

// State cookie.

func (s *Service) sealState(st flowState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal(b, []byte(stateAD))
	if err != nil {
		return "", fmt.Errorf("seal sign-in state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Service) openState(r *http.Request, providerID string) (flowState, error) {
	c, err := r.Cookie(StateCookie)
	if err != nil || c.Value == "" {
		return flowState{}, stateError("the sign-in cookie is missing or expired: start the sign-in again in this browser (cookies must be enabled)", err)
	}
	if len(c.Value) > maxCookieLen {
		return flowState{}, stateError("the sign-in cookie is invalid; start the sign-in again", nil)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return flowState{}, stateError("the sign-in cookie is invalid; start the sign-in again", err)
	}
	b, err := s.sealer.Open(raw, []byte(stateAD))
	if err != nil {
		return flowState{}, stateError("the sign-in cookie is invalid; start the sign-in again", err)
	}
	var st flowState
	if err := json.Unmarshal(b, &st); err != nil {
		return flowState{}, stateError("the sign-in cookie is invalid; start the sign-in again", err)
	}
	if s.now().Unix() > st.Expires {
		return flowState{}, stateError("the sign-in took too long; start it again", nil)
	}
	if st.Provider != providerID {
		return flowState{}, stateError("the sign-in this browser started is for another provider; start the sign-in again", nil)
	}
	return st, nil
}

func stateError(detail string, cause error) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusBadRequest, Type: "federation-state", Title: "Invalid sign-in state", Detail: detail, Cause: cause}
}

func badGateway(detail string, cause error) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusBadGateway, Type: "federation-provider", Title: "Provider unavailable", Detail: detail, Cause: cause}
}

// exchangeError maps a failed code exchange: a refusal by the provider
// (replayed code, wrong PKCE verifier) is the client's 401; anything else
// is the provider's fault.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return &httpapi.Error{Status: http.StatusUnauthorized, Type: "federation-denied", Title: "Sign-in refused by the provider",
			Detail: "the provider refused the authorization code (" + oauthErrorCode(re.ErrorCode) + "); start the sign-in again", Cause: err}
	}
	return badGateway("the provider's token endpoint failed; try again later", err)
}

func asAPIError(err error) *httpapi.Error {
	var e *httpapi.Error
	if errors.As(err, &e) {
		return e
	}
	return &httpapi.Error{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal server error",
		Detail: "an internal error occurred; quote the request id when reporting it", Cause: err}
}

var oauthCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// oauthErrorCode echoes an OAuth error code only if it looks like one.
func oauthErrorCode(c string) string {
	if oauthCode.MatchString(c) {
		return c
	}
	return "unrecognized error"
}

// parseReturnTo accepts only a path on this site.
func parseReturnTo(s string) (string, error) {
	if s == "" {
		return "/", nil
	}
	bad := httpapi.Invalid(httpapi.Field("return_to", "must be a path on this site, such as /dashboard"))
	if len(s) > maxReturnTo || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") {
		return "", bad
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return "", bad
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", bad
	}
	return s, nil
}

func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			return true
		}
	}
	return false
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
