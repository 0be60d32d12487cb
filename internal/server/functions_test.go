package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// fnModuleSource is the wasm function the tests deploy: a WASI command
// compiled from Go by the test (GOOS=wasip1 GOARCH=wasm).
const fnModuleSource = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type request struct {
	Method, Path string
	Query        map[string][]string
	Headers      map[string][]string
	Body         string
}

func out(status int, body string) {
	json.NewEncoder(os.Stdout).Encode(map[string]any{"status": status,
		"headers": map[string]string{"X-Fn": "yes", "Set-Cookie": "hks_access=stolen; Path=/",
			"Content-Type": "text/html", "Content-Security-Policy": "script-src 'unsafe-inline'", "Clear-Site-Data": "*"}, "body": body})
}

func main() {
	b, _ := io.ReadAll(os.Stdin)
	var r request
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "handling %s %s\n", r.Method, r.Path)
	switch r.Path {
	case "/fail":
		fmt.Fprintln(os.Stderr, "boom")
		os.Exit(3)
	case "/secret":
		out(200, os.Getenv("TOKEN"))
	case "/echo":
		out(200, r.Body)
	case "/headers":
		h, _ := json.Marshal(r.Headers)
		out(200, string(h))
	default:
		out(200, "hello from "+os.Getenv("TAG")+" "+r.Method+" "+r.Path+" q="+strings.Join(r.Query["q"], ","))
	}
}
`

var fnModule struct {
	once sync.Once
	b    []byte
	err  error
}

// testModule compiles fnModuleSource once per test binary.
func testModule(t *testing.T) []byte {
	t.Helper()
	fnModule.once.Do(func() {
		dir, err := os.MkdirTemp("", "hks-fn-module-")
		if err != nil {
			fnModule.err = err
			return
		}
		defer os.RemoveAll(dir)
		for name, body := range map[string]string{"go.mod": "module fn\n\ngo 1.22\n", "main.go": fnModuleSource} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				fnModule.err = err
				return
			}
		}
		cmd := exec.Command("go", "build", "-o", "fn.wasm", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			fnModule.err = fmt.Errorf("build the test module: %v: %s", err, out)
			return
		}
		fnModule.b, fnModule.err = os.ReadFile(filepath.Join(dir, "fn.wasm"))
	})
	if fnModule.err != nil {
		t.Fatal(fnModule.err)
	}
	return fnModule.b
}

// fnWorld is a platform with the authorization fixture's organization,
// workspace and project, and a developer: the member, bound to the
// developer role through a group of the workspace.
type fnWorld struct {
	*testServer
	f    fixture
	p    people
	tok  map[string]string
	base string // the project's API path
	url  string // the project's trigger path (/fn/org/ws/project)
}

func newFnWorld(t *testing.T, edit func(*config.Config)) *fnWorld {
	t.Helper()
	return newFnWorldOpts(t, edit, nil)
}

// newFnWorldOpts is newFnWorld with the server's options edited too.
func newFnWorldOpts(t *testing.T, edit func(*config.Config), opts func(*Options)) *fnWorld {
	t.Helper()
	if edit == nil {
		edit = func(*config.Config) {}
	}
	ts := startServerOpts(t, edit, opts)
	p, tok := ts.people()
	f := ts.fixture(p, true, "invitee@example.com")
	ctx, now := context.Background(), time.Now().UTC().Truncate(time.Microsecond)
	devs := store.Group{ID: store.NewID(), WorkspaceID: f.ws, Name: "devs", CreatedAt: now, UpdatedAt: now}
	for _, err := range []error{
		ts.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: f.ws, UserID: p.member.ID, CreatedAt: now}),
		ts.st.CreateGroup(ctx, devs),
		ts.st.AddGroupMember(ctx, store.GroupMember{GroupID: devs.ID, UserID: p.member.ID, CreatedAt: now}),
		ts.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: f.ws, GroupID: devs.ID, Role: store.RoleDeveloper, CreatedAt: now}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fnWorld{testServer: ts, f: f, p: p, tok: tok,
		base: "/api/v1/organizations/" + f.org + "/workspaces/" + f.ws + "/projects/" + f.project,
		url:  "/fn/org-" + f.org[len(f.org)-12:] + "/ws/frontend"}
}

func wasmDeploy(t *testing.T, env map[string]string) api.DeployFunctionRequest {
	return api.DeployFunctionRequest{Runtime: engine.RuntimeWasm, Source: api.FunctionSource{Filename: "fn.wasm", Content: testModule(t)}, Env: env}
}

// deploy deploys fn and wants status.
func (w *fnWorld) deploy(name string, req any, status int) api.Function {
	w.t.Helper()
	var out api.Function
	w.do("PUT", w.base+"/functions/"+name, w.tok["member"], req).decode(w.t, status, &out)
	return out
}

func wantDetail(t *testing.T, a answer, status int, detail string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if d, _ := a.problem(t)["detail"].(string); !strings.Contains(d, detail) {
		t.Fatalf("detail %q does not say %q", d, detail)
	}
}

func TestFunctionsDeployAndInvoke(t *testing.T) {
	w := newFnWorld(t, nil)
	dev := w.tok["member"]

	fn := w.deploy("greeter", wasmDeploy(t, map[string]string{"TAG": "a"}), 201)
	if fn.LatestVersion != 1 || fn.Runtime != "wasm" || fn.Access != "private" || fn.URL != w.cfg.ExternalURL+w.url+"/greeter" ||
		len(fn.Aliases) != 1 || fn.Aliases[0].Name != "latest" || fn.Aliases[0].Targets[0] != (api.FunctionAliasTarget{Version: 1, Weight: 100}) ||
		fn.Limits != (api.FunctionLimits{MemoryMB: 128, TimeoutSeconds: 10, Concurrency: 1, MaxInstances: 4}) {
		t.Fatalf("created: %+v", fn)
	}
	// The same code and settings: no new version, nothing written.
	same := w.deploy("greeter", wasmDeploy(t, map[string]string{"TAG": "a"}), 200)
	if same.LatestVersion != 1 || same.ResourceVersion != fn.ResourceVersion {
		t.Fatalf("unchanged deploy: %+v", same)
	}
	// Another environment is a new version, and latest follows it.
	v2 := w.deploy("greeter", wasmDeploy(t, map[string]string{"TAG": "b"}), 200)
	if v2.LatestVersion != 2 || v2.Aliases[0].Targets[0].Version != 2 {
		t.Fatalf("second version: %+v", v2)
	}
	// A stale If-Match is refused.
	a := w.doWith("PUT", w.base+"/functions/greeter", dev, wasmDeploy(t, map[string]string{"TAG": "c"}), http.Header{"If-Match": {`"` + fn.ResourceVersion + `"`}})
	wantDetail(t, a, 412, "resource_version")

	var vs api.List[api.FunctionVersion]
	w.do("GET", w.base+"/functions/greeter/versions", w.tok["viewer"], nil).decode(t, 200, &vs)
	if len(vs.Items) != 2 || vs.Items[0].Version != 2 || vs.Items[0].Env["TAG"] != "b" || vs.Items[1].SizeBytes != int64(len(testModule(t))) || vs.Items[0].CreatedBy != w.p.member.ID {
		t.Fatalf("versions: %+v", vs.Items)
	}
	var code api.FunctionCode
	w.do("GET", w.base+"/functions/greeter/versions/1/code", w.tok["viewer"], nil).decode(t, 200, &code)
	if code.Filename != "fn.wasm" || string(code.Content) != string(testModule(t)) {
		t.Fatalf("code: %s %d bytes", code.Filename, len(code.Content))
	}

	// A test invocation through the API.
	var inv api.Invocation
	w.do("POST", w.base+"/functions/greeter/invoke", dev, api.InvokeFunctionRequest{Path: "/x", Query: map[string][]string{"q": {"1"}}}).decode(t, 200, &inv)
	if inv.Status != "succeeded" || inv.Version != 2 || inv.Alias != "latest" || inv.Trigger != "api" || inv.Response == nil ||
		inv.Response.Body != "hello from b POST /x q=1" || !strings.Contains(inv.Logs, "handling POST /x") {
		t.Fatalf("invocation: %+v", inv)
	}
	var inv1 api.Invocation
	w.do("POST", w.base+"/functions/greeter/invoke", dev, api.InvokeFunctionRequest{Version: 1, Method: "GET"}).decode(t, 200, &inv1)
	if inv1.Version != 1 || inv1.Alias != "" || inv1.Response.Body != "hello from a GET / q=" {
		t.Fatalf("invocation of version 1: %+v", inv1)
	}

	// The HTTP trigger: the response as the function gave it, without
	// its cookie and what would act on the platform's origin (its pages
	// run sandboxed); the caller's token and cookies never reach it.
	a = w.doWith("PUT", w.url+"/greeter/some/path?q=x&q=y", dev, "payload", http.Header{"Cookie": {"hks_access=secret"}, "X-Custom": {"v"}})
	if a.status != 200 || string(a.body) != "hello from b PUT /some/path q=x,y" || a.header.Get("X-Fn") != "yes" || a.header.Get("Set-Cookie") != "" ||
		a.header.Get("X-Hks-Invocation-Id") == "" || a.header.Get("Content-Type") != "text/html" || a.header.Get("Clear-Site-Data") != "" ||
		a.header.Values("Content-Security-Policy")[0] != functions.FunctionContentSecurityPolicy || len(a.header.Values("Content-Security-Policy")) != 1 {
		t.Fatalf("trigger: %d %v %s", a.status, a.header, a.body)
	}
	a = w.doWith("POST", w.url+"/greeter/headers", dev, "{}", http.Header{"Cookie": {"hks_access=secret"}, "X-Custom": {"v"}})
	if a.status != 200 || strings.Contains(string(a.body), "Authorization") || strings.Contains(string(a.body), "secret") || !strings.Contains(string(a.body), "X-Custom") {
		t.Fatalf("headers the function saw: %s", a.body)
	}
	// A handler that fails: 502 naming the exit reason, and a record.
	a = w.do("GET", w.url+"/greeter/fail", dev, nil)
	wantDetail(t, a, 502, "exit_reason error")
	failedID := a.header.Get("X-Hks-Invocation-Id")
	var failed api.Invocation
	w.do("GET", w.base+"/functions/greeter/invocations/"+failedID, w.tok["viewer"], nil).decode(t, 200, &failed)
	if failed.Status != "failed" || failed.ExitReason != "error" || failed.Trigger != "http" || !strings.Contains(failed.Logs, "boom") {
		t.Fatalf("failed invocation: %+v", failed)
	}
	// A request body over 1 MiB.
	a = w.do("POST", w.url+"/greeter/echo", dev, strings.Repeat("x", 1<<20+1))
	wantDetail(t, a, 413, "at most 1 MiB")

	var list api.List[api.Invocation]
	w.do("GET", w.base+"/functions/greeter/invocations?limit=2", w.tok["viewer"], nil).decode(t, 200, &list)
	if len(list.Items) != 2 || list.NextCursor == "" || list.Items[0].ID != failedID {
		t.Fatalf("invocations: %+v", list)
	}
	var logs api.List[api.Invocation]
	w.do("GET", w.base+"/functions/greeter/logs", w.tok["viewer"], nil).decode(t, 200, &logs)
	if len(logs.Items) != 5 || !strings.Contains(logs.Items[0].Logs, "boom") {
		t.Fatalf("logs: %+v", logs.Items)
	}

	// Metering: one fn.invocations per invocation that ran (the 413 never
	// did), memory × time for each.
	totals, err := w.st.SumUsage(context.Background(), store.UsageFilter{OrgID: w.f.org, Meters: []string{store.MeterFnInvocations, store.MeterFnMemoryMiBMs}})
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != 2 || totals[0].Meter != store.MeterFnInvocations || totals[0].Quantity != 5 || totals[1].Quantity < 5*128 || totals[0].WorkspaceID != w.f.ws {
		t.Fatalf("usage: %+v", totals)
	}

	var got api.Function
	w.do("GET", w.base+"/functions/greeter", w.tok["viewer"], nil).decode(t, 200, &got)
	var fns api.List[api.Function]
	w.do("GET", w.base+"/functions", w.tok["viewer"], nil).decode(t, 200, &fns)
	// (The fixture's function hello is the other.)
	if len(fns.Items) != 2 || fns.Items[0].Name != "greeter" || fns.Items[1].Name != "hello" || got.LatestVersion != 2 {
		t.Fatalf("list: %+v", fns)
	}
	var rts []api.FunctionRuntime
	w.do("GET", "/api/v1/functions/runtimes", w.tok["outsider"], nil).decode(t, 200, &rts)
	if len(rts) != 4 || rts[3].Name != "wasm" || !rts[3].Available {
		t.Fatalf("runtimes: %+v", rts)
	}

	if a := w.do("DELETE", w.base+"/functions/greeter", dev, nil); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if a := w.do("GET", w.base+"/functions/greeter", dev, nil); a.status != 404 {
		t.Fatalf("deleted function: %d", a.status)
	}
	if _, err := w.st.GetInvocation(context.Background(), failedID); err == nil {
		t.Fatal("the deleted function's invocations remain")
	}
}
