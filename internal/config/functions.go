package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Functions configures functions (docs/functions.md): the local engine's
// instances and the record of invocations.
//
//	functions:
//	  enabled: true
//	  idleTimeout: 5m          # an instance without calls this long stops
//	  poolSize: 1              # warm loaders kept per runtime
//	  maxInstancesPerWorkspace: 16
//	  retention: 168h          # invocation records older than this go
//	  runtimes:
//	    node: /usr/bin/node    # default: found on PATH
//	    python: python3
//	    go: go
type Functions struct {
	// Enabled serves the functions API and the HTTP trigger (default true).
	Enabled bool `json:"enabled"`
	// IdleTimeout stops an instance that served no call this long (5m).
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// PoolSize is how many started, not yet loaded interpreters are kept
	// per runtime for cold starts (1; 0 keeps none).
	PoolSize int `json:"poolSize"`
	// MaxInstancesPerWorkspace caps the instances of one workspace's
	// functions at once (16).
	MaxInstancesPerWorkspace int `json:"maxInstancesPerWorkspace,omitempty"`
	// Retention is how long invocation records are kept (7 days).
	Retention Duration `json:"retention,omitempty"`
	// Runtimes are the executables of the runtimes: a name found on
	// PATH or an absolute path ("" for the default).
	Runtimes FunctionRuntimes `json:"runtimes,omitempty"`
}

// FunctionRuntimes are the executables the local engine runs.
type FunctionRuntimes struct {
	Node   string `json:"node,omitempty"`
	Python string `json:"python,omitempty"`
	Go     string `json:"go,omitempty"`
}

func defaultFunctions() Functions {
	return Functions{Enabled: true, IdleTimeout: Duration{5 * time.Minute}, PoolSize: 1, MaxInstancesPerWorkspace: 16,
		Retention: Duration{7 * 24 * time.Hour}, Runtimes: FunctionRuntimes{Node: "node", Python: "python3", Go: "go"}}
}

func (c *Config) functionFields() []field {
	fn := &c.Functions
	return []field{
		boolField("functions", "HKS_FUNCTIONS", "serve functions (the API and the HTTP trigger at /fn/)", &fn.Enabled),
		{flag: "functions-idle-timeout", env: "HKS_FUNCTIONS_IDLE_TIMEOUT", usage: "a function instance without calls this long stops (scale to zero)", dur: &fn.IdleTimeout},
		intField("functions-pool-size", "HKS_FUNCTIONS_POOL_SIZE", "started interpreters kept ready per runtime for cold starts", &fn.PoolSize),
		intField("functions-max-instances-per-workspace", "HKS_FUNCTIONS_MAX_INSTANCES_PER_WORKSPACE", "function instances of one workspace at once", &fn.MaxInstancesPerWorkspace),
		{flag: "functions-retention", env: "HKS_FUNCTIONS_RETENTION", usage: "how long function invocation records are kept", dur: &fn.Retention},
		{flag: "functions-node", env: "HKS_FUNCTIONS_NODE", usage: "node executable for functions (name on PATH or absolute path)", str: &fn.Runtimes.Node},
		{flag: "functions-python", env: "HKS_FUNCTIONS_PYTHON", usage: "python executable for functions (name on PATH or absolute path)", str: &fn.Runtimes.Python},
		{flag: "functions-go", env: "HKS_FUNCTIONS_GO", usage: "go toolchain for functions (name on PATH or absolute path)", str: &fn.Runtimes.Go},
	}
}

func boolField(flag, env, usage string, v *bool) field {
	return field{flag: flag, env: env, usage: usage,
		get: func() string { return strconv.FormatBool(*v) },
		set: func(s string) error {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", s)
			}
			*v = b
			return nil
		}}
}

// validateFunctions checks the functions settings.
func (c *Config) validateFunctions() error {
	fn := &c.Functions
	switch {
	case fn.IdleTimeout.Duration < 10*time.Second || fn.IdleTimeout.Duration > 24*time.Hour:
		return fmt.Errorf("config: functions.idleTimeout: %s must be 10s to 24h", fn.IdleTimeout)
	case fn.PoolSize < 0 || fn.PoolSize > 16:
		return fmt.Errorf("config: functions.poolSize: %d must be 0 to 16", fn.PoolSize)
	case fn.MaxInstancesPerWorkspace < 1 || fn.MaxInstancesPerWorkspace > 1024:
		return fmt.Errorf("config: functions.maxInstancesPerWorkspace: %d must be 1 to 1024", fn.MaxInstancesPerWorkspace)
	case fn.Retention.Duration < time.Hour || fn.Retention.Duration > 366*24*time.Hour:
		return fmt.Errorf("config: functions.retention: %s must be 1h to 8784h (366 days)", fn.Retention)
	}
	for _, r := range []struct{ name, v string }{{"node", fn.Runtimes.Node}, {"python", fn.Runtimes.Python}, {"go", fn.Runtimes.Go}} {
		if r.v == "" {
			return fmt.Errorf("config: functions.runtimes.%s: must name an executable", r.name)
		}
		if filepath.Base(r.v) != r.v && !filepath.IsAbs(r.v) {
			return fmt.Errorf("config: functions.runtimes.%s: %q must be a name found on PATH or an absolute path", r.name, r.v)
		}
	}
	return nil
}
