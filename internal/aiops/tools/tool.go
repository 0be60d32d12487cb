package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Effect says whether a tool reads or writes. A write tool never writes
// itself: it proposes a request that a plan runs once its user confirms.
type Effect string

const (
	Read  Effect = "read"
	Write Effect = "write"
)

// Result is what a read tool (or an executed plan) answers.
type Result struct {
	// Text is what the model reads: scrubbed and capped (MaxOutput).
	Text string
	// Data is the same answer structured, for the console (optional;
	// scrubbed by Registry.Call and Execute: JSON values).
	Data any
}

// Proposal is the request a write tool would make, not made.
type Proposal struct {
	// Summary is one line for people: "scale deployment web in shop
	// from 2 to 5 replicas".
	Summary string
	// Method, Path (absolute API path, with its query) and Body (JSON,
	// nil for none) are the exact request to the workspace API server.
	Method string
	Path   string
	Body   []byte
	// GuardPath is the API path of the object the plan was made against
	// and GuardResourceVersion its resourceVersion then ("" when none):
	// Execute refuses the plan (ErrStale) once it changed.
	GuardPath            string
	GuardResourceVersion string
	// Before is the object before (JSON without managedFields, Secret
	// values redacted, scrubbed), nil when there is none (a create).
	Before []byte

	// Target is what the request goes to: TargetWorkspace ("") or
	// TargetPlatform (Path is then a path of the platform's API, sent
	// with Target.Platform; GuardPath too, and the guard compares the
	// object's resource_version, "" meaning it must not exist).
	Target string
	// For a platform proposal: DryRun asks Prepare to send the request
	// with ?dry_run=true first (the body DryRunBody, when not nil,
	// instead of Body); BeforeText and AfterText are what the plan shows
	// before and after (its diff is theirs).
	DryRun                bool
	DryRunBody            []byte
	BeforeText, AfterText string
}

// Tool is one capability of the assistant.
type Tool struct {
	// Name is snake_case, unique in a Registry.
	Name        string
	Description string
	Effect      Effect
	// Schema is the JSON schema of the arguments: type object,
	// properties, required, additionalProperties false.
	Schema map[string]any
	// Read answers a read tool's call (Effect Read only).
	Read func(ctx context.Context, t *Target, args json.RawMessage) (Result, error)
	// Propose makes a write tool's request without making it (Effect
	// Write only): it may read (GET) the cluster, never write.
	Propose func(ctx context.Context, t *Target, args json.RawMessage) (Proposal, error)
	// Target is what the tool reaches: TargetWorkspace ("", the
	// workspace cluster with Target.Client) or TargetPlatform (the
	// platform's API with Target.Platform).
	Target string
	// Execute, if not nil, runs a confirmed plan of this write tool
	// (after Registry.Execute checked its hash and guard) instead of
	// sending its one request: a plan that is several requests, such as
	// run_code's deploy, invoke and delete. It runs only what the plan's
	// hashed request says.
	Execute func(ctx context.Context, t *Target, pl store.Plan) (Result, error)
}

// DefaultMaxOutput caps a Result's Text unless a Registry says otherwise.
const DefaultMaxOutput = 16 << 10

// Registry holds the tools the assistant may call.
type Registry struct {
	mu        sync.RWMutex
	tools     map[string]Tool
	maxOutput int
}

var toolName = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// NewRegistry returns a registry of ts (see Add), capping the output of
// its tools at DefaultMaxOutput.
func NewRegistry(ts ...Tool) (*Registry, error) {
	r := &Registry{tools: map[string]Tool{}, maxOutput: DefaultMaxOutput}
	if err := r.Add(ts...); err != nil {
		return nil, err
	}
	return r, nil
}

// SetMaxOutput caps every Result.Text of Call at n bytes (n <= 0: the
// default).
func (r *Registry) SetMaxOutput(n int) {
	if n <= 0 {
		n = DefaultMaxOutput
	}
	r.mu.Lock()
	r.maxOutput = n
	r.mu.Unlock()
}

// MaxOutput is the cap of a Result.Text.
func (r *Registry) MaxOutput() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.maxOutput
}

// Add registers tools after checking each: a unique snake_case name, a
// description, an object schema, an Effect and exactly the function of
// that Effect. Nothing is added when one is refused.
func (r *Registry) Add(ts ...Tool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range ts {
		if err := checkTool(t); err != nil {
			return err
		}
		if _, dup := r.tools[t.Name]; dup || seen[t.Name] {
			return fmt.Errorf("tool %s: registered twice", t.Name)
		}
		seen[t.Name] = true
	}
	for _, t := range ts {
		r.tools[t.Name] = t
	}
	return nil
}

func checkTool(t Tool) error {
	if !toolName.MatchString(t.Name) || len(t.Name) > 64 {
		return fmt.Errorf("tool %q: the name must be snake_case (lowercase letters, digits, underscores), at most 64 characters", t.Name)
	}
	if strings.TrimSpace(t.Description) == "" {
		return fmt.Errorf("tool %s: a description is required", t.Name)
	}
	if t.Schema == nil {
		return fmt.Errorf("tool %s: a schema is required", t.Name)
	}
	if t.Schema["type"] != "object" {
		return fmt.Errorf("tool %s: the schema must be of type object", t.Name)
	}
	if _, ok := t.Schema["properties"].(map[string]any); !ok {
		return fmt.Errorf("tool %s: the schema must have properties", t.Name)
	}
	if t.Schema["additionalProperties"] != false {
		return fmt.Errorf("tool %s: the schema must set additionalProperties false", t.Name)
	}
	if _, err := json.Marshal(t.Schema); err != nil {
		return fmt.Errorf("tool %s: schema: %w", t.Name, err)
	}
	if t.Target != "" && t.Target != TargetWorkspace && t.Target != TargetPlatform {
		return fmt.Errorf("tool %s: target %q is neither workspace nor platform", t.Name, t.Target)
	}
	if t.Execute != nil && t.Effect != Write {
		return fmt.Errorf("tool %s: only a write tool has Execute", t.Name)
	}
	switch t.Effect {
	case Read:
		if t.Read == nil || t.Propose != nil {
			return fmt.Errorf("tool %s: a read tool has Read and no Propose", t.Name)
		}
	case Write:
		if t.Propose == nil || t.Read != nil {
			return fmt.Errorf("tool %s: a write tool has Propose and no Read", t.Name)
		}
	default:
		return fmt.Errorf("tool %s: effect %q is neither read nor write", t.Name, t.Effect)
	}
	return nil
}

// Get answers the tool called name.
func (r *Registry) Get(name string) (Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[name]
	return t, ok
}

// List answers every tool, sorted by name.
func (r *Registry) List() []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Tool, 0, len(r.tools))
	for _, t := range r.tools {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tool) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Call runs read tool name: its Text scrubbed and capped at MaxOutput,
// its Data scrubbed (ScrubData), whatever the tool did itself. An unknown tool, or a write tool, is an
// *ArgError (field "tool"): the model may pick another.
func (r *Registry) Call(ctx context.Context, t *Target, name string, args json.RawMessage) (Result, error) {
	tool, ok := r.Get(name)
	if !ok {
		return Result{}, &ArgError{Field: "tool", Message: fmt.Sprintf("no tool named %q", name)}
	}
	if tool.Effect != Read {
		return Result{}, &ArgError{Field: "tool", Message: fmt.Sprintf("%s is a write tool: it makes a plan (Propose)", name)}
	}
	if err := t.checkFor(tool.Target); err != nil {
		return Result{}, err
	}
	res, err := tool.Read(ctx, t, args)
	if err != nil {
		return Result{}, err
	}
	res.Text = Cap(Scrub(res.Text), r.MaxOutput())
	res.Data = ScrubData(res.Data)
	return res, nil
}

// Propose runs write tool name's Propose (which reads, never writes).
// An unknown tool, or a read tool, is an *ArgError (field "tool").
func (r *Registry) Propose(ctx context.Context, t *Target, name string, args json.RawMessage) (Proposal, error) {
	tool, ok := r.Get(name)
	if !ok {
		return Proposal{}, &ArgError{Field: "tool", Message: fmt.Sprintf("no tool named %q", name)}
	}
	if tool.Effect != Write {
		return Proposal{}, &ArgError{Field: "tool", Message: fmt.Sprintf("%s is a read tool (Call)", name)}
	}
	if err := t.checkFor(tool.Target); err != nil {
		return Proposal{}, err
	}
	p, err := tool.Propose(ctx, t, args)
	if err != nil {
		return Proposal{}, err
	}
	p.Summary = Scrub(p.Summary)
	return p, nil
}

// ArgError is a tool's argument the tool refuses: the model sees it and
// may call again.
type ArgError struct {
	Field   string
	Message string
}

func (e *ArgError) Error() string {
	if e.Field == "" {
		return "invalid arguments: " + e.Message
	}
	return "invalid argument " + e.Field + ": " + e.Message
}

// ClusterError is a refusal of the workspace cluster (403, 404, 409,
// 422, …), its message as the API server said it, scrubbed; or, with
// Platform set, a refusal of the platform's API (a problem's title and
// detail).
type ClusterError struct {
	Status   int
	Reason   string
	Message  string
	Platform bool
}

func (e *ClusterError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s refused (%d %s): %s", e.Who(), e.Status, reason, e.Message)
}

// Who names who refused: "the workspace cluster" or "the platform".
func (e *ClusterError) Who() string {
	if e.Platform {
		return "the platform"
	}
	return "the workspace cluster"
}

// ErrStale: the object a plan was made against changed (or went) since.
var ErrStale = errors.New("the object changed since the plan")

// ErrNotAvailable: a tool needs what this Target does not offer (the
// analyzers, the run history).
var ErrNotAvailable = errors.New("not available here")

// ErrorText is what the model (or a person) may read of a tool's error:
// an argument or a refusal of the cluster as it is, a stale plan, and
// nothing of anything else (an internal error is logged by the caller).
func ErrorText(err error) string {
	var ae *ArgError
	var ce *ClusterError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return Scrub(ae.Error())
	case errors.As(err, &ce):
		return Scrub(ce.Error())
	case errors.Is(err, ErrStale):
		return ErrStale.Error() + ": make a fresh plan"
	case errors.Is(err, ErrNotAvailable):
		return "not available in this workspace"
	case errors.Is(err, context.DeadlineExceeded):
		return "the workspace cluster did not answer in time"
	}
	return "the tool failed (internal error)"
}
