package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// sse is one frame of a workspace event stream.
func sse(typ string, data map[string]any) string {
	b, err := json.Marshal(api.WorkspaceEvent{Type: typ, ResourceID: "w", Data: data})
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("event: %s\ndata: %s\n\n", typ, b)
}

// eventsAPI serves …/events with one scripted stream per connection (the
// real endpoint is tested in internal/tenancy); after the last script a
// stream stays open and idle.
func eventsAPI(t *testing.T, scripts ...[]string) (*Client, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/workspaces/w/events") || r.Header.Get("Authorization") != "Bearer access" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		n := int(conns.Add(1)) - 1
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if n >= len(scripts) {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		for _, frame := range scripts[n] {
			fmt.Fprint(w, frame)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return &Client{HTTP: srv.Client(), Creds: Credentials{Server: srv.URL, AccessToken: "access", ExpiresAt: time.Now().Add(time.Hour)}}, &conns
}

func TestWaitForWorkspace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scripts [][]string
		timeout time.Duration
		err     string
		out     []string
		conns   int32
	}{
		{"runs", [][]string{{
			sse("workspace.status", map[string]any{"status": "pending"}), ": heartbeat\n\n",
			sse("workspace.status", map[string]any{"status": "provisioning"}),
			sse("workspace.progress", map[string]any{"step": "start kube-apiserver"}),
			sse("workspace.status", map[string]any{"status": "running"}),
		}}, time.Minute, "", []string{"workspace web: pending", "workspace web: provisioning", "  start kube-apiserver", "workspace web: running"}, 1},
		{"fails with the reason", [][]string{{
			sse("workspace.status", map[string]any{"status": "provisioning"}),
			sse("task.status", map[string]any{"kind": "workspace.provision", "status": "failed", "attempts": 5, "reason": "etcd unreachable"}),
			sse("workspace.status", map[string]any{"status": "failed", "reason": "etcd unreachable"}),
		}}, time.Minute, "workspace failed: web: etcd unreachable", []string{"workspace web: failed (etcd unreachable)"}, 1},
		{"a wake that fails ends the wait", [][]string{{
			sse("workspace.status", map[string]any{"status": "waking"}),
			sse("workspace.status", map[string]any{"status": "sleeping", "reason": "the wake failed: kube-apiserver exited"}),
		}}, time.Minute, "workspace failed: web is sleeping: the wake failed: kube-apiserver exited", []string{"workspace web: waking", "workspace web: sleeping (the wake failed"}, 1},
		{"reconnects after a dropped stream", [][]string{
			{sse("workspace.status", map[string]any{"status": "provisioning"})},
			{sse("workspace.status", map[string]any{"status": "provisioning"}), sse("workspace.status", map[string]any{"status": "running"})},
		}, time.Minute, "", []string{"workspace web: provisioning\nworkspace web: running"}, 2},
		{"times out", [][]string{{sse("workspace.status", map[string]any{"status": "provisioning"})}}, 1500 * time.Millisecond,
			"timed out after 1.5s waiting for workspace web to run (status: provisioning)", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, conns := eventsAPI(t, tc.scripts...)
			var out bytes.Buffer
			err := waitForWorkspace(context.Background(), c, "/api/v1/organizations/o/workspaces/w", "web", tc.timeout, &out)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("error %v, want %q; output:\n%s", err, tc.err, out.String())
			}
			for _, want := range tc.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if tc.conns != 0 && conns.Load() != tc.conns {
				t.Errorf("%d connections, want %d", conns.Load(), tc.conns)
			}
		})
	}
}

func TestPrintControlPlane(t *testing.T) {
	var b bytes.Buffer
	printControlPlane(&b, api.Workspace{ID: "w"})
	if b.Len() != 0 {
		t.Fatalf("printed without control_plane: %q", b.String())
	}
	printControlPlane(&b, api.Workspace{ControlPlane: &api.ControlPlaneStatus{Ready: false, Version: "v1.35.4", CheckedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Components: []api.ComponentStatus{{Name: "kube-apiserver", Healthy: true}, {Name: "etcd", Restarts: 3, Message: "exited"}}}})
	want := "\nControl plane: not ready, Kubernetes v1.35.4 (checked 2026-01-02T03:04:05Z)\n" +
		"COMPONENT       HEALTHY  RESTARTS  MESSAGE\n" +
		"kube-apiserver  yes      0         \n" +
		"etcd            no       3         exited\n"
	if b.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}
