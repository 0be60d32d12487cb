package tenancy

import (
	"net/url"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func TestWorkspaceEventStream(t *testing.T) {
	h := newHarness(t)
	h.tn.heartbeat = 100 * time.Millisecond
	p := h.acme()
	o := p.org
	ws := h.workspace(o, "web", store.WorkspaceProvisioning, p.owner, p.viewer)
	other := h.workspace(o, "api", store.WorkspacePending, p.owner)
	path := "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID + "/events"
	ctx := t.Context()
	start := time.Now().Add(-time.Second)

	mineTask := store.Task{ID: store.NewID(), Kind: TaskWorkspaceProvision, OrgID: o.ID, Payload: []byte(`{"workspace_id":"` + ws.ID + `"}`),
		Status: store.TaskRunning, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	otherTask := mineTask
	otherTask.ID, otherTask.Payload = store.NewID(), []byte(`{"workspace_id":"`+other.ID+`"}`)
	h.must(h.st.CreateTask(ctx, mineTask))
	h.must(h.st.CreateTask(ctx, otherTask))

	s := h.stream(path, p.viewerTok)
	f, ev := s.next(false)
	if f.event != "workspace.status" || f.id != "" || ev.ResourceID != ws.ID || statusOf(ev) != store.WorkspaceProvisioning {
		t.Fatalf("first event is not the current status: %+v %s", f, ev.Data)
	}
	// Heartbeats while idle.
	if c, _ := s.next(true); !c.comment {
		t.Fatalf("want a heartbeat comment, got %+v", c)
	}
	// Outlive the request timeout and the connection deadlines: streams
	// are exempt from them.
	time.Sleep(2 * testConnTimeout)

	h.pub.Notify(ctx, o.ID, "workspace.status", other.ID, statusData(store.WorkspaceRunning, ""))
	h.pub.Notify(ctx, o.ID, events.TaskStatus, otherTask.ID, map[string]any{"kind": otherTask.Kind, "status": "failed"})
	h.pub.Notify(ctx, o.ID, "workspace.progress", ws.ID, map[string]string{"step": "etcd prefix"})
	h.pub.Notify(ctx, o.ID, events.TaskStatus, mineTask.ID, map[string]any{"kind": mineTask.Kind, "status": "succeeded"})
	h.pub.Notify(ctx, o.ID, "workspace.status", ws.ID, statusData(store.WorkspaceRunning, ""))
	var got []string
	for len(got) < 3 {
		f, ev := s.next(false)
		if f.id == "" || f.id != ev.ID || f.event != ev.Type {
			t.Fatalf("frame %+v does not match its event %+v", f, ev)
		}
		got = append(got, ev.Type+" "+ev.ResourceID)
	}
	want := []string{"workspace.progress " + ws.ID, "task.status " + mineTask.ID, "workspace.status " + ws.ID}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("events %v, want %v (other workspaces' events must not show)", got, want)
	}

	// since replays: the current status first, then the stored events.
	h.must(h.st.SetWorkspaceStatus(ctx, ws.ID, []string{store.WorkspaceProvisioning}, store.WorkspaceRunning, "", time.Now()))
	r := h.stream(path+"?since="+url.QueryEscape(start.UTC().Format(time.RFC3339Nano)), p.ownerTok)
	if _, ev := r.next(false); ev.ID != "" || statusOf(ev) != store.WorkspaceRunning {
		t.Fatalf("replay starts with %+v", ev)
	}
	var replayed []string
	for len(replayed) < 3 {
		_, ev := r.next(false)
		replayed = append(replayed, ev.Type+" "+ev.ResourceID)
	}
	if replayed[0] != want[0] || replayed[1] != want[1] || replayed[2] != want[2] {
		t.Fatalf("replayed %v, want %v", replayed, want)
	}

	// Deletion ends the stream after its event.
	h.pub.Notify(ctx, o.ID, "workspace.status", ws.ID, statusData(store.WorkspaceDeleted, ""))
	if _, ev := r.next(false); statusOf(ev) != store.WorkspaceDeleted {
		t.Fatalf("want deleted, got %s", ev.Data)
	}
	select {
	case _, ok := <-r.frames:
		if ok {
			t.Fatal("the stream went on after the workspace was deleted")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end after the workspace was deleted")
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"other organization", path, p.outsiderTok, 404},
		{"workspace not visible", path, p.memberTok, 404},
		{"no token", path, "", 401},
		{"bad since", path + "?since=yesterday", p.ownerTok, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.get(tc.path, tc.token, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			a.problem(t)
		})
	}
	// A server shutting down ends the streams (http.Server.Shutdown
	// would otherwise wait for them).
	s = h.stream(path, p.ownerTok)
	s.next(false)
	h.api.EndStreams()
	for f := range s.frames {
		if !f.comment {
			t.Fatalf("event after EndStreams: %+v", f)
		}
	}

	if a := h.get(path, p.ownerTok, nil); a.status != 503 || a.problem(t).Type != "https://hexabase.ai/problems/shutting-down" {
		t.Fatalf("stream after EndStreams: %d %s", a.status, a.body)
	}
}
