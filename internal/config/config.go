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
}

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
		DataDir:         "./.hks",
		Listen:          "127.0.0.1:8080",
		LogLevel:        "info",
		LogFormat:       "json",
		AccessTokenTTL:  Duration{15 * time.Minute},
		RefreshTokenTTL: Duration{7 * 24 * time.Hour},
		ShutdownTimeout: Duration{15 * time.Second},
		RequestTimeout:  Duration{30 * time.Second},
	}
}

// field describes one setting: its flag, env var and where it lives.
type field struct {
	flag, env, usage string
	str              *string
	dur              *Duration
}

func (c *Config) fields() []field {
	return []field{
		{flag: "data-dir", env: "HKS_DATA_DIR", usage: "directory for the database, NATS store and keys", str: &c.DataDir},
		{flag: "listen", env: "HKS_LISTEN", usage: "host:port to serve the API on", str: &c.Listen},
		{flag: "database-url", env: "HKS_DATABASE_URL", usage: "postgres://… to use PostgreSQL (default: SQLite in the data dir)", str: &c.DatabaseURL},
		{flag: "nats-url", env: "HKS_NATS_URL", usage: "nats://… of an external NATS with JetStream (default: embedded)", str: &c.NATSURL},
		{flag: "external-url", env: "HKS_EXTERNAL_URL", usage: "URL clients reach the server at; the token issuer (default http://<listen>)", str: &c.ExternalURL},
		{flag: "log-level", env: "HKS_LOG_LEVEL", usage: "debug, info, warn or error", str: &c.LogLevel},
		{flag: "log-format", env: "HKS_LOG_FORMAT", usage: "json or text", str: &c.LogFormat},
		{flag: "access-token-ttl", env: "HKS_ACCESS_TOKEN_TTL", usage: "lifetime of access tokens", dur: &c.AccessTokenTTL},
		{flag: "refresh-token-ttl", env: "HKS_REFRESH_TOKEN_TTL", usage: "lifetime of refresh tokens", dur: &c.RefreshTokenTTL},
		{flag: "shutdown-timeout", env: "HKS_SHUTDOWN_TIMEOUT", usage: "how long graceful shutdown waits", dur: &c.ShutdownTimeout},
		{flag: "request-timeout", env: "HKS_REQUEST_TIMEOUT", usage: "deadline of each API request", dur: &c.RequestTimeout},
	}
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
		if fl.str != nil {
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
	return c, c.Validate()
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("config: dataDir: must not be empty")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("config: listen: %q is not host:port", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("config: listen: port %q is not a number from 0 to 65535", port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("config: listen: host %q is not an IP address", host)
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
		c.ExternalURL = "http://" + net.JoinHostPort(h, port)
	} else {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("config: externalURL: %q must be an http(s) URL without a path", c.ExternalURL)
		}
		c.ExternalURL = strings.TrimSuffix(c.ExternalURL, "/")
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
	case c.ShutdownTimeout.Duration <= 0:
		return fmt.Errorf("config: shutdownTimeout: %s must be positive", c.ShutdownTimeout)
	case c.RequestTimeout.Duration <= 0:
		return fmt.Errorf("config: requestTimeout: %s must be positive", c.RequestTimeout)
	}
	return nil
}
