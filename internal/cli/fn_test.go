package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func TestRuntimeOfAndFunctionName(t *testing.T) {
	for _, tc := range []struct{ file, runtime, name, err string }{
		{"handler.py", "python", "handler", ""},
		{"src/index.js", "node", "index", ""},
		{"Hello.MJS", "node", "Hello", ""},
		{"main.go", "go", "main", ""},
		{"build/fn.wasm", "wasm", "fn", ""},
		{"code.tar.gz", "", "code", "is an archive: give its runtime with --runtime"},
		{"code.TGZ", "", "code", "is an archive"},
		{"bundle.zip", "", "bundle", "is an archive"},
		{"script.rb", "", "script", "cannot tell the runtime of script.rb"},
		{"Makefile", "", "Makefile", "cannot tell the runtime"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			rt, err := runtimeOf(tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("runtimeOf: %q, %v; want error %q", rt, err, tc.err)
				}
			} else if err != nil || rt != tc.runtime {
				t.Fatalf("runtimeOf: %q, %v; want %q", rt, err, tc.runtime)
			}
			if got := functionName(tc.file); got != tc.name {
				t.Errorf("functionName: %q, want %q", got, tc.name)
			}
		})
	}
}

func TestParseAliasTargets(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "v:w,v:w" or the error's text
	}{
		{[]string{"v3"}, "3:100"},
		{[]string{"3"}, "3:100"},
		{[]string{"v1=90", "v2=10"}, "1:90,2:10"},
		{[]string{"V1=50", "2=50"}, "1:50,2:50"},
		{[]string{"v2=100"}, "2:100"},
		{nil, "give the alias's versions"},
		{[]string{"v1=90", "v2=20"}, "add up to 110, not 100"},
		{[]string{"v1=90"}, "add up to 90, not 100"},
		{[]string{"v1", "v2"}, "give each version's weight"},
		{[]string{"v1=50", "v1=50"}, "version 1 is given twice"},
		{[]string{"v0"}, "want a version such as v2"},
		{[]string{"latest=100"}, "want a version such as v2"},
		{[]string{"v1=0", "v2=100"}, "a percent from 1 to 100"},
		{[]string{"v1=x"}, "a percent from 1 to 100"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ts, err := parseAliasTargets(tc.args)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				parts := make([]string, len(ts))
				for i, x := range ts {
					parts[i] = fmt.Sprintf("%d:%d", x.Version, x.Weight)
				}
				got = strings.Join(parts, ",")
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretsAndTriggerRequests(t *testing.T) {
	if _, err := secretsRequest(nil, nil); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("no flags: %v", err)
	}
	if _, err := secretsRequest([]string{"NOVALUE"}, nil); err == nil || !strings.Contains(err.Error(), "--set") {
		t.Errorf("--set without =: %v", err)
	}
	if _, err := secretsRequest([]string{"A=1"}, []string{"A"}); err == nil || !strings.Contains(err.Error(), "both set and removed") {
		t.Errorf("set and removed: %v", err)
	}
	req, err := secretsRequest([]string{"A=x=y", "B="}, []string{"C"})
	if err != nil || req.Set["A"] != "x=y" || req.Set["B"] != "" || len(req.Remove) != 1 {
		t.Errorf("request %+v, %v", req, err)
	}
	for _, tc := range []struct {
		cron, tz, topic, want string
	}{
		{"*/5 * * * *", "Asia/Tokyo", "", "cron|*/5 * * * *|Asia/Tokyo|"},
		{"", "", "uploads", "event|||uploads"},
		{"@daily", "", "uploads", "not both"},
		{"", "UTC", "uploads", "--tz is for a --cron trigger"},
		{"", "", "", "give --cron SCHEDULE or --topic TOPIC"},
	} {
		r, err := triggerRequest("t1", tc.cron, tc.tz, tc.topic, "")
		got := r.Kind + "|" + r.Schedule + "|" + r.TimeZone + "|" + r.Topic
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("cron %q tz %q topic %q: got %q, want %q", tc.cron, tc.tz, tc.topic, got, tc.want)
		}
	}
}

// functionsAPI is a test double of the functions' routes (the service is
// tested against its real store in internal/functions): it answers with
// canned objects and records each request, for the tests of what the CLI
// sends and how it prints the answers. logs is the event stream
// …/logs?follow=true answers.
func functionsAPI(t *testing.T, logs string) *[]recordedCall {
	t.Helper()
	var mu sync.Mutex
	calls := &[]recordedCall{}
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	fn := api.Function{Name: "hello", Project: "backend", Runtime: "python", Access: "private", URL: "http://hks.test/fn/acme/web/backend/hello",
		LatestVersion: 2, Aliases: []api.FunctionAlias{{Name: "latest", Targets: []api.FunctionAliasTarget{{Version: 2, Weight: 100}}},
			{Name: "prod", Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}}}},
		Limits: api.FunctionLimits{MemoryMB: 256, TimeoutSeconds: 30, Concurrency: 2, MaxInstances: 4}, Secrets: []string{"API_KEY"}, Description: "greets"}
	ok := api.Invocation{ID: "inv1", Function: "hello", Version: 2, Trigger: "api", Status: "succeeded", StartedAt: at, DurationMS: 12.5,
		Logs: "hi\n", Response: &api.FunctionResponse{Status: 200, Body: `{"hello":"ada"}`}}
	failed := api.Invocation{ID: "inv2", Function: "hello", Version: 2, Trigger: "api", Status: "failed", ExitReason: "timeout", StartedAt: at.Add(time.Second),
		DurationMS: 10000, Response: &api.FunctionResponse{Status: 504, Body: "timed out"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		*calls = append(*calls, recordedCall{r.Method, r.URL.RequestURI(), string(b)})
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer access" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answer := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
		if r.URL.Path == "/api/v1/functions/runtimes" {
			answer(200, []api.FunctionRuntime{{Name: "python", Available: true, Version: "3.11.2", Sandbox: "bubblewrap", Entry: "handler.py"}})
			return
		}
		proj := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/backend"
		path := strings.TrimPrefix(r.URL.Path, proj)
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && (path == "/functions/greet" || path == "/functions/code"), path == "/functions/missing":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Problem{Type: "about:blank", Title: "Not found", Status: 404, Detail: "function not found"})
		case path == "/functions/hello/invoke":
			var req api.InvokeFunctionRequest
			_ = json.Unmarshal(b, &req)
			switch {
			case req.Async:
				answer(http.StatusAccepted, api.Invocation{ID: "inv3", Function: "hello", Status: "queued"})
			case req.Body == "slow":
				answer(200, failed)
			default:
				answer(200, ok)
			}
		case path == "/functions/hello/logs" && r.URL.Query().Get("follow") == "true":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, logs)
		case path == "/functions/hello/logs":
			answer(200, []api.Invocation{failed, ok})
		case path == "/functions/hello/versions":
			answer(200, api.List[api.FunctionVersion]{Items: []api.FunctionVersion{{Version: 2, Env: map[string]string{"MODE": "prod"}}}})
		case path == "/functions/hello/versions/2/code":
			answer(200, api.FunctionCode{Version: 2, Filename: "handler.py", Content: []byte("def handle(req):\n    return 'hi'\n")})
		case path == "/events/uploads":
			answer(http.StatusAccepted, api.PublishEventResponse{ID: "ev1", Topic: "uploads", Handlers: 2})
		case path == "/functions/hello/triggers" && r.Method == http.MethodPost:
			answer(http.StatusCreated, api.FunctionTrigger{Name: "nightly", Kind: "cron", Schedule: "0 2 * * *", CreatedAt: at})
		case path == "/functions" && r.Method == http.MethodGet:
			answer(200, api.List[api.Function]{Items: []api.Function{fn}})
		case strings.HasPrefix(path, "/functions"):
			answer(200, fn)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	return calls
}

func TestFnCommandsSend(t *testing.T) {
	dir := t.TempDir()
	code := filepath.Join(dir, "hello.py")
	if err := os.WriteFile(code, []byte("def handle(req):\n    return 'hi'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "code.tar.gz")
	if err := os.WriteFile(archive, []byte("not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	scope := []string{"--org", testOrgID, "--workspace", testWsID, "--project", "backend"}
	fns := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/backend/functions"
	src := func(name, content string) api.FunctionSource {
		return api.FunctionSource{Filename: name, Content: []byte(content)}
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		calls []recordedCall // nil: none sent
		out   string         // in the output
		err   string         // in the error
	}{
		// hello exists: a redeploy keeps the settings its flags leave out
		// (access, description, limits, the latest version's env).
		{name: "deploy defaults", args: []string{"fn", "deploy", code},
			calls: []recordedCall{{"GET", fns + "/hello", ""}, {"GET", fns + "/hello/versions?limit=1", ""},
				{"PUT", fns + "/hello", body(t, api.DeployFunctionRequest{Runtime: "python", Source: src("hello.py", "def handle(req):\n    return 'hi'\n"),
					Access: "private", Description: "greets", Env: map[string]string{"MODE": "prod"},
					Limits: &api.FunctionLimits{MemoryMB: 256, TimeoutSeconds: 30, Concurrency: 2, MaxInstances: 4}})}},
			out: "hello  python   private  v2"},
		{name: "redeploy with one limit", args: []string{"fn", "deploy", code, "--memory", "512", "--env", "MODE=dev"},
			calls: []recordedCall{{"GET", fns + "/hello", ""},
				{"PUT", fns + "/hello", body(t, api.DeployFunctionRequest{Runtime: "python", Source: src("hello.py", "def handle(req):\n    return 'hi'\n"),
					Access: "private", Description: "greets", Env: map[string]string{"MODE": "dev"},
					Limits: &api.FunctionLimits{MemoryMB: 512, TimeoutSeconds: 30, Concurrency: 2, MaxInstances: 4}})}}},
		{name: "deploy flags", args: []string{"fn", "deploy", code, "--name", "greet", "--access", "public", "--env", "A=1", "--env", "B=x=y",
			"--memory", "256", "--timeout", "30s", "--concurrency", "2", "--max-instances", "8", "--ttl", "1h", "--description", "hi"},
			calls: []recordedCall{{"GET", fns + "/greet", ""}, {"PUT", fns + "/greet", body(t, api.DeployFunctionRequest{Runtime: "python", Source: src("hello.py", "def handle(req):\n    return 'hi'\n"),
				Access: "public", Env: map[string]string{"A": "1", "B": "x=y"}, TTL: "1h", Description: "hi",
				Limits: &api.FunctionLimits{MemoryMB: 256, TimeoutSeconds: 30, Concurrency: 2, MaxInstances: 8}})}}},
		{name: "deploy archive needs runtime", args: []string{"fn", "deploy", archive}, err: "give its runtime with --runtime"},
		{name: "deploy archive", args: []string{"fn", "deploy", archive, "--runtime", "node"},
			calls: []recordedCall{{"GET", fns + "/code", ""}, {"PUT", fns + "/code", body(t, api.DeployFunctionRequest{Runtime: "node", Source: src("code.tar.gz", "not really")})}}},
		{name: "deploy bad access", args: []string{"fn", "deploy", code, "--access", "open"}, err: `--access "open": want private or public`},
		{name: "deploy bad timeout", args: []string{"fn", "deploy", code, "--timeout", "1500ms"}, err: "--timeout 1.5s: want whole seconds"},
		{name: "deploy bad ttl", args: []string{"fn", "deploy", code, "--ttl", "tomorrow"}, err: `--ttl "tomorrow"`},
		{name: "deploy bad memory", args: []string{"fn", "deploy", code, "--memory", "0"}, err: "--memory 0: want 1 or more"},
		{name: "deploy bad env", args: []string{"fn", "deploy", code, "--env", "A"}, err: `--env "A": want NAME=VALUE`},
		{name: "deploy missing file", args: []string{"fn", "deploy", filepath.Join(dir, "nope.py")}, err: "read the code"},
		{name: "list", args: []string{"fn", "list"}, calls: []recordedCall{{"GET", fns + "?limit=500", ""}},
			out: "latest=v2 prod=v1:90,v2:10"},
		{name: "get", args: []string{"fn", "get", "hello"}, calls: []recordedCall{{"GET", fns + "/hello", ""}},
			out: "prod       v1:90,v2:10      http://hks.test/fn/acme/web/backend/hello/prod"},
		{name: "get missing", args: []string{"fn", "get", "missing"}, calls: []recordedCall{{"GET", fns + "/missing", ""}},
			err: `function "missing" not found (HTTP 404)`},
		{name: "invoke", args: []string{"fn", "invoke", "hello", "-d", `{"name":"ada"}`, "--path", "items?x=1&x=2", "-X", "put", "-H", "X-A: 1", "-H", "x-a:2", "--alias", "prod"},
			calls: []recordedCall{{"POST", fns + "/hello/invoke", body(t, api.InvokeFunctionRequest{Alias: "prod", Method: "PUT", Path: "/items",
				Query: map[string][]string{"x": {"1", "2"}}, Headers: map[string][]string{"X-A": {"1", "2"}}, Body: `{"name":"ada"}`})}},
			out: `{"hello":"ada"}`},
		{name: "invoke stdin", args: []string{"fn", "invoke", "hello", "--data-file", "-", "--version", "1"}, stdin: "from stdin",
			calls: []recordedCall{{"POST", fns + "/hello/invoke", body(t, api.InvokeFunctionRequest{Version: 1, Body: "from stdin"})}}},
		{name: "invoke failed", args: []string{"fn", "invoke", "hello", "-d", "slow"},
			calls: []recordedCall{{"POST", fns + "/hello/invoke", body(t, api.InvokeFunctionRequest{Body: "slow"})}},
			out:   "timed out", err: "invocation inv2 of hello v2 failed: timeout (status 504)"},
		{name: "invoke async", args: []string{"fn", "invoke", "hello", "--async"},
			calls: []recordedCall{{"POST", fns + "/hello/invoke", body(t, api.InvokeFunctionRequest{Async: true})}}, out: "invocation inv3 queued"},
		{name: "invoke alias and version", args: []string{"fn", "invoke", "hello", "--alias", "prod", "--version", "2"}, err: "--alias or --version, not both"},
		{name: "invoke data twice", args: []string{"fn", "invoke", "hello", "-d", "x", "--data-file", "f"}, err: "--data or --data-file, not both"},
		{name: "invoke bad header", args: []string{"fn", "invoke", "hello", "-H", "NoColon"}, err: `--header "NoColon": want NAME: VALUE`},
		{name: "logs limit", args: []string{"fn", "logs", "hello", "--limit", "5"}, calls: []recordedCall{{"GET", fns + "/hello/logs?limit=5", ""}}},
		{name: "logs bad limit", args: []string{"fn", "logs", "hello", "--limit", "0"}, err: "--limit 0: want 1 to 500"},
		{name: "logs", args: []string{"fn", "logs", "hello"}, calls: []recordedCall{{"GET", fns + "/hello/logs", ""}},
			out: "2026-12-07T20:00:00.000Z  inv1  v2  succeeded  12.5ms  (api)\n  hi\n2026-12-07T20:00:01.000Z  inv2  v2  failed  10s  timeout  (api)\n"},
		{name: "code", args: []string{"fn", "code", "hello"},
			calls: []recordedCall{{"GET", fns + "/hello", ""}, {"GET", fns + "/hello/versions/2/code", ""}}, out: "def handle(req):\n    return 'hi'\n"},
		{name: "code version", args: []string{"fn", "code", "hello", "--version", "2"}, calls: []recordedCall{{"GET", fns + "/hello/versions/2/code", ""}}},
		{name: "alias", args: []string{"fn", "alias", "hello", "prod", "v1=90", "v2=10"},
			calls: []recordedCall{{"PUT", fns + "/hello/aliases/prod", body(t, api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}}})}}},
		{name: "alias bad weights", args: []string{"fn", "alias", "hello", "prod", "v1=90", "v2=20"}, err: "add up to 110"},
		{name: "alias delete", args: []string{"fn", "alias", "hello", "canary", "--delete"},
			calls: []recordedCall{{"DELETE", fns + "/hello/aliases/canary", ""}}, out: "alias canary of function hello deleted"},
		{name: "alias delete with versions", args: []string{"fn", "alias", "hello", "canary", "v1", "--delete"}, err: "--delete takes no versions"},
		{name: "rollback", args: []string{"fn", "rollback", "hello", "--alias", "prod", "--to", "1"},
			calls: []recordedCall{{"POST", fns + "/hello/rollback", body(t, api.RollbackFunctionRequest{Alias: "prod", Version: 1})}}},
		{name: "rollback default", args: []string{"fn", "rollback", "hello"}, calls: []recordedCall{{"POST", fns + "/hello/rollback", "{}"}}},
		{name: "secrets", args: []string{"fn", "secrets", "hello", "--set", "API_KEY=s3cret", "--remove", "OLD"},
			calls: []recordedCall{{"POST", fns + "/hello/secrets", body(t, api.FunctionSecretsRequest{Set: map[string]string{"API_KEY": "s3cret"}, Remove: []string{"OLD"}})}},
			out:   "secrets of hello: API_KEY"},
		{name: "delete", args: []string{"fn", "delete", "hello"}, calls: []recordedCall{{"DELETE", fns + "/hello", ""}}, out: "function hello deleted"},
		{name: "trigger create", args: []string{"fn", "trigger", "create", "hello", "nightly", "--cron", "0 2 * * *", "--tz", "Europe/Berlin"},
			calls: []recordedCall{{"POST", fns + "/hello/triggers", body(t, api.CreateFunctionTriggerRequest{Name: "nightly", Kind: "cron", Schedule: "0 2 * * *", TimeZone: "Europe/Berlin"})}},
			out:   "nightly  cron"},
		{name: "trigger create topic", args: []string{"fn", "trigger", "create", "hello", "up", "--topic", "uploads", "--alias", "prod"},
			calls: []recordedCall{{"POST", fns + "/hello/triggers", body(t, api.CreateFunctionTriggerRequest{Name: "up", Kind: "event", Topic: "uploads", Alias: "prod"})}}},
		{name: "trigger delete", args: []string{"fn", "trigger", "delete", "hello", "nightly"},
			calls: []recordedCall{{"DELETE", fns + "/hello/triggers/nightly", ""}}, out: "trigger nightly of function hello deleted"},
		{name: "publish", args: []string{"fn", "publish", "uploads", "--data", "raw text"},
			calls: []recordedCall{{"POST", strings.TrimSuffix(fns, "/functions") + "/events/uploads", "raw text"}}, out: "event ev1 published to uploads (2 handlers)"},
		{name: "runtimes", args: []string{"fn", "runtimes"}, calls: []recordedCall{{"GET", "/api/v1/functions/runtimes", ""}},
			out: "python  yes        3.11.2   bubblewrap  handler.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := functionsAPI(t, "")
			args := tc.args
			if tc.args[1] != "runtimes" {
				args = append(append([]string{}, tc.args...), scope...)
			}
			out, err := runIn(t, tc.stdin, args...)
			if tc.err == "" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q\n%s", err, tc.err, out)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output:\n%s\nwant it to hold:\n%s", out, tc.out)
			}
			if len(*calls) != len(tc.calls) {
				t.Fatalf("sent %+v, want %+v", *calls, tc.calls)
			}
			for i, c := range *calls {
				w := tc.calls[i]
				got := c.Body
				if w.Body != "" && json.Valid([]byte(w.Body)) {
					got, w.Body = canonical(t, got), canonical(t, w.Body)
				}
				if c.Method != w.Method || c.Path != w.Path || got != w.Body {
					t.Errorf("call %d: %s %s %s\nwant       %s %s %s", i, c.Method, c.Path, got, w.Method, w.Path, w.Body)
				}
			}
		})
	}
}

// TestFnInvokeFailedIsAnError: a failed invocation is the command's error
// (hks exits 1), with the body still on the output.
func TestFnInvokeFailedIsAnError(t *testing.T) {
	functionsAPI(t, "")
	out, err := runIn(t, "", "fn", "invoke", "hello", "-d", "slow", "-o", "json", "--org", testOrgID, "--workspace", testWsID, "--project", "backend")
	if !errors.Is(err, errInvocationFailed) {
		t.Fatalf("error %v, want errInvocationFailed", err)
	}
	var inv api.Invocation
	if jerr := json.Unmarshal([]byte(out), &inv); jerr != nil || inv.ExitReason != "timeout" {
		t.Fatalf("json output %q: %v", out, jerr)
	}
}

// TestFnLogsFollow reads invocations from the event stream, prints each
// once (the stream sends inv1 again after a comment) with its logs made
// safe for a terminal, and skips other events. The double fails the first
// two opens with the same 500 (told once, then opened again), serves the
// stream on the third, and ends the command with a 404 on the fourth.
func TestFnLogsFollow(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	ev := func(inv api.Invocation) string {
		b, _ := json.Marshal(inv)
		return "event: invocation\ndata: " + string(b) + "\n\n"
	}
	inv1 := api.Invocation{ID: "inv1", Version: 1, Status: "succeeded", StartedAt: at, DurationMS: 3, Logs: "plain\n\x1b]52;c;aGk=\x07evil\n"}
	inv2 := api.Invocation{ID: "inv2", Version: 2, Status: "failed", ExitReason: "oom", ColdStart: true, StartedAt: at.Add(time.Second), DurationMS: 1500}
	stream := ": hello\n\n" + ev(inv1) + "event: other\ndata: {}\n\n" + ev(inv1) + ev(inv2)
	var mu sync.Mutex
	opens := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		opens++
		n := opens
		mu.Unlock()
		if n <= 2 {
			// The server fails twice the same way: said once.
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"status":500,"detail":"internal error"}`)
			return
		}
		if n > 3 || r.URL.Query().Get("follow") != "true" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"status":404,"detail":"function not found"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	firstReopen = 0
	t.Cleanup(func() { firstReopen = time.Second })
	out, err := runIn(t, "", "fn", "logs", "hello", "-f", "--org", testOrgID, "--workspace", testWsID, "--project", "backend")
	if err == nil || !strings.Contains(err.Error(), `function "hello" not found`) {
		t.Fatalf("error %v, want the 404 of the second open", err)
	}
	want := "the logs' stream failed (internal error (HTTP 500)); opening it again\n" +
		"2026-12-07T20:00:00.000Z  inv1  v1  succeeded  3ms\n  plain\n  \\u001b]52;c;aGk=\\u0007evil\n" +
		"2026-12-07T20:00:01.000Z  inv2  v2  failed  1.5s  oom  cold\n"
	if out != want {
		t.Errorf("output:\n%q\nwant:\n%q", out, want)
	}
}
