package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Workspace token lifetimes.
const (
	DefaultTokenTTL = 10 * time.Minute
	MaxTokenTTL     = 15 * time.Minute
)

// Paths of the endpoints the discovery document names. The authorization
// and device endpoints are reserved for the CLI sign-in grants.
const (
	DiscoveryPath           = "/.well-known/openid-configuration"
	JWKSPath                = "/.well-known/jwks.json"
	TokenPath               = "/auth/token"
	AuthorizationPath       = "/auth/authorize"
	DeviceAuthorizationPath = "/auth/device/code"
)

// ErrNotFound: the workspace does not exist, is in another organization, or
// is not visible to the user. Deliberately not more specific.
var ErrNotFound = errors.New("workspace not found")

// ErrMFARequired: the workspace's organization requires two-factor
// authentication and the user has not enabled it (identity's policy).
var ErrMFARequired = identity.ErrOrgMFARequired

// Identity is what the issuer needs of the identity service; it is
// implemented by *identity.Service.
type Identity interface {
	Issuer() string
	AccessTTL() time.Duration
	SignJWT(ctx context.Context, claims jwt.Claims) (string, error)
	Verify(ctx context.Context, accessToken string) (identity.Claims, error)
	VerifyIssued(ctx context.Context, token, issuer string, claims jwt.Claims) error
	CheckSession(ctx context.Context, sessionID, userID string) error
	CheckOrgMFA(ctx context.Context, userID, orgID string) error
}

var _ Identity = (*identity.Service)(nil)

// Access answers who may see a workspace; *authz.Authorizer implements it.
type Access interface {
	OrgRole(ctx context.Context, userID, orgID string) (string, error)
	Workspace(ctx context.Context, userID, orgRole string, ws store.Workspace) (authz.WorkspaceAccess, error)
}

var _ Access = (*authz.Authorizer)(nil)

// Config carries the Service's dependencies. All but TokenTTL and
// WorkspaceIssuer are required.
type Config struct {
	Identity Identity
	Access   Access
	Store    store.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// TokenTTL is the lifetime of workspace tokens (10m, at most 15m). It
	// is capped at the identity's AccessTTL, for which JWKS keeps serving
	// a key after rotation.
	TokenTTL time.Duration
	// WorkspaceIssuer is the iss of workspace ID tokens and the issuer of
	// the discovery document that workspace API servers read
	// (WorkspaceDiscovery): an http(s) URL without a path or a trailing
	// slash. Empty: Identity.Issuer(). It differs from the platform's
	// issuer when that is plain http, which Kubernetes does not trust.
	WorkspaceIssuer string
}

// Service issues workspace tokens and serves the issuer's endpoints.
type Service struct {
	id     Identity
	access Access
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	ttl    time.Duration
	wsIss  string

	mu     sync.RWMutex
	grants map[string]Grant
}

// New returns a Service with the token-exchange grant registered.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("issuer", cfg, "Identity", "Access", "Store", "Logger", "Now"); err != nil {
		return nil, err
	}
	switch {
	case cfg.TokenTTL < 0 || cfg.TokenTTL > MaxTokenTTL:
		return nil, fmt.Errorf("issuer: TokenTTL must be from 0 (default) to %s", MaxTokenTTL)
	}
	if cfg.WorkspaceIssuer == "" {
		cfg.WorkspaceIssuer = cfg.Identity.Issuer()
	} else if u, err := url.Parse(cfg.WorkspaceIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(cfg.WorkspaceIssuer, "/") {
		return nil, fmt.Errorf("issuer: WorkspaceIssuer %q must be an http(s) URL without a path", cfg.WorkspaceIssuer)
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if a := cfg.Identity.AccessTTL(); cfg.TokenTTL > a {
		cfg.TokenTTL = a
	}
	s := &Service{id: cfg.Identity, access: cfg.Access, st: cfg.Store, log: cfg.Logger, now: cfg.Now, ttl: cfg.TokenTTL,
		wsIss: cfg.WorkspaceIssuer, grants: map[string]Grant{}}
	if err := s.RegisterGrant(GrantTokenExchange, s.tokenExchange); err != nil {
		return nil, err
	}
	return s, nil
}

// TokenTTL is the lifetime of workspace tokens.
func (s *Service) TokenTTL() time.Duration { return s.ttl }

// WorkspaceIssuer is the iss of workspace ID tokens (Config.WorkspaceIssuer).
func (s *Service) WorkspaceIssuer() string { return s.wsIss }

// Discovery returns the platform's discovery document (served at
// DiscoveryPath of the external URL); grant_types_supported lists the
// grants registered on the token endpoint.
func (s *Service) Discovery() api.Discovery { return s.discoveryFor(s.id.Issuer()) }

// WorkspaceDiscovery is the discovery document of the workspace issuer,
// which workspace API servers fetch from WorkspaceIssuer()+DiscoveryPath.
// It equals Discovery() when the two issuers are the same.
func (s *Service) WorkspaceDiscovery() api.Discovery { return s.discoveryFor(s.wsIss) }

// discoveryFor is the discovery document as served under iss: issuer and
// jwks_uri name iss (an OIDC client requires the issuer to be the URL it
// fetched the document from, and the keys are served beside it), while the
// authorization, device and token endpoints stay on the platform's own
// URL, the only place that serves them.
func (s *Service) discoveryFor(iss string) api.Discovery {
	main := s.id.Issuer()
	return api.Discovery{
		Issuer:                            iss,
		AuthorizationEndpoint:             main + AuthorizationPath,
		TokenEndpoint:                     main + TokenPath,
		DeviceAuthorizationEndpoint:       main + DeviceAuthorizationPath,
		JWKSURI:                           iss + JWKSPath,
		ResponseTypesSupported:            []string{"code"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		GrantTypesSupported:               s.grantTypes(),
		ScopesSupported:                   []string{"openid", "email", "groups", "offline_access"},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "email", "groups"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
	}
}

// WorkspaceClaims are the claims of a workspace ID token.
type WorkspaceClaims struct {
	jwt.RegisteredClaims
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
	AuthTime int64    `json:"auth_time"`
	// OrgID is the workspace's organization (informational).
	OrgID string `json:"org_id"`
	// SessionID (sid) is the platform session the token was issued in:
	// the gateway refuses the token once that session has ended. The
	// workspace API server ignores it.
	SessionID string `json:"sid,omitempty"`
}

// For reports whether the token is for workspace wsID alone.
func (c WorkspaceClaims) For(wsID string) bool {
	return wsID != "" && len(c.Audience) == 1 && c.Audience[0] == wsID
}

// Subject is who a workspace token is for: a verified access token.
type Subject struct {
	UserID    string
	Email     string
	SessionID string
}

// WorkspaceToken issues a token for sub in workspace wsID. orgID, if not
// "", must be the workspace's organization. A workspace that does not
// exist, is in another organization, is deleted, or that sub cannot see is
// ErrNotFound.
func (s *Service) WorkspaceToken(ctx context.Context, sub Subject, orgID, wsID string) (api.WorkspaceToken, error) {
	ws, err := s.st.GetWorkspace(ctx, wsID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.WorkspaceToken{}, ErrNotFound
	case err != nil:
		return api.WorkspaceToken{}, fmt.Errorf("workspace token: %w", err)
	case orgID != "" && ws.OrgID != orgID, ws.Status == store.WorkspaceDeleted:
		return api.WorkspaceToken{}, ErrNotFound
	}
	role, err := s.access.OrgRole(ctx, sub.UserID, ws.OrgID)
	if errors.Is(err, authz.ErrNotMember) {
		return api.WorkspaceToken{}, ErrNotFound
	}
	if err != nil {
		return api.WorkspaceToken{}, fmt.Errorf("workspace token: %w", err)
	}
	if err := s.checkOrgMFA(ctx, sub.UserID, ws.OrgID); err != nil {
		return api.WorkspaceToken{}, err
	}
	acc, err := s.access.Workspace(ctx, sub.UserID, role, ws)
	if err != nil {
		return api.WorkspaceToken{}, fmt.Errorf("workspace token: %w", err)
	}
	if !acc.Visible() {
		return api.WorkspaceToken{}, ErrNotFound
	}
	projects, err := store.AllProjects(ctx, s.st, ws.ID)
	if err != nil {
		return api.WorkspaceToken{}, err
	}
	authTime := s.now()
	if sess, err := s.st.GetSession(ctx, sub.SessionID); err == nil {
		authTime = sess.CreatedAt
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.WorkspaceToken{}, fmt.Errorf("workspace token: %w", err)
	}
	iat := s.now().UTC().Truncate(time.Second)
	exp := iat.Add(s.ttl)
	c := WorkspaceClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.wsIss,
			Subject:   sub.UserID,
			Audience:  jwt.ClaimStrings{ws.ID},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        uuid.NewString(),
		},
		Email:     sub.Email,
		Groups:    WorkspaceGroups(acc, projects),
		AuthTime:  authTime.Unix(),
		OrgID:     ws.OrgID,
		SessionID: sub.SessionID,
	}
	tok, err := s.id.SignJWT(ctx, c)
	if err != nil {
		return api.WorkspaceToken{}, fmt.Errorf("workspace token: %w", err)
	}
	s.log.InfoContext(ctx, "issued workspace token", "user_id", sub.UserID, "workspace_id", ws.ID, "org_id", ws.OrgID, "jti", c.ID, "groups", len(c.Groups))
	return api.WorkspaceToken{Token: tok, ExpiresAt: exp}, nil
}

// grantTypes lists the registered grant types, sorted.
func (s *Service) grantTypes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.grants))
	for g := range s.grants {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// checkOrgMFA refuses users without two-factor authentication when the
// organization requires it, on every path to a workspace token (the API
// route and the token endpoint alike).
func (s *Service) checkOrgMFA(ctx context.Context, userID, orgID string) error {
	if err := s.id.CheckOrgMFA(ctx, userID, orgID); err != nil {
		return fmt.Errorf("workspace token: %w", err)
	}
	return nil
}

// VerifyWorkspaceToken checks a workspace token as the gateway must before
// it forwards anything: signed by the platform's keys (RS256, a known
// kid), iss the workspace issuer, not expired, aud one workspace (never
// the platform's own audience: access tokens are refused), sub and sid
// present and that session alive. Which workspace it is for is the
// caller's to compare (WorkspaceClaims.For). Every failure matches
// identity.ErrInvalidToken; other errors are store failures.
func (s *Service) VerifyWorkspaceToken(ctx context.Context, token string) (WorkspaceClaims, error) {
	var c WorkspaceClaims
	if err := s.id.VerifyIssued(ctx, token, s.wsIss, &c); err != nil {
		return WorkspaceClaims{}, err
	}
	if len(c.Audience) != 1 || c.Subject == "" || c.SessionID == "" {
		return WorkspaceClaims{}, fmt.Errorf("%w: not a workspace token (one aud, sub and sid required)", identity.ErrInvalidToken)
	}
	if err := s.id.CheckSession(ctx, c.SessionID, c.Subject); err != nil {
		return WorkspaceClaims{}, err
	}
	return c, nil
}
