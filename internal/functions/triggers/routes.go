package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

const (
	projectPath  = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}"
	functionPath = projectPath + "/functions/{function}"
	triggersPath = functionPath + "/triggers"
	eventsPath   = projectPath + "/events/{topic}"
)

// Routes returns the trigger, event and dead-letter routes.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: triggersPath, Tag: "functions", Summary: "List a function's cron and event triggers",
			Response: api.List[api.FunctionTrigger]{}, Handle: s.list},
		{Method: "POST", Path: triggersPath, Tag: "functions", Summary: "Create a trigger: kind cron (a schedule and time zone, as a CronJob's; at most 10 per function) or event (a topic of the project); at most 20 per function",
			Request: api.CreateFunctionTriggerRequest{}, Response: api.FunctionTrigger{}, Status: http.StatusCreated,
			Errors: []int{http.StatusForbidden, http.StatusConflict}, Action: "function.trigger.create", Handle: s.create},
		{Method: "DELETE", Path: triggersPath + "/{trigger}", Tag: "functions", Summary: "Delete a trigger (an event trigger's undelivered events go with it)",
			Status: http.StatusNoContent, Errors: []int{http.StatusForbidden}, Action: "function.trigger.delete", Handle: s.delete},
		{Method: "POST", Path: eventsPath, Tag: "functions", Summary: "Publish an event to a topic of the project: the raw body (at most 256 KiB) is the payload each subscribed function gets; an X-Hks-Event-Id header names the event (a repeat in the project within 2 minutes is dropped: 200 with duplicate true)",
			Response: api.PublishEventResponse{}, Status: http.StatusAccepted, AlsoStatus: http.StatusOK, Errors: []int{http.StatusForbidden, http.StatusRequestEntityTooLarge},
			Action: "function.event.publish", Handle: s.publish},
		{Method: "GET", Path: functionPath + "/deadletters", Tag: "functions", Summary: "Events the function failed to handle after its last attempt, newest first",
			Response: api.List[api.DeadLetter]{}, Query: httpapi.PageQuery, Handle: s.deadLetters},
	}
}

// project resolves the request's project (404 unless the caller sees it)
// and requires level min of them there (403).
func (s *Service) project(r *http.Request, min authz.Level) (tenancy.ProjectScope, error) {
	sc, err := s.cfg.Scopes.ResolveProject(r)
	if err != nil {
		return sc, err
	}
	if sc.Level < min {
		return sc, httpapi.Forbidden(fmt.Sprintf("this needs the %s role in project %s", min, sc.Project.Name))
	}
	return sc, nil
}

// function resolves {function} in the request's project.
func (s *Service) function(r *http.Request, min authz.Level) (Ref, error) {
	sc, err := s.project(r, min)
	if err != nil {
		return Ref{}, err
	}
	ref, err := s.fns.FunctionByName(r.Context(), sc.Project.ID, r.PathValue("function"))
	if errors.Is(err, store.ErrNotFound) {
		return Ref{}, httpapi.NotFound("function")
	}
	return ref, err
}

func triggerOut(t store.FunctionTrigger) api.FunctionTrigger {
	return api.FunctionTrigger{Name: t.Name, Kind: t.Kind, Schedule: t.Schedule, TimeZone: t.TimeZone, Topic: t.Topic, Alias: t.Alias, CreatedAt: t.CreatedAt}
}

func (s *Service) list(r *http.Request) (any, error) {
	ref, err := s.function(r, authz.View)
	if err != nil {
		return nil, err
	}
	ts, err := s.st.ListFunctionTriggers(r.Context(), ref.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.FunctionTrigger, 0, len(ts))
	for _, t := range ts {
		out = append(out, triggerOut(t))
	}
	return httpapi.NewList(out, ""), nil
}

func (s *Service) create(r *http.Request) (any, error) {
	ref, err := s.function(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	var req api.CreateFunctionTriggerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	t, errs := checkTrigger(req, now)
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	ctx := r.Context()
	existing, err := s.st.ListFunctionTriggers(ctx, ref.ID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxTriggersPerFunction {
		return nil, httpapi.Conflict("", fmt.Sprintf("a function has at most %d triggers", MaxTriggersPerFunction))
	}
	if t.Kind == store.FunctionTriggerCron {
		crons := 0
		for _, e := range existing {
			if e.Kind == store.FunctionTriggerCron {
				crons++
			}
		}
		if crons >= MaxCronTriggersPerFunction {
			return nil, httpapi.Invalid(httpapi.Field("kind", fmt.Sprintf("a function has at most %d cron triggers; it has %d", MaxCronTriggersPerFunction, crons)))
		}
	}
	t.ID, t.FunctionID, t.FunctionName = store.NewID(), ref.ID, ref.Name
	t.OrgID, t.WorkspaceID, t.ProjectID = ref.OrgID, ref.WorkspaceID, ref.ProjectID
	t.CreatedAt = now.Truncate(time.Microsecond)
	if err := s.st.CreateFunctionTrigger(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			e := httpapi.Conflict("name", fmt.Sprintf("function %s already has a trigger named %s", ref.Name, t.Name))
			e.Cause = err
			return nil, e
		}
		return nil, err
	}
	if t.Kind == store.FunctionTriggerEvent {
		c, err := s.ensureConsumer(ctx, t)
		if err != nil {
			// Undo: a trigger without its consumer would miss events.
			if derr := s.st.DeleteFunctionTrigger(context.WithoutCancel(ctx), t.ID); derr != nil {
				s.log.Error("remove event trigger whose consumer failed", "trigger", t.ID, "err", derr)
			}
			return nil, err
		}
		s.startConsumer(t, c)
	}
	return triggerOut(t), nil
}

func (s *Service) delete(r *http.Request) (any, error) {
	ref, err := s.function(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	t, err := s.st.GetFunctionTrigger(ctx, ref.ID, r.PathValue("trigger"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("trigger")
	}
	if err != nil {
		return nil, err
	}
	if err := s.st.DeleteFunctionTrigger(ctx, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if t.Kind == store.FunctionTriggerEvent {
		// If this fails, the next reconcile deletes the consumer.
		if err := s.deleteConsumer(context.WithoutCancel(ctx), t.ID); err != nil {
			s.log.Warn("delete consumer of deleted trigger", "trigger", t.ID, "err", err)
		}
	}
	return nil, nil
}

func (s *Service) publish(r *http.Request) (any, error) {
	sc, err := s.project(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	topic := r.PathValue("topic")
	var errs []api.FieldError
	if ValidTopic(topic) != nil {
		errs = append(errs, httpapi.Field("topic", topicRule))
	}
	eventID := r.Header.Get(HeaderEventID)
	if eventID != "" && messaging.ValidToken(eventID) != nil {
		errs = append(errs, httpapi.Field(HeaderEventID, "must be at most 128 ASCII letters, digits, '-' and '_'"))
	}
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxEventBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, httpapi.BadRequest("the request body could not be read")
	}
	if len(body) > MaxEventBytes {
		return nil, tooLarge()
	}
	out, err := s.Publish(r.Context(), sc.Project.ID, topic, eventID, body)
	if err != nil {
		return nil, err
	}
	if out.Duplicate {
		// Dropped: the project published this id within the window.
		return &httpapi.Response{Status: http.StatusOK, Body: out}, nil
	}
	return out, nil
}

func tooLarge() error {
	return &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Title: "Request body too large",
		Detail: fmt.Sprintf("an event's payload is at most %d bytes", MaxEventBytes)}
}

func (s *Service) deadLetters(r *http.Request) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	ref, err := s.function(r, authz.View)
	if err != nil {
		return nil, err
	}
	ds, next, err := s.st.ListFunctionDeadLetters(r.Context(), ref.ID, page)
	if err != nil {
		return nil, err
	}
	out := make([]api.DeadLetter, 0, len(ds))
	for _, d := range ds {
		out = append(out, api.DeadLetter{ID: d.ID, Function: ref.Name, Trigger: d.TriggerName, Topic: d.Topic, EventID: d.EventID,
			Attempts: d.Attempts, LastError: d.LastError, Payload: d.Payload, CreatedAt: d.CreatedAt})
	}
	return httpapi.NewList(out, next), nil
}
