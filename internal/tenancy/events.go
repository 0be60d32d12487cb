package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// defaultHeartbeat is how often an idle event stream gets an SSE comment,
// so that proxies and clients see the connection is alive.
const defaultHeartbeat = 15 * time.Second

// workspaceEvents serves GET …/workspaces/{workspace}/events as Server-Sent
// Events: first the workspace's current status, then the stored events
// from ?since= (RFC 3339) if given, then new ones, until the client goes
// away. It carries workspace.* events about the workspace and task.status
// events of the tasks working on it.
func (s *Service) workspaceEvents(w http.ResponseWriter, r *http.Request) {
	if err := s.streamWorkspaceEvents(w, r); err != nil {
		httpapi.WriteError(w, r, err)
	}
}

// streamWorkspaceEvents returns an error only before the stream starts.
func (s *Service) streamWorkspaceEvents(w http.ResponseWriter, r *http.Request) error {
	wc, err := s.wsFor(r)
	if err != nil {
		return err
	}
	since, fe := httpapi.TimeQuery(r, httpapi.SinceParam)
	if fe != nil {
		return httpapi.Invalid(*fe)
	}
	if s.stream == nil {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "events-unavailable", Title: "Service unavailable",
			Detail: "this server does not serve event streams"}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return errors.New("event stream: the response writer cannot flush")
	}
	ctx := r.Context()
	// Subscribe before reading the current status: a change between the
	// two then arrives as an event rather than being lost.
	sub, err := s.stream.Subscribe(ctx, events.Filter{OrgID: wc.org.ID, Types: []string{"workspace.>", events.TaskStatus}, Since: since})
	if err != nil {
		return fmt.Errorf("subscribe to events: %w", err)
	}
	defer sub.Close()
	ws, err := s.st.GetWorkspace(ctx, wc.ws.ID)
	if errors.Is(err, store.ErrNotFound) {
		ws = wc.ws
		ws.Status, ws.StatusReason = store.WorkspaceDeleted, ""
	} else if err != nil {
		return fmt.Errorf("get workspace: %w", err)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	log := httpapi.Logger(ctx)
	first := events.Event{Type: events.WorkspaceStatus, OrgID: ws.OrgID, ResourceID: ws.ID, Time: ws.UpdatedAt}
	first.Data, _ = json.Marshal(statusData(ws.Status, ws.StatusReason))
	if err := writeSSE(w, first); err != nil {
		return nil
	}
	flusher.Flush()

	mine := &taskFilter{s: s, ws: ws.ID, known: map[string]bool{}}
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case ev, ok := <-sub.Events():
			if !ok {
				if err := sub.Err(); err != nil {
					log.Warn("workspace event stream ended", "error", err)
				}
				return nil
			}
			if !mine.wants(ctx, ev) {
				continue
			}
			if err := writeSSE(w, ev); err != nil {
				return nil
			}
			flusher.Flush()
			if ev.Type == events.WorkspaceStatus && ev.ResourceID == ws.ID && statusOf(ev) == store.WorkspaceDeleted {
				return nil // nothing more will happen to it
			}
		}
	}
}

func statusData(status, reason string) map[string]string {
	d := map[string]string{"status": status}
	if reason != "" {
		d["reason"] = reason
	}
	return d
}

func statusOf(ev events.Event) string {
	var d struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	return d.Status
}

// writeSSE writes ev as one Server-Sent Event named by its type.
func writeSSE(w http.ResponseWriter, ev events.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var sb strings.Builder
	if ev.ID != "" {
		sb.WriteString("id: " + ev.ID + "\n")
	}
	sb.WriteString("event: " + ev.Type + "\ndata: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	_, err = fmt.Fprint(w, sb.String())
	return err
}

// taskFilter keeps the events of one workspace: workspace.* events about
// it and task.status events of tasks whose payload names it (task events
// carry only the task id, so each task is looked up once).
type taskFilter struct {
	s     *Service
	ws    string
	known map[string]bool
}

func (f *taskFilter) wants(ctx context.Context, ev events.Event) bool {
	if ev.Type != events.TaskStatus {
		return strings.HasPrefix(ev.Type, "workspace.") && ev.ResourceID == f.ws
	}
	if v, ok := f.known[ev.ResourceID]; ok {
		return v
	}
	t, err := f.s.st.GetTask(ctx, ev.ResourceID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			httpapi.Logger(ctx).Warn("event stream: get task", "task", ev.ResourceID, "error", err)
			return false // not remembered: the next event of the task asks again
		}
		f.known[ev.ResourceID] = false
		return false
	}
	var p WorkspaceTask
	mine := json.Unmarshal(t.Payload, &p) == nil && p.WorkspaceID == f.ws
	if len(f.known) < 4096 {
		f.known[ev.ResourceID] = mine
	}
	return mine
}
