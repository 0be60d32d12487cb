package tenancy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// controlPlaneDouble is a test double of internal/controlplane's service
// (the provider that runs real kube-apiservers is tested end to end
// there): it knows fixed endpoints and health for the workspaces in up.
type controlPlaneDouble struct {
	up map[string]bool
}

var _ ControlPlane = controlPlaneDouble{}

const (
	doubleServer = "https://127.0.0.1:16443"
	doubleCAPEM  = "-----BEGIN CERTIFICATE-----\nMIIBdouble\n-----END CERTIFICATE-----\n"
)

var doubleCheckedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (d controlPlaneDouble) Status(_ context.Context, workspaceID string) (api.ControlPlaneStatus, bool) {
	if !d.up[workspaceID] {
		return api.ControlPlaneStatus{}, false
	}
	return api.ControlPlaneStatus{Ready: true, Version: "v1.35.4", CheckedAt: doubleCheckedAt,
		Components: []api.ComponentStatus{{Name: "kube-apiserver", Healthy: true}, {Name: "kube-controller-manager", Healthy: false, Message: "restarting", Restarts: 2}}}, true
}

func (d controlPlaneDouble) Endpoint(_ context.Context, workspaceID string) (string, []byte, error) {
	if !d.up[workspaceID] {
		return "", nil, ErrNoControlPlane
	}
	return doubleServer, []byte(doubleCAPEM), nil
}

func TestWorkspaceKubeconfig(t *testing.T) {
	h := newHarness(t)
	p := h.acme()
	o := p.org
	web := h.workspace(o, "web", store.WorkspaceRunning, p.owner, p.viewer)
	booting := h.workspace(o, "booting", store.WorkspaceProvisioning, p.owner, p.viewer)
	lost := h.workspace(o, "lost", store.WorkspaceRunning, p.owner, p.viewer) // running, but the provider has none
	path := func(ws store.Workspace) string {
		return "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID + "/kubeconfig"
	}

	// Without a provider: 503 for those who may see the workspace.
	if a := h.get(path(web), p.viewerTok, nil); a.status != 503 || a.problem(t).Type != "https://hexabase.ai/problems/control-plane-unavailable" {
		t.Fatalf("no provider: %d %s", a.status, a.body)
	}
	h = h.withControlPlane(controlPlaneDouble{up: map[string]bool{web.ID: true, booting.ID: true}})

	var want kubeconfig.Kubeconfig
	check := func(t *testing.T, kc kubeconfig.Kubeconfig) {
		t.Helper()
		name := "hks-acme-web"
		if kc.CurrentContext != name || len(kc.Clusters) != 1 || len(kc.Contexts) != 1 || len(kc.Users) != 1 ||
			kc.Clusters[0].Name != name || kc.Contexts[0].Name != name || kc.Users[0].Name != name ||
			kc.Contexts[0].Context.Cluster != name || kc.Contexts[0].Context.User != name {
			t.Fatalf("names: %+v", kc)
		}
		// An https platform: the gateway's URL, never the API server's
		// own address.
		if kc.Clusters[0].Cluster.Server != testExternalURL+"/k8s/"+web.ID || kc.Clusters[0].Cluster.CertificateAuthorityData != nil {
			t.Fatalf("cluster: %+v", kc.Clusters[0])
		}
		ex := kc.Users[0].User.Exec
		if ex == nil || ex.Command != "hks" || ex.APIVersion != "client.authentication.k8s.io/v1" || ex.InteractiveMode != "Never" ||
			strings.Join(ex.Args, " ") != "kubectl-token --server "+testExternalURL+" --org "+o.ID+" --workspace "+web.ID {
			t.Fatalf("exec: %+v", ex)
		}
		want = kc
	}

	t.Run("yaml for a workspace viewer", func(t *testing.T) {
		a := h.get(path(web), p.viewerTok, nil)
		if a.status != 200 || a.header.Get("Content-Type") != "application/yaml" || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %v: %s", a.status, a.header, a.body)
		}
		var kc kubeconfig.Kubeconfig
		if err := yaml.UnmarshalStrict(a.body, &kc); err != nil {
			t.Fatalf("not a kubeconfig: %v\n%s", err, a.body)
		}
		check(t, kc)
		// No credential of any kind: only the exec stanza.
		var raw map[string]any
		if err := yaml.Unmarshal(a.body, &raw); err != nil {
			t.Fatal(err)
		}
		user := raw["users"].([]any)[0].(map[string]any)["user"].(map[string]any)
		if len(user) != 1 || user["exec"] == nil {
			t.Fatalf("user holds more than an exec stanza: %v", user)
		}
		for _, secret := range []string{"token", "client-key", "client-certificate", "password"} {
			if strings.Contains(string(a.body), secret+":") {
				t.Fatalf("kubeconfig holds %s:\n%s", secret, a.body)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		query string
		hdr   map[string]string
	}{
		{"json by query", "?format=json", nil},
		{"json by accept", "", map[string]string{"Accept": "application/json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.get(path(web)+tc.query, p.ownerTok, tc.hdr)
			if a.status != 200 || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %v: %s", a.status, a.header, a.body)
			}
			var kc kubeconfig.Kubeconfig
			dec := json.NewDecoder(strings.NewReader(string(a.body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&kc); err != nil {
				t.Fatal(err)
			}
			check(t, kc)
		})
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
		typ, detail       string
	}{
		{"provisioning", path(booting), p.viewerTok, 409, "workspace-not-running", "the workspace is not running (status: provisioning)"},
		{"no control plane", path(lost), p.ownerTok, 409, "workspace-not-running", ""},
		{"other organization", path(web), p.outsiderTok, 404, "not-found", "organization not found"},
		{"workspace not visible", path(web), p.memberTok, 404, "not-found", "workspace not found"},
		{"unknown workspace", "/api/v1/organizations/" + o.ID + "/workspaces/" + store.NewID() + "/kubeconfig", p.ownerTok, 404, "not-found", "workspace not found"},
		{"no token", path(web), "", 401, "unauthorized", ""},
		{"bad format", path(web) + "?format=toml", p.ownerTok, 422, "validation", "format: must be yaml or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.get(tc.path, tc.token, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			p := a.problem(t)
			if p.Type != "https://hexabase.ai/problems/"+tc.typ || (tc.detail != "" && p.Detail != tc.detail) {
				t.Fatalf("problem %+v, want %s %q", p, tc.typ, tc.detail)
			}
		})
	}
	if want.CurrentContext == "" {
		t.Fatal("no kubeconfig was checked")
	}
}

func TestGetWorkspaceControlPlane(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	up := h.workspace(o, "up", store.WorkspaceRunning, owner)
	down := h.workspace(o, "down", store.WorkspaceProvisioning, owner)
	get := func(ws store.Workspace) map[string]any {
		t.Helper()
		a := h.get("/api/v1/organizations/"+o.ID+"/workspaces/"+ws.ID, tok, nil)
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		var m map[string]any
		if err := json.Unmarshal(a.body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := get(up); m["control_plane"] != nil {
		t.Fatalf("control_plane without a provider: %v", m)
	}
	h = h.withControlPlane(controlPlaneDouble{up: map[string]bool{up.ID: true}})
	if m := get(down); m["control_plane"] != nil {
		t.Fatalf("control_plane of a workspace the provider does not know: %v", m)
	}
	a := h.get("/api/v1/organizations/"+o.ID+"/workspaces/"+up.ID, tok, nil)
	var ws api.Workspace
	if err := json.Unmarshal(a.body, &ws); err != nil {
		t.Fatal(err)
	}
	cp := ws.ControlPlane
	if cp == nil || !cp.Ready || cp.Version != "v1.35.4" || !cp.CheckedAt.Equal(doubleCheckedAt) || len(cp.Components) != 2 ||
		cp.Components[1] != (api.ComponentStatus{Name: "kube-controller-manager", Healthy: false, Message: "restarting", Restarts: 2}) {
		t.Fatalf("control_plane: %+v (%s)", cp, a.body)
	}
	// Lists stay cheap: no health per row.
	if a := h.get("/api/v1/organizations/"+o.ID+"/workspaces", tok, nil); strings.Contains(string(a.body), "control_plane") {
		t.Fatalf("list shows control_plane: %s", a.body)
	}
}
