package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// TestAssistantFunctionsTools is issue 15's "the assistant can use them"
// on a real platform: the functions service with the local engine, and a
// scripted model (a test double of an OpenAI-compatible server: no model
// weights run here) driving chats of the fixture's users. run_code is one
// plan that shows the code; confirmed, the answer carries the function's
// output and logs, the throwaway function is gone, and one invocation was
// metered. A deploy with a syntax error is refused at planning with
// python's own message; a viewer's deploy is refused at planning with the
// platform's 403; a project the caller does not see is not found; a
// deploy planned against version 1 is stale once version 2 exists.
func TestAssistantFunctionsTools(t *testing.T) {
	model := scriptedmodel.Start(t)
	w := newFnWorld(t, func(c *config.Config) {
		c.AI.Providers = []config.AIProvider{{Name: "scripted", BaseURL: model.URL(), Model: "scripted-1"}}
	})
	var rts []api.FunctionRuntime
	w.do("GET", "/api/v1/functions/runtimes", w.tok["member"], nil).decode(t, 200, &rts)
	for _, rt := range rts {
		if rt.Name == "python" && !rt.Available {
			t.Skipf("python is not available here: %s", rt.Reason)
		}
	}
	dev, viewer := w.tok["member"], w.tok["viewer"]
	wsPath := "/api/v1/organizations/" + w.f.org + "/workspaces/" + w.f.ws
	newChat := func(tok string) string {
		return w.do("POST", wsPath+"/ai/chats", tok, map[string]string{"project": "frontend"}).id(t, http.StatusCreated)
	}
	ask := func(tok, chat, text string) api.AITurn {
		t.Helper()
		var turn api.AITurn
		w.do("POST", wsPath+"/ai/chats/"+chat+"/messages", tok, map[string]string{"content": text}).decode(t, 200, &turn)
		return turn
	}
	toolResult := func(turn api.AITurn, name string) api.AIMessage {
		t.Helper()
		for _, m := range turn.Messages {
			if m.Role == "tool" && m.Tool == name {
				return m
			}
		}
		t.Fatalf("the turn has no result of %s: %+v", name, turn.Messages)
		return api.AIMessage{}
	}
	call := func(ask, tool string, args any) []scriptedmodel.Turn {
		b, _ := json.Marshal(args)
		return []scriptedmodel.Turn{
			{Match: &scriptedmodel.Match{LastUserContains: ask}, ToolCalls: []scriptedmodel.ToolCall{{Name: tool, Arguments: string(b)}}},
			{Match: &scriptedmodel.Match{LastUserContains: ask, AfterToolCall: tool}, Content: "See the tool's answer."},
		}
	}
	fns := w.base + "/functions"

	// run_code: one plan showing the code; confirmed, the output.
	code := "def handle(req):\n    print('computing')\n    return {'sum': sum(range(10))}\n"
	model.Reset(call("add up", "run_code", map[string]any{"runtime": "python", "code": code})...)
	chat := newChat(dev)
	turn := ask(dev, chat, "add up 0 to 9 with python")
	if len(turn.Plans) != 1 {
		t.Fatalf("plans: %+v; messages %+v", turn.Plans, turn.Messages)
	}
	plan := turn.Plans[0]
	if plan.Tool != "run_code" || plan.Target != "platform" || plan.Status != "pending" || plan.Method != "PUT" ||
		!strings.Contains(plan.Path, "/projects/frontend/functions/tmp-") ||
		!strings.Contains(plan.Diff, "+    return {'sum': sum(range(10))}") || !strings.Contains(plan.Diff, "+ttl: 15m") {
		t.Fatalf("the run_code plan: %+v", plan)
	}
	name := plan.Path[strings.LastIndexByte(plan.Path, '/')+1:]
	if a := w.do("GET", fns+"/"+name, dev, nil); a.status != 404 {
		t.Fatalf("planning deployed %s: %d %s", name, a.status, a.body)
	}
	var done api.AIPlan
	w.do("POST", wsPath+"/ai/plans/"+plan.ID+"/confirm", dev, nil).decode(t, 200, &done)
	if done.Status != "done" || !strings.Contains(done.Result, `{"sum": 45}`) || !strings.Contains(done.Result, "computing") ||
		!strings.Contains(done.Result, "deployed, invoked once and deleted") {
		t.Fatalf("the confirmed run_code: %+v", done)
	}
	if a := w.do("GET", fns+"/"+name, dev, nil); a.status != 404 {
		t.Fatalf("after run_code %s: %d %s", name, a.status, a.body)
	}
	totals, err := w.st.SumUsage(context.Background(), store.UsageFilter{OrgID: w.f.org, Meters: []string{store.MeterFnInvocations}})
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != 1 || totals[0].Quantity != 1 {
		t.Fatalf("fn.invocations: %+v, want 1", totals)
	}

	// A deploy with a syntax error: refused at planning, python's words.
	model.Reset(call("deploy broken", "deploy_function", map[string]any{"name": "broken", "runtime": "python", "code": "def handle(req)\n    return 1\n"})...)
	turn = ask(dev, chat, "deploy broken")
	if m := toolResult(turn, "deploy_function"); !m.IsError || !strings.Contains(m.Content, "SyntaxError") || len(turn.Plans) != 0 {
		t.Fatalf("the broken deploy: %+v; plans %+v", m, turn.Plans)
	}
	if a := w.do("GET", fns+"/broken", dev, nil); a.status != 404 {
		t.Fatalf("the broken deploy's dry run stored it: %d", a.status)
	}

	// A viewer cannot deploy: the platform's 403, at planning.
	hello := func(v string) map[string]any {
		return map[string]any{"name": "greeting", "runtime": "python", "code": "def handle(req):\n    return '" + v + "'\n"}
	}
	model.Reset(call("deploy hello", "deploy_function", hello("v1"))...)
	viewerChat := newChat(viewer)
	turn = ask(viewer, viewerChat, "deploy hello")
	if m := toolResult(turn, "deploy_function"); !m.IsError || !strings.Contains(m.Content, "the platform refused (403") || len(turn.Plans) != 0 {
		t.Fatalf("the viewer's deploy: %+v; plans %+v", m, turn.Plans)
	}
	model.Reset(call("invoke it", "invoke_function", map[string]any{"name": "greeting"})...)
	turn = ask(viewer, viewerChat, "invoke it")
	if m := toolResult(turn, "invoke_function"); !m.IsError || !strings.Contains(m.Content, "this needs the developer role in project frontend (you have viewer)") || len(turn.Plans) != 0 {
		t.Fatalf("the viewer's invocation: %+v; plans %+v", m, turn.Plans)
	}
	// A project the caller does not see: not found, as any other.
	model.Reset(call("other project", "get_function", map[string]any{"name": "greeting", "project": "backend"})...)
	turn = ask(dev, chat, "the function of the other project")
	if m := toolResult(turn, "get_function"); !m.IsError || !strings.Contains(m.Content, "project backend not found") {
		t.Fatalf("another project's function: %+v", m)
	}

	// Stale: a deploy planned against version 1, after version 2.
	model.Reset(call("deploy hello", "deploy_function", hello("v1"))...)
	turn = ask(dev, chat, "deploy hello")
	w.do("POST", wsPath+"/ai/plans/"+turn.Plans[0].ID+"/confirm", dev, nil).decode(t, 200, &done)
	model.Reset(call("deploy v3", "deploy_function", hello("v3"))...)
	turn = ask(dev, chat, "deploy v3")
	stale := turn.Plans[0]
	if !strings.Contains(stale.Diff, "-    return 'v1'") || !strings.Contains(stale.Diff, "+    return 'v3'") {
		t.Fatalf("the second deploy's diff: %s", stale.Diff)
	}
	w.deploy("greeting", api.DeployFunctionRequest{Runtime: "python", Source: api.FunctionSource{Filename: "handler.py", Content: []byte("def handle(req):\n    return 'v2'\n")}}, 200)
	a := w.do("POST", wsPath+"/ai/plans/"+stale.ID+"/confirm", dev, nil)
	if a.status != http.StatusConflict || !strings.Contains(string(a.body), "plan-stale") {
		t.Fatalf("confirm of a deploy planned against version 1: %d %s", a.status, a.body)
	}
	var code2 api.FunctionCode
	w.do("GET", fns+"/greeting/versions/2/code", dev, nil).decode(t, 200, &code2)
	if !strings.Contains(string(code2.Content), "v2") {
		t.Fatalf("the stale plan overwrote version 2: %s", code2.Content)
	}

	// Planning an invocation or a delete runs and deletes nothing.
	for _, c := range []struct{ ask, tool string }{{"plan invoke", "invoke_function"}, {"plan delete", "delete_function"}} {
		model.Reset(call(c.ask, c.tool, map[string]any{"name": "greeting"})...)
		turn = ask(dev, chat, c.ask)
		if len(turn.Plans) != 1 || turn.Plans[0].Target != "platform" || turn.Plans[0].Status != "pending" {
			t.Fatalf("%s: plans %+v; messages %+v", c.tool, turn.Plans, turn.Messages)
		}
	}
	if a := w.do("GET", fns+"/greeting", dev, nil); a.status != 200 {
		t.Fatalf("after planning its delete: %d %s", a.status, a.body)
	}
	if totals, _ := w.st.SumUsage(context.Background(), store.UsageFilter{OrgID: w.f.org, Meters: []string{store.MeterFnInvocations}}); len(totals) != 1 || totals[0].Quantity != 1 {
		t.Fatalf("planning an invocation ran it: %+v", totals)
	}

	// Logs as a read tool.
	model.Reset(call("logs", "function_logs", map[string]any{"name": "greeting"})...)
	var inv api.Invocation
	w.do("POST", fns+"/greeting/invoke", dev, api.InvokeFunctionRequest{Body: "x"}).decode(t, 200, &inv)
	turn = ask(dev, chat, "show the logs")
	if m := toolResult(turn, "function_logs"); m.IsError || !strings.Contains(m.Content, "succeeded") {
		t.Fatalf("function_logs: %+v", m)
	}
}
