package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Task kinds of sleep and wake (handled by internal/controlplane).
const (
	TaskWorkspaceSleep = "workspace.sleep"
	TaskWorkspaceWake  = "workspace.wake"
)

// Bounds of a workspace's sleep_after.
const (
	MinSleepAfter = 10 * time.Second
	MaxSleepAfter = 720 * time.Hour
	// MaxHibernationSchedules bounds a workspace's schedules.
	MaxHibernationSchedules = 8
	// MinHibernationGap is the shortest time between two activations of
	// one hibernation expression.
	MinHibernationGap = time.Hour
)

// Hibernation is a parsed hibernation schedule.
type Hibernation struct {
	api.HibernationSchedule
	start, end *cronexpr.Schedule
	loc        *time.Location
}

// ParseHibernation reads a workspace's stored schedules (store.Workspace.
// Hibernation). Stored schedules were validated when they were set.
func ParseHibernation(stored string) ([]Hibernation, error) {
	if stored == "" {
		return nil, nil
	}
	parsedMu.Lock()
	hs, ok := parsed[stored]
	parsedMu.Unlock()
	if ok {
		return hs, nil
	}
	var in []api.HibernationSchedule
	if err := json.Unmarshal([]byte(stored), &in); err != nil {
		return nil, fmt.Errorf("hibernation schedules: %w", err)
	}
	out, fes := parseHibernation(in, false)
	if len(fes) > 0 {
		return nil, fmt.Errorf("hibernation schedules: %s: %s", fes[0].Field, fes[0].Message)
	}
	parsedMu.Lock()
	if len(parsed) >= maxParsed {
		clear(parsed)
	}
	parsed[stored] = out
	parsedMu.Unlock()
	return out, nil
}

// parsed caches ParseHibernation by the stored text: the power loop reads
// every workspace's schedules every few seconds.
var (
	parsedMu sync.Mutex
	parsed   = map[string][]Hibernation{}
)

const maxParsed = 4096

// checkHibernation validates schedules a person sends.
func checkHibernation(in []api.HibernationSchedule) ([]Hibernation, []api.FieldError) {
	return parseHibernation(in, true)
}

// parseHibernation parses schedules; the errors name the field
// (hibernation[0].start) with the parser's own words. strict also refuses
// expressions that fire more often than MinHibernationGap.
func parseHibernation(in []api.HibernationSchedule, strict bool) ([]Hibernation, []api.FieldError) {
	var fes []api.FieldError
	if len(in) > MaxHibernationSchedules {
		return nil, []api.FieldError{httpapi.Field("hibernation", fmt.Sprintf("at most %d schedules", MaxHibernationSchedules))}
	}
	out := make([]Hibernation, 0, len(in))
	for i, h := range in {
		f := fmt.Sprintf("hibernation[%d]", i)
		p := Hibernation{HibernationSchedule: h}
		if h.Start == "" && h.End == "" {
			fes = append(fes, httpapi.Field(f, "needs a start, an end, or both"))
			continue
		}
		loc, err := cronexpr.LoadTimeZone(h.Location)
		if err != nil {
			fes = append(fes, httpapi.Field(f+".location", err.Error()))
		}
		p.loc = loc
		for _, x := range []struct {
			name string
			expr string
			into **cronexpr.Schedule
		}{{"start", h.Start, &p.start}, {"end", h.End, &p.end}} {
			if x.expr == "" {
				continue
			}
			s, err := cronexpr.Parse(x.expr)
			if err != nil {
				fes = append(fes, httpapi.Field(f+"."+x.name, err.Error()))
				continue
			}
			// Each activation stops or starts a whole control plane.
			if strict {
				if gap := minGap(s, loc); gap < MinHibernationGap {
					fes = append(fes, httpapi.Field(f+"."+x.name, fmt.Sprintf("fires every %s; a hibernation schedule may fire at most once an hour", gap)))
					continue
				}
			}
			*x.into = s
		}
		out = append(out, p)
	}
	return out, fes
}

// minGap is the shortest time between the next activations of s (over
// the next two weeks, which covers every day of the week twice).
func minGap(s *cronexpr.Schedule, loc *time.Location) time.Duration {
	if loc == nil {
		loc = time.UTC
	}
	gap := time.Duration(1<<63 - 1)
	prev := s.Next(time.Now().In(loc))
	if prev.IsZero() {
		return gap
	}
	end := prev.Add(14 * 24 * time.Hour)
	for i := 0; i < 400 && prev.Before(end); i++ {
		n := s.Next(prev)
		if n.IsZero() {
			break
		}
		gap = min(gap, n.Sub(prev))
		prev = n
	}
	return gap
}

func (h Hibernation) zone() *time.Location {
	if h.loc == nil {
		return time.UTC
	}
	return h.loc
}

// StartBetween reports whether one of the schedules starts a sleep window
// in (after, until].
func StartBetween(hs []Hibernation, after, until time.Time) bool {
	for _, h := range hs {
		if h.start != nil && firesBetween(h.start, h.zone(), after, until) {
			return true
		}
	}
	return false
}

// EndBetween reports whether one of the schedules ends a sleep window in
// (after, until].
func EndBetween(hs []Hibernation, after, until time.Time) bool {
	for _, h := range hs {
		if h.end != nil && firesBetween(h.end, h.zone(), after, until) {
			return true
		}
	}
	return false
}

// InWindow reports whether now is inside a sleep window: for some schedule
// with both a start and an end, the next end comes before the next start.
func InWindow(hs []Hibernation, now time.Time) bool {
	for _, h := range hs {
		if h.start == nil || h.end == nil {
			continue
		}
		s, e := h.start.Next(now.In(h.zone())), h.end.Next(now.In(h.zone()))
		if !e.IsZero() && (s.IsZero() || e.Before(s)) {
			return true
		}
	}
	return false
}

func firesBetween(s *cronexpr.Schedule, loc *time.Location, after, until time.Time) bool {
	n := s.Next(after.In(loc))
	return !n.IsZero() && !n.After(until)
}

// FormatSleepAfter is the API form of a sleep_after: a Go duration.
func FormatSleepAfter(d time.Duration) string { return d.String() }

// parseSleepAfter reads a sleep_after of the API: "default", "0" or a
// duration of whole seconds within the bounds.
func parseSleepAfter(v string) (int64, *api.FieldError) {
	const field = "sleep_after"
	v = strings.TrimSpace(v)
	if v == "default" {
		return store.SleepAfterDefault, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n == 0 {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, &api.FieldError{Field: field, Message: "must be a duration such as 30m or 2h, 0 for never, or \"default\""}
	case d < 0:
		return 0, &api.FieldError{Field: field, Message: "must not be negative (0 means never)"}
	case d == 0:
		return 0, nil
	case d < MinSleepAfter || d > MaxSleepAfter:
		return 0, &api.FieldError{Field: field, Message: fmt.Sprintf("must be between %s and %s (or 0 for never)", MinSleepAfter, MaxSleepAfter)}
	case d%time.Second != 0:
		return 0, &api.FieldError{Field: field, Message: "must be whole seconds"}
	}
	return int64(d / time.Second), nil
}

// EffectiveSleepAfter is how long a workspace may be idle before it
// sleeps: its own setting, or def (the operator's) when it sets none; 0
// is never.
func EffectiveSleepAfter(ws store.Workspace, def time.Duration) time.Duration {
	if ws.SleepAfter == store.SleepAfterDefault || ws.SleepAfter < 0 {
		return def
	}
	if ws.SleepAfter > math.MaxInt64/int64(time.Second) {
		return MaxSleepAfter
	}
	return time.Duration(ws.SleepAfter) * time.Second
}

// ErrPowerState is RequestSleep's and RequestWake's answer (wrapping
// store.ErrConflict) when the workspace is not in the status they start
// from.
var ErrPowerState = fmt.Errorf("the workspace is not in a state to change: %w", store.ErrConflict)

// PowerTask is the payload of workspace.sleep and workspace.wake.
type PowerTask struct {
	WorkspaceID string `json:"workspace_id"`
	// Reason says who or what asked (for the status reason and the log).
	Reason string `json:"reason,omitempty"`
	// Auto: the platform asked (idle, schedule), not a person; a request
	// that began meanwhile keeps the workspace awake.
	Auto bool `json:"auto,omitempty"`
}

// Power moves workspaces between running and sleeping; the controlplane
// service and the routes of this package share it.
type Power struct {
	Store  store.Store
	Tasks  Enqueuer
	Events Notifier
	Now    func() time.Time
}

// RequestSleep moves a running workspace to sleeping and starts the
// workspace.sleep task that stops its control plane. ErrPowerState when
// it is not running.
func (p Power) RequestSleep(ctx context.Context, ws store.Workspace, reason string) (store.Task, error) {
	return p.request(ctx, ws, store.WorkspaceRunning, store.WorkspaceSleeping, TaskWorkspaceSleep, PowerTask{WorkspaceID: ws.ID, Reason: reason})
}

// RequestAutoSleep is RequestSleep for the platform's own decision (an
// idle workspace, a hibernation schedule).
func (p Power) RequestAutoSleep(ctx context.Context, ws store.Workspace, reason string) (store.Task, error) {
	return p.request(ctx, ws, store.WorkspaceRunning, store.WorkspaceSleeping, TaskWorkspaceSleep, PowerTask{WorkspaceID: ws.ID, Reason: reason, Auto: true})
}

// RequestWake moves a sleeping workspace to waking and starts the
// workspace.wake task that starts its control plane again.
// ErrPowerState when it is not sleeping.
func (p Power) RequestWake(ctx context.Context, ws store.Workspace, reason string) (store.Task, error) {
	return p.request(ctx, ws, store.WorkspaceSleeping, store.WorkspaceWaking, TaskWorkspaceWake, PowerTask{WorkspaceID: ws.ID, Reason: reason})
}

func (p Power) request(ctx context.Context, ws store.Workspace, from, to, kind string, task PowerTask) (store.Task, error) {
	reason := task.Reason
	now := p.Now().UTC().Truncate(time.Microsecond)
	err := p.Store.SetWorkspaceStatus(ctx, ws.ID, []string{from}, to, reason, now)
	if errors.Is(err, store.ErrConflict) {
		return store.Task{}, ErrPowerState
	}
	if err != nil {
		return store.Task{}, err
	}
	t, err := p.Tasks.Enqueue(ctx, kind, ws.OrgID, task)
	if err != nil {
		// Without its task the status would lie: take it back.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if uerr := p.Store.SetWorkspaceStatus(uctx, ws.ID, []string{to}, from, ws.StatusReason, now); uerr != nil && !errors.Is(uerr, store.ErrConflict) {
			return store.Task{}, errors.Join(fmt.Errorf("enqueue %s: %w", kind, err), fmt.Errorf("undo status %s: %w", to, uerr))
		}
		return store.Task{}, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	p.Events.Notify(ctx, ws.OrgID, events.WorkspaceStatus, ws.ID, events.WorkspaceStatusData{Status: to, Reason: reason})
	return t, nil
}

func (s *Service) power() Power {
	return Power{Store: s.st, Tasks: s.tasks, Events: s.events, Now: s.now}
}

// sleepWorkspace handles POST …/sleep: a running workspace goes to sleep
// (202 with the task); one asleep already is answered as it is.
func (s *Service) sleepWorkspace(r *http.Request) (any, error) {
	return s.changePower(r, store.WorkspaceRunning, store.WorkspaceSleeping, "put to sleep by ", Power.RequestSleep)
}

// wakeWorkspace handles POST …/wake: a sleeping workspace wakes (202 with
// the task); one awake or waking already is answered as it is.
func (s *Service) wakeWorkspace(r *http.Request) (any, error) {
	return s.changePower(r, store.WorkspaceSleeping, store.WorkspaceWaking, "woken by ", Power.RequestWake)
}

func (s *Service) changePower(r *http.Request, from, to, by string,
	do func(Power, context.Context, store.Workspace, string) (store.Task, error)) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	if s.controlPlane() == nil {
		return nil, errNoProvider()
	}
	done := func(ws store.Workspace) any {
		return &httpapi.Response{Status: http.StatusOK, Body: workspaceOut(ws, roleName(wc.acc.Workspace), s.sleepAfterDefault)}
	}
	// Already there (or on the way): nothing to do.
	already := map[string][]string{
		store.WorkspaceSleeping: {store.WorkspaceSleeping},
		store.WorkspaceWaking:   {store.WorkspaceWaking, store.WorkspaceRunning},
	}[to]
	for _, st := range already {
		if wc.ws.Status == st {
			return done(wc.ws), nil
		}
	}
	if wc.ws.Status != from {
		e := httpapi.Conflict("", fmt.Sprintf("the workspace is %s; only a %s workspace can be %s", wc.ws.Status, from,
			map[string]string{store.WorkspaceSleeping: "put to sleep", store.WorkspaceWaking: "woken"}[to]))
		return nil, e
	}
	who := wc.p.Email
	if who == "" {
		who = wc.p.UserID
	}
	task, err := do(s.power(), r.Context(), wc.ws, by+who)
	if errors.Is(err, ErrPowerState) {
		return nil, httpapi.Conflict("", "the workspace's status changed meanwhile; get it and try again")
	}
	if err != nil {
		return nil, err
	}
	ws := wc.ws
	ws.Status, ws.StatusReason = to, by+who
	out := workspaceOut(ws, roleName(wc.acc.Workspace), s.sleepAfterDefault)
	out.TaskID = task.ID
	return &httpapi.Response{Status: http.StatusAccepted, Body: out}, nil
}
