package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// liveOut is a server message of the live-update WebSocket, with a watch
// event's object.
type liveOut struct {
	Type            string `json:"type"`
	ID              string `json:"id"`
	ResourceVersion string `json:"resource_version"`
	Reason          string `json:"reason"`
	Event           *struct {
		Type   string `json:"type"`
		Object struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name            string `json:"name"`
				Namespace       string `json:"namespace"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		} `json:"object"`
	} `json:"event"`
	Problem *problemOut `json:"problem"`
}

// liveClient is a WebSocket of the API client's user.
type liveClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func (a *apiClient) live(t *testing.T) *liveClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(a.url, "http://", "ws://", 1)+"/api/v1/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + a.token}}})
	if err != nil {
		t.Fatalf("dial /api/v1/ws: %v", err)
	}
	ws.SetReadLimit(4 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &liveClient{t: t, ws: ws}
}

func (c *liveClient) send(m map[string]string) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read reads the next message before ctx ends.
func (c *liveClient) read(ctx context.Context) (liveOut, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return liveOut{}, err
	}
	var m liveOut
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("not JSON: %s", b)
	}
	return m, nil
}

// until reads messages until one satisfies match, within timeout (a
// safety net: the cluster takes its time to schedule pods).
func (c *liveClient) until(timeout time.Duration, what string, match func(liveOut) bool) liveOut {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		m, err := c.read(ctx)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if m.Type == "error" {
			c.t.Fatalf("waiting for %s: error %+v", what, m.Problem)
		}
		if match(m) {
			return m
		}
	}
}

func watchMsg(id, org, ws, project, kind string) map[string]string {
	return map[string]string{"type": "subscribe", "id": id, "topic": "watch", "org": org, "workspace": ws, "project": project, "kind": kind}
}

// TestLiveWatchAcceptance: over the WebSocket, a developer of frontend
// watches its pods and deployments with their own identity (the current
// list, synced, then an ADDED live when a Deployment is created) and is
// refused backend's with the API's 404; a watch resumes from a resource
// version; and every watch of theirs ends within 5 s of their role
// binding being removed.
func TestLiveWatchAcceptance(t *testing.T) {
	w := newWorkloadsWorld(t)
	org := strings.TrimPrefix(w.orgPath, "/api/v1/organizations/")
	ws := w.wsPath[strings.LastIndex(w.wsPath, "/")+1:]
	c := w.a.live(t)

	// backend is hidden from A: the API's 404, before any cluster call.
	want := problem(t, w.a, "GET", w.backend, nil, http.StatusNotFound)
	c.send(watchMsg("b", org, ws, "backend", "pods"))
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	if m, err := c.read(rctx); err != nil || m.Type != "error" || m.ID != "b" || m.Problem == nil || m.Problem.Type != want.Type || m.Problem.Detail != want.Detail {
		t.Fatalf("A's watch of backend: %+v %v, want the API's %+v", m, err, want)
	}

	c.send(watchMsg("deps", org, ws, "frontend", "deployments"))
	c.until(30*time.Second, "subscribed", func(m liveOut) bool { return m.Type == "subscribed" && m.ID == "deps" })
	synced := c.until(30*time.Second, "synced", func(m liveOut) bool { return m.Type == "synced" && m.ID == "deps" })
	if synced.ResourceVersion == "" {
		t.Fatal("synced carries no resource_version")
	}
	c.send(watchMsg("pods", org, ws, "frontend", "pods"))
	c.until(30*time.Second, "pods synced", func(m liveOut) bool { return m.Type == "synced" && m.ID == "pods" })

	// A Deployment made by someone else arrives live, and its pods.
	w.admin.must("POST", w.frontend+"/applications", map[string]any{"name": "web", "image": "nginx:1.27", "replicas": 1}, http.StatusCreated, nil)
	added := c.until(time.Minute, "the Deployment ADDED", func(m liveOut) bool {
		return m.Type == "watch" && m.ID == "deps" && m.Event.Type == "ADDED" && m.Event.Object.Metadata.Name == "web"
	})
	if added.Event.Object.Kind != "Deployment" || added.Event.Object.Metadata.Namespace != "frontend" || added.Event.Object.Metadata.ResourceVersion == "" {
		t.Fatalf("ADDED object: %+v", added.Event.Object)
	}
	c.until(2*time.Minute, "a pod of web", func(m liveOut) bool {
		return m.Type == "watch" && m.ID == "pods" && strings.HasPrefix(m.Event.Object.Metadata.Name, "web-") && m.Event.Object.Metadata.Namespace == "frontend"
	})

	// Resuming from the list's resource version: no list, the Deployment
	// made since then arrives as ADDED.
	c.send(watchMsg("resumed", org, ws, "frontend", "deployments"))
	resume := watchMsg("resumed2", org, ws, "frontend", "deployments")
	resume["resource_version"] = synced.ResourceVersion
	c.send(resume)
	c.until(time.Minute, "the resumed ADDED", func(m liveOut) bool {
		if m.ID == "resumed2" && m.Type == "synced" {
			t.Fatal("a resumed watch listed again")
		}
		return m.Type == "watch" && m.ID == "resumed2" && m.Event.Type == "ADDED" && m.Event.Object.Metadata.Name == "web"
	})

	// D, developer in backend only, is refused frontend's pods.
	d := w.d.live(t)
	d.send(watchMsg("f", org, ws, "frontend", "pods"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if m, err := d.read(ctx); err != nil || m.Type != "error" || m.ID != "f" || m.Problem == nil || m.Problem.Type != want.Type || m.Problem.Detail != want.Detail {
		t.Fatalf("D's watch of frontend: %+v %v, want the API's %+v", m, err, want)
	}

	// A's role binding goes: every watch of A's ends, within 5 s.
	var bindings struct {
		Items []struct {
			ID        string `json:"id"`
			ProjectID string `json:"project_id"`
		} `json:"items"`
	}
	w.admin.must("GET", w.wsPath+"/rolebindings", nil, http.StatusOK, &bindings)
	removed := false
	for _, b := range bindings.Items {
		if b.ProjectID == w.frontendID {
			w.admin.must("DELETE", w.wsPath+"/rolebindings/"+b.ID, nil, http.StatusNoContent, nil)
			removed = true
		}
	}
	if !removed {
		t.Fatalf("no role binding of frontend in %+v", bindings)
	}
	// The acceptance: they must end within 5 s.
	ctx5, cancel5 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel5()
	open := map[string]bool{"deps": true, "pods": true, "resumed": true, "resumed2": true}
	for len(open) > 0 {
		m, err := c.read(ctx5)
		if err != nil {
			t.Fatalf("watches %v did not end within 5 s of the role binding's removal: %v", open, err)
		}
		if m.Type == "ended" {
			if !strings.Contains(m.Reason, "access to the project was revoked") {
				t.Errorf("ended %s: reason %q", m.ID, m.Reason)
			}
			delete(open, m.ID)
		}
	}
	// Now the API refuses the project too, and so does a new watch.
	problem(t, w.a, "GET", w.frontend, nil, http.StatusNotFound)
	c.send(watchMsg("again", org, ws, "frontend", "pods"))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if m, err := c.read(ctx2); err != nil || m.Type != "error" || m.ID != "again" || m.Problem.Type != want.Type {
		t.Fatalf("watch after the removal: %+v %v", m, err)
	}
}
