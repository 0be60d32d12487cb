package oauthserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/every"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Lifetimes and limits.
const (
	CodeTTL         = 60 * time.Second // authorization codes
	DeviceCodeTTL   = 10 * time.Minute // device authorizations
	DeviceInterval  = 5                // seconds between device token polls
	FormTTL         = 10 * time.Minute // CSRF cookie of the sign-in pages
	MaxUserCodeTry  = 10               // wrong user codes per client IP and window
	userCodeWindow  = 10 * time.Minute // window of MaxUserCodeTry
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// Identity is what the authorization server needs of the identity service;
// *identity.Service implements it.
type Identity interface {
	Issuer() string
	// PasswordSignIn runs under the platform's sign-in lockout (shared
	// with POST /auth/login): a locked key is ErrTooManyAttempts. A
	// completed sign-in (PasswordSignIn without a second factor, or
	// CompleteMFASignIn) gives the browser a device token, set with
	// DeviceTokenCookie and presented in meta at its next sign-ins.
	PasswordSignIn(ctx context.Context, email, password string, meta identity.ClientMeta) (identity.SignInResult, error)
	DeviceTokenCookie(token string) *http.Cookie
	CompleteMFASignIn(ctx context.Context, mfaToken, code string, meta identity.ClientMeta) (identity.SignInResult, error)
	StartSession(ctx context.Context, u store.User, meta identity.ClientMeta) (api.TokenPair, error)
	Refresh(ctx context.Context, refreshToken string, meta identity.ClientMeta) (api.TokenPair, error)
	Verify(ctx context.Context, accessToken string) (identity.Claims, error)
	Logout(ctx context.Context, sessionID string) error
}

var _ Identity = (*identity.Service)(nil)

// Grants is the token endpoint the grants are registered on;
// *issuer.Service implements it.
type Grants interface {
	RegisterGrant(grantType string, g issuer.Grant) error
}

var _ Grants = (*issuer.Service)(nil)

// Provider is a federated sign-in provider linked from the sign-in page.
type Provider struct {
	ID   string
	Name string
}

// Config carries the Service's dependencies. Providers are optional.
type Config struct {
	Store    store.Store
	Identity Identity
	Grants   Grants
	// Sealer authenticates and encrypts the CSRF cookie of the pages.
	Sealer    identity.Sealer
	Logger    *slog.Logger
	Now       func() time.Time
	Providers []Provider
}

// Service is the authorization server. It is safe for concurrent use.
type Service struct {
	st        store.Store
	id        Identity
	sealer    identity.Sealer
	log       *slog.Logger
	now       func() time.Time
	providers []Provider
	secure    bool

	mu    sync.Mutex
	tries map[string]*tryCount // wrong user codes by client IP
}

type tryCount struct {
	n     int
	start time.Time
}

// New returns a Service and registers its grants on cfg.Grants.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("oauthserver", cfg, "Store", "Identity", "Grants", "Sealer", "Logger", "Now"); err != nil {
		return nil, err
	}
	s := &Service{st: cfg.Store, id: cfg.Identity, sealer: cfg.Sealer, log: cfg.Logger, now: cfg.Now,
		providers: cfg.Providers, secure: httpapi.IsHTTPSURL(cfg.Identity.Issuer()), tries: map[string]*tryCount{}}
	for gt, g := range map[string]issuer.Grant{
		"authorization_code": s.authorizationCodeGrant,
		"refresh_token":      s.refreshGrant,
		GrantDeviceCode:      s.deviceCodeGrant,
	} {
		if err := cfg.Grants.RegisterGrant(gt, g); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// clock is the current time in UTC at the store's precision.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Sweep deletes codes that expired more than ConsentTTL ago (a spent
// code stays until no consent form that carries it can be answered);
// run it periodically.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	return s.st.DeleteExpiredOAuthCodes(ctx, s.clock().Add(-ConsentTTL))
}

// RunSweeper sweeps expired codes every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	return every.Do(ctx, interval, func(ctx context.Context) {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep oauth codes", "err", err)
		}
	})
}

func meta(r *http.Request) identity.ClientMeta {
	return identity.ClientMeta{IP: httpapi.ClientIP(r.Context()), UserAgent: r.UserAgent(), DeviceTokens: identity.RequestDeviceTokens(r)}
}

// newSecret returns 32 random bytes, base64url.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashSecret is how codes are stored.
func hashSecret(kind, s string) string {
	sum := sha256.Sum256([]byte("hks:" + kind + ":" + s))
	return hex.EncodeToString(sum[:])
}

// s256 is the PKCE S256 transform of a verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signedIn returns the claims of the browser's platform session cookie,
// if it carries a valid one.
func (s *Service) signedIn(r *http.Request) (identity.Claims, bool) {
	c, err := r.Cookie(identity.AccessCookie)
	if err != nil || c.Value == "" {
		return identity.Claims{}, false
	}
	cl, err := s.id.Verify(r.Context(), c.Value)
	if err != nil {
		return identity.Claims{}, false
	}
	return cl, true
}

// Routes returns the authorization server's routes. s may be a zero
// Service when only the route table is wanted (the OpenAPI document).
func (s *Service) Routes() []httpapi.Route {
	authorizeQuery := []httpapi.Param{
		{Name: "response_type", Type: "string", Description: "code"},
		{Name: "client_id", Type: "string", Description: CLIClientID},
		{Name: "redirect_uri", Type: "string", Description: "a loopback URI: http://127.0.0.1:PORT/path or http://localhost:PORT/path"},
		{Name: "code_challenge", Type: "string", Description: "PKCE: base64url SHA-256 of the code verifier"},
		{Name: "code_challenge_method", Type: "string", Description: "S256"},
		{Name: "state", Type: "string", Description: "opaque value returned with the code"},
		{Name: "scope", Type: "string", Description: "space-separated: openid email groups offline_access"},
	}
	return []httpapi.Route{
		{Method: "GET", Path: issuer.AuthorizationPath, Tag: "auth", Public: true, ContentType: "text/html",
			Summary: "OAuth 2.0 authorization endpoint for the CLI (code + PKCE S256, loopback redirect): a sign-in page, or, when the browser is signed in, a page asking to allow or deny the sign-in",
			Query:   authorizeQuery, Errors: []int{http.StatusForbidden}, Raw: http.HandlerFunc(s.authorize)},
		{Method: "POST", Path: issuer.AuthorizationPath, Tag: "auth", Public: true, ContentType: "text/html", Action: "auth.authorize",
			Summary: "The form of the authorization page (form fields: the authorization parameters, csrf, and email and password, mfa_token and code, or decision=allow|deny with the consent field of the page for a signed-in browser: the page's request, session and a single answer are bound to it)",
			Errors:  []int{http.StatusForbidden, http.StatusConflict}, Raw: http.HandlerFunc(s.authorizePost)},
		{Method: "POST", Path: issuer.DeviceAuthorizationPath, Tag: "auth", Public: true, Action: "auth.device.code",
			Summary: "OAuth 2.0 device authorization (RFC 8628; form field client_id): a device code to poll the token endpoint with and a user code to enter at verification_uri",
			Request: api.DeviceCodeRequest{}, Response: api.DeviceAuthorization{}, Handle: s.deviceCode},
		{Method: "POST", Path: DeviceTokenPath, Tag: "auth", Public: true, Action: "auth.device.token",
			Summary: "Poll for the tokens of a device code (form fields client_id, device_code); the same as /auth/token with grant_type " + GrantDeviceCode + "; errors as RFC 8628 §3.5",
			Request: api.DeviceTokenRequest{}, Response: api.TokenPair{}, Errors: []int{http.StatusUnsupportedMediaType}, Handle: s.deviceToken},
		{Method: "GET", Path: DevicePath, Tag: "auth", Public: true, ContentType: "text/html",
			Summary: "The device verification page: enter the user code, sign in, approve or deny",
			Query:   []httpapi.Param{{Name: "user_code", Type: "string", Description: "the code the device shows, such as WDJB-MJHT"}},
			Errors:  []int{http.StatusTooManyRequests}, Raw: http.HandlerFunc(s.devicePage)},
		{Method: "POST", Path: DevicePath, Tag: "auth", Public: true, ContentType: "text/html", Action: "auth.device.decide",
			Summary: "The form of the device verification page (fields: user_code, csrf, decision=approve|deny, email and password or mfa_token and code)",
			Errors:  []int{http.StatusForbidden, http.StatusTooManyRequests}, Raw: http.HandlerFunc(s.devicePost)},
	}
}
