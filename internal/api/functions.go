package api

import "time"

// FunctionRuntime is a runtime the platform can run functions in.
type FunctionRuntime struct {
	Name      string `json:"name" doc:"node, python, go or wasm"`
	Available bool   `json:"available" doc:"false when this machine lacks it; deploying to it is refused with 422"`
	Version   string `json:"version,omitempty" doc:"the interpreter's or toolchain's version, as it reports it"`
	Reason    string `json:"reason,omitempty" doc:"why it is unavailable"`
	Sandbox   string `json:"sandbox" doc:"bubblewrap (a process in its own namespaces, cgroups and seccomp filter) or wasm (in-process WebAssembly)"`
	Entry     string `json:"entry" doc:"the file that holds the handler in an archive"`
}

// FunctionLimits bound each instance and invocation of a function.
type FunctionLimits struct {
	MemoryMB       int `json:"memory_mb,omitempty" doc:"memory of one instance (default 128, at most 1024)"`
	TimeoutSeconds int `json:"timeout_seconds,omitempty" doc:"wall-clock limit of one invocation (default 10, at most 300)"`
	Concurrency    int `json:"concurrency,omitempty" doc:"invocations one instance serves at once (default 1)"`
	MaxInstances   int `json:"max_instances,omitempty" doc:"instances of this function at once (default 4); calls beyond concurrency × instances queue, then get 429"`
}

// FunctionSource is the code of a deploy: one file, or a small archive
// (zip or tar.gz) holding the runtime's entry file.
type FunctionSource struct {
	Filename string `json:"filename" doc:"e.g. handler.py, index.js, main.go, fn.wasm, code.zip, code.tar.gz"`
	Content  []byte `json:"content" doc:"the file's bytes, base64 in JSON; at most 4 MiB (the archive's files together at most 16 MiB)"`
}

// DeployFunctionRequest creates a function, or a new version of it when it
// exists (PUT is idempotent: the same code and settings make no new
// version).
type DeployFunctionRequest struct {
	Runtime string            `json:"runtime" doc:"node, python, go or wasm; cannot change once the function exists"`
	Source  FunctionSource    `json:"source"`
	Access  string            `json:"access,omitempty" doc:"private (default: a platform token with access to the project) or public (anyone with the URL)"`
	Env     map[string]string `json:"env,omitempty" doc:"environment variables of the version"`
	Limits  *FunctionLimits   `json:"limits,omitempty"`
	TTL     string            `json:"ttl,omitempty" doc:"Go duration (at least 1m, at most 30 days): the function deletes itself this long after the deploy"`
	// Description is shown in lists.
	Description     string `json:"description,omitempty"`
	ResourceVersion string `json:"resource_version,omitempty" doc:"when given, the deploy is refused with 412 unless the function is still at this version"`
}

// FunctionAliasTarget is one version an alias sends traffic to.
type FunctionAliasTarget struct {
	Version int `json:"version"`
	Weight  int `json:"weight" doc:"percent of the alias's calls; the weights of an alias add up to 100"`
}

// FunctionAlias is a named pointer at one or two versions.
type FunctionAlias struct {
	Name    string                `json:"name" doc:"latest is kept at the newest version by every deploy"`
	Targets []FunctionAliasTarget `json:"targets"`
}

// SetFunctionAliasRequest points an alias at versions with weights.
type SetFunctionAliasRequest struct {
	Targets []FunctionAliasTarget `json:"targets"`
}

// RollbackFunctionRequest points an alias back at one version.
type RollbackFunctionRequest struct {
	Alias   string `json:"alias,omitempty" doc:"default latest"`
	Version int    `json:"version,omitempty" doc:"default: the version the alias pointed at before its last change"`
}

// FunctionSecretsRequest sets the function's secrets: sealed at rest,
// given to its instances as environment variables, never shown again.
type FunctionSecretsRequest struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// FunctionVersion is one immutable deploy of a function.
type FunctionVersion struct {
	Version     int               `json:"version"`
	Digest      string            `json:"digest" doc:"sha256 of the code, runtime, environment and limits"`
	Runtime     string            `json:"runtime"`
	Filename    string            `json:"filename"`
	SizeBytes   int64             `json:"size_bytes"`
	Env         map[string]string `json:"env,omitempty"`
	Limits      FunctionLimits    `json:"limits"`
	CreatedAt   time.Time         `json:"created_at"`
	CreatedBy   string            `json:"created_by,omitempty"`
	BuildMillis int64             `json:"build_ms" doc:"time the build or load check took at deploy"`
}

// Function is a function of a project.
type Function struct {
	Name            string          `json:"name"`
	Project         string          `json:"project"`
	Runtime         string          `json:"runtime"`
	Access          string          `json:"access"`
	Description     string          `json:"description,omitempty"`
	URL             string          `json:"url" doc:"the HTTP trigger; append /<alias> for an alias other than latest"`
	LatestVersion   int             `json:"latest_version"`
	Aliases         []FunctionAlias `json:"aliases"`
	Limits          FunctionLimits  `json:"limits" doc:"of the latest version"`
	Secrets         []string        `json:"secrets" doc:"names only"`
	ExpiresAt       *time.Time      `json:"expires_at,omitempty" doc:"set by a ttl: the function is deleted then"`
	Instances       int             `json:"instances" doc:"warm instances now (0: scaled to zero)"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	ResourceVersion string          `json:"resource_version"`
}

// FunctionCode is the source of one version.
type FunctionCode struct {
	Version  int    `json:"version"`
	Filename string `json:"filename"`
	Content  []byte `json:"content" doc:"base64 in JSON"`
}

// InvokeFunctionRequest is a test invocation through the API (the HTTP
// trigger takes the request as it comes).
type InvokeFunctionRequest struct {
	Alias   string              `json:"alias,omitempty" doc:"default latest"`
	Version int                 `json:"version,omitempty" doc:"a version instead of an alias"`
	Method  string              `json:"method,omitempty" doc:"default POST"`
	Path    string              `json:"path,omitempty" doc:"default /"`
	Query   map[string][]string `json:"query,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body,omitempty"`
	Async   bool                `json:"async,omitempty" doc:"answer 202 with the invocation at once; fetch its result later"`
}

// FunctionResponse is what a function answered.
type FunctionResponse struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body"`
}

// Invocation is the record of one call of a function.
type Invocation struct {
	ID         string            `json:"id"`
	Function   string            `json:"function"`
	Version    int               `json:"version"`
	Alias      string            `json:"alias,omitempty"`
	Trigger    string            `json:"trigger" doc:"http, api, async, cron, event or assistant"`
	Status     string            `json:"status" doc:"queued, running, succeeded or failed"`
	ExitReason string            `json:"exit_reason,omitempty" doc:"why a failed invocation ended: error (the handler threw or answered 5xx), crash, timeout, oom, pids, refused"`
	ColdStart  bool              `json:"cold_start"`
	StartedAt  time.Time         `json:"started_at"`
	DurationMS float64           `json:"duration_ms"`
	Logs       string            `json:"logs,omitempty" doc:"stdout and stderr (at most 64 KiB; later output is cut)"`
	Response   *FunctionResponse `json:"response,omitempty" doc:"kept for async invocations"`
	Error      string            `json:"error,omitempty"`
}

// FunctionTrigger runs a function on a schedule or on events of a topic.
type FunctionTrigger struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind" doc:"cron or event"`
	Schedule  string    `json:"schedule,omitempty" doc:"cron: the schedule, as a CronJob's"`
	TimeZone  string    `json:"time_zone,omitempty" doc:"cron: IANA time zone (default UTC)"`
	Topic     string    `json:"topic,omitempty" doc:"event: the project's topic it subscribes to"`
	Alias     string    `json:"alias,omitempty" doc:"default latest"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateFunctionTriggerRequest creates a trigger.
type CreateFunctionTriggerRequest struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Schedule string `json:"schedule,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Alias    string `json:"alias,omitempty"`
}

// PublishEventResponse is the event as published.
type PublishEventResponse struct {
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	Handlers int    `json:"handlers" doc:"functions subscribed to the topic when it was published"`
	// Duplicate: the project published an event with this id within the
	// duplicate window (2 minutes), so this one was dropped (status 200).
	Duplicate bool `json:"duplicate,omitempty" doc:"true when an event with this id was published in the project within the last 2 minutes: this one was dropped and nothing runs for it (status 200 instead of 202)"`
}

// DeadLetter is an event a function failed to handle after its last try.
type DeadLetter struct {
	ID        string    `json:"id"`
	Function  string    `json:"function"`
	Trigger   string    `json:"trigger"`
	Topic     string    `json:"topic"`
	EventID   string    `json:"event_id"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Payload   string    `json:"payload"`
	CreatedAt time.Time `json:"created_at"`
}
