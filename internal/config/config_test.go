package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./.hks" || c.Listen != "127.0.0.1:8080" || c.ExternalURL != "http://127.0.0.1:8080" || c.AccessTokenTTL.Duration != 15*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hks.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndataDir: /from/file\nlogLevel: debug\naccessTokenTTL: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file, "--data-dir", "/from/flag"}, map[string]string{"HKS_LISTEN": "127.0.0.1:9001", "HKS_DATA_DIR": "/from/env"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/flag" || c.Listen != "127.0.0.1:9001" || c.LogLevel != "debug" || c.AccessTokenTTL.Duration != 5*time.Minute {
		t.Fatalf("precedence wrong: %+v", c)
	}
}

func TestBadConfigs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"listen not host:port", []string{"--listen", "8080"}, nil, `config: listen: "8080" is not host:port`},
		{"listen bad port", []string{"--listen", "127.0.0.1:http"}, nil, `config: listen: port "http" is not a number from 0 to 65535`},
		{"listen bad host", []string{"--listen", "example.com:80"}, nil, `config: listen: host "example.com" is not an IP address`},
		{"database url scheme", []string{"--database-url", "mysql://x/y"}, nil, "config: databaseURL: must be postgres://"},
		{"nats url", nil, map[string]string{"HKS_NATS_URL": "http://x"}, "config: natsURL: must be nats://host:port"},
		{"external url path", []string{"--external-url", "https://hks.example.com/api"}, nil, `config: externalURL: "https://hks.example.com/api" must be an http(s) URL without a path`},
		{"log level", nil, map[string]string{"HKS_LOG_LEVEL": "loud"}, `config: logLevel: "loud" must be debug, info, warn or error`},
		{"log format", []string{"--log-format", "xml"}, nil, `config: logFormat: "xml" must be json or text`},
		{"ttl syntax env", nil, map[string]string{"HKS_ACCESS_TOKEN_TTL": "soon"}, `config: HKS_ACCESS_TOKEN_TTL: must be a duration such as 15m, got "soon"`},
		{"ttl range", []string{"--access-token-ttl", "2h"}, nil, "config: accessTokenTTL: 2h0m0s must be from 1m to 1h"},
		{"empty data dir", []string{"--data-dir", " "}, nil, "config: dataDir: must not be empty"},
		{"key rotation too often", []string{"--key-rotation-interval", "10m"}, nil, "config: keyRotationInterval: 10m0s must be from 1h to 8760h"},
		{"workspace token ttl too long", nil, map[string]string{"HKS_WORKSPACE_TOKEN_TTL": "20m"}, "config: workspaceTokenTTL: 20m0s must be from 1m to 15m"},
		{"unknown yaml field", []string{"--config", write("u.yaml", "listn: 1\n")}, nil, `unknown field "listn"`},
		{"bad yaml duration", []string{"--config", write("d.yaml", "refreshTokenTTL: 7days\n")}, nil, `must be a duration such as "15m"`},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "config: read "},
		{"telemetry not host:port", []string{"--telemetry-listen", "9090"}, nil, `config: telemetryListen: "9090" is not host:port`},
		{"telemetry bad port", nil, map[string]string{"HKS_TELEMETRY_LISTEN": "127.0.0.1:99999"}, `config: telemetryListen: port "99999" is not a number from 0 to 65535`},
		{"telemetry bad host", []string{"--config", write("t.yaml", "telemetryListen: metrics.example.com:9090\n")}, nil, `config: telemetryListen: host "metrics.example.com" is not an IP address`},
		{"telemetry on the API listener", []string{"--listen", "127.0.0.1:8080", "--telemetry-listen", "127.0.0.1:8080"}, nil,
			`config: telemetryListen: "127.0.0.1:8080" must differ from listen: the API listener does not serve metrics`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestTelemetryListen: metrics are served on loopback by default, apart
// from the API; off, or an empty setting, turns them off.
func TestTelemetryListen(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default: loopback, apart from the API", nil, nil, "127.0.0.1:8090"},
		{"flag", []string{"--telemetry-listen", "0.0.0.0:9464"}, nil, "0.0.0.0:9464"},
		{"env", nil, map[string]string{"HKS_TELEMETRY_LISTEN": "[::1]:0"}, "[::1]:0"},
		{"off", nil, map[string]string{"HKS_TELEMETRY_LISTEN": "off"}, TelemetryOff},
		{"empty flag is off", []string{"--telemetry-listen", ""}, nil, TelemetryOff},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.env)
			if err != nil || c.TelemetryListen != tt.want {
				t.Fatalf("telemetryListen %q, %v; want %q", c.TelemetryListen, err, tt.want)
			}
		})
	}
}
