package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// fnAPI is a test double of the functions service's routes
// (FN_DESIGN.md), written while that service (branch fn-service) had no
// routes yet: an in-memory store of functions served by a real
// httpapi.API, so that every request of a tool passes the API's real
// authentication (httpapi.AsCaller; no token is accepted) and the double
// sees the caller the middleware set. Roles are by user id (viewer,
// developer); a user without one sees no project (404). A python deploy
// whose code has no "def handle(" is refused as the runtime's syntax
// check would (422). test/e2e/assistant_functions_test.go runs the tools
// against the real service.
type fnAPI struct {
	mu     sync.Mutex
	roles  map[string]string
	fns    map[string]*fakeFn // project/name
	rv     int
	reqs   []sent
	failOn string // invoke refuses (429) code containing this
	invs   int
}

type fakeFn struct {
	f    api.Function
	vs   []api.FunctionVersion
	code map[int][]byte
	invs []api.Invocation
}

type noTokens struct{}

func (noTokens) Authenticate(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, errors.New("this test accepts no token")
}

const fnBase = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions"

func newFnAPI(t *testing.T) (*fnAPI, http.Handler) {
	t.Helper()
	f := &fnAPI{roles: map[string]string{"dev": "developer", "viewer": "viewer"}, fns: map[string]*fakeFn{}}
	a, err := httpapi.New(httpapi.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), Auth: noTokens{}})
	if err != nil {
		t.Fatal(err)
	}
	a.Mount(
		httpapi.Route{Method: "GET", Path: fnBase, Handle: f.list},
		httpapi.Route{Method: "GET", Path: fnBase + "/{function}", Handle: f.get},
		httpapi.Route{Method: "PUT", Path: fnBase + "/{function}", Handle: f.deploy},
		httpapi.Route{Method: "DELETE", Path: fnBase + "/{function}", Status: http.StatusNoContent, Handle: f.delete},
		httpapi.Route{Method: "GET", Path: fnBase + "/{function}/versions", Handle: f.versions},
		httpapi.Route{Method: "GET", Path: fnBase + "/{function}/versions/{version}/code", Handle: f.code},
		httpapi.Route{Method: "POST", Path: fnBase + "/{function}/invoke", Handle: f.invoke},
		httpapi.Route{Method: "GET", Path: fnBase + "/{function}/logs", Handle: f.logs},
	)
	h := a.Handler()
	return f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sent{Method: r.Method, URL: r.URL}
		if r.Body != nil {
			s.Body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(s.Body)))
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (f *fnAPI) requests() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.reqs...)
}

func (f *fnAPI) reset() {
	f.mu.Lock()
	f.reqs = nil
	f.mu.Unlock()
}

// role is the caller's role; none: the project is hidden (404).
func (f *fnAPI) role(r *http.Request, write bool) error {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return err
	}
	role := f.roles[p.UserID]
	switch {
	case role == "" || r.PathValue("project") == "hidden":
		return httpapi.NotFound("project")
	case write && role != "developer":
		return httpapi.Forbidden("developer role required on project " + r.PathValue("project"))
	}
	return nil
}

func (f *fnAPI) fn(r *http.Request) (*fakeFn, error) {
	fn := f.fns[r.PathValue("project")+"/"+r.PathValue("function")]
	if fn == nil {
		return nil, httpapi.NotFound("function")
	}
	return fn, nil
}

func (f *fnAPI) list(r *http.Request) (any, error) {
	if err := f.role(r, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Function
	for k, fn := range f.fns {
		if strings.HasPrefix(k, r.PathValue("project")+"/") {
			out = append(out, fn.f)
		}
	}
	return httpapi.NewList(out, ""), nil
}

func (f *fnAPI) get(r *http.Request) (any, error) {
	if err := f.role(r, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, err := f.fn(r)
	if err != nil {
		return nil, err
	}
	return fn.f, nil
}

func (f *fnAPI) deploy(r *http.Request) (any, error) {
	if err := f.role(r, true); err != nil {
		return nil, err
	}
	var req api.DeployFunctionRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Runtime == "python" && !strings.Contains(string(req.Source.Content), "def handle(") {
		return nil, httpapi.Invalid(httpapi.Field("source", `  File "handler.py", line 1
SyntaxError: invalid syntax`))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("project") + "/" + r.PathValue("function")
	fn := f.fns[key]
	if req.ResourceVersion == "0" && fn != nil || req.ResourceVersion != "" && req.ResourceVersion != "0" && (fn == nil || fn.f.ResourceVersion != req.ResourceVersion) {
		return nil, &httpapi.Error{Status: http.StatusPreconditionFailed, Type: "precondition-failed", Title: "Precondition failed", Detail: "the function changed since resource_version " + req.ResourceVersion}
	}
	next := api.Function{Name: r.PathValue("function"), Project: r.PathValue("project"), Runtime: req.Runtime, Access: "private",
		URL: "http://fn.example/" + r.PathValue("function"), LatestVersion: 1}
	if req.Access != "" {
		next.Access = req.Access
	}
	if fn != nil {
		next.LatestVersion = fn.f.LatestVersion + 1
	}
	if req.TTL != "" {
		d, _ := time.ParseDuration(req.TTL)
		at := time.Now().Add(d).UTC()
		next.ExpiresAt = &at
	}
	if r.URL.Query().Get("dry_run") == "true" {
		return next, nil
	}
	f.rv++
	next.ResourceVersion = strconv.Itoa(f.rv)
	if fn == nil {
		fn = &fakeFn{code: map[int][]byte{}}
		f.fns[key] = fn
	}
	fn.f = next
	fn.vs = append(fn.vs, api.FunctionVersion{Version: next.LatestVersion, Runtime: req.Runtime, Filename: req.Source.Filename, Env: req.Env})
	fn.code[next.LatestVersion] = req.Source.Content
	return next, nil
}

func (f *fnAPI) delete(r *http.Request) (any, error) {
	if err := f.role(r, true); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.fn(r); err != nil {
		return nil, err
	}
	delete(f.fns, r.PathValue("project")+"/"+r.PathValue("function"))
	return nil, nil
}

func (f *fnAPI) versions(r *http.Request) (any, error) {
	if err := f.role(r, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, err := f.fn(r)
	if err != nil {
		return nil, err
	}
	return httpapi.NewList(fn.vs, ""), nil
}

func (f *fnAPI) code(r *http.Request) (any, error) {
	if err := f.role(r, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, err := f.fn(r)
	if err != nil {
		return nil, err
	}
	v, _ := strconv.Atoi(r.PathValue("version"))
	c, ok := fn.code[v]
	if !ok {
		return nil, httpapi.NotFound("version")
	}
	return api.FunctionCode{Version: v, Filename: fn.vs[v-1].Filename, Content: c}, nil
}

func (f *fnAPI) invoke(r *http.Request) (any, error) {
	if err := f.role(r, true); err != nil {
		return nil, err
	}
	var req api.InvokeFunctionRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, err := f.fn(r)
	if err != nil {
		return nil, err
	}
	if f.failOn != "" && strings.Contains(string(fn.code[fn.f.LatestVersion]), f.failOn) {
		return nil, &httpapi.Error{Status: http.StatusTooManyRequests, Type: "busy", Title: "Too many requests", Detail: "the function is busy"}
	}
	f.invs++
	inv := api.Invocation{ID: fmt.Sprintf("inv-%d", f.invs), Function: fn.f.Name, Version: fn.f.LatestVersion, Trigger: "api", Status: "succeeded",
		DurationMS: 3, StartedAt: time.Now().UTC(), Logs: "handling " + req.Method + " " + req.Path + "\n",
		Response: &api.FunctionResponse{Status: 200, Body: "hello " + req.Body}}
	fn.invs = append([]api.Invocation{inv}, fn.invs...)
	return inv, nil
}

func (f *fnAPI) logs(r *http.Request) (any, error) {
	if err := f.role(r, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, err := f.fn(r)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	out := fn.invs
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return httpapi.NewList(out, ""), nil
}

// fnTarget is a target of user in the offline workspace (projects shop:
// developer, other: viewer, hidden: none) whose platform is h.
func fnTarget(t *testing.T, user string, h http.Handler) *Target {
	tgt := offlineTarget(t, nil)
	tgt.Scope.Principal = httpapi.Principal{UserID: user, Email: user + "@example.com"}
	tgt.Scope.Org = store.Organization{ID: "o1", Slug: "acme"}
	tgt.Scope.Workspace = store.Workspace{ID: "w1", Name: "prod"}
	tgt.Platform = h
	return tgt
}

func fnRegistry(t *testing.T) *Registry {
	reg, err := NewRegistry(append(Builtin(), FunctionTools()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// plan makes the plan of a write tool's call as makePlan does: Propose,
// Prepare, and the stored form.
func fnPlan(t *testing.T, reg *Registry, tgt *Target, tool, args string) (store.Plan, error) {
	t.Helper()
	p, err := reg.Propose(context.Background(), tgt, tool, json.RawMessage(args))
	if err != nil {
		return store.Plan{}, err
	}
	pr, err := Prepare(context.Background(), tgt, p)
	if err != nil {
		return store.Plan{}, err
	}
	pl := planOf(pr)
	pl.Tool = tool
	return pl, nil
}

const helloPy = "def handle(req):\n    print('hi')\n    return 'hello'\n"

// TestFunctionToolsAsTheCaller: the functions tools reach the platform's
// API as the target's caller, through the API's authentication, and
// every refusal is the platform's own words: a viewer reads but cannot
// deploy (refused at planning by the dry run's 403), a project the caller
// does not see is "not found" before any request, a missing function is
// the platform's 404, bad arguments are named.
func TestFunctionToolsAsTheCaller(t *testing.T) {
	api, h := newFnAPI(t)
	reg := fnRegistry(t)
	ctx := context.Background()
	dev, viewer := fnTarget(t, "dev", h), fnTarget(t, "viewer", h)
	pl, err := fnPlan(t, reg, dev, "deploy_function", `{"name":"hello","runtime":"python","code":`+strconv.Quote(helloPy)+`}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Execute(ctx, dev, pl); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		tgt       *Target
		tool      string
		args      string
		want      string // in the text or the error
		wantErr   bool
		noTraffic bool
	}{
		{"list as a developer", dev, "list_functions", `{}`, "- hello: python, private, version 1", false, false},
		{"list as a viewer", viewer, "list_functions", `{}`, "1 functions in project shop", false, false},
		{"get with code", viewer, "get_function", `{"name":"hello","code":true}`, "print('hi')", false, false},
		{"viewer deploys", viewer, "deploy_function", `{"name":"hello2","runtime":"python","code":` + strconv.Quote(helloPy) + `}`,
			"the platform refused (403 Forbidden): developer role required on project shop", true, false},
		{"viewer runs code", viewer, "run_code", `{"runtime":"python","code":` + strconv.Quote(helloPy) + `}`, "403 Forbidden", true, false},
		{"invoke where a viewer", dev, "invoke_function", `{"name":"hello","project":"other"}`,
			"the platform refused (403 Forbidden): this needs the developer role in project other (you have viewer)", true, true},
		{"delete where a viewer", dev, "delete_function", `{"name":"hello","project":"other"}`, "403 Forbidden", true, true},
		{"hidden project", dev, "get_function", `{"name":"hello","project":"hidden"}`, "project hidden not found", true, true},
		{"unknown project", dev, "delete_function", `{"name":"hello","project":"nope"}`, "project nope not found", true, true},
		{"missing function", dev, "get_function", `{"name":"nope"}`, "the platform refused (404 Not found): function not found", true, false},
		{"missing function invoke", dev, "invoke_function", `{"name":"nope"}`, "404", true, false},
		{"syntax error", dev, "deploy_function", `{"name":"bad","runtime":"python","code":"print(:"}`, "SyntaxError: invalid syntax", true, false},
		{"bad runtime", dev, "run_code", `{"runtime":"cobol","code":"x"}`, "invalid argument runtime", true, true},
		{"bad ttl", dev, "run_code", `{"runtime":"python","code":"x","ttl":"2d"}`, "invalid argument ttl", true, true},
		{"bad name", dev, "deploy_function", `{"name":"Hello!","runtime":"python","code":"x"}`, "invalid argument name", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.reset()
			tool, _ := reg.Get(tt.tool)
			var text string
			var err error
			if tool.Effect == Read {
				var res Result
				res, err = reg.Call(ctx, tt.tgt, tt.tool, json.RawMessage(tt.args))
				text = res.Text
			} else {
				_, err = fnPlan(t, reg, tt.tgt, tt.tool, tt.args)
			}
			if err != nil {
				text = ErrorText(err)
			}
			if (err != nil) != tt.wantErr || !strings.Contains(text, tt.want) {
				t.Fatalf("%s(%s): %q (err %v), want %q", tt.tool, tt.args, text, err, tt.want)
			}
			if tt.noTraffic && len(api.requests()) > 0 {
				t.Errorf("%s sent %d requests, want none", tt.tool, len(api.requests()))
			}
			for _, r := range api.requests() {
				if r.Method != http.MethodGet && r.URL.Query().Get("dry_run") != "true" {
					t.Errorf("planning sent %s %s: not a dry run", r.Method, r.URL)
				}
			}
		})
	}
	if n := len(api.fns); n != 1 {
		t.Errorf("%d functions after the refusals, want 1", n)
	}
}

// TestDeployFunctionPlan: a deploy's plan shows the code (before: the
// latest version's, after: the new) and its settings, was checked by the
// platform's dry run (nothing stored), runs once confirmed, and a plan
// made against version N is refused as stale once someone deployed
// meanwhile (the guard, and the deploy's own resource_version).
func TestDeployFunctionPlan(t *testing.T) {
	fa, h := newFnAPI(t)
	reg := fnRegistry(t)
	ctx := context.Background()
	dev := fnTarget(t, "dev", h)
	deploy := func(code, extra string) string {
		return `{"name":"hello","runtime":"python","code":` + strconv.Quote(code) + extra + `}`
	}
	pl, err := fnPlan(t, reg, dev, "deploy_function", deploy(helloPy, `,"env":{"GREETING":"hi"},"ttl":"1h","access":"public"`))
	if err != nil {
		t.Fatal(err)
	}
	if pl.Target != TargetPlatform || pl.Method != "PUT" || pl.Path != "/api/v1/organizations/acme/workspaces/prod/projects/shop/functions/hello" {
		t.Errorf("plan %s %s %s", pl.Target, pl.Method, pl.Path)
	}
	if err := contains(pl.Diff, "+function: hello", "+runtime: python", "+access: public", "+ttl: 1h", "+env: GREETING", "+file: handler.py", "+def handle(req):", "+    print('hi')"); err != nil {
		t.Error(err)
	}
	if len(fa.fns) != 0 {
		t.Fatal("the plan's dry run stored a function")
	}
	res, err := reg.Execute(ctx, dev, pl)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(res.Text, "done: deploy a new python function hello in shop", "version 1"); err != nil {
		t.Error(err)
	}

	v2 := strings.Replace(helloPy, "'hi'", "'hi again'", 1)
	pl2, err := fnPlan(t, reg, dev, "deploy_function", deploy(v2, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(pl2.Diff, "-    print('hi')", "+    print('hi again')", " def handle(req):"); err != nil {
		t.Error(err)
	}
	if err := contains(pl2.Summary, "new version", "now version 1"); err != nil {
		t.Error(err)
	}
	// Someone deploys meanwhile: the plan made against version 1 is stale.
	other, err := fnPlan(t, reg, dev, "deploy_function", deploy(strings.Replace(helloPy, "'hi'", "'other'", 1), ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Execute(ctx, dev, other); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Execute(ctx, dev, pl2); !errors.Is(err, ErrStale) {
		t.Fatalf("a plan against version 1 after version 2: %v, want ErrStale", err)
	}
	// The guard passed but the deploy's resource_version did not (a
	// deploy between the guard and the request): stale too.
	pl3, err := fnPlan(t, reg, dev, "deploy_function", deploy(v2, ""))
	if err != nil {
		t.Fatal(err)
	}
	fa.mu.Lock()
	fa.fns["shop/hello"].f.ResourceVersion = "999"
	fa.mu.Unlock()
	pl3.GuardPath = ""
	pl3.Hash = HashFor(pl3.Target, pl3.Method, pl3.Path, []byte(pl3.Body))
	if _, err := reg.Execute(ctx, dev, pl3); !errors.Is(err, ErrStale) {
		t.Fatalf("a deploy refused with 412: %v, want ErrStale", err)
	}
	if v := fa.fns["shop/hello"].f.LatestVersion; v != 2 {
		t.Errorf("latest version %d, want 2", v)
	}

	// Invoke and delete are plans too; the logs read them back.
	inv, err := fnPlan(t, reg, dev, "invoke_function", `{"name":"hello","method":"put","path":"/x","body":"world"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(inv.Diff, "+invoke: hello alias latest", "+PUT /x", "+world"); err != nil {
		t.Error(err)
	}
	if fa.invs != 0 {
		t.Fatal("planning an invocation ran it")
	}
	res, err = reg.Execute(ctx, dev, inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(res.Text, "succeeded", "hello world", "handling PUT /x"); err != nil {
		t.Error(err)
	}
	logs, err := reg.Call(ctx, dev, "function_logs", json.RawMessage(`{"name":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(logs.Text, "the last 1 invocations of function hello", "inv-1", "handling PUT /x"); err != nil {
		t.Error(err)
	}
	del, err := fnPlan(t, reg, dev, "delete_function", `{"name":"hello"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(del.Diff, "-function: hello", "-    print('other')"); err != nil {
		t.Error(err)
	}
	if _, err := reg.Execute(ctx, dev, del); err != nil {
		t.Fatal(err)
	}
	if len(fa.fns) != 0 {
		t.Error("the function is still there after the delete")
	}
}

// TestRunCode: run_code is one plan that shows the code; planning stores
// nothing; confirmed, it deploys a tmp- function with a ttl, invokes it
// once and deletes it, and answers the response and logs. When the
// invocation fails the function is deleted all the same.
func TestRunCode(t *testing.T) {
	fa, h := newFnAPI(t)
	reg := fnRegistry(t)
	ctx := context.Background()
	dev := fnTarget(t, "dev", h)
	pl, err := fnPlan(t, reg, dev, "run_code", `{"runtime":"python","code":`+strconv.Quote(helloPy)+`,"body":"there"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(pl.Diff, "+function: tmp-", "+ttl: 15m", "+def handle(req):", "+POST /", "+there"); err != nil {
		t.Error(err)
	}
	if err := contains(pl.Summary, "run python code once in shop: deploy it as tmp-", "(ttl 15m)", "delete it"); err != nil {
		t.Error(err)
	}
	if len(fa.fns) != 0 || fa.invs != 0 {
		t.Fatal("planning run_code deployed or ran something")
	}
	fa.reset()
	res, err := reg.Execute(ctx, dev, pl)
	if err != nil {
		t.Fatal(err)
	}
	if err := contains(res.Text, "was deployed, invoked once and deleted", "succeeded", "hello there", "handling POST /"); err != nil {
		t.Error(err)
	}
	var seq []string
	for _, r := range fa.requests() {
		seq = append(seq, r.Method+" "+r.URL.Path[strings.LastIndex(r.URL.Path, "/functions/")+len("/functions/"):])
	}
	name := pl.Path[strings.LastIndexByte(pl.Path, '/')+1:]
	want := []string{"GET " + name, "PUT " + name, "POST " + name + "/invoke", "DELETE " + name}
	if strings.Join(seq, ", ") != strings.Join(want, ", ") {
		t.Errorf("requests %v, want %v (the guard, the deploy, the invocation, the delete)", seq, want)
	}
	if len(fa.fns) != 0 || fa.invs != 1 {
		t.Errorf("after run_code: %d functions, %d invocations; want 0 and 1", len(fa.fns), fa.invs)
	}
	// The deploy carried the ttl, as the backstop.
	for _, r := range fa.requests() {
		if r.Method == "PUT" && !strings.Contains(string(r.Body), `"ttl":"15m"`) {
			t.Errorf("the deploy has no ttl: %s", r.Body)
		}
	}

	// A failed invocation: the function is deleted all the same.
	fa.failOn = "busy"
	pl, err = fnPlan(t, reg, dev, "run_code", `{"runtime":"python","code":`+strconv.Quote(helloPy+"# busy\n")+`}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Execute(ctx, dev, pl)
	var ce *ClusterError
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || !strings.Contains(err.Error(), "invoked once and deleted") {
		t.Fatalf("run_code with a refused invocation: %v", err)
	}
	if len(fa.fns) != 0 {
		t.Error("the function stayed after a failed invocation")
	}
}

// TestPlanTargetInHash: a plan's target is part of its hash: a platform
// plan stored as a workspace one (or the other way) does not run.
func TestPlanTargetInHash(t *testing.T) {
	if Hash("PUT", "/api/v1/x", []byte("{}")) == HashFor(TargetPlatform, "PUT", "/api/v1/x", []byte("{}")) {
		t.Fatal("a platform request hashes as a workspace request")
	}
	if Hash("PUT", "/p", nil) != HashFor("", "PUT", "/p", nil) || Hash("PUT", "/p", nil) != HashFor(TargetWorkspace, "PUT", "/p", nil) {
		t.Fatal("a workspace plan's hash changed")
	}
	fa, h := newFnAPI(t)
	reg := fnRegistry(t)
	dev := fnTarget(t, "dev", h)
	pl, err := fnPlan(t, reg, dev, "deploy_function", `{"name":"hello","runtime":"python","code":`+strconv.Quote(helloPy)+`}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{TargetWorkspace, ""} {
		moved := pl
		moved.Target = target
		if _, err := reg.Execute(context.Background(), dev, moved); err == nil || !strings.Contains(err.Error(), "does not match its hash") {
			t.Errorf("a platform plan run with target %q: %v", target, err)
		}
	}
	if len(fa.fns) != 0 {
		t.Error("a plan with a wrong target ran")
	}
}
