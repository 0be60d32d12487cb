package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
)

const (
	// MaxLogBytes caps the logs kept of one invocation.
	MaxLogBytes = 64 << 10
	// maxKeptBody caps the response body kept with an invocation record.
	maxKeptBody = 256 << 10
)

// Triggers of invocations.
const (
	TriggerHTTP  = "http"
	TriggerAPI   = "api"
	TriggerAsync = "async"
)

// Ref names a function for the triggers.
type Ref struct{ ID, OrgID, WorkspaceID, ProjectID, Name string }

func refOf(fn store.Function) Ref {
	return Ref{ID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, ProjectID: fn.ProjectID, Name: fn.Name}
}

// FunctionByName finds a project's function: store.ErrNotFound when the
// project has no such function.
func (s *Service) FunctionByName(ctx context.Context, projectID, name string) (Ref, error) {
	fn, err := s.cfg.Store.GetFunctionByName(ctx, projectID, name)
	if err != nil {
		return Ref{}, err
	}
	return refOf(fn), nil
}

// pick chooses the version a call runs: the given one, or one of the
// alias's targets by weight (default latest).
func (s *Service) pick(ctx context.Context, fn store.Function, alias string, version int) (store.FunctionVersion, string, error) {
	if version == 0 {
		if alias == "" {
			alias = store.AliasLatest
		}
		a, ok := fn.Alias(alias)
		if !ok || len(a.Targets) == 0 {
			return store.FunctionVersion{}, alias, httpapi.NotFound("alias")
		}
		version = a.Targets[0].Version
		if len(a.Targets) == 2 && rand.IntN(100) >= a.Targets[0].Weight {
			version = a.Targets[1].Version
		}
	}
	v, err := s.cfg.Store.GetFunctionVersion(ctx, fn.ID, version)
	if errors.Is(err, store.ErrNotFound) {
		return v, alias, httpapi.NotFound("version")
	}
	return v, alias, err
}

// engineVersion is v of fn as the engine runs it: its files, and its
// environment with the function's secrets unsealed.
func (s *Service) engineVersion(fn store.Function, v store.FunctionVersion) (engine.Version, error) {
	ev := engine.Version{Key: key(fn, v.Version), Owner: fn.WorkspaceID, Runtime: fn.Runtime, Digest: v.Digest, Limits: engineLimits(v.Limits),
		Env: map[string]string{}}
	entry := ""
	for _, rt := range s.cfg.Engine.Runtimes() {
		if rt.Name == fn.Runtime {
			entry = rt.Entry
		}
	}
	fs, err := files(v.Filename, entry, v.Content)
	if err != nil {
		return ev, fmt.Errorf("unpack version %d: %w", v.Version, err)
	}
	ev.Files = fs
	for k, val := range v.Env {
		ev.Env[k] = val
	}
	for k, sealed := range fn.Secrets {
		b, err := s.cfg.Sealer.Open(sealed, secretAD(fn.ID, k))
		if err != nil {
			return ev, fmt.Errorf("unseal secret %s: %w", k, err)
		}
		ev.Env[k] = string(b)
	}
	return ev, nil
}

// call runs one invocation of fn: it never records anything. err is for
// calls that never reached a handler (engine.ErrUnavailable,
// *engine.ErrBusy, ctx).
func (s *Service) call(ctx context.Context, fn store.Function, v store.FunctionVersion, req engine.Request) (engine.Result, error) {
	ev, err := s.engineVersion(fn, v)
	if err != nil {
		return engine.Result{}, err
	}
	return s.cfg.Engine.Invoke(ctx, ev, req)
}

// outcome fills inv from a call's result (or the error of a call that
// never ran).
func (s *Service) outcome(inv *store.Invocation, res engine.Result, err error, keep bool) {
	inv.FinishedAt = s.cfg.Now().UTC()
	var busy *engine.ErrBusy
	switch {
	case errors.As(err, &busy):
		inv.Status, inv.ExitReason, inv.Error = store.InvocationFailed, engine.ExitRefused, "every instance was busy and the queue full"
		return
	case errors.Is(err, engine.ErrUnavailable):
		inv.Status, inv.ExitReason, inv.Error = store.InvocationFailed, engine.ExitError, "the runtime is not available on this platform"
		return
	case err != nil:
		inv.Status, inv.ExitReason, inv.Error = store.InvocationFailed, engine.ExitError, NotRunReason(err)
		s.cfg.Logger.Warn("function call did not run", "invocation", inv.ID, "function", inv.FunctionID, "error", err)
		return
	}
	inv.ColdStart = res.ColdStart
	inv.DurationMS = float64(res.Duration.Microseconds()) / 1000
	inv.Logs = capUTF8(res.Logs, MaxLogBytes)
	inv.Error = res.Error
	inv.ExitReason = res.ExitReason
	inv.Status = store.InvocationSucceeded
	if inv.ExitReason == "" && res.Response.Status >= 500 {
		inv.ExitReason = engine.ExitError
	}
	if inv.ExitReason != "" {
		inv.Status = store.InvocationFailed
	}
	if keep && res.ExitReason == "" {
		r := responseOut(res.Response, maxKeptBody)
		if b, err := json.Marshal(r); err == nil {
			inv.Response = string(b)
		}
	}
}

// NotRunReason is what a record (or a dead letter) says of a call that
// never reached a handler: a sentence per kind of failure, never the
// error's own text, which can name host paths, sandbox messages or a
// secret's name (the caller logs that). A build error keeps the runtime's
// own message, which is the developer's to read.
func NotRunReason(err error) string {
	var busy *engine.ErrBusy
	var be *engine.BuildError
	var he *httpapi.Error
	switch {
	case errors.As(err, &busy):
		return "every instance was busy and the queue full"
	case errors.Is(err, engine.ErrUnavailable):
		return "the runtime is not available on this platform"
	case errors.As(err, &be):
		return "the code did not build: " + be.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "the call timed out before the function ran"
	case errors.Is(err, context.Canceled):
		return "the call was canceled before the function ran"
	case errors.Is(err, store.ErrNotFound):
		return "the function is gone"
	case errors.As(err, &he) && he.Status < 500:
		return he.Detail // such as "alias not found"
	default:
		return "the call did not run because of an internal error (the platform's log has the cause)"
	}
}

func responseOut(r engine.Response, max int) api.FunctionResponse {
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	body := r.Body
	if len(body) > max {
		body = body[:max]
	}
	return api.FunctionResponse{Status: status, Headers: r.Headers, Body: string(body)}
}

// capUTF8 cuts b to at most n bytes at a character boundary.
func capUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[:n]
	for len(b) > 0 && !utf8.Valid(b[len(b)-min(len(b), utf8.UTFMax):]) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// record stores a finished invocation (create, or finish a queued one),
// meters it and tells the followers of the function's logs.
func (s *Service) record(ctx context.Context, fn store.Function, v store.FunctionVersion, inv store.Invocation, queued bool, ran bool) error {
	var err error
	if queued {
		err = s.cfg.Store.FinishInvocation(ctx, inv)
	} else {
		err = s.cfg.Store.CreateInvocation(ctx, inv)
	}
	if err != nil {
		return err
	}
	if ran {
		mem := int64(v.Limits.MemoryMB) * int64(math.Ceil(inv.DurationMS))
		if err := s.cfg.Store.RecordUsage(ctx,
			store.UsageRecord{ID: inv.ID + ":" + store.MeterFnInvocations, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Meter: store.MeterFnInvocations, Subject: fn.ID, Quantity: 1, RecordedAt: inv.FinishedAt},
			store.UsageRecord{ID: inv.ID + ":" + store.MeterFnMemoryMiBMs, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Meter: store.MeterFnMemoryMiBMs, Subject: fn.ID, Quantity: mem, RecordedAt: inv.FinishedAt},
		); err != nil {
			s.cfg.Logger.Error("meter function invocation", "invocation", inv.ID, "error", err)
		}
	}
	s.publish(fn, inv)
	return nil
}

func invocationOut(fn store.Function, i store.Invocation) api.Invocation {
	out := api.Invocation{ID: i.ID, Function: fn.Name, Version: i.Version, Alias: i.Alias, Trigger: i.Trigger, Status: i.Status, ExitReason: i.ExitReason,
		ColdStart: i.ColdStart, StartedAt: i.StartedAt, DurationMS: i.DurationMS, Logs: i.Logs, Error: i.Error}
	if i.Response != "" {
		var r api.FunctionResponse
		if json.Unmarshal([]byte(i.Response), &r) == nil {
			out.Response = &r
		}
	}
	return out
}

// invokeNow runs a call and records it; ran tells whether a handler was
// reached (err is then nil).
func (s *Service) invokeNow(ctx context.Context, fn store.Function, alias string, version int, trigger, id string, req engine.Request) (store.Invocation, engine.Result, error) {
	v, alias, err := s.pick(ctx, fn, alias, version)
	if err != nil {
		return store.Invocation{}, engine.Result{}, err
	}
	inv := store.Invocation{ID: id, FunctionID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Version: v.Version, Alias: alias, Trigger: trigger,
		StartedAt: s.cfg.Now().UTC()}
	if version != 0 {
		inv.Alias = ""
	}
	res, cerr := s.call(ctx, fn, v, req)
	s.outcome(&inv, res, cerr, false)
	if err := s.record(context.WithoutCancel(ctx), fn, v, inv, false, cerr == nil); err != nil {
		return inv, res, err
	}
	return inv, res, cerr
}

// InvokeAs runs the function as a trigger would (trigger = "cron",
// "event", ...), records the invocation under invocationID and meters
// it. Idempotent by invocationID: when that id is already recorded it
// returns the recorded invocation and runs nothing. A failed handler is a
// recorded invocation with Status "failed" (not an error); err is for
// calls that never ran (busy, function gone, ctx): nothing is recorded
// then, so that a retry under the same id runs.
func (s *Service) InvokeAs(ctx context.Context, ref Ref, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error) {
	fn, err := s.cfg.Store.GetFunction(ctx, ref.ID)
	if err != nil {
		return api.Invocation{}, err
	}
	if got, err := s.cfg.Store.GetInvocation(ctx, invocationID); err == nil {
		return invocationOut(fn, got), nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.Invocation{}, err
	}
	v, alias, err := s.pick(ctx, fn, alias, 0)
	if err != nil {
		return api.Invocation{}, fmt.Errorf("invoke %s: %w", fn.Name, err)
	}
	inv := store.Invocation{ID: invocationID, FunctionID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Version: v.Version, Alias: alias, Trigger: trigger,
		StartedAt: s.cfg.Now().UTC()}
	res, err := s.call(ctx, fn, v, req)
	if err != nil {
		return api.Invocation{}, fmt.Errorf("invoke %s: %w", fn.Name, err)
	}
	s.outcome(&inv, res, nil, false)
	if err := s.record(context.WithoutCancel(ctx), fn, v, inv, false, true); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if got, gerr := s.cfg.Store.GetInvocation(ctx, invocationID); gerr == nil {
				return invocationOut(fn, got), nil
			}
		}
		return api.Invocation{}, err
	}
	out := invocationOut(fn, inv)
	r := responseOut(res.Response, maxKeptBody)
	out.Response = &r
	return out, nil
}

// busyError is the 429 of a refused call.
func busyError(err error) error {
	var busy *engine.ErrBusy
	if errors.As(err, &busy) {
		secs := int(math.Ceil(busy.RetryAfter.Seconds()))
		e := &httpapi.Error{Status: http.StatusTooManyRequests, Type: "function-busy", Title: "Too many requests",
			Detail: "every instance of the function is busy and its queue is full; retry later", Header: http.Header{"Retry-After": {strconv.Itoa(max(1, secs))}}}
		return e
	}
	if errors.Is(err, engine.ErrUnavailable) {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "runtime-unavailable", Title: "Service unavailable",
			Detail: "the function's runtime is not available on this platform now"}
	}
	return err
}

func (s *Service) invoke(r *http.Request) (any, error) {
	var req api.InvokeFunctionRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if req.Path == "" {
		req.Path = "/"
	}
	if req.Path[0] != '/' {
		return nil, httpapi.Invalid(httpapi.Field("path", "must start with /"))
	}
	if req.Version < 0 {
		return nil, httpapi.Invalid(httpapi.Field("version", "must be positive"))
	}
	_, fn, err := s.scope(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	ereq := engine.Request{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: []byte(req.Body)}
	if req.Async {
		v, alias, err := s.pick(ctx, fn, req.Alias, req.Version)
		if err != nil {
			return nil, err
		}
		if req.Version != 0 {
			alias = ""
		}
		// Bounded per function: the count and the insert are not one
		// transaction, so concurrent calls may pass the bound by a few.
		n, err := s.cfg.Store.CountUnfinishedInvocations(ctx, fn.ID)
		if err != nil {
			return nil, err
		}
		if n >= s.cfg.MaxQueuedInvocations {
			return nil, &httpapi.Error{Status: http.StatusTooManyRequests, Type: "function-queue-full", Title: "Too many requests",
				Detail: fmt.Sprintf("function %s has %d asynchronous invocations queued or running, the most it may have; retry later", fn.Name, n),
				Header: http.Header{"Retry-After": {"10"}}}
		}
		inv := store.Invocation{ID: store.NewID(), FunctionID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Version: v.Version, Alias: alias,
			Trigger: TriggerAsync, Status: store.InvocationQueued, StartedAt: s.cfg.Now().UTC()}
		if err := s.cfg.Store.CreateInvocation(ctx, inv); err != nil {
			return nil, err
		}
		if _, err := s.cfg.Tasks.Enqueue(ctx, TaskInvoke, fn.OrgID, asyncPayload{InvocationID: inv.ID, FunctionID: fn.ID, Request: ereq}); err != nil {
			return nil, err
		}
		return &httpapi.Response{Status: http.StatusAccepted, Body: invocationOut(fn, inv)}, nil
	}
	inv, res, err := s.invokeNow(ctx, fn, req.Alias, req.Version, TriggerAPI, store.NewID(), ereq)
	if err != nil {
		return nil, busyError(err)
	}
	out := invocationOut(fn, inv)
	if res.ExitReason == "" {
		ro := responseOut(res.Response, 6<<20)
		out.Response = &ro
	}
	return out, nil
}

// asyncPayload is the task of an asynchronous invocation.
type asyncPayload struct {
	InvocationID string         `json:"invocation_id"`
	FunctionID   string         `json:"function_id"`
	Request      engine.Request `json:"request"`
}

// runAsync runs a queued invocation once: a finished one is left alone,
// a busy function is retried by the queue.
func (s *Service) runAsync(ctx context.Context, _ store.Task, p asyncPayload) error {
	inv, err := s.cfg.Store.GetInvocation(ctx, p.InvocationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the function was deleted with its records
	}
	if err != nil {
		return err
	}
	if inv.Status != store.InvocationQueued && inv.Status != store.InvocationRunning {
		return nil
	}
	fn, err := s.cfg.Store.GetFunction(ctx, p.FunctionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := s.cfg.Store.GetFunctionVersion(ctx, fn.ID, inv.Version)
	if err != nil {
		return tasks.Permanent(err)
	}
	inv.StartedAt = s.cfg.Now().UTC()
	res, cerr := s.call(ctx, fn, v, p.Request)
	var busy *engine.ErrBusy
	if errors.As(cerr, &busy) || (cerr != nil && ctx.Err() != nil) {
		return cerr
	}
	s.outcome(&inv, res, cerr, true)
	if err := s.record(context.WithoutCancel(ctx), fn, v, inv, true, cerr == nil); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

func (s *Service) invocations(r *http.Request) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	_, fn, err := s.scope(r, authz.View)
	if err != nil {
		return nil, err
	}
	is, next, err := s.cfg.Store.ListInvocations(r.Context(), fn.ID, page)
	if err != nil {
		return nil, err
	}
	out := make([]api.Invocation, 0, len(is))
	for _, i := range is {
		out = append(out, invocationOut(fn, i))
	}
	return httpapi.NewList(out, next), nil
}

func (s *Service) invocation(r *http.Request) (any, error) {
	_, fn, err := s.scope(r, authz.View)
	if err != nil {
		return nil, err
	}
	i, err := s.cfg.Store.GetInvocation(r.Context(), r.PathValue("invocation"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && i.FunctionID != fn.ID) {
		return nil, httpapi.NotFound("invocation")
	}
	if err != nil {
		return nil, err
	}
	return invocationOut(fn, i), nil
}
