package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// needFunctions skips a test until the server serves the functions API
// with an available python runtime (the functions service, branch
// fn-service, lands its routes separately from the assistant's tools).
func needFunctions(t *testing.T, c *apiClient) {
	t.Helper()
	var rts []struct {
		Name      string `json:"name"`
		Available bool   `json:"available"`
	}
	code, b, err := c.call("GET", "/api/v1/functions/runtimes", nil)
	if err != nil || code == http.StatusNotFound {
		t.Skipf("the functions API is not served by this build (GET /api/v1/functions/runtimes: %d %v)", code, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/functions/runtimes: %d %s", code, b)
	}
	c.must("GET", "/api/v1/functions/runtimes", nil, http.StatusOK, &rts)
	for _, r := range rts {
		if r.Name == "python" && r.Available {
			return
		}
	}
	t.Skip("no python runtime on this machine")
}

// TestAssistantFunctions is issue 15's "the assistant can use them": a
// scripted model (a test double: no model weights run here) drives the
// functions tools against the real functions service, as the user who
// asked. run_code is one plan that shows the code; confirmed, the answer
// carries the function's output, the throwaway function is gone and one
// invocation was metered. A deploy with a syntax error is refused at
// planning with python's own message; a viewer cannot deploy; a deploy
// planned against version 1 is stale once version 2 exists.
func TestAssistantFunctions(t *testing.T) {
	w := newAIWorld(t)
	needFunctions(t, w.a)
	fns := w.frontend + "/functions"
	orgPath := w.wsPath[:strings.Index(w.wsPath, "/workspaces/")]

	// run_code: the plan shows the code; confirmed, the output comes back.
	code := "def handle(req):\n    print('computing')\n    return {'sum': sum(range(10))}\n"
	args := `{"runtime":"python","code":` + jsonString(code) + `,"project":"frontend"}`
	w.model.Reset(
		scriptedmodel.Turn{Match: &scriptedmodel.Match{LastUserContains: "add up 0 to 9"},
			ToolCalls: []scriptedmodel.ToolCall{{Name: "run_code", Arguments: args}}},
		scriptedmodel.Turn{Match: &scriptedmodel.Match{AfterToolCall: "run_code"}, Content: "I planned to run it; confirm the plan."},
	)
	chat := w.newChat(w.a, "frontend")
	_, turn := w.ask(t, w.a, chat, "add up 0 to 9 with python")
	if len(turn.Plans) != 1 {
		t.Fatalf("plans: %+v messages %+v", turn.Plans, turn.Messages)
	}
	plan := turn.Plans[0]
	if plan.Tool != "run_code" || plan.Status != "pending" || !strings.Contains(plan.Diff, "+    return {'sum': sum(range(10))}") || !strings.Contains(plan.Diff, "+ttl: 15m") {
		t.Fatalf("the run_code plan: %+v", plan)
	}
	var full struct {
		Target string `json:"target"`
		Path   string `json:"path"`
	}
	w.a.must("GET", w.wsPath+"/ai/plans/"+plan.ID, nil, http.StatusOK, &full)
	if full.Target != "platform" || !strings.Contains(full.Path, "/projects/frontend/functions/tmp-") {
		t.Fatalf("the plan's request: %+v", full)
	}
	name := full.Path[strings.LastIndexByte(full.Path, '/')+1:]
	problem(t, w.a, "GET", fns+"/"+name, nil, http.StatusNotFound) // planning deployed nothing
	var done planOut
	w.a.must("POST", w.wsPath+"/ai/plans/"+plan.ID+"/confirm", nil, http.StatusOK, &done)
	if done.Status != "done" || !strings.Contains(done.Result, `"sum": 45`) && !strings.Contains(done.Result, `"sum":45`) || !strings.Contains(done.Result, "computing") {
		t.Fatalf("the confirmed run_code: %+v", done)
	}
	problem(t, w.a, "GET", fns+"/"+name, nil, http.StatusNotFound) // deleted
	var usage struct {
		Totals []struct {
			Meter    string `json:"meter"`
			Quantity int64  `json:"quantity"`
		} `json:"totals"`
	}
	w.admin.must("GET", orgPath+"/usage", nil, http.StatusOK, &usage)
	invocations := int64(0)
	for _, u := range usage.Totals {
		if u.Meter == "fn.invocations" {
			invocations += u.Quantity
		}
	}
	if invocations != 1 {
		t.Errorf("fn.invocations metered %d, want 1: %+v", invocations, usage.Totals)
	}

	// A deploy with a syntax error: refused at planning with python's words.
	w.model.Reset(
		scriptedmodel.Turn{Match: &scriptedmodel.Match{LastUserContains: "deploy broken"},
			ToolCalls: []scriptedmodel.ToolCall{{Name: "deploy_function", Arguments: `{"name":"broken","runtime":"python","code":"def handle(req)\n    return 1\n","project":"frontend"}`}}},
		scriptedmodel.Turn{Match: &scriptedmodel.Match{AfterToolCall: "deploy_function"}, Content: "It does not compile."},
	)
	_, turn = w.ask(t, w.a, chat, "deploy broken")
	if m := toolMessage(t, turn, "deploy_function"); !m.IsError || !strings.Contains(m.Content, "SyntaxError") || len(turn.Plans) != 0 {
		t.Fatalf("the broken deploy: %+v plans %+v", m, turn.Plans)
	}
	problem(t, w.a, "GET", fns+"/broken", nil, http.StatusNotFound)

	// A viewer cannot deploy: the platform's 403 at planning.
	w.model.Reset(
		scriptedmodel.Turn{Match: &scriptedmodel.Match{LastUserContains: "deploy hello"},
			ToolCalls: []scriptedmodel.ToolCall{{Name: "deploy_function", Arguments: `{"name":"hello","runtime":"python","code":"def handle(req):\n    return 'v1'\n","project":"frontend"}`}}},
		scriptedmodel.Turn{Match: &scriptedmodel.Match{AfterToolCall: "deploy_function"}, Content: "Planned."},
	)
	_, turn = w.ask(t, w.b, w.newChat(w.b, "frontend"), "deploy hello")
	if m := toolMessage(t, turn, "deploy_function"); !m.IsError || !strings.Contains(m.Content, "403") || len(turn.Plans) != 0 {
		t.Fatalf("the viewer's deploy: %+v plans %+v", m, turn.Plans)
	}

	// Stale: a deploy planned against version 1 is refused once someone
	// deployed version 2 meanwhile.
	_, turn = w.ask(t, w.a, chat, "deploy hello")
	w.a.must("POST", w.wsPath+"/ai/plans/"+turn.Plans[0].ID+"/confirm", nil, http.StatusOK, nil)
	w.model.Reset(
		scriptedmodel.Turn{Match: &scriptedmodel.Match{LastUserContains: "deploy v3"},
			ToolCalls: []scriptedmodel.ToolCall{{Name: "deploy_function", Arguments: `{"name":"hello","runtime":"python","code":"def handle(req):\n    return 'v3'\n","project":"frontend"}`}}},
		scriptedmodel.Turn{Match: &scriptedmodel.Match{AfterToolCall: "deploy_function"}, Content: "Planned."},
	)
	_, turn = w.ask(t, w.a, chat, "deploy v3")
	stale := turn.Plans[0]
	if !strings.Contains(stale.Diff, "-    return 'v1'") || !strings.Contains(stale.Diff, "+    return 'v3'") {
		t.Fatalf("the second deploy's diff: %s", stale.Diff)
	}
	w.a.must("PUT", fns+"/hello", map[string]any{"runtime": "python", "source": map[string]any{"filename": "handler.py", "content": []byte("def handle(req):\n    return 'v2'\n")}}, http.StatusOK, nil)
	code2, _, b, err := w.a.callHeader("POST", w.wsPath+"/ai/plans/"+stale.ID+"/confirm", nil)
	if err != nil || code2 != http.StatusConflict || !strings.Contains(string(b), "plan-stale") {
		t.Fatalf("confirm of a deploy planned against version 1: %d %s %v", code2, b, err)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
