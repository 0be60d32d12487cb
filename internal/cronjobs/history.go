package cronjobs

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// cronJobOf is the CronJob a Job belongs to: its controlling owner, or
// the LabelCronJob of a Job made by the platform; "" for other Jobs.
func cronJobOf(j *batchv1.Job) string {
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" && o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return j.Labels[LabelCronJob]
}

// runOf is the history record of a Job as it is now.
func (s *Service) runOf(workspaceID string, j *batchv1.Job) store.CronJobRun {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	r := store.CronJobRun{ID: store.NewID(), WorkspaceID: workspaceID, Namespace: j.Namespace, CronJob: cronJobOf(j),
		Job: j.Name, JobUID: string(j.UID), Trigger: store.TriggerSchedule, Status: store.RunRunning, UpdatedAt: now}
	if j.Annotations[annotationInstantiate] == "manual" {
		r.Trigger = store.TriggerManual
	}
	r.StartedAt = j.CreationTimestamp.UTC()
	if j.Status.StartTime != nil {
		r.StartedAt = j.Status.StartTime.UTC()
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			r.Status = store.RunSucceeded
			r.CompletedAt = completion(j, c)
		case batchv1.JobFailed:
			r.Status = store.RunFailed
			r.CompletedAt = completion(j, c)
			r.Message = c.Reason
			if c.Message != "" {
				r.Message += ": " + c.Message
			}
		}
	}
	r.StartedAt = r.StartedAt.Truncate(time.Microsecond)
	r.CompletedAt = r.CompletedAt.Truncate(time.Microsecond)
	return r
}

func completion(j *batchv1.Job, c batchv1.JobCondition) time.Time {
	if j.Status.CompletionTime != nil {
		return j.Status.CompletionTime.UTC()
	}
	if !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.UTC()
	}
	return time.Time{}
}

// record writes the runs of the CronJob Jobs among jobs (of one CronJob
// only, when only is not "").
func (s *Service) record(ctx context.Context, workspaceID string, jobs []batchv1.Job, only string) error {
	for i := range jobs {
		j := &jobs[i]
		cj := cronJobOf(j)
		if cj == "" || (only != "" && cj != only) {
			continue
		}
		r := s.runOf(workspaceID, j)
		// Unchanged since last written: nothing to do.
		state := r.Status + "|" + r.StartedAt.String() + "|" + r.CompletedAt.String()
		if old, ok := s.written.Load(r.JobUID); ok && old == state {
			continue
		}
		if err := s.cfg.Store.UpsertCronJobRun(ctx, r); err != nil {
			return fmt.Errorf("record run of %s/%s: %w", j.Namespace, j.Name, err)
		}
		s.written.Store(r.JobUID, state)
	}
	return nil
}

// Run keeps a watch on the Jobs of every running workspace until ctx
// ends and records each change of a CronJob's Job, so that the history has
// every run's outcome even when the cluster's history limits remove the
// Job right after it finishes. Every SyncInterval it starts watches for
// workspaces that came up and stops those of workspaces that went away.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.Admin == nil {
		return nil
	}
	watches := map[string]context.CancelFunc{}
	defer func() {
		for _, stop := range watches {
			stop()
		}
	}()
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		s.syncWatches(ctx, watches)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) syncWatches(ctx context.Context, watches map[string]context.CancelFunc) {
	wss, err := s.cfg.Store.ListWorkspacesByStatus(ctx, store.WorkspaceRunning)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("list running workspaces for cronjob history", "err", err)
		}
		return
	}
	running := map[string]bool{}
	for _, ws := range wss {
		running[ws.ID] = true
		if _, ok := watches[ws.ID]; ok {
			continue
		}
		cfg, err := s.cfg.Admin.AdminConfig(ctx, ws.ID)
		if err != nil {
			continue // not (yet) running on this server
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			s.cfg.Logger.Warn("cronjob history client", "workspace", ws.ID, "err", err)
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		watches[ws.ID] = cancel
		s.watchJobs(wctx, ws.ID, cs)
	}
	for id, stop := range watches {
		if !running[id] {
			stop()
			delete(watches, id)
		}
	}
}

// watchJobs records the workspace's CronJob Jobs as they change, with an
// informer (list, then watch, relisting after a broken watch).
func (s *Service) watchJobs(ctx context.Context, workspaceID string, cs kubernetes.Interface) {
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Batch().V1().Jobs().Informer()
	on := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		j, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		if err := s.record(context.WithoutCancel(ctx), workspaceID, []batchv1.Job{*j}, ""); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("record cronjob run", "workspace", workspaceID, "job", j.Namespace+"/"+j.Name, "err", err)
		}
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, n any) { on(n) }, DeleteFunc: on})
	if err != nil {
		s.cfg.Logger.Warn("cronjob history watch", "workspace", workspaceID, "err", err)
		return
	}
	f.Start(ctx.Done())
}
