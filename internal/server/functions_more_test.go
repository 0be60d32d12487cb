package server

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		f, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFunctionsBadInput: each bad deploy, alias and secret request gets
// its status and a detail naming the problem; the syntax errors come from
// the real runtimes.
func TestFunctionsBadInput(t *testing.T) {
	// node is made unavailable by naming an executable that does not exist.
	w := newFnWorld(t, func(c *config.Config) { c.Functions.Runtimes.Node = "/nonexistent/node" })
	mod := testModule(t)
	w.deploy("ok", wasmDeploy(t, nil), 201)
	src := func(name string, b []byte) api.FunctionSource { return api.FunctionSource{Filename: name, Content: b} }
	for _, tt := range []struct {
		name   string
		path   string
		method string
		body   any
		status int
		detail string
	}{
		{"unknown runtime", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "cobol", Source: src("x.cob", []byte("x"))}, 422, `runtime: unknown runtime "cobol"; available: `},
		{"no runtime", "/functions/f", "PUT", api.DeployFunctionRequest{Source: src("fn.wasm", mod)}, 422, "runtime: is required; available: "},
		{"runtime missing here", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "node", Source: src("index.js", []byte("module.exports = async () => 'x'"))}, 422,
			"runtime: runtime node is not available on this platform: "},
		{"over 4 MiB", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", make([]byte, 4<<20+1))}, 413, "more than 4 MiB"},
		{"request over the route's limit", "/functions/f", "PUT", `{"runtime":"wasm","source":{"filename":"fn.wasm","content":"` + base64.StdEncoding.EncodeToString(make([]byte, 5<<20)) + `"}}`, 413, "exceeds"},
		{"not a module", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", []byte("not a module"))}, 422, "wasm: "},
		{"wrong extension", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.js", mod)}, 422, "source.filename: a wasm function is a .wasm file"},
		{"archive escapes", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("code.zip", zipOf(t, map[string]string{"fn.wasm": "x", "../evil": "x"}))}, 422, `source.content: archive: "../evil": absolute paths and .. are not allowed`},
		{"archive without entry", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("code.zip", zipOf(t, map[string]string{"other.wasm": "x"}))}, 422, "source.content: archive: the archive has no fn.wasm"},
		{"not a zip", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("code.zip", []byte("nope"))}, 422, "source.content: archive: not a zip archive"},
		{"bad env name", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", mod), Env: map[string]string{"1BAD": "x"}}, 422, "env.1BAD: "},
		{"platform env name", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", mod), Env: map[string]string{"HKS_X": "x"}}, 422, "env.HKS_X: names starting with HKS_ are the platform's"},
		{"bad ttl", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", mod), TTL: "10s"}, 422, `ttl: "10s" must be a Go duration from 1m to 720h (30 days)`},
		{"bad limit", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", mod), Limits: &api.FunctionLimits{MemoryMB: 4096}}, 422, "limits.memory_mb: must be 16 to 1024"},
		{"bad access", "/functions/f", "PUT", api.DeployFunctionRequest{Runtime: "wasm", Source: src("fn.wasm", mod), Access: "world"}, 422, `access: "world" must be private or public`},
		{"bad name", "/functions/Bad_Name", "PUT", wasmDeploy(t, nil), 422, "function: a name is 1 to 63 lowercase letters"},
		{"runtime change", "/functions/ok", "PUT", api.DeployFunctionRequest{Runtime: "go", Source: src("main.go", []byte("package main\n"))}, 422, "runtime: the function runs wasm"},
		{"weights not 100", "/functions/ok/aliases/canary", "PUT", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 50}}}, 422, "targets: the weights add up to 50, not 100"},
		{"three targets", "/functions/ok/aliases/canary", "PUT", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 50}, {Version: 1, Weight: 25}, {Version: 1, Weight: 25}}}, 422, "targets: at most 2 targets"},
		{"missing version", "/functions/ok/aliases/canary", "PUT", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 7, Weight: 100}}}, 422, "targets[0].version: version 7 does not exist (the latest is 1)"},
		{"delete latest", "/functions/ok/aliases/latest", "DELETE", nil, 422, "alias: latest cannot be deleted"},
		{"rollback without history", "/functions/ok/rollback", "POST", api.RollbackFunctionRequest{}, 422, "version: alias latest has pointed at nothing else yet"},
		{"bad secret name", "/functions/ok/secrets", "POST", api.FunctionSecretsRequest{Set: map[string]string{"a-b": "x"}}, 422, "set.a-b: "},
		{"invoke missing alias", "/functions/ok/invoke", "POST", api.InvokeFunctionRequest{Alias: "nope"}, 404, "alias not found"},
		{"unknown field", "/functions/ok/invoke", "POST", `{"bogus":1}`, 422, "bogus: unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w.t = t
			wantDetail(t, w.do(tt.method, w.base+tt.path, w.tok["member"], tt.body), tt.status, tt.detail)
		})
	}
	// node's syntax error comes from node, through the sandbox, when this
	// machine runs it (the server above has no node: a second one).
	w2 := newFnWorld(t, nil)
	var rts []api.FunctionRuntime
	w2.do("GET", "/api/v1/functions/runtimes", w2.tok["member"], nil).decode(t, 200, &rts)
	syntaxErrors := map[string]api.FunctionSource{
		"node":   src("index.js", []byte("module.exports = async (req) => {{ return 1 }")),
		"python": src("handler.py", []byte("def handle(req:\n  return 1\n")),
	}
	for _, rt := range rts {
		if s, ok := syntaxErrors[rt.Name]; ok {
			t.Run(rt.Name+" syntax error", func(t *testing.T) {
				if !rt.Available {
					t.Skipf("%s is not available here: %s", rt.Name, rt.Reason)
				}
				w2.t = t
				wantDetail(t, w2.do("PUT", w2.base+"/functions/f-"+rt.Name, w2.tok["member"], api.DeployFunctionRequest{Runtime: rt.Name, Source: s}), 422, rt.Name+": ")
			})
		}
	}
}

// TestFunctionsRBAC: who may read, write, invoke and call: developers
// write and call private functions, viewers read only (403 on the
// rest), other tenants and people outside the workspace see nothing
// (404), the anonymous are asked to sign in (401) except by a public
// function.
func TestFunctionsRBAC(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("private", wasmDeploy(t, nil), 201)
	pub := wasmDeploy(t, nil)
	pub.Access = "public"
	w.deploy("public", pub, 201)
	type want struct{ owner, developer, viewer, member, outsider, anonymous int } // member: the organization's admin
	for _, tt := range []struct {
		method, path string
		body         any
		want         want
	}{
		{"GET", "/functions", nil, want{200, 200, 200, 200, 404, 401}},
		{"GET", "/functions/private", nil, want{200, 200, 200, 200, 404, 401}},
		{"GET", "/functions/private/versions", nil, want{200, 200, 200, 200, 404, 401}},
		{"GET", "/functions/private/invocations", nil, want{200, 200, 200, 200, 404, 401}},
		{"GET", "/functions/private/logs", nil, want{200, 200, 200, 200, 404, 401}},
		{"PUT", "/functions/private", wasmDeploy(t, nil), want{200, 200, 403, 200, 404, 401}},
		{"POST", "/functions/private/invoke", api.InvokeFunctionRequest{}, want{200, 200, 403, 200, 404, 401}},
		{"POST", "/functions/private/secrets", api.FunctionSecretsRequest{Remove: []string{"X"}}, want{200, 200, 403, 200, 404, 401}},
		{"PUT", "/functions/private/aliases/stable", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 100}}}, want{200, 200, 403, 200, 404, 401}},
		{"trigger", "/private/", nil, want{200, 200, 403, 200, 404, 401}},
		{"trigger", "/public/", nil, want{200, 200, 200, 200, 200, 200}},
		{"trigger", "/missing/", nil, want{404, 404, 404, 404, 404, 401}},
	} {
		for _, c := range []struct {
			name, token string
			want        func(want) int
		}{
			{"owner", w.tok["owner"], func(x want) int { return x.owner }},
			// The fixture's member has the developer role through a group.
			{"developer", w.tok["member"], func(x want) int { return x.developer }},
			{"viewer", w.tok["viewer"], func(x want) int { return x.viewer }},
			{"admin", w.tok["admin"], func(x want) int { return x.member }},
			{"outsider", w.tok["outsider"], func(x want) int { return x.outsider }},
			{"anonymous", "", func(x want) int { return x.anonymous }},
		} {
			t.Run(tt.method+" "+tt.path+" as "+c.name, func(t *testing.T) {
				w.t = t
				var a answer
				if tt.method == "trigger" {
					a = w.do("GET", w.url+tt.path, c.token, nil)
				} else {
					a = w.do(tt.method, w.base+tt.path, c.token, tt.body)
				}
				if a.status != c.want(tt.want) {
					t.Fatalf("status %d, want %d: %s", a.status, c.want(tt.want), a.body)
				}
			})
		}
	}
	// The outsider's own organization does not open this one's functions.
	w.t = t
	if a := w.do("GET", w.url+"/private/", w.tok["outsider"], nil); a.status != 404 {
		t.Fatalf("other tenant: %d", a.status)
	}
}

// TestFunctionsAliasSplitAndRollback: an alias with two targets sends
// calls to both; a rollback returns an alias to where it pointed before.
func TestFunctionsAliasSplitAndRollback(t *testing.T) {
	w := newFnWorld(t, nil)
	dev := w.tok["member"]
	w.deploy("greeter", wasmDeploy(t, map[string]string{"TAG": "a"}), 201)
	w.deploy("greeter", wasmDeploy(t, map[string]string{"TAG": "b"}), 200)
	var fn api.Function
	w.do("PUT", w.base+"/functions/greeter/aliases/canary", dev, api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 50}, {Version: 2, Weight: 50}}}).decode(t, 200, &fn)
	if len(fn.Aliases) != 2 || fn.Aliases[1].Name != "canary" || len(fn.Aliases[1].Targets) != 2 {
		t.Fatalf("aliases: %+v", fn.Aliases)
	}
	seen := map[string]int{}
	// 40 calls at 50/50 miss a version with probability 2^-39.
	for range 40 {
		a := w.do("GET", w.url+"/greeter/canary/x", dev, nil)
		if a.status != 200 {
			t.Fatalf("canary call: %d %s", a.status, a.body)
		}
		seen[string(a.body)]++
	}
	if seen["hello from a GET /x q="] == 0 || seen["hello from b GET /x q="] == 0 || len(seen) != 2 {
		t.Fatalf("calls of the split: %v", seen)
	}
	// A segment that is no alias is part of the path.
	if a := w.do("GET", w.url+"/greeter/stable/x", dev, nil); string(a.body) != "hello from b GET /stable/x q=" {
		t.Fatalf("not an alias: %s", a.body)
	}
	// Rollback of latest: back to version 1, then forward again by version.
	w.do("POST", w.base+"/functions/greeter/rollback", dev, api.RollbackFunctionRequest{}).decode(t, 200, &fn)
	if fn.Aliases[0].Targets[0].Version != 1 {
		t.Fatalf("rolled back: %+v", fn.Aliases)
	}
	if a := w.do("GET", w.url+"/greeter/", dev, nil); string(a.body) != "hello from a GET / q=" {
		t.Fatalf("after rollback: %s", a.body)
	}
	w.do("POST", w.base+"/functions/greeter/rollback", dev, api.RollbackFunctionRequest{Version: 2}).decode(t, 200, &fn)
	if a := w.do("GET", w.url+"/greeter/", dev, nil); string(a.body) != "hello from b GET / q=" {
		t.Fatalf("after rollback to 2: %s", a.body)
	}
	// Rolling back the canary returns it to its split's predecessor:
	// it had none, so a version is needed.
	wantDetail(t, w.do("POST", w.base+"/functions/greeter/rollback", dev, api.RollbackFunctionRequest{Alias: "canary"}), 422, "alias canary has pointed at nothing else yet")
	if a := w.do("DELETE", w.base+"/functions/greeter/aliases/canary", dev, nil); a.status != 204 {
		t.Fatalf("delete alias: %d %s", a.status, a.body)
	}
	if a := w.do("GET", w.url+"/greeter/canary", dev, nil); string(a.body) != "hello from b GET /canary q=" {
		t.Fatalf("deleted alias: %s", a.body)
	}
}

// TestFunctionsAsync: an async invocation answers 202 queued at once; a
// task runs it and its result is kept.
func TestFunctionsAsync(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	var inv api.Invocation
	w.do("POST", w.base+"/functions/greeter/invoke", w.tok["member"], api.InvokeFunctionRequest{Async: true, Path: "/echo", Body: "later"}).decode(t, 202, &inv)
	if inv.Status != "queued" || inv.Trigger != "async" || inv.ID == "" {
		t.Fatalf("queued: %+v", inv)
	}
	testutil.WaitFor(t, 30*time.Second, "the async invocation to finish", func() bool {
		w.do("GET", w.base+"/functions/greeter/invocations/"+inv.ID, w.tok["viewer"], nil).decode(t, 200, &inv)
		return inv.Status != "queued"
	})
	if inv.Status != "succeeded" || inv.Response == nil || inv.Response.Body != "later" || inv.Response.Status != 200 {
		t.Fatalf("async result: %+v", inv)
	}
}

// TestFunctionsTTLAndRetention: the sweep deletes a function after its
// ttl, and invocation records after the retention.
func TestFunctionsTTLAndRetention(t *testing.T) {
	w := newFnWorld(t, nil)
	ctx := context.Background()
	req := wasmDeploy(t, nil)
	req.TTL = "10m"
	fn := w.deploy("brief", req, 201)
	if fn.ExpiresAt == nil || fn.ExpiresAt.Sub(fn.CreatedAt) != 10*time.Minute {
		t.Fatalf("expires: %v (created %v)", fn.ExpiresAt, fn.CreatedAt)
	}
	w.deploy("keeper", wasmDeploy(t, nil), 201)
	var inv api.Invocation
	w.do("POST", w.base+"/functions/keeper/invoke", w.tok["member"], api.InvokeFunctionRequest{}).decode(t, 200, &inv)

	if n, _ := w.functions.Sweep(ctx); n != 0 {
		t.Fatalf("swept %d before the ttl", n)
	}
	w.offset.Add(int64(11 * time.Minute))
	if n, _ := w.functions.Sweep(ctx); n != 1 {
		t.Fatalf("swept %d functions after the ttl, want 1", n)
	}
	if a := w.do("GET", w.base+"/functions/brief", w.tok["member"], nil); a.status != 404 {
		t.Fatalf("expired function: %d", a.status)
	}
	if a := w.do("GET", w.base+"/functions/keeper/invocations/"+inv.ID, w.tok["member"], nil); a.status != 200 {
		t.Fatalf("a fresh record: %d", a.status)
	}
	w.offset.Add(int64(7 * 24 * time.Hour))
	// This one and the fixture's.
	if _, n := w.functions.Sweep(ctx); n != 2 {
		t.Fatalf("records deleted after the retention: %d, want 2", n)
	}
	// (The tokens have expired by now: the store answers.)
	if _, err := w.st.GetInvocation(ctx, inv.ID); err == nil {
		t.Fatal("an old record remains")
	}
}

// TestFunctionsSecrets: a secret reaches the function's environment but
// neither the database in the clear nor any answer.
func TestFunctionsSecrets(t *testing.T) {
	w := newFnWorld(t, nil)
	dev := w.tok["member"]
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	const value = "s3cr3t-value-4711"
	var fn api.Function
	a := w.do("POST", w.base+"/functions/greeter/secrets", dev, api.FunctionSecretsRequest{Set: map[string]string{"TOKEN": value}})
	a.decode(t, 200, &fn)
	if len(fn.Secrets) != 1 || fn.Secrets[0] != "TOKEN" || strings.Contains(string(a.body), value) {
		t.Fatalf("secrets: %s", a.body)
	}
	if a := w.do("GET", w.url+"/greeter/secret", dev, nil); string(a.body) != value {
		t.Fatalf("the function's TOKEN: %q", a.body)
	}
	var raw string
	if err := w.st.(*sqlstore.Store).DB().QueryRow("SELECT secrets FROM functions WHERE name = 'greeter'").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{value, base64.StdEncoding.EncodeToString([]byte(value)), base64.RawStdEncoding.EncodeToString([]byte(value))} {
		if strings.Contains(raw, enc) {
			t.Fatalf("the stored row holds the secret (%q): %s", enc, raw)
		}
	}
	if !strings.Contains(raw, "TOKEN") {
		t.Fatalf("the stored row names no secret: %s", raw)
	}
	for _, p := range []string{"/functions/greeter", "/functions/greeter/versions", "/functions/greeter/versions/1/code", "/functions/greeter/invocations"} {
		if a := w.do("GET", w.base+p, dev, nil); strings.Contains(string(a.body), value) {
			t.Fatalf("%s shows the secret", p)
		}
	}
	// Removed: the instances with the old environment are gone.
	w.do("POST", w.base+"/functions/greeter/secrets", dev, api.FunctionSecretsRequest{Remove: []string{"TOKEN"}}).decode(t, 200, &fn)
	if a := w.do("GET", w.url+"/greeter/secret", dev, nil); string(a.body) != "" || len(fn.Secrets) != 0 {
		t.Fatalf("after removal: %q %v", a.body, fn.Secrets)
	}
}

// TestFunctionsLogsFollow: a follower of a function's logs gets each
// invocation as it finishes, wherever it ran.
func TestFunctionsLogsFollow(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := w.send(ctx, "GET", w.base+"/functions/greeter/logs?follow=true", w.tok["viewer"], nil, nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("follow: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != ": following\n" {
		t.Fatalf("first line %q: %v", line, err)
	}
	a := w.do("GET", w.url+"/greeter/followed", w.tok["member"], nil)
	id := a.header.Get("X-Hks-Invocation-Id")
	var event string
	for !strings.Contains(event, id) {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read the stream: %v (%q)", err, event)
		}
		event += line
	}
	if !strings.Contains(event, "event: invocation\ndata: ") || !strings.Contains(event, "handling GET /followed") {
		t.Fatalf("event: %q", event)
	}
}

// TestFunctionsInvokeAs: the triggers' entry point records and meters a
// run once per invocation id.
func TestFunctionsInvokeAs(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	ctx := context.Background()
	ref, err := w.functions.FunctionByName(ctx, w.f.project, "greeter")
	if err != nil || ref.Name != "greeter" || ref.OrgID != w.f.org || ref.WorkspaceID != w.f.ws || ref.ProjectID != w.f.project {
		t.Fatalf("ref: %+v %v", ref, err)
	}
	if _, err := w.functions.FunctionByName(ctx, w.f.project, "nope"); err != store.ErrNotFound && !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing function: %v", err)
	}
	id := store.NewID()
	first, err := w.functions.InvokeAs(ctx, ref, "", "cron", id, engine.Request{Method: "POST", Path: "/echo", Body: []byte("tick")})
	if err != nil || first.Status != "succeeded" || first.Trigger != "cron" || first.Response == nil || first.Response.Body != "tick" {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := w.functions.InvokeAs(ctx, ref, "", "cron", id, engine.Request{Method: "POST", Path: "/fail"})
	if err != nil || again.ID != id || again.Status != "succeeded" {
		t.Fatalf("again: %+v %v", again, err)
	}
	failed, err := w.functions.InvokeAs(ctx, ref, "", "event", store.NewID(), engine.Request{Method: "POST", Path: "/fail"})
	if err != nil || failed.Status != "failed" || failed.ExitReason != "error" {
		t.Fatalf("a failed handler: %+v %v", failed, err)
	}
	totals, err := w.st.SumUsage(ctx, store.UsageFilter{OrgID: w.f.org, Meters: []string{store.MeterFnInvocations}})
	if err != nil || len(totals) != 1 || totals[0].Quantity != 2 {
		t.Fatalf("metered: %+v %v", totals, err)
	}
	if _, err := w.functions.InvokeAs(ctx, functions.Ref{ID: store.NewID()}, "", "cron", store.NewID(), engine.Request{}); err == nil {
		t.Fatal("a missing function ran")
	}
}

// TestFunctionsNodeAndPython runs node and python functions through the
// local engine's sandbox, when this machine has them.
func TestFunctionsNodeAndPython(t *testing.T) {
	w := newFnWorld(t, nil)
	var rts []api.FunctionRuntime
	w.do("GET", "/api/v1/functions/runtimes", w.tok["member"], nil).decode(t, 200, &rts)
	avail := map[string]bool{}
	for _, rt := range rts {
		avail[rt.Name] = rt.Available
	}
	for _, tt := range []struct {
		runtime, file, code, want string
	}{
		{"node", "index.js", "module.exports = async (req) => { console.log('node log'); return {status: 201, headers: {'X-Rt': 'node'}, body: 'node ' + req.method + ' ' + req.path + ' ' + process.env.GREETING} }", "node POST /p hi"},
		{"python", "handler.py", "import os\ndef handle(req):\n    print('python log')\n    return {'status': 201, 'headers': {'X-Rt': 'python'}, 'body': 'python ' + req['method'] + ' ' + req['path'] + ' ' + os.environ['GREETING']}\n", "python POST /p hi"},
	} {
		t.Run(tt.runtime, func(t *testing.T) {
			w.t = t
			if !avail[tt.runtime] {
				t.Skipf("%s is not available here", tt.runtime)
			}
			w.deploy(tt.runtime, api.DeployFunctionRequest{Runtime: tt.runtime, Source: api.FunctionSource{Filename: tt.file, Content: []byte(tt.code)},
				Env: map[string]string{"GREETING": "hi"}}, 201)
			a := w.do("POST", w.url+"/"+tt.runtime+"/p", w.tok["member"], "{}")
			if a.status != 201 || string(a.body) != tt.want || a.header.Get("X-Rt") != tt.runtime {
				t.Fatalf("%s: %d %v %s", tt.runtime, a.status, a.header, a.body)
			}
			var inv api.Invocation
			w.do("GET", w.base+"/functions/"+tt.runtime+"/invocations/"+a.header.Get("X-Hks-Invocation-Id"), w.tok["member"], nil).decode(t, 200, &inv)
			if !strings.Contains(inv.Logs, tt.runtime+" log") {
				t.Fatalf("logs: %+v", inv)
			}
		})
	}
}
