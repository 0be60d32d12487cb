package tenancy

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestQuotaBounds: a project quota is bounded to what Kubernetes holds
// exactly and a person could mean (CPU at most 1M cores in whole
// millicores, memory at most 1Pi and storage at most 1Ei in whole bytes,
// pods at most 1000000); anything else is a 422 naming the field, on
// create and on PATCH alike, and nothing is stored.
func TestQuotaBounds(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	projects := fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s/projects", o.ID, ws.ID)
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web", Quota: store.Quota{CPU: "1", Memory: "1Gi", Pods: 10},
		CreatedAt: o.CreatedAt, UpdatedAt: o.CreatedAt}
	h.must(h.st.CreateProject(t.Context(), p))

	bad := []struct {
		field string
		value any
	}{
		{"cpu", "1e309"},
		{"cpu", "1e18"},
		{"cpu", "1E"}, // exa: 10^18 cores
		{"cpu", "1000001"},
		{"cpu", "1.000001M"},
		{"cpu", "1e100"},
		{"cpu", "1e2147483648"},
		{"cpu", "99999999999999999999999999999999"},
		{"cpu", "-1"},
		{"cpu", "Infinity"},
		{"cpu", "NaN"},
		{"cpu", "0.0001"}, // finer than a millicore
		{"cpu", "1e-400"},
		{"cpu", "1e-9223372036854775809"},
		{"cpu", 2},        // a number, not a quantity string
		{"memory", "8Ei"}, // clamps to 2^63-1 in resource.Quantity
		{"memory", "2Pi"},
		{"memory", "100m"}, // a tenth of a byte
		{"memory", "1e309"},
		{"memory", "+1Gi"},
		{"memory", "1 Gi"},
		{"storage", "2Ei"},
		{"storage", "1e19"},
		{"storage", "0.5"},
		{"pods", -1},
		{"pods", 1000001},
		{"pods", 1e18},
		{"pods", "1e309"},
		{"pods", 1.5},
	}
	for i, tc := range bad {
		quota := map[string]any{tc.field: tc.value}
		name := fmt.Sprintf("%s %v", tc.field, tc.value)
		for _, call := range []struct {
			method, path string
			body         map[string]any
		}{
			{"POST", projects, map[string]any{"name": "bad-" + strconv.Itoa(i), "quota": quota}},
			{"PATCH", projects + "/" + p.ID, map[string]any{"quota": quota}},
		} {
			t.Run(call.method+" "+name, func(t *testing.T) {
				a := h.send(call.method, call.path, tok, call.body, nil)
				if a.status != 422 {
					t.Fatalf("got %d, want 422: %s", a.status, a.body)
				}
				if pr := a.problem(t); len(pr.Errors) != 1 || pr.Errors[0].Field != "quota."+tc.field {
					t.Fatalf("want quota.%s named: %s", tc.field, a.body)
				}
			})
		}
	}
	if got, err := h.st.GetProject(t.Context(), p.ID); err != nil || got.Quota != p.Quota {
		t.Fatalf("a refused PATCH changed the quota: %+v %v", got.Quota, err)
	}

	good := []api.Quota{
		{CPU: "500m", Memory: "1.5Gi", Storage: "100Gi", Pods: 10},
		{CPU: "0", Memory: "0", Storage: "0"},
		{CPU: "1M", Memory: "1Pi", Storage: "1Ei", Pods: 1000000},
		{CPU: "1e6", Memory: "1e15", Storage: "1e18"},
		{CPU: "0.001", Memory: "1.5e3", Storage: "10G"},
		{CPU: "2.5", Memory: "1024Mi", Storage: "1Ti"},
	}
	for i, q := range good {
		t.Run(fmt.Sprintf("good %+v", q), func(t *testing.T) {
			a := h.send("POST", projects, tok, map[string]any{"name": "good-" + strconv.Itoa(i), "quota": q}, nil)
			if a.status != 201 {
				t.Fatalf("create: %d %s", a.status, a.body)
			}
			if a := h.send("PATCH", projects+"/"+p.ID, tok, map[string]any{"quota": q}, nil); a.status != 200 {
				t.Fatalf("patch: %d %s", a.status, a.body)
			}
		})
	}
}
