package federation

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Identity is what federation needs of the identity service.
type Identity interface {
	SignIn(ctx context.Context, u store.User, meta identity.ClientMeta, method string) (identity.SignInResult, error)
	CreateFederatedUser(ctx context.Context, email string, link store.FederatedIdentity) (store.User, error)
	// SessionCookies are a browser session's cookies (access, refresh
	// and CSRF double-submit token).
	SessionCookies(tp api.TokenPair) []*http.Cookie
}

var _ Identity = (*identity.Service)(nil)

// Store is the part of the store federation uses.
type Store interface {
	store.FederationStore
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
}

// Auditor records security events; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord) error
}

// Config carries the Service's dependencies. Store, Identity, Sealer,
// Logger, Now and BaseURL are required.
type Config struct {
	Store    Store
	Identity Identity
	// Sealer seals the sign-in state cookie (AES-256-GCM under the master
	// key, with associated data naming this purpose).
	Sealer identity.Sealer
	Logger *slog.Logger
	Now    func() time.Time
	// BaseURL is the platform's external URL; a provider redirects back
	// to BaseURL + "/auth/callback/{id}". An https BaseURL makes every
	// cookie Secure.
	BaseURL string
	// Providers are validated configurations (config.Config.Validate
	// fills their defaults).
	Providers []config.Provider
	// HTTPClient talks to the providers (default: a client with a 15s
	// timeout).
	HTTPClient *http.Client
	// Audit, optional, records every callback: a federated sign-in
	// (auth.login) or a refused one (auth.login.failed). The audit
	// middleware records mutating requests only, and a callback is a GET.
	Audit Auditor
}

// Service serves the federated sign-in routes. A zero Service only serves
// its route table (for the OpenAPI document).
type Service struct {
	st       Store
	id       Identity
	sealer   identity.Sealer
	log      *slog.Logger
	now      func() time.Time
	baseURL  string
	secure   bool
	client   *http.Client
	audit    Auditor
	order    []string
	provider map[string]*provider
}

// provider is one configured provider and, for OIDC, its discovered
// endpoints (discovered on first use, so that a provider that is down at
// start-up does not stop the platform).
type provider struct {
	cfg   config.Provider
	oauth oauth2.Config

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// New returns a Service. It does no I/O.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("federation", cfg, "Store", "Identity", "Sealer", "Logger", "Now"); err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("federation: BaseURL must be an absolute http(s) URL, got %q", cfg.BaseURL)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	s := &Service{st: cfg.Store, id: cfg.Identity, sealer: cfg.Sealer, log: cfg.Logger, now: cfg.Now,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"), secure: base.Scheme == "https", client: client, audit: cfg.Audit,
		provider: map[string]*provider{}}
	for i, pc := range cfg.Providers {
		if pc.ID == "" || pc.ClientID == "" || (pc.Type != config.ProviderOIDC && pc.Type != config.ProviderGitHub) {
			return nil, fmt.Errorf("federation: providers[%d] is not a validated provider configuration", i)
		}
		if _, dup := s.provider[pc.ID]; dup {
			return nil, fmt.Errorf("federation: duplicate provider id %q", pc.ID)
		}
		p := &provider{cfg: pc, oauth: oauth2.Config{
			ClientID: pc.ClientID, ClientSecret: pc.ClientSecret, Scopes: pc.Scopes,
			RedirectURL: s.baseURL + "/auth/callback/" + pc.ID,
		}}
		if pc.Type == config.ProviderGitHub {
			gh := strings.TrimSuffix(pc.GitHubURL, "/")
			p.oauth.Endpoint = oauth2.Endpoint{AuthURL: gh + "/login/oauth/authorize", TokenURL: gh + "/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams}
		}
		s.provider[pc.ID] = p
		s.order = append(s.order, pc.ID)
	}
	return s, nil
}

// method names the sign-in method for the session record.
func (p *provider) method() string {
	if p.cfg.Type == config.ProviderGitHub {
		return "github"
	}
	return "oidc:" + p.cfg.ID
}

// discover fetches the OIDC discovery document once and builds the ID
// token verifier; it is retried on the next sign-in if it fails.
func (s *Service) discover(ctx context.Context, p *provider) (*oidc.IDTokenVerifier, oauth2.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verifier != nil {
		return p.verifier, p.oauth, nil
	}
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, s.client), p.cfg.Issuer)
	if err != nil {
		return nil, oauth2.Config{}, fmt.Errorf("discover %s: %w", p.cfg.Issuer, err)
	}
	ep := op.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, the OIDC default
	p.oauth.Endpoint = ep
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: s.now})
	return p.verifier, p.oauth, nil
}
