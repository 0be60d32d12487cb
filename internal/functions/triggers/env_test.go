package triggers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

const waitFor = 20 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// call is one InvokeAs a recordingFunctions saw.
type call struct {
	Ref          Ref
	Alias        string
	Trigger      string
	InvocationID string
	Req          engine.Request
}

// recordingFunctions is a test double of the Functions interface (package
// functions' Service): it records every InvokeAs, runs "the handler" (the
// outcome function) for ids not seen before and, like the real service,
// answers a finished invocation id with its record without running
// anything again. Tests that need the real service use it instead.
type recordingFunctions struct {
	mu       sync.Mutex
	byName   map[string]Ref // project id + "/" + name
	calls    []call         // every call
	runs     []call         // calls that ran the handler
	recorded map[string]api.Invocation
	// outcome decides a run's status ("succeeded" or "failed"; "busy":
	// it never runs, InvokeAs returns *engine.ErrBusy; "internal": it
	// never runs, InvokeAs returns an error naming a host path); nil:
	// succeeded.
	outcome func(c call) string
}

func newRecordingFunctions() *recordingFunctions {
	return &recordingFunctions{byName: map[string]Ref{}, recorded: map[string]api.Invocation{}}
}

func (f *recordingFunctions) add(r Ref) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byName[r.ProjectID+"/"+r.Name] = r
}

func (f *recordingFunctions) FunctionByName(_ context.Context, projectID, name string) (Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.byName[projectID+"/"+name]
	if !ok {
		return Ref{}, store.ErrNotFound
	}
	return r, nil
}

func (f *recordingFunctions) InvokeAs(_ context.Context, ref Ref, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := call{Ref: ref, Alias: alias, Trigger: trigger, InvocationID: invocationID, Req: req}
	f.calls = append(f.calls, c)
	if inv, ok := f.recorded[invocationID]; ok {
		return inv, nil
	}
	if _, ok := f.byName[ref.ProjectID+"/"+ref.Name]; !ok {
		return api.Invocation{}, store.ErrNotFound
	}
	status := "succeeded"
	if f.outcome != nil {
		status = f.outcome(c)
	}
	if status == "busy" {
		return api.Invocation{}, &engine.ErrBusy{RetryAfter: time.Second}
	}
	if status == "internal" {
		return api.Invocation{}, errors.New("invoke " + ref.Name + ": unseal secret TOKEN: open /var/lib/hks/key: permission denied")
	}
	f.runs = append(f.runs, c)
	inv := api.Invocation{ID: invocationID, Function: ref.Name, Trigger: trigger, Status: status, StartedAt: time.Now()}
	if status == "failed" {
		inv.ExitReason, inv.Error = engine.ExitError, "handler threw: boom"
	}
	f.recorded[invocationID] = inv
	return inv, nil
}

// ran returns the calls that ran a handler.
func (f *recordingFunctions) ran() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.runs)
}

func (f *recordingFunctions) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// env is a real embedded NATS, a real SQLite store, a task queue and the
// triggers service over them with a recordingFunctions.
type env struct {
	t    *testing.T
	dir  string
	log  *slog.Logger
	nc   *messaging.Conn
	st   *sqlstore.Store
	pub  *events.Publisher
	fns  *recordingFunctions
	q    *tasks.Queue
	svc  *Service
	proj store.Project
	ref  Ref
}

// hiddenScopes is a test double of Scopes for the tests that call no
// route: every project is invisible.
type hiddenScopes struct{}

func (hiddenScopes) ResolveProject(*http.Request) (tenancy.ProjectScope, error) {
	return tenancy.ProjectScope{}, httpapi.NotFound("project")
}

func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	e := newBareEnv(t)
	e.q, e.svc = e.service(edit)
	return e
}

// newBareEnv is an env without its queue and service.
func newBareEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	log := testLogger(t)
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Logger: log})
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pub, err := events.New(ctx, events.Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, log: log, nc: nc, st: st, pub: pub, fns: newRecordingFunctions()}
	e.proj, e.ref = e.function("hello")
	return e
}

// service builds a task queue and a triggers service over the env's
// NATS and store: another process, as far as they can tell.
func (e *env) service(edit func(*Config)) (*tasks.Queue, *Service) {
	e.t.Helper()
	ctx := e.t.Context()
	q, err := tasks.New(ctx, tasks.Config{JS: e.nc.JetStream(), Store: e.st, Events: e.pub, Logger: e.log, Now: time.Now,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Config{Store: e.st, JS: e.nc.JetStream(), Tasks: q, Functions: e.fns, Scopes: hiddenScopes{}, Logger: e.log, Now: time.Now,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, ReconcileInterval: time.Hour, TickInterval: time.Hour}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := New(ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return q, svc
}

// function stores an organization, workspace, project and function (the
// functions table's row: triggers reference it) and makes it known to
// the test double.
func (e *env) function(name string) (store.Project, Ref) {
	e.t.Helper()
	ctx := e.t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: store.NewID(), Email: "owner" + store.NewID() + "@example.com", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	must(e.t, e.st.CreateUser(ctx, u))
	o := store.Organization{ID: store.NewID(), Name: "Acme", Slug: "acme-" + u.ID[len(u.ID)-8:], CreatedAt: now, UpdatedAt: now, Version: 1}
	must(e.t, e.st.CreateOrganization(ctx, o, store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}))
	w := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: "prod", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now, Version: 1}
	must(e.t, e.st.CreateWorkspace(ctx, w))
	p := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "shop", CreatedAt: now, UpdatedAt: now, Version: 1}
	must(e.t, e.st.CreateProject(ctx, p))
	return p, e.addFunction(p, name)
}

func (e *env) addFunction(p store.Project, name string) Ref {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	fn := store.Function{ID: store.NewID(), OrgID: "", WorkspaceID: p.WorkspaceID, ProjectID: p.ID, Name: name, Runtime: "node", Access: store.FunctionPrivate,
		LatestVersion: 1, Aliases: []store.FunctionAlias{{Name: store.AliasLatest, Targets: []store.AliasTarget{{Version: 1, Weight: 100}}}},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	ws, err := e.st.GetWorkspace(e.t.Context(), p.WorkspaceID)
	must(e.t, err)
	fn.OrgID = ws.OrgID
	v := store.FunctionVersion{FunctionID: fn.ID, Version: 1, Digest: "d1", Filename: "index.js", Content: []byte("module.exports = async () => 'hi'"), CreatedAt: now}
	must(e.t, e.st.CreateFunction(e.t.Context(), fn, v))
	r := Ref{ID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, ProjectID: fn.ProjectID, Name: name}
	e.fns.add(r)
	return r
}

// trigger creates a trigger of the env's function as the API does.
func (e *env) trigger(req api.CreateFunctionTriggerRequest, now time.Time) store.FunctionTrigger {
	e.t.Helper()
	t, errs := checkTrigger(req, now)
	if len(errs) > 0 {
		e.t.Fatalf("checkTrigger: %v", errs)
	}
	t.ID, t.FunctionID, t.FunctionName = store.NewID(), e.ref.ID, e.ref.Name
	t.OrgID, t.WorkspaceID, t.ProjectID, t.CreatedAt = e.ref.OrgID, e.ref.WorkspaceID, e.ref.ProjectID, now
	must(e.t, e.st.CreateFunctionTrigger(e.t.Context(), t))
	if t.Kind == store.FunctionTriggerEvent {
		c, err := e.svc.ensureConsumer(e.t.Context(), t)
		must(e.t, err)
		e.svc.startConsumer(t, c)
	}
	return t
}

// runQueue runs the env's task queue until the test ends.
func (e *env) runQueue() { e.t.Helper(); runUntilCleanup(e.t, e.q.Run) }

// runService runs the triggers service until the test ends.
func (e *env) runService() { e.t.Helper(); runUntilCleanup(e.t, e.svc.Run) }

func runUntilCleanup(t *testing.T, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// waitRuns waits until n handler runs were recorded.
func (e *env) waitRuns(n int) []call {
	e.t.Helper()
	testutil.WaitFor(e.t, waitFor, "function runs", func() bool { return len(e.fns.ran()) >= n })
	return e.fns.ran()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
