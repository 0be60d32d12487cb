package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Defaults for the optional Config fields.
const (
	DefaultAccessTTL          = 15 * time.Minute
	DefaultRefreshTTL         = 7 * 24 * time.Hour
	DefaultSessionTTL         = 30 * 24 * time.Hour
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 30 * time.Second
	DefaultRevocationCacheTTL = 5 * time.Second
	MaxRevocationCacheTTL     = time.Minute
)

// Sealer encrypts secrets at rest; *seal.Sealer implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(sealed, associatedData []byte) ([]byte, error)
}

var _ Sealer = (*seal.Sealer)(nil)

// Config carries the Service's dependencies and settings. Store, Sealer,
// Logger, Now, Issuer and Audience are required; zero durations take the
// defaults above.
type Config struct {
	Store  store.Store
	Sealer Sealer
	Logger *slog.Logger
	Now    func() time.Time

	// Issuer is the iss of access tokens, an absolute URL such as
	// "https://hks.example.com" (the OIDC issuer). Audience is their aud.
	Issuer   string
	Audience string

	AccessTTL  time.Duration // access token lifetime (15m)
	RefreshTTL time.Duration // lifetime of each refresh token (7d)
	// SessionTTL is the absolute lifetime of a session: refreshing never
	// extends a session past CreatedAt+SessionTTL (30d).
	SessionTTL time.Duration
	Leeway     time.Duration // clock skew allowed on exp/nbf/iat (30s, at most 30s)
	// RevocationCacheTTL is how long Verify trusts a session's cached
	// revocation state (5s, at most 1m); negative disables the cache.
	RevocationCacheTTL time.Duration

	// Argon2 are the hashing parameters for new passwords (zero value:
	// DefaultArgon2Params). MaxConcurrentHashes bounds simultaneous
	// argon2 computations, hence memory (default GOMAXPROCS).
	Argon2              Argon2Params
	MaxConcurrentHashes int

	// SourceLockout, IPLockout and AccountThrottle are the sign-in
	// lockout: failed passwords for one account from one source (and
	// with one device token) and from one source (a client IP, an IPv6
	// client by its /64), after which sign-in is refused for a while,
	// and for one account from all sources, after which sign-ins without
	// a device token are delayed, never refused (AccountThrottle is
	// always DelayOnly; its Max at most MaxAccountDelay). Zero values:
	// DefaultSourceLockout, DefaultIPLockout, DefaultAccountThrottle.
	SourceLockout   store.LockoutPolicy
	IPLockout       store.LockoutPolicy
	AccountThrottle store.LockoutPolicy
	// DeviceTokenTTL is the lifetime of device tokens
	// (DefaultDeviceTokenTTL).
	DeviceTokenTTL time.Duration
	// RequestTimeout is the longest a sign-in can run (the deadline of
	// the requests that sign in; default DefaultRequestTimeout): the
	// slots of sign-in attempts in flight outlive it by a minute.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is Config.RequestTimeout's default, the API's.
const DefaultRequestTimeout = 30 * time.Second

// Service is the identity core. It is safe for concurrent use.
type Service struct {
	st       store.Store
	sealer   Sealer
	log      *slog.Logger
	now      func() time.Time
	issuer   string
	audience string

	accessTTL, refreshTTL, sessionTTL time.Duration
	leeway                            time.Duration

	argon2      Argon2Params
	hashSem     chan struct{}
	dummyHash   string
	parser      *jwt.Parser
	keys        keyring
	sessions    sessionCache
	keyReload   time.Duration // minimum interval between key reloads
	keysKeepFor time.Duration
	lockout     *lockout
	deviceTTL   time.Duration
	// onVerify, if set, is called at every password hash check (tests
	// count them).
	onVerify func()
}

// New returns a Service. It does no I/O; call EnsureSigningKey at start-up
// (issuing tokens calls it too if no key is loaded yet).
func New(cfg Config) (*Service, error) {
	if err := required.Fields("identity", cfg, "Store", "Sealer", "Logger", "Now", "Audience"); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.Issuer); err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("identity: Issuer must be an absolute URL without query or fragment, got %q", cfg.Issuer)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.AccessTTL, DefaultAccessTTL)
	def(&cfg.RefreshTTL, DefaultRefreshTTL)
	def(&cfg.SessionTTL, DefaultSessionTTL)
	def(&cfg.Leeway, DefaultLeeway)
	def(&cfg.RevocationCacheTTL, DefaultRevocationCacheTTL)
	switch {
	case cfg.AccessTTL < 0 || cfg.RefreshTTL < 0 || cfg.SessionTTL < 0:
		return nil, errors.New("identity: token lifetimes must be positive")
	case cfg.RefreshTTL < cfg.AccessTTL:
		return nil, errors.New("identity: RefreshTTL must not be shorter than AccessTTL")
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("identity: Leeway must be from 0 to %s", MaxLeeway)
	case cfg.RevocationCacheTTL > MaxRevocationCacheTTL:
		return nil, fmt.Errorf("identity: RevocationCacheTTL must be at most %s", MaxRevocationCacheTTL)
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2Params()
	}
	if err := cfg.Argon2.validate(); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	def(&cfg.DeviceTokenTTL, DefaultDeviceTokenTTL)
	if cfg.DeviceTokenTTL < 0 {
		return nil, errors.New("identity: DeviceTokenTTL must be positive")
	}
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	lock, err := newLockout(cfg.Store, cfg.SourceLockout, cfg.IPLockout, cfg.AccountThrottle, cfg.RequestTimeout, cfg.Logger, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	// The hash checked for unknown users, so that a login takes about as
	// long whether or not the email exists.
	dummy, err := HashPassword("hks-dummy-password-for-unknown-users", cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	s := &Service{
		st:         cfg.Store,
		sealer:     cfg.Sealer,
		log:        cfg.Logger,
		now:        cfg.Now,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		accessTTL:  cfg.AccessTTL,
		refreshTTL: cfg.RefreshTTL,
		sessionTTL: cfg.SessionTTL,
		leeway:     cfg.Leeway,
		argon2:     cfg.Argon2,
		hashSem:    make(chan struct{}, cfg.MaxConcurrentHashes),
		dummyHash:  dummy,
		keyReload:  keyReloadInterval,
		lockout:    lock,
		deviceTTL:  cfg.DeviceTokenTTL,
	}
	// A key superseded (or retired) at T may still sign until this process
	// notices (keyReload), and its tokens live accessTTL plus leeway.
	s.keysKeepFor = s.accessTTL + s.keyReload + s.leeway
	s.sessions = sessionCache{ttl: cfg.RevocationCacheTTL, max: sessionCacheMax, m: map[string]sessionEntry{}}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(s.issuer),
		jwt.WithAudience(s.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(s.leeway),
		jwt.WithTimeFunc(s.now),
	)
	return s, nil
}

// clock is the current time in UTC at the store's precision.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// AccessTTL is the lifetime of access tokens.
func (s *Service) AccessTTL() time.Duration { return s.accessTTL }

// Issuer is the iss of the tokens this Service issues.
func (s *Service) Issuer() string { return s.issuer }
