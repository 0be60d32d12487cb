package engine

import (
	"context"
	"errors"
	"time"
)

// Runtimes the platform knows.
const (
	RuntimeNode   = "node"
	RuntimePython = "python"
	RuntimeGo     = "go"
	RuntimeWasm   = "wasm"
)

// Exit reasons of an invocation that did not answer.
const (
	ExitError   = "error"   // the handler threw (or its module trapped)
	ExitCrash   = "crash"   // the instance's process died
	ExitTimeout = "timeout" // the invocation ran past its timeout
	ExitOOM     = "oom"     // the instance ran out of memory
	ExitPids    = "pids"    // the instance hit its process limit
	ExitRefused = "refused" // no instance could take the call in time (429)
)

// RuntimeInfo says whether a runtime is present on this machine.
type RuntimeInfo struct {
	Name      string
	Available bool
	Version   string
	Reason    string // why not available
	Sandbox   string // "bubblewrap" or "wasm"
	Entry     string // entry file name in an archive: index.js, handler.py, main.go, fn.wasm
}

// Limits bound one instance and one invocation.
type Limits struct {
	MemoryBytes  int64
	Timeout      time.Duration
	Concurrency  int // invocations one instance serves at once
	MaxInstances int // instances of one version at once
	Pids         int // processes and threads of one instance
}

// Version is one immutable deploy, as the engine needs it.
type Version struct {
	// Key identifies the version (the store's id); instances are per key.
	Key string
	// Owner is the workspace the version belongs to: the per-workspace
	// instance cap counts by it.
	Owner   string
	Runtime string
	// Digest is the sha256 of the code; artifacts are cached by it.
	Digest string
	// Files is the code: file name → content (one file, or an archive's
	// files); the entry file is RuntimeInfo.Entry.
	Files  map[string][]byte
	Env    map[string]string // including unsealed secrets
	Limits Limits
}

// Request is an HTTP request as a handler sees it.
type Request struct {
	Method  string
	Path    string // below the function's URL, starting with /
	Query   map[string][]string
	Headers map[string][]string
	Body    []byte
}

// Response is what a handler answered.
type Response struct {
	Status  int
	Headers map[string][]string
	Body    []byte
}

// Result is one invocation's outcome. A handler that answered (any
// status) has ExitReason ""; otherwise ExitReason says why not.
type Result struct {
	Response   Response
	ExitReason string
	Error      string // what the runtime said, for the record (no host paths)
	Logs       []byte // the instance's stdout and stderr during the call, capped
	ColdStart  bool
	Duration   time.Duration
}

// BuildError is code the runtime refused at deploy: a syntax error, a
// compile error, a module that does not validate. Message is the
// runtime's own words.
type BuildError struct {
	Runtime string
	Message string
}

func (e *BuildError) Error() string { return e.Runtime + ": " + e.Message }

// ErrUnavailable is a runtime this machine lacks.
var ErrUnavailable = errors.New("runtime not available")

// ErrBusy is a call refused because every instance is busy and the queue
// is full; RetryAfter says when to try again.
type ErrBusy struct{ RetryAfter time.Duration }

func (e *ErrBusy) Error() string { return "function busy: every instance and queue slot is taken" }

// Engine runs functions. The embedded default is the local engine
// (sandboxed processes and in-process WebAssembly); a production engine
// maps the same calls onto Knative Serving.
type Engine interface {
	// Runtimes lists the runtimes and whether each is present.
	Runtimes() []RuntimeInfo
	// Build checks and builds a version's code (compiles Go, checks
	// JavaScript and Python syntax, validates a module) and caches the
	// artifact by digest. A refused build is a *BuildError.
	Build(ctx context.Context, v Version) error
	// Invoke calls the version, starting an instance when none is warm
	// (building first when the artifact is not cached). Err is only for
	// calls that never reached a handler for reasons not in Result
	// (ErrUnavailable, *ErrBusy, ctx done).
	Invoke(ctx context.Context, v Version, req Request) (Result, error)
	// Instances is how many instances of the version are warm.
	Instances(key string) int
	// Forget stops the version's instances (its artifact may stay cached).
	Forget(key string)
	// Close stops every instance and loader.
	Close() error
}
