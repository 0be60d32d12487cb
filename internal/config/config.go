package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Config is the configuration of `hks server`.
type Config struct {
	DataDir     string `json:"dataDir"`
	Listen      string `json:"listen"`
	DatabaseURL string `json:"databaseURL"`
	NATSURL     string `json:"natsURL"`
	// ExternalURL is the URL clients reach the server at; it is the token
	// issuer. Default: http://<listen>.
	ExternalURL string `json:"externalURL"`
	LogLevel    string `json:"logLevel"`
	LogFormat   string `json:"logFormat"`
	// AccessTokenTTL and RefreshTokenTTL are Go durations ("15m", "168h").
	AccessTokenTTL  Duration `json:"accessTokenTTL"`
	RefreshTokenTTL Duration `json:"refreshTokenTTL"`
	ShutdownTimeout Duration `json:"shutdownTimeout"`
	RequestTimeout  Duration `json:"requestTimeout"`
	// KeyRotationInterval is how often the token signing key rotates (30d).
	KeyRotationInterval Duration `json:"keyRotationInterval"`
	// WorkspaceTokenTTL is the lifetime of workspace ID tokens (10m, at
	// most 15m; capped at accessTokenTTL).
	WorkspaceTokenTTL Duration `json:"workspaceTokenTTL"`
	// TLS is "off", "auto" (a CA and serving certificate kept in the data
	// dir) or "files" (TLSCert and TLSKey, PEM).
	TLS     string `json:"tls"`
	TLSCert string `json:"tlsCert"`
	TLSKey  string `json:"tlsKey"`
	// CORSAllowedOrigins are the exact origins (scheme://host[:port])
	// browsers may call the API from with credentials; empty: none.
	CORSAllowedOrigins []string `json:"corsAllowedOrigins,omitempty"`
	// TrustedProxies are the CIDRs (or addresses) of the reverse proxies
	// in front of the server: only a request from one of them has its
	// X-Forwarded-For believed (walked from the right, skipping trusted
	// proxies), and the client address it gives is the one rate limits
	// and the sign-in lockout count. Empty (the default): the peer's
	// address is the client's, and X-Forwarded-For is ignored.
	TrustedProxies []string `json:"trustedProxies,omitempty"`
	// Rate limits (token buckets shared through NATS KV): requests per
	// second and burst per client IP (every route) and per user
	// (authenticated routes). A rate of 0 disables that limit.
	IPRateLimit   float64 `json:"ipRateLimit"`
	IPRateBurst   int     `json:"ipRateBurst"`
	UserRateLimit float64 `json:"userRateLimit"`
	UserRateBurst int     `json:"userRateBurst"`
	// StreamsPerUser and StreamsPerWorkspace cap the long-lived requests
	// (watches, followed logs, exec, attach, port-forward) open at once
	// through the workspace API gateway per user and per workspace, in
	// this process; the API's followed application logs count against
	// the user's cap too. Beyond a cap a request is answered 429. Each
	// followed log or attach holds an inotify instance in a workspace's
	// kwok, and every process hks starts draws from the one
	// fs.inotify.max_user_instances of the user it runs as.
	StreamsPerUser      int `json:"streamsPerUser"`
	StreamsPerWorkspace int `json:"streamsPerWorkspace"`
	// LiveConnectionsPerUser caps the live-update WebSockets (GET
	// /api/v1/ws) a user holds open at once in this process (one per
	// console tab); beyond it a connection is closed with 4429.
	// LiveSubscriptionsPerConnection caps the subscriptions one of them
	// carries; beyond it a subscribe is refused (429 problem).
	LiveConnectionsPerUser         int `json:"liveConnectionsPerUser"`
	LiveSubscriptionsPerConnection int `json:"liveSubscriptionsPerConnection"`
	// LoginLockoutThreshold failed sign-ins for one account from one
	// source (or with one device token), and IPLoginLockoutThreshold from
	// one source for any accounts, lock it for LoginLockoutBase, doubling
	// with each further failure up to LoginLockoutMax.
	// AccountLoginThrottleThreshold failures for one account from all
	// sources slow its clients without a device token or a known source
	// down, never lock them out: their attempts take turns, one password
	// checked per delay (1s, doubling with each further failure up to
	// AccountLoginThrottleMax, at most 10s and half of RequestTimeout),
	// and one whose turn is over twice the max away is refused with
	// Retry-After. DeviceTokenTTL is the lifetime of the
	// device tokens that exempt a client that signed in before from the
	// account's locks.
	LoginLockoutThreshold         int      `json:"loginLockoutThreshold"`
	IPLoginLockoutThreshold       int      `json:"ipLoginLockoutThreshold"`
	LoginLockoutBase              Duration `json:"loginLockoutBase"`
	LoginLockoutMax               Duration `json:"loginLockoutMax"`
	AccountLoginThrottleThreshold int      `json:"accountLoginThrottleThreshold"`
	AccountLoginThrottleMax       Duration `json:"accountLoginThrottleMax"`
	DeviceTokenTTL                Duration `json:"deviceTokenTTL"`
	// Providers are the federated sign-in providers (see Provider).
	Providers []Provider `json:"providers,omitempty"`
	// ControlPlaneProvider runs the workspaces' Kubernetes control planes:
	// "local" (kube-apiserver, kube-controller-manager, kube-scheduler and
	// kwok processes on this machine, one shared etcd) or "none" (this
	// server answers the API only; provisioning tasks wait for a server
	// that runs a provider).
	ControlPlaneProvider string `json:"controlPlaneProvider"`
	// K8sBinDir holds kube-apiserver, kube-controller-manager,
	// kube-scheduler, etcd and kwok for the local provider; empty: the
	// directory `make k8s-bins` builds into under the user cache dir.
	K8sBinDir string `json:"k8sBinDir"`
	// WarmPool is how many workspace API servers the local provider keeps
	// started for workspaces yet to be created, so that a new workspace
	// is running in well under a second instead of waiting for an API
	// server to boot; each costs one idle API server's memory (about
	// 200 MiB RSS). 0 starts every API server with its workspace.
	WarmPool int `json:"warmPool"`
	// SleepAfter is the default idle time (no requests through the
	// gateway) after which a workspace sleeps: its control plane stops
	// and its next request wakes it. Workspaces may set their own; 0:
	// never.
	SleepAfter Duration `json:"sleepAfter"`
	// WakeTimeout is how long a request to a sleeping workspace is held
	// while it wakes before it is answered 503 with Retry-After.
	WakeTimeout Duration `json:"wakeTimeout"`
	// WorkspaceIssuerListen is the loopback host:port of the https
	// listener that serves the issuer's discovery document and JWKS to
	// workspace API servers when externalURL is plain http (Kubernetes
	// trusts only https issuers). Empty: a free port picked on first start
	// and kept in the data dir.
	WorkspaceIssuerListen string `json:"workspaceIssuerListen"`
	// TelemetryListen is the host:port of the telemetry listener, which
	// serves /metrics apart from the API (the metrics name every tenant's
	// workspaces, so the API listener does not serve them). Loopback by
	// default; "off" (or "") serves no metrics.
	TelemetryListen string `json:"telemetryListen"`
	// AI configures the assistant's models and its caps (see AI).
	AI AI `json:"ai"`
	// Functions configures functions (see Functions).
	Functions Functions `json:"functions"`
}

// TelemetryOff is the TelemetryListen that serves no metrics.
const TelemetryOff = "off"

// Duration is a time.Duration written as a Go duration string.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return errors.New("must be a duration string such as \"15m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a duration such as \"15m\": %q", s)
	}
	d.Duration = v
	return nil
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		DataDir:             "./.hks",
		Listen:              "127.0.0.1:8080",
		TelemetryListen:     "127.0.0.1:8090",
		LogLevel:            "info",
		LogFormat:           "json",
		AccessTokenTTL:      Duration{15 * time.Minute},
		RefreshTokenTTL:     Duration{7 * 24 * time.Hour},
		ShutdownTimeout:     Duration{15 * time.Second},
		RequestTimeout:      Duration{30 * time.Second},
		KeyRotationInterval: Duration{30 * 24 * time.Hour},
		WorkspaceTokenTTL:   Duration{10 * time.Minute},

		TLS:                            "off",
		IPRateLimit:                    100,
		IPRateBurst:                    1000,
		UserRateLimit:                  50,
		UserRateBurst:                  500,
		StreamsPerUser:                 64,
		StreamsPerWorkspace:            96,
		LiveConnectionsPerUser:         8,
		LiveSubscriptionsPerConnection: 32,
		LoginLockoutThreshold:          5,
		IPLoginLockoutThreshold:        50,
		LoginLockoutBase:               Duration{time.Minute},
		LoginLockoutMax:                Duration{time.Hour},
		AccountLoginThrottleThreshold:  100,
		AccountLoginThrottleMax:        Duration{5 * time.Second},
		DeviceTokenTTL:                 Duration{30 * 24 * time.Hour},
		ControlPlaneProvider:           "local",
		WarmPool:                       1,
		SleepAfter:                     Duration{30 * time.Minute},
		WakeTimeout:                    Duration{time.Minute},
		Functions:                      defaultFunctions(),
	}
}

// field describes one setting: its flag, env var and where it lives.
type field struct {
	flag, env, usage string
	str              *string
	dur              *Duration
	// get and set handle other types (numbers, lists).
	get func() string
	set func(string) error
}

func (c *Config) fields() []field {
	return append([]field{
		{flag: "data-dir", env: "HKS_DATA_DIR", usage: "directory for the database, NATS store and keys", str: &c.DataDir},
		{flag: "listen", env: "HKS_LISTEN", usage: "host:port to serve the API on", str: &c.Listen},
		{flag: "database-url", env: "HKS_DATABASE_URL", usage: "postgres://… to use PostgreSQL (default: SQLite in the data dir)", str: &c.DatabaseURL},
		{flag: "nats-url", env: "HKS_NATS_URL", usage: "nats://… of an external NATS with JetStream (default: embedded)", str: &c.NATSURL},
		{flag: "external-url", env: "HKS_EXTERNAL_URL", usage: "URL clients (browsers, kubectl, the workspaces' API servers) reach the server at: the token issuer and the base of kubeconfigs' gateway URLs (default http(s)://<listen>, with 127.0.0.1 for 0.0.0.0 or ::; set it for kubectl from other machines)", str: &c.ExternalURL},
		{flag: "log-level", env: "HKS_LOG_LEVEL", usage: "debug, info, warn or error", str: &c.LogLevel},
		{flag: "log-format", env: "HKS_LOG_FORMAT", usage: "json or text", str: &c.LogFormat},
		{flag: "access-token-ttl", env: "HKS_ACCESS_TOKEN_TTL", usage: "lifetime of access tokens", dur: &c.AccessTokenTTL},
		{flag: "refresh-token-ttl", env: "HKS_REFRESH_TOKEN_TTL", usage: "lifetime of refresh tokens", dur: &c.RefreshTokenTTL},
		{flag: "shutdown-timeout", env: "HKS_SHUTDOWN_TIMEOUT", usage: "how long graceful shutdown waits", dur: &c.ShutdownTimeout},
		{flag: "request-timeout", env: "HKS_REQUEST_TIMEOUT", usage: "deadline of each API request", dur: &c.RequestTimeout},
		{flag: "key-rotation-interval", env: "HKS_KEY_ROTATION_INTERVAL", usage: "how often the token signing key rotates", dur: &c.KeyRotationInterval},
		{flag: "workspace-token-ttl", env: "HKS_WORKSPACE_TOKEN_TTL", usage: "lifetime of workspace ID tokens (at most 15m)", dur: &c.WorkspaceTokenTTL},
		{flag: "tls", env: "HKS_TLS", usage: "off, auto (own CA and certificate in the data dir) or files (--tls-cert, --tls-key)", str: &c.TLS},
		{flag: "tls-cert", env: "HKS_TLS_CERT", usage: "PEM certificate chain for --tls=files", str: &c.TLSCert},
		{flag: "tls-key", env: "HKS_TLS_KEY", usage: "PEM private key for --tls=files", str: &c.TLSKey},
		listField("cors-allowed-origins", "HKS_CORS_ALLOWED_ORIGINS", "comma-separated origins browsers may call the API from", &c.CORSAllowedOrigins),
		listField("trusted-proxies", "HKS_TRUSTED_PROXIES", "comma-separated CIDRs or IP addresses of reverse proxies whose X-Forwarded-For gives the client address", &c.TrustedProxies),
		floatField("ip-rate-limit", "HKS_IP_RATE_LIMIT", "requests per second per client IP (0: off)", &c.IPRateLimit),
		intField("ip-rate-burst", "HKS_IP_RATE_BURST", "burst of requests per client IP", &c.IPRateBurst),
		floatField("user-rate-limit", "HKS_USER_RATE_LIMIT", "requests per second per user (0: off)", &c.UserRateLimit),
		intField("user-rate-burst", "HKS_USER_RATE_BURST", "burst of requests per user", &c.UserRateBurst),
		intField("streams-per-user", "HKS_STREAMS_PER_USER", "long-lived requests (watches, logs -f, exec, attach, port-forward) open at once per user", &c.StreamsPerUser),
		intField("streams-per-workspace", "HKS_STREAMS_PER_WORKSPACE", "long-lived requests open at once per workspace through the gateway", &c.StreamsPerWorkspace),
		intField("live-connections-per-user", "HKS_LIVE_CONNECTIONS_PER_USER", "live-update WebSockets (console tabs) open at once per user", &c.LiveConnectionsPerUser),
		intField("live-subscriptions-per-connection", "HKS_LIVE_SUBSCRIPTIONS_PER_CONNECTION", "subscriptions one live-update WebSocket carries at once", &c.LiveSubscriptionsPerConnection),
		intField("login-lockout-threshold", "HKS_LOGIN_LOCKOUT_THRESHOLD", "failed sign-ins for one account from one IP (or device token) before that pair is locked", &c.LoginLockoutThreshold),
		intField("ip-login-lockout-threshold", "HKS_IP_LOGIN_LOCKOUT_THRESHOLD", "failed sign-ins from one IP before it is locked", &c.IPLoginLockoutThreshold),
		{flag: "login-lockout-base", env: "HKS_LOGIN_LOCKOUT_BASE", usage: "first sign-in lockout; each failure after a lock has ended doubles the next one", dur: &c.LoginLockoutBase},
		{flag: "login-lockout-max", env: "HKS_LOGIN_LOCKOUT_MAX", usage: "longest sign-in lockout", dur: &c.LoginLockoutMax},
		intField("account-login-throttle-threshold", "HKS_ACCOUNT_LOGIN_THROTTLE_THRESHOLD", "failed sign-ins for one account from all IPs before clients without a device token are slowed down", &c.AccountLoginThrottleThreshold),
		{flag: "account-login-throttle-max", env: "HKS_ACCOUNT_LOGIN_THROTTLE_MAX", usage: "longest delay of the account-wide sign-in throttle (starts at 1s, doubles; at most 10s and half of --request-timeout)", dur: &c.AccountLoginThrottleMax},
		{flag: "device-token-ttl", env: "HKS_DEVICE_TOKEN_TTL", usage: "lifetime of the device tokens of clients that signed in (renewed at each sign-in)", dur: &c.DeviceTokenTTL},
		{flag: "control-plane-provider", env: "HKS_CONTROL_PLANE_PROVIDER", usage: "local (workspace control planes as processes on this machine) or none (API only)", str: &c.ControlPlaneProvider},
		{flag: "k8s-bin-dir", env: "HKS_K8S_BIN_DIR", usage: "directory with kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok (default: the cache that make k8s-bins fills)", str: &c.K8sBinDir},
		intField("warm-pool", "HKS_WARM_POOL", "workspace API servers kept started for workspaces yet to be created (0: none)", &c.WarmPool),
		{flag: "sleep-after", env: "HKS_SLEEP_AFTER", usage: "idle time without requests after which a workspace sleeps, unless it sets its own (0: never)", dur: &c.SleepAfter},
		{flag: "wake-timeout", env: "HKS_WAKE_TIMEOUT", usage: "how long a request to a sleeping workspace is held while it wakes", dur: &c.WakeTimeout},
		{flag: "telemetry-listen", env: "HKS_TELEMETRY_LISTEN", usage: "host:port to serve /metrics on, apart from the API (off: none)", str: &c.TelemetryListen},
		{flag: "workspace-issuer-listen", env: "HKS_WORKSPACE_ISSUER_LISTEN", usage: "loopback host:port of the https issuer endpoint for workspace API servers when --external-url is http (default: a port kept in the data dir)", str: &c.WorkspaceIssuerListen},
	}, c.functionFields()...)
}

// Flags holds the registered flags of a command.
type Flags struct {
	fs   *pflag.FlagSet
	file *string
	vals map[string]*string
}

// RegisterFlags adds the server flags to fs.
func RegisterFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs, vals: map[string]*string{}}
	f.file = fs.String("config", "", "YAML config file (env HKS_CONFIG)")
	def := Default()
	for _, fl := range def.fields() {
		dv := ""
		if fl.get != nil {
			dv = fl.get()
		} else if fl.str != nil {
			dv = *fl.str
		} else {
			dv = fl.dur.String()
		}
		f.vals[fl.flag] = fs.String(fl.flag, dv, fl.usage+" (env "+fl.env+")")
	}
	return f
}

// Load builds the configuration: defaults, then the YAML file, then HKS_*
// environment variables, then flags given on the command line.
func (f *Flags) Load(getenv func(string) string) (Config, error) {
	c := Default()
	path := *f.file
	if !f.fs.Changed("config") {
		path = getenv("HKS_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			return c, fmt.Errorf("config: %s: %s", path, strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: "))
		}
	}
	for _, fl := range c.fields() {
		v, src, ok := "", "", false
		if f.fs.Changed(fl.flag) {
			v, src, ok = *f.vals[fl.flag], "--"+fl.flag, true
		} else if e := getenv(fl.env); e != "" {
			v, src, ok = e, fl.env, true
		}
		if !ok {
			continue
		}
		if fl.set != nil {
			if err := fl.set(v); err != nil {
				return c, fmt.Errorf("config: %s: %w", src, err)
			}
			continue
		}
		if fl.str != nil {
			*fl.str = v
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("config: %s: must be a duration such as 15m, got %q", src, v)
		}
		fl.dur.Duration = d
	}
	if err := c.resolveProviderSecrets(getenv); err != nil {
		return c, err
	}
	if err := c.resolveAIKeys(getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("config: dataDir: must not be empty")
	}
	host, port, err := checkListen("listen", c.Listen)
	if err != nil {
		return err
	}
	if c.TelemetryListen == "" {
		c.TelemetryListen = TelemetryOff
	}
	if c.TelemetryListen != TelemetryOff {
		if _, tport, err := checkListen("telemetryListen", c.TelemetryListen); err != nil {
			return err
		} else if tport != "0" && c.TelemetryListen == c.Listen {
			return fmt.Errorf("config: telemetryListen: %q must differ from listen: the API listener does not serve metrics", c.TelemetryListen)
		}
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return errors.New("config: databaseURL: must be postgres://user:password@host:port/db (leave empty for SQLite)")
		}
	}
	if c.NATSURL != "" {
		u, err := url.Parse(c.NATSURL)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return errors.New("config: natsURL: must be nats://host:port (leave empty for the embedded server)")
		}
	}
	if c.ExternalURL == "" {
		h := host
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "127.0.0.1"
		}
		scheme := "http://"
		if c.TLS == "auto" || c.TLS == "files" {
			scheme = "https://" // Kubernetes trusts only an https issuer
		}
		c.ExternalURL = scheme + net.JoinHostPort(h, port)
	} else {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("config: externalURL: %q must be an http(s) URL without a path", c.ExternalURL)
		}
		c.ExternalURL = strings.TrimSuffix(c.ExternalURL, "/")
	}
	switch c.ControlPlaneProvider {
	case "local", "none":
	default:
		return fmt.Errorf("config: controlPlaneProvider: %q must be local or none", c.ControlPlaneProvider)
	}
	if d := c.SleepAfter.Duration; d != 0 && (d < 10*time.Second || d > 720*time.Hour) {
		return fmt.Errorf("config: sleepAfter: %s must be 0 (never) or between 10s and 720h", d)
	}
	if d := c.WakeTimeout.Duration; d < 5*time.Second || d > 10*time.Minute {
		return fmt.Errorf("config: wakeTimeout: %s must be between 5s and 10m", d)
	}
	if c.WarmPool < 0 || c.WarmPool > 16 {
		return fmt.Errorf("config: warmPool: %d must be between 0 and 16", c.WarmPool)
	}
	if c.WorkspaceIssuerListen != "" {
		h, p, err := net.SplitHostPort(c.WorkspaceIssuerListen)
		ip := net.ParseIP(h)
		if n, perr := strconv.Atoi(p); err != nil || perr != nil || n < 0 || n > 65535 || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("config: workspaceIssuerListen: %q must be a loopback IP and port, such as 127.0.0.1:8443", c.WorkspaceIssuerListen)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: logLevel: %q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("config: logFormat: %q must be json or text", c.LogFormat)
	}
	switch {
	case c.AccessTokenTTL.Duration < time.Minute || c.AccessTokenTTL.Duration > time.Hour:
		return fmt.Errorf("config: accessTokenTTL: %s must be from 1m to 1h", c.AccessTokenTTL)
	case c.RefreshTokenTTL.Duration < time.Hour || c.RefreshTokenTTL.Duration > 90*24*time.Hour:
		return fmt.Errorf("config: refreshTokenTTL: %s must be from 1h to 2160h", c.RefreshTokenTTL)
	case c.KeyRotationInterval.Duration < time.Hour || c.KeyRotationInterval.Duration > 365*24*time.Hour:
		return fmt.Errorf("config: keyRotationInterval: %s must be from 1h to 8760h", c.KeyRotationInterval)
	case c.WorkspaceTokenTTL.Duration < time.Minute || c.WorkspaceTokenTTL.Duration > 15*time.Minute:
		return fmt.Errorf("config: workspaceTokenTTL: %s must be from 1m to 15m", c.WorkspaceTokenTTL)
	case c.ShutdownTimeout.Duration <= 0:
		return fmt.Errorf("config: shutdownTimeout: %s must be positive", c.ShutdownTimeout)
	case c.RequestTimeout.Duration <= 0:
		return fmt.Errorf("config: requestTimeout: %s must be positive", c.RequestTimeout)
	}
	if err := c.validateProtections(); err != nil {
		return err
	}
	if err := c.validateProviders(); err != nil {
		return err
	}
	if err := c.validateAI(); err != nil {
		return err
	}
	return c.validateFunctions()
}

// checkListen checks a host:port to listen on, the host an IP address or
// localhost (empty: every address).
func checkListen(name, v string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(v)
	if err != nil {
		return "", "", fmt.Errorf("config: %s: %q is not host:port", name, v)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("config: %s: port %q is not a number from 0 to 65535", name, port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return "", "", fmt.Errorf("config: %s: host %q is not an IP address", name, host)
	}
	return host, port, nil
}

func listField(flag, env, usage string, v *[]string) field {
	return field{flag: flag, env: env, usage: usage,
		get: func() string { return strings.Join(*v, ",") },
		set: func(s string) error {
			*v = nil
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					*v = append(*v, p)
				}
			}
			return nil
		}}
}

func intField(flag, env, usage string, v *int) field {
	return field{flag: flag, env: env, usage: usage,
		get: func() string { return strconv.Itoa(*v) },
		set: func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("must be an integer, got %q", s)
			}
			*v = n
			return nil
		}}
}

func floatField(flag, env, usage string, v *float64) field {
	return field{flag: flag, env: env, usage: usage,
		get: func() string { return strconv.FormatFloat(*v, 'g', -1, 64) },
		set: func(s string) error {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("must be a number, got %q", s)
			}
			*v = f
			return nil
		}}
}

// validateProtections checks the TLS, CORS, rate limit and lockout
// settings.
func (c *Config) validateProtections() error {
	switch c.TLS {
	case "off", "auto":
		if c.TLSCert != "" || c.TLSKey != "" {
			return fmt.Errorf("config: tlsCert: only used with tls: files (tls is %q)", c.TLS)
		}
	case "files":
		if c.TLSCert == "" {
			return errors.New("config: tlsCert: required with tls: files")
		}
		if c.TLSKey == "" {
			return errors.New("config: tlsKey: required with tls: files")
		}
	default:
		return fmt.Errorf("config: tls: %q must be off, auto or files", c.TLS)
	}
	for _, o := range c.CORSAllowedOrigins {
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
			return fmt.Errorf("config: corsAllowedOrigins: %q must be an origin such as https://app.example.com (no wildcard, no path)", o)
		}
	}
	if _, err := httpapi.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("config: trustedProxies: %w", err)
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
		bname string
	}{{"ipRateLimit", c.IPRateLimit, c.IPRateBurst, "ipRateBurst"}, {"userRateLimit", c.UserRateLimit, c.UserRateBurst, "userRateBurst"}} {
		if r.rate < 0 || r.rate > 1e6 || r.rate != r.rate {
			return fmt.Errorf("config: %s: %v must be from 0 (off) to 1000000 requests per second", r.name, r.rate)
		}
		if r.rate > 0 && (r.burst < 1 || r.burst > 1e6) {
			return fmt.Errorf("config: %s: %d must be from 1 to 1000000", r.bname, r.burst)
		}
	}
	switch {
	case c.StreamsPerUser < 1 || c.StreamsPerUser > 100000:
		return fmt.Errorf("config: streamsPerUser: %d must be from 1 to 100000", c.StreamsPerUser)
	case c.StreamsPerWorkspace < 1 || c.StreamsPerWorkspace > 100000:
		return fmt.Errorf("config: streamsPerWorkspace: %d must be from 1 to 100000", c.StreamsPerWorkspace)
	case c.LiveConnectionsPerUser < 1 || c.LiveConnectionsPerUser > 10000:
		return fmt.Errorf("config: liveConnectionsPerUser: %d must be from 1 to 10000", c.LiveConnectionsPerUser)
	case c.LiveSubscriptionsPerConnection < 1 || c.LiveSubscriptionsPerConnection > 10000:
		return fmt.Errorf("config: liveSubscriptionsPerConnection: %d must be from 1 to 10000", c.LiveSubscriptionsPerConnection)
	case c.LoginLockoutThreshold < 1 || c.LoginLockoutThreshold > 1000:
		return fmt.Errorf("config: loginLockoutThreshold: %d must be from 1 to 1000", c.LoginLockoutThreshold)
	case c.IPLoginLockoutThreshold < 1 || c.IPLoginLockoutThreshold > 100000:
		return fmt.Errorf("config: ipLoginLockoutThreshold: %d must be from 1 to 100000", c.IPLoginLockoutThreshold)
	case c.LoginLockoutBase.Duration < time.Second || c.LoginLockoutBase.Duration > 24*time.Hour:
		return fmt.Errorf("config: loginLockoutBase: %s must be from 1s to 24h", c.LoginLockoutBase)
	case c.LoginLockoutMax.Duration < c.LoginLockoutBase.Duration || c.LoginLockoutMax.Duration > 7*24*time.Hour:
		return fmt.Errorf("config: loginLockoutMax: %s must be from loginLockoutBase to 168h", c.LoginLockoutMax)
	case c.AccountLoginThrottleThreshold < c.LoginLockoutThreshold || c.AccountLoginThrottleThreshold > 100000:
		return fmt.Errorf("config: accountLoginThrottleThreshold: %d must be from loginLockoutThreshold to 100000", c.AccountLoginThrottleThreshold)
	case c.AccountLoginThrottleMax.Duration < time.Second || c.AccountLoginThrottleMax.Duration > 10*time.Second ||
		c.AccountLoginThrottleMax.Duration > c.RequestTimeout.Duration/2:
		return fmt.Errorf("config: accountLoginThrottleMax: %s must be from 1s to 10s and at most half of requestTimeout (%s)", c.AccountLoginThrottleMax, c.RequestTimeout)
	case c.DeviceTokenTTL.Duration < time.Hour || c.DeviceTokenTTL.Duration > 400*24*time.Hour:
		return fmt.Errorf("config: deviceTokenTTL: %s must be from 1h to 9600h (400 days)", c.DeviceTokenTTL)
	}
	return nil
}
