package tenancy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// reserverDouble is a test double of the control-plane service with a warm
// pool (internal/controlplane/local's pool is tested with real API
// servers): it hands out the IDs in free, one per shared workspace.
type reserverDouble struct {
	controlPlaneDouble
	mu       sync.Mutex
	free     []string
	released []string
}

func (d *reserverDouble) ReserveWorkspaceID(plan string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if plan != store.PlanShared || len(d.free) == 0 {
		return "", false
	}
	id := d.free[0]
	d.free = d.free[1:]
	return id, true
}

func (d *reserverDouble) ReleaseWorkspaceID(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.released = append(d.released, id)
	d.free = append(d.free, id)
}

// TestCreateWorkspaceReservedID: a shared workspace is created with the ID
// the control plane reserved; a create that fails hands the ID back; a
// dedicated one gets an ID of its own.
func TestCreateWorkspaceReservedID(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	spare1, spare2 := store.NewID(), store.NewID()
	d := &reserverDouble{free: []string{spare1, spare2}}
	h = h.withControlPlane(d)
	post := func(body map[string]string) (int, api.Workspace) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(t.Context(), "POST", h.srv.URL+"/api/v1/organizations/"+o.ID+"/workspaces", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ws api.Workspace
		_ = json.NewDecoder(resp.Body).Decode(&ws)
		return resp.StatusCode, ws
	}
	if code, ws := post(map[string]string{"name": "web"}); code != http.StatusAccepted || ws.ID != spare1 {
		t.Fatalf("create web: %d id %q, want 202 with the reserved %q", code, ws.ID, spare1)
	}
	// Same name: refused, and spare2 goes back.
	if code, _ := post(map[string]string{"name": "web"}); code != http.StatusConflict {
		t.Fatalf("duplicate name: %d, want 409", code)
	}
	if len(d.released) != 1 || d.released[0] != spare2 {
		t.Fatalf("released %v, want [%s]", d.released, spare2)
	}
	if code, ws := post(map[string]string{"name": "batch", "plan": "dedicated"}); code != http.StatusAccepted || ws.ID == spare2 || ws.ID == "" {
		t.Fatalf("dedicated: %d id %q; want its own ID", code, ws.ID)
	}
	if code, ws := post(map[string]string{"name": "api"}); code != http.StatusAccepted || ws.ID != spare2 {
		t.Fatalf("create api: %d id %q, want the released %q", code, ws.ID, spare2)
	}
}
