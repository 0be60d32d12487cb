package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// createTimeout bounds one provisioning attempt; the task queue retries.
const createTimeout = 3 * time.Minute

// Notifier publishes events (*events.Publisher).
type Notifier interface {
	Notify(ctx context.Context, orgID, eventType, resourceID string, data any)
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Provider   Provider
	Reconciler *Reconciler
	Store      store.Store
	Tasks      *tasks.Queue
	Events     Notifier
	Logger     *slog.Logger
	Now        func() time.Time
	// Issuer is what every workspace API server trusts.
	Issuer   IssuerTrust
	Registry prometheus.Registerer

	// Sleep and wake (power.go). SleepAfterDefault is the operator's
	// sleep_after for workspaces that set none (0: never).
	SleepAfterDefault time.Duration
	// WakeTimeout is how long a request is held while its workspace
	// wakes (default DefaultWakeTimeout).
	WakeTimeout time.Duration
	// PowerInterval is how often idle workspaces and schedules are
	// checked (default DefaultPowerInterval).
	PowerInterval time.Duration
	// WakeLead is how long before a CronJob's run its sleeping workspace
	// is woken (default DefaultWakeLead).
	WakeLead time.Duration
	// Auditor, if set, records who woke a workspace.
	Auditor Auditor
	// OnStop, if set, is called before a workspace's control plane stops
	// for its sleep: the gateway drops what it holds for it.
	OnStop func(workspaceID string)
	// Deleted, if set, is told each workspace whose records
	// workspace.delete removed (the gateway forgets it).
	Deleted func(workspaceID string)
}

// Service provisions and deletes workspaces' control planes as durable
// tasks, adopts running ones at start, and answers tenancy's questions
// about them (health, endpoint).
type Service struct {
	cfg ServiceConfig
	log *slog.Logger

	provisionSeconds prometheus.Histogram
	provisionFailed  prometheus.Counter
	wakeSeconds      prometheus.Histogram

	pw power

	mu sync.Mutex
	// started records when a workspace's first provisioning attempt began
	// in this process, for the duration metric.
	started map[string]time.Time
}

// NewService registers the task handlers (workspace.provision, and
// workspace.delete, which tears the control plane down before tenancy
// removes the records) and the metrics.
func NewService(cfg ServiceConfig) (*Service, error) {
	switch {
	case cfg.Provider == nil, cfg.Reconciler == nil, cfg.Store == nil, cfg.Tasks == nil, cfg.Events == nil, cfg.Logger == nil:
		return nil, errors.New("controlplane: Provider, Reconciler, Store, Tasks, Events and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WakeTimeout <= 0 {
		cfg.WakeTimeout = DefaultWakeTimeout
	}
	if cfg.PowerInterval <= 0 {
		cfg.PowerInterval = DefaultPowerInterval
	}
	if cfg.WakeLead <= 0 {
		cfg.WakeLead = DefaultWakeLead
	}
	s := &Service{cfg: cfg, log: cfg.Logger, started: map[string]time.Time{},
		pw: power{act: map[string]*activity{}, changed: map[string]chan struct{}{}, locks: map[string]*sync.Mutex{}, failed: map[string]failedWake{}, cron: map[string]cronCheck{}}}
	s.wakeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hks_workspace_wake_duration_seconds",
		Help:    "Time the workspace.wake task takes to start a sleeping workspace's control plane.",
		Buckets: []float64{0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 30, 60},
	})
	s.provisionSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hks_workspace_provision_duration_seconds",
		Help:    "Time from the start of a workspace's provisioning to running.",
		Buckets: []float64{0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 60, 120, 300},
	})
	s.provisionFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hks_workspace_provision_failures_total",
		Help: "Provisioning attempts that failed (retried or final).",
	})
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(s.provisionSeconds, s.provisionFailed, s.wakeSeconds, &healthCollector{s: s})
		if r, ok := cfg.Provider.(Reserver); ok {
			cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "hks_controlplane_spares_ready",
				Help: "Control planes started and ready for workspaces yet to be created (the warm pool).",
			}, func() float64 { return float64(r.SparesReady()) }))
		}
	}
	if err := tasks.Register(cfg.Tasks, tenancy.TaskWorkspaceProvision, s.provision); err != nil {
		return nil, err
	}
	if err := tasks.Register(cfg.Tasks, tenancy.TaskWorkspaceDelete, s.delete); err != nil {
		return nil, err
	}
	if err := tasks.Register(cfg.Tasks, tenancy.TaskWorkspaceSleep, s.sleep); err != nil {
		return nil, err
	}
	if err := tasks.Register(cfg.Tasks, tenancy.TaskWorkspaceWake, s.wake); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) spec(ws store.Workspace) Spec {
	return Spec{WorkspaceID: ws.ID, OrgID: ws.OrgID, Plan: ws.Plan, Issuer: s.cfg.Issuer}
}

func (s *Service) progress(ctx context.Context, ws store.Workspace, step string) {
	s.cfg.Events.Notify(ctx, ws.OrgID, events.WorkspaceProgress, ws.ID, events.WorkspaceProgressData{Step: step})
}

func (s *Service) setStatus(ctx context.Context, ws store.Workspace, from []string, to, reason string) error {
	if err := s.cfg.Store.SetWorkspaceStatus(ctx, ws.ID, from, to, reason, s.cfg.Now().UTC()); err != nil {
		return err
	}
	s.cfg.Events.Notify(ctx, ws.OrgID, events.WorkspaceStatus, ws.ID, events.WorkspaceStatusData{Status: to, Reason: reason})
	return nil
}

// provision handles workspace.provision: pending → provisioning → running,
// or failed with the reason once the queue gives up. Every step is
// idempotent, so a redelivery after a crash converges.
func (s *Service) provision(ctx context.Context, t store.Task, p tenancy.WorkspaceTask) error {
	ws, err := s.cfg.Store.GetWorkspace(ctx, p.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	switch ws.Status {
	case store.WorkspaceDeleting, store.WorkspaceDeleted:
		return nil
	case store.WorkspaceSleeping, store.WorkspaceWaking:
		// Provisioned and put to sleep since (this task is a redelivery):
		// its power tasks own it; starting it here would leave processes
		// under a sleeping status.
		return nil
	case store.WorkspacePending, store.WorkspaceFailed:
		err := s.setStatus(ctx, ws, []string{store.WorkspacePending, store.WorkspaceFailed}, store.WorkspaceProvisioning, "")
		if errors.Is(err, store.ErrConflict) {
			return s.provision(ctx, t, p) // changed under us: look again
		}
		if err != nil {
			return err
		}
		ws.Status = store.WorkspaceProvisioning
	}
	s.mu.Lock()
	start, ok := s.started[ws.ID]
	if !ok {
		start = s.cfg.Now()
		s.started[ws.ID] = start
	}
	s.mu.Unlock()

	err = s.bringUp(ctx, ws)
	if err != nil {
		s.provisionFailed.Inc()
		if tasks.IsPermanent(err) || t.Attempts >= s.cfg.Tasks.MaxAttempts() {
			reason := publicReason(err, t.ID)
			s.log.ErrorContext(ctx, "workspace provisioning failed", "workspace", ws.ID, "task", t.ID, "err", err)
			if ferr := s.setStatus(context.WithoutCancel(ctx), ws, []string{store.WorkspaceProvisioning, store.WorkspaceRunning}, store.WorkspaceFailed, reason); ferr != nil && !errors.Is(ferr, store.ErrConflict) {
				s.log.Error("record failed provisioning", "workspace", ws.ID, "err", ferr)
			}
			s.forget(ws.ID)
		} else if rerr := s.cfg.Store.SetWorkspaceStatus(ctx, ws.ID, []string{store.WorkspaceProvisioning}, store.WorkspaceProvisioning,
			fmt.Sprintf("attempt %d failed, retrying: %s", t.Attempts, publicReason(err, t.ID)), s.cfg.Now().UTC()); rerr != nil && !errors.Is(rerr, store.ErrConflict) {
			s.log.Warn("record provisioning retry", "workspace", ws.ID, "err", rerr)
		}
		return err
	}
	if ws.Status != store.WorkspaceRunning {
		err := s.setStatus(ctx, ws, []string{store.WorkspaceProvisioning}, store.WorkspaceRunning, "")
		if errors.Is(err, store.ErrConflict) {
			return nil // deleted meanwhile; the delete task tears it down
		}
		if err != nil {
			return err
		}
		s.provisionSeconds.Observe(s.cfg.Now().Sub(start).Seconds())
		s.log.InfoContext(ctx, "workspace running", "workspace", ws.ID, "seconds", s.cfg.Now().Sub(start).Seconds())
	}
	s.forget(ws.ID)
	return nil
}

func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.started, id)
	s.mu.Unlock()
}

// bringUp runs the control plane and mirrors the tenancy into it.
func (s *Service) bringUp(ctx context.Context, ws store.Workspace) error {
	s.progress(ctx, ws, "control-plane")
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	if err := s.cfg.Provider.Create(cctx, s.spec(ws)); err != nil {
		if errors.Is(err, ErrBinaryMissing) {
			return tasks.Permanent(stageError{public: "the server cannot start control planes: Kubernetes binaries are missing", err: err})
		}
		return stageError{public: "the control plane did not start", err: fmt.Errorf("start the control plane: %w", err)}
	}
	s.progress(ctx, ws, "tenancy")
	t1 := time.Now()
	if err := s.cfg.Reconciler.ReconcileNow(ctx, ws.ID); err != nil {
		return stageError{public: "the projects and roles could not be written into the cluster", err: fmt.Errorf("mirror projects and roles into the cluster: %w", err)}
	}
	s.log.InfoContext(ctx, "workspace brought up", "workspace", ws.ID,
		"control_plane_s", t1.Sub(t0).Seconds(), "tenancy_s", time.Since(t1).Seconds())
	return nil
}

// ReserveWorkspaceID implements tenancy.IDReserver: with a provider that
// keeps spare control planes, the ID of one of them for the next
// workspace of plan.
func (s *Service) ReserveWorkspaceID(plan string) (string, bool) {
	r, ok := s.cfg.Provider.(Reserver)
	if !ok {
		return "", false
	}
	return r.Reserve(plan)
}

// ReleaseWorkspaceID implements tenancy.IDReserver: a reserved ID that was
// not used.
func (s *Service) ReleaseWorkspaceID(id string) {
	if r, ok := s.cfg.Provider.(Reserver); ok {
		r.Release(id)
	}
}

// delete handles workspace.delete: the control plane and its data go
// first, then the records (tenancy).
func (s *Service) delete(ctx context.Context, t store.Task, p tenancy.WorkspaceTask) error {
	s.cfg.Reconciler.Forget(p.WorkspaceID)
	unlock := s.powerLock(p.WorkspaceID)
	defer unlock()
	if err := s.cfg.Provider.Delete(ctx, p.WorkspaceID); err != nil {
		if errors.Is(err, ErrBinaryMissing) {
			return tasks.Permanent(err)
		}
		return fmt.Errorf("delete the control plane: %w", err)
	}
	if err := tenancy.DeleteWorkspaceRecords(ctx, s.cfg.Store, s.cfg.Events, p.WorkspaceID); err != nil {
		return err
	}
	s.pw.mu.Lock()
	delete(s.pw.act, p.WorkspaceID)
	delete(s.pw.locks, p.WorkspaceID)
	delete(s.pw.cron, p.WorkspaceID)
	s.pw.mu.Unlock()
	if s.cfg.Deleted != nil {
		s.cfg.Deleted(p.WorkspaceID)
	}
	return nil
}

// Adopt brings back, after a restart, the control planes of running
// workspaces, and removes those the provider holds for workspaces that are
// gone. Workspaces still provisioning are left to their task, which the
// queue's recovery sweep redelivers.
func (s *Service) Adopt(ctx context.Context) error {
	ids, err := s.cfg.Provider.List(ctx)
	if err != nil {
		return fmt.Errorf("list control planes: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, id := range ids {
		ws, err := s.cfg.Store.GetWorkspace(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound), err == nil && ws.Status == store.WorkspaceDeleted:
			s.log.Info("removing the control plane of a deleted workspace", "workspace", id)
			if err := s.cfg.Provider.Delete(ctx, id); err != nil {
				s.log.Error("remove orphaned control plane", "workspace", id, "err", err)
			}
			continue
		case err != nil:
			return err
		case ws.Status == store.WorkspaceSleeping:
			// Asleep: nothing of it may run (a stop interrupted by a crash
			// finishes here; its task is redelivered and finds it done).
			if err := s.cfg.Provider.Stop(ctx, ws.ID); err != nil {
				s.log.Error("stop a sleeping workspace's leftovers", "workspace", ws.ID, "err", err)
			}
			s.planUnplannedSleep(ctx, ws)
			continue
		case ws.Status == store.WorkspaceWaking:
			// Half woken when hks stopped: its task finishes the wake
			// (redelivered); done here at once, the task finds it running.
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := s.wake(ctx, store.Task{ID: "adopt", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID, Reason: "waking when hks restarted"}); err != nil {
					s.log.Error("finish waking a workspace", "workspace", ws.ID, "err", err)
				}
			})
			continue
		case ws.Status != store.WorkspaceRunning:
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, createTimeout)
			defer cancel()
			if err := s.cfg.Provider.Create(cctx, s.spec(ws)); err != nil {
				s.log.Error("restart workspace control plane", "workspace", ws.ID, "err", err)
				return
			}
			s.cfg.Reconciler.Trigger(ws.ID)
			s.log.Info("workspace control plane adopted", "workspace", ws.ID)
		})
	}
	wg.Wait()
	return nil
}

// Status implements tenancy.ControlPlane.
func (s *Service) Status(ctx context.Context, workspaceID string) (api.ControlPlaneStatus, bool) {
	h, err := s.cfg.Provider.Health(ctx, workspaceID)
	if err != nil || h.CheckedAt.IsZero() {
		return api.ControlPlaneStatus{}, false
	}
	st := api.ControlPlaneStatus{Ready: h.Ready, Version: h.Version, CheckedAt: h.CheckedAt}
	for _, c := range h.Components {
		st.Components = append(st.Components, api.ComponentStatus{Name: c.Name, Healthy: c.Healthy, Message: c.Message, Restarts: c.Restarts})
	}
	return st, true
}

// Endpoint implements tenancy.ControlPlane.
func (s *Service) Endpoint(ctx context.Context, workspaceID string) (string, []byte, error) {
	if _, err := s.cfg.Provider.Health(ctx, workspaceID); errors.Is(err, ErrNotFound) {
		return "", nil, tenancy.ErrNoControlPlane
	}
	ep, err := s.cfg.Provider.Endpoint(ctx, workspaceID)
	if errors.Is(err, ErrNotFound) {
		return "", nil, tenancy.ErrNoControlPlane
	}
	if err != nil {
		return "", nil, err
	}
	return ep.Server, ep.CAPEM, nil
}

// healthCollector exports hks_workspace_ready and component health per
// workspace the provider runs.
type healthCollector struct{ s *Service }

var (
	readyDesc = prometheus.NewDesc("hks_workspace_ready", "1 if the workspace's control plane is ready.", []string{"workspace"}, nil)
	compDesc  = prometheus.NewDesc("hks_workspace_component_healthy", "1 if a control-plane component is healthy.", []string{"workspace", "component"}, nil)
	restDesc  = prometheus.NewDesc("hks_workspace_component_restarts", "Restarts of a control-plane component since hks started.", []string{"workspace", "component"}, nil)
)

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readyDesc
	ch <- compDesc
	ch <- restDesc
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	ids, err := c.s.cfg.Provider.List(ctx)
	if err != nil {
		return
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, id := range ids {
		h, err := c.s.cfg.Provider.Health(ctx, id)
		if err != nil || h.CheckedAt.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, b(h.Ready), id)
		for _, comp := range h.Components {
			ch <- prometheus.MustNewConstMetric(compDesc, prometheus.GaugeValue, b(comp.Healthy), id, comp.Name)
			ch <- prometheus.MustNewConstMetric(restDesc, prometheus.CounterValue, float64(comp.Restarts), id, comp.Name)
		}
	}
}

// ConfigAs is a client configuration for the workspace's API server that
// acts as a platform user: the platform's own client impersonating
// UsernamePrefix+email with the given workspace groups (GroupsPrefix
// added), the identity the user's workspace token carries. Kubernetes RBAC
// then decides every call as it would for the user's own kubectl.
// ErrNotFound when the workspace has no control plane running.
//
// A sleeping workspace is woken first (the call is held until it runs):
// a user's call counts as use of the workspace.
func (s *Service) ConfigAs(ctx context.Context, workspaceID, email string, groups []string) (*rest.Config, error) {
	if err := s.EnsureAwake(ctx, workspaceID, Caller{Email: email}); err != nil {
		return nil, err
	}
	s.Touch(workspaceID)
	cfg, err := s.cfg.Provider.AdminConfig(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	gs := make([]string, 0, len(groups)+1)
	for _, g := range groups {
		gs = append(gs, GroupsPrefix+g)
	}
	// What the API server adds to every authenticated user; impersonated
	// groups replace the caller's, so it is named here.
	gs = append(gs, "system:authenticated")
	cfg.Impersonate = rest.ImpersonationConfig{UserName: UsernamePrefix + email, Groups: gs}
	return cfg, nil
}

// AdminConfig is the platform's own client configuration of a workspace
// cluster, for platform bookkeeping only (never for a user's call: those
// go through ConfigAs). ErrNotFound when the workspace has no control
// plane running.
func (s *Service) AdminConfig(ctx context.Context, workspaceID string) (*rest.Config, error) {
	return s.cfg.Provider.AdminConfig(ctx, workspaceID)
}

// stageError is a failure of one stage of bringing a workspace up: err
// for the server's log, public for the workspace's status_reason, which
// every member of the workspace reads (API, CLI, event stream).
type stageError struct {
	public string
	err    error
}

func (e stageError) Error() string { return e.err.Error() }
func (e stageError) Unwrap() error { return e.err }

// publicReason is what a workspace's members are told of a provisioning
// failure: the stage that failed and the task whose log records the cause,
// never the error's own text (it names files, ports, processes and other
// projects' objects).
func publicReason(err error, taskID string) string {
	msg := "provisioning failed"
	var se stageError
	if errors.As(err, &se) {
		msg = se.public
	}
	return msg + " (task " + taskID + "; the operator finds the cause in the server log)"
}
