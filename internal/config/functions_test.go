package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFunctions(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fn := c.Functions; !fn.Enabled || fn.IdleTimeout.Duration != 5*time.Minute || fn.PoolSize != 1 || fn.MaxInstancesPerWorkspace != 16 ||
		fn.Retention.Duration != 7*24*time.Hour || fn.Runtimes != (FunctionRuntimes{Node: "node", Python: "python3", Go: "go"}) {
		t.Fatalf("defaults: %+v", fn)
	}

	file := filepath.Join(t.TempDir(), "hks.yaml")
	yaml := `functions:
  enabled: false
  idleTimeout: 1m
  poolSize: 0
  maxInstancesPerWorkspace: 4
  retention: 24h
  runtimes:
    node: /opt/node/bin/node
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, []string{"--config", file, "--functions-retention", "48h"}, map[string]string{"HKS_FUNCTIONS_PYTHON": "python3.12", "HKS_FUNCTIONS_POOL_SIZE": "2"})
	if err != nil {
		t.Fatal(err)
	}
	want := Functions{Enabled: false, IdleTimeout: Duration{time.Minute}, PoolSize: 2, MaxInstancesPerWorkspace: 4, Retention: Duration{48 * time.Hour},
		Runtimes: FunctionRuntimes{Node: "/opt/node/bin/node", Python: "python3.12", Go: "go"}}
	if c.Functions != want {
		t.Fatalf("functions: %+v, want %+v", c.Functions, want)
	}
	c, err = load(t, []string{"--functions=false"}, nil)
	if err != nil || c.Functions.Enabled {
		t.Fatalf("--functions=false: %v %+v", err, c.Functions)
	}
}

func TestBadFunctions(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Functions)
		args []string
		want string
	}{
		{"idle too short", func(f *Functions) { f.IdleTimeout = Duration{time.Second} }, nil, "config: functions.idleTimeout: 1s must be 10s to 24h"},
		{"pool", func(f *Functions) { f.PoolSize = -1 }, nil, "config: functions.poolSize: -1 must be 0 to 16"},
		{"instances", func(f *Functions) { f.MaxInstancesPerWorkspace = 0 }, nil, "config: functions.maxInstancesPerWorkspace: 0 must be 1 to 1024"},
		{"retention", func(f *Functions) { f.Retention = Duration{time.Minute} }, nil, "config: functions.retention: 1m0s must be 1h to 8784h (366 days)"},
		{"no node", func(f *Functions) { f.Runtimes.Node = "" }, nil, "config: functions.runtimes.node: must name an executable"},
		{"relative go", func(f *Functions) { f.Runtimes.Go = "bin/go" }, nil, `config: functions.runtimes.go: "bin/go" must be a name found on PATH or an absolute path`},
		{"enabled flag", nil, []string{"--functions=maybe"}, `config: --functions: must be true or false, got "maybe"`},
		{"pool flag", nil, []string{"--functions-pool-size=x"}, `config: --functions-pool-size: must be an integer, got "x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.args != nil {
				_, err = load(t, tt.args, nil)
			} else {
				c := Default()
				tt.edit(&c.Functions)
				err = c.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
