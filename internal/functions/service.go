package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// Tenancy resolves projects for their callers (tenancy.Service).
type Tenancy interface {
	ResolveProject(r *http.Request) (tenancy.ProjectScope, error)
	ResolveProjectRefs(ctx context.Context, p httpapi.Principal, org, workspace, project string) (tenancy.ProjectScope, error)
}

// Auditor records what is not an HTTP request of its own (expiries).
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord)
}

// Config carries the service's dependencies.
type Config struct {
	Store   store.Store
	Tenancy Tenancy
	// Auth checks the bearer tokens of the HTTP trigger (which is not a
	// route of the API and authenticates by itself).
	Auth   httpapi.Authenticator
	Engine engine.Engine
	// Sealer seals secrets under the master key.
	Sealer *seal.Sealer
	// Tasks runs asynchronous invocations; New registers its handler.
	Tasks *tasks.Queue
	// NATS carries finished invocations to the followers of a
	// function's logs, whichever server they are connected to.
	NATS  *nats.Conn
	Audit Auditor
	// ExternalURL is the base of functions' URLs.
	ExternalURL string
	Logger      *slog.Logger
	Now         func() time.Time
	// Retention is how long invocation records are kept (7 days).
	Retention time.Duration
	// SweepInterval is how often expired functions and old records are
	// deleted (1 minute).
	SweepInterval time.Duration
	// MaxQueuedInvocations bounds a function's asynchronous invocations
	// queued or running at once (DefaultMaxQueuedInvocations); beyond it
	// an async invoke is refused with 429 and Retry-After.
	MaxQueuedInvocations int
	// UserStreams caps the followed logs (?follow=true) open at once per
	// user, keyed by user id: the server shares its per-user cap on
	// long-lived requests (the gateway's, the applications' followed
	// logs), so all count against one; beyond it, 429. nil:
	// DefaultStreamsPerUser, counted by this service alone.
	UserStreams *ratelimit.Concurrency
	// TriggerReadTimeout bounds how long the HTTP trigger waits for a
	// request's body (DefaultTriggerReadTimeout): the trigger is mounted
	// as a subtree, whose requests have the server's read deadline
	// lifted, so without it a slow client could hold a connection open
	// forever.
	TriggerReadTimeout time.Duration
}

// DefaultTriggerReadTimeout is Config.TriggerReadTimeout's default.
const DefaultTriggerReadTimeout = 30 * time.Second

// DefaultStreamsPerUser is Config.UserStreams' cap when it is nil.
const DefaultStreamsPerUser = 64

// DefaultMaxQueuedInvocations is Config.MaxQueuedInvocations' default.
const DefaultMaxQueuedInvocations = 100

// Service serves functions.
type Service struct {
	cfg     Config
	streams *ratelimit.Concurrency
}

// TaskInvoke is the kind of the task that runs an asynchronous invocation.
const TaskInvoke = "function.invoke"

// New returns a Service; it registers the asynchronous invocation task
// with cfg.Tasks, so it must be called before the queue runs.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("functions", cfg, "Store", "Tenancy", "Auth", "Engine", "Sealer", "Tasks", "NATS", "Audit", "ExternalURL", "Logger"); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.TriggerReadTimeout <= 0 {
		cfg.TriggerReadTimeout = DefaultTriggerReadTimeout
	}
	if cfg.MaxQueuedInvocations <= 0 {
		cfg.MaxQueuedInvocations = DefaultMaxQueuedInvocations
	}
	s := &Service{cfg: cfg, streams: cfg.UserStreams}
	if s.streams == nil {
		var err error
		if s.streams, err = ratelimit.NewConcurrency(DefaultStreamsPerUser); err != nil {
			return nil, err
		}
	}
	if err := tasks.Register(cfg.Tasks, TaskInvoke, s.runAsync); err != nil {
		return nil, fmt.Errorf("functions: %w", err)
	}
	return s, nil
}

const (
	functionsPath = workloads.ProjectPath + "/functions"
	functionPath  = functionsPath + "/{function}"
	// TriggerPrefix is where the HTTP trigger is mounted.
	TriggerPrefix = "/fn/"
	// maxUpload is the largest deploy request (4 MiB of code, base64).
	maxUpload = 6 << 20
)

// Routes returns the functions API (the HTTP trigger is Trigger).
func (s *Service) Routes() []httpapi.Route {
	wr := []int{http.StatusForbidden}
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/functions/runtimes", Tag: "functions", Summary: "The runtimes functions can use and whether this platform has each",
			Response: []api.FunctionRuntime{}, Handle: s.runtimes},
		{Method: "GET", Path: functionsPath, Tag: "functions", Summary: "List the project's functions", Response: api.List[api.Function]{}, Query: httpapi.PageQuery, Handle: s.list},
		{Method: "PUT", Path: functionPath, Tag: "functions", Summary: "Deploy a function: create it (201) or add a version (200); the same code and settings make no new version. The code is checked (compiled, parsed or validated) first; If-Match or resource_version make it conditional (412 when stale)",
			Request: api.DeployFunctionRequest{}, Response: api.Function{}, Status: http.StatusCreated, AlsoStatus: http.StatusOK, MaxBodyBytes: maxUpload,
			Errors: append(wr, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge), Action: "function.deploy", Handle: s.deploy},
		{Method: "GET", Path: functionPath, Tag: "functions", Summary: "Get a function", Response: api.Function{}, Handle: s.get},
		{Method: "DELETE", Path: functionPath, Tag: "functions", Summary: "Delete a function, its versions, invocations and triggers; its instances stop", Status: http.StatusNoContent,
			Errors: wr, Action: "function.delete", Handle: s.delete},
		{Method: "GET", Path: functionPath + "/versions", Tag: "functions", Summary: "A function's versions, newest first", Response: api.List[api.FunctionVersion]{}, Handle: s.versions},
		{Method: "GET", Path: functionPath + "/versions/{version}/code", Tag: "functions", Summary: "The code of a version as uploaded", Response: api.FunctionCode{}, Handle: s.code},
		{Method: "PUT", Path: functionPath + "/aliases/{alias}", Tag: "functions", Summary: "Point an alias at one version, or split its calls between two by weight (the weights add up to 100)",
			Request: api.SetFunctionAliasRequest{}, Response: api.Function{}, Errors: append(wr, http.StatusConflict), Action: "function.alias.set", Handle: s.setAlias},
		{Method: "DELETE", Path: functionPath + "/aliases/{alias}", Tag: "functions", Summary: "Delete an alias (not latest)", Status: http.StatusNoContent,
			Errors: append(wr, http.StatusConflict), Action: "function.alias.delete", Handle: s.deleteAlias},
		{Method: "POST", Path: functionPath + "/rollback", Tag: "functions", Summary: "Point an alias (default latest) back at the version it pointed at before its last change, or at a given version",
			Request: api.RollbackFunctionRequest{}, Response: api.Function{}, Errors: append(wr, http.StatusConflict), Action: "function.rollback", Handle: s.rollback},
		{Method: "POST", Path: functionPath + "/secrets", Tag: "functions", Summary: "Set or remove secrets: sealed at rest, given to the instances as environment variables, never shown again",
			Request: api.FunctionSecretsRequest{}, Response: api.Function{}, Errors: append(wr, http.StatusConflict), Action: "function.secrets", Handle: s.secrets},
		{Method: "POST", Path: functionPath + "/invoke", Tag: "functions", Summary: "Invoke a function with a test request: the invocation with the response (200), or at once queued (async: 202)",
			Request: api.InvokeFunctionRequest{}, Response: api.Invocation{}, AlsoStatus: http.StatusAccepted,
			Errors: append(wr, http.StatusTooManyRequests, http.StatusServiceUnavailable), Action: "function.invoke", Handle: s.invoke},
		{Method: "GET", Path: functionPath + "/invocations", Tag: "functions", Summary: "A function's invocations, newest first", Response: api.List[api.Invocation]{}, Query: httpapi.PageQuery, Handle: s.invocations},
		{Method: "GET", Path: functionPath + "/invocations/{invocation}", Tag: "functions", Summary: "One invocation (an asynchronous one with its response)", Response: api.Invocation{}, Handle: s.invocation},
		{Method: "GET", Path: functionPath + "/logs", Tag: "functions", Summary: "The last invocations with their logs (JSON), or with follow=true a text/event-stream of invocations as they finish (event \"invocation\")",
			Response: api.List[api.Invocation]{}, Query: []httpapi.Param{{Name: "follow", Description: "true: stream invocations as they finish (Server-Sent Events)"},
				{Name: "limit", Type: "integer", Description: "how many of the last invocations, 1 to 500 (default 50)"}},
			Stream: true, Raw: http.HandlerFunc(s.logs)},
	}
}

// scope resolves the request's project and function for a caller of at
// least level min: 404 when they do not see the project or it has no
// such function, 403 when they see it with too low a level.
func (s *Service) scope(r *http.Request, min authz.Level) (tenancy.ProjectScope, store.Function, error) {
	ps, err := s.project(r, min)
	if err != nil {
		return ps, store.Function{}, err
	}
	fn, err := s.cfg.Store.GetFunctionByName(r.Context(), ps.Project.ID, r.PathValue("function"))
	if errors.Is(err, store.ErrNotFound) {
		return ps, fn, httpapi.NotFound("function")
	}
	return ps, fn, err
}

// project resolves the request's project for a caller of at least level
// min, as scope does.
func (s *Service) project(r *http.Request, min authz.Level) (tenancy.ProjectScope, error) {
	ps, err := s.cfg.Tenancy.ResolveProject(r)
	if err != nil {
		return ps, err
	}
	if ps.Level < min {
		return ps, httpapi.Forbidden(fmt.Sprintf("this needs the %s role in project %s (you have %s)", min, ps.Project.Name, ps.Level))
	}
	return ps, nil
}

func (s *Service) runtimes(*http.Request) (any, error) {
	out := []api.FunctionRuntime{}
	for _, rt := range s.cfg.Engine.Runtimes() {
		out = append(out, api.FunctionRuntime{Name: rt.Name, Available: rt.Available, Version: rt.Version, Reason: rt.Reason, Sandbox: rt.Sandbox, Entry: rt.Entry})
	}
	return out, nil
}

// URL is the function's HTTP trigger.
func (s *Service) URL(ps tenancy.ProjectScope, name string) string {
	return s.cfg.ExternalURL + TriggerPrefix + url.PathEscape(ps.Org.Slug) + "/" + url.PathEscape(ps.Workspace.Name) + "/" +
		url.PathEscape(ps.Project.Name) + "/" + url.PathEscape(name)
}

// key is the engine's key of a version: its instances carry the
// function's secrets of now, so a change of secrets is a new key.
func key(fn store.Function, version int) string {
	names := make([]string, 0, len(fn.Secrets))
	for n := range fn.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%x;", n, fn.Secrets[n])
	}
	return fn.ID + "/" + strconv.Itoa(version) + "/" + hex.EncodeToString(h.Sum(nil))[:12]
}

// targeted are the versions the function's aliases point at.
func targeted(fn store.Function) []int {
	var out []int
	for _, a := range fn.Aliases {
		for _, t := range a.Targets {
			if !slices.Contains(out, t.Version) {
				out = append(out, t.Version)
			}
		}
	}
	return out
}

func (s *Service) functionOut(ctx context.Context, ps tenancy.ProjectScope, fn store.Function) (api.Function, error) {
	out := api.Function{Name: fn.Name, Project: ps.Project.Name, Runtime: fn.Runtime, Access: fn.Access, Description: fn.Description,
		URL: s.URL(ps, fn.Name), LatestVersion: fn.LatestVersion, Aliases: []api.FunctionAlias{}, Secrets: []string{},
		CreatedAt: fn.CreatedAt, UpdatedAt: fn.UpdatedAt, ResourceVersion: strconv.FormatInt(fn.Version, 10)}
	for _, a := range fn.Aliases {
		ts := []api.FunctionAliasTarget{}
		for _, t := range a.Targets {
			ts = append(ts, api.FunctionAliasTarget{Version: t.Version, Weight: t.Weight})
		}
		out.Aliases = append(out.Aliases, api.FunctionAlias{Name: a.Name, Targets: ts})
	}
	for n := range fn.Secrets {
		out.Secrets = append(out.Secrets, n)
	}
	sort.Strings(out.Secrets)
	if !fn.ExpiresAt.IsZero() {
		t := fn.ExpiresAt
		out.ExpiresAt = &t
	}
	for _, v := range targeted(fn) {
		out.Instances += s.cfg.Engine.Instances(key(fn, v))
	}
	vs, err := s.cfg.Store.ListFunctionVersions(ctx, fn.ID)
	if err != nil {
		return out, err
	}
	if len(vs) > 0 {
		out.Limits = limitsOut(vs[0].Limits)
	}
	return out, nil
}

func limitsOut(l store.FunctionLimits) api.FunctionLimits {
	return api.FunctionLimits{MemoryMB: l.MemoryMB, TimeoutSeconds: l.TimeoutSeconds, Concurrency: l.Concurrency, MaxInstances: l.MaxInstances}
}

func (s *Service) list(r *http.Request) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	ps, err := s.project(r, authz.View)
	if err != nil {
		return nil, err
	}
	fns, next, err := s.cfg.Store.ListFunctions(r.Context(), ps.Project.ID, page)
	if err != nil {
		return nil, err
	}
	out := make([]api.Function, 0, len(fns))
	for _, fn := range fns {
		o, err := s.functionOut(r.Context(), ps, fn)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return httpapi.NewList(out, next), nil
}

func (s *Service) get(r *http.Request) (any, error) {
	ps, fn, err := s.scope(r, authz.View)
	if err != nil {
		return nil, err
	}
	return s.functionOut(r.Context(), ps, fn)
}

func (s *Service) delete(r *http.Request) (any, error) {
	_, fn, err := s.scope(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	if err := s.remove(r.Context(), fn); err != nil {
		return nil, err
	}
	return nil, nil
}

// remove deletes fn and stops its instances.
func (s *Service) remove(ctx context.Context, fn store.Function) error {
	if err := s.cfg.Store.DeleteFunction(ctx, fn.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for v := 1; v <= fn.LatestVersion; v++ {
		s.cfg.Engine.Forget(key(fn, v))
	}
	return nil
}

func (s *Service) versions(r *http.Request) (any, error) {
	_, fn, err := s.scope(r, authz.View)
	if err != nil {
		return nil, err
	}
	vs, err := s.cfg.Store.ListFunctionVersions(r.Context(), fn.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.FunctionVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, api.FunctionVersion{Version: v.Version, Digest: v.Digest, Runtime: fn.Runtime, Filename: v.Filename, SizeBytes: v.Size,
			Env: v.Env, Limits: limitsOut(v.Limits), CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy, BuildMillis: v.BuildMillis})
	}
	return httpapi.NewList(out, ""), nil
}

// versionParam reads {version}: 404 unless it is a version of fn.
func (s *Service) versionParam(r *http.Request, fn store.Function) (store.FunctionVersion, error) {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		return store.FunctionVersion{}, httpapi.NotFound("version")
	}
	v, err := s.cfg.Store.GetFunctionVersion(r.Context(), fn.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return v, httpapi.NotFound("version")
	}
	return v, err
}

func (s *Service) code(r *http.Request) (any, error) {
	_, fn, err := s.scope(r, authz.View)
	if err != nil {
		return nil, err
	}
	v, err := s.versionParam(r, fn)
	if err != nil {
		return nil, err
	}
	return api.FunctionCode{Version: v.Version, Filename: v.Filename, Content: v.Content}, nil
}
