package server

import (
	"context"
	"fmt"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// wireControlPlane runs the workspaces' control planes with the configured
// provider: the provisioning and deletion task handlers, the reconciler
// that mirrors projects and roles into each cluster, adoption of running
// workspaces at start, and health for tenancy's answers (wireTenancy runs
// after it and takes d.controlPlane). With provider
// "none" this server answers the API only: tenancy removes the records of
// deleted workspaces and provisioning tasks wait for a server that runs a
// provider.
func wireControlPlane(ctx context.Context, d *deps) error {
	if d.docsOnly {
		return nil
	}
	if d.cfg.ControlPlaneProvider == "none" {
		return tasks.Register(d.queue, tenancy.TaskWorkspaceDelete, func(ctx context.Context, _ store.Task, p tenancy.WorkspaceTask) error {
			if err := tenancy.DeleteWorkspaceRecords(ctx, d.store, d.events, p.WorkspaceID); err != nil {
				return err
			}
			d.deleted(p.WorkspaceID)
			return nil
		})
	}
	p, err := local.New(local.Config{DataDir: d.cfg.DataDir, BinDir: d.cfg.K8sBinDir, Logger: d.log.With("component", "controlplane"), Now: d.now,
		WarmPool: d.cfg.WarmPool, Issuer: d.workspaceIssuer})
	if err != nil {
		return fmt.Errorf("control plane provider %q: %w", d.cfg.ControlPlaneProvider, err)
	}
	d.closers = append(d.closers, func() { _ = p.Close() })
	rec, err := controlplane.NewReconciler(controlplane.ReconcilerConfig{Store: d.store, Provider: p, Events: d.events,
		Logger: d.log.With("component", "reconciler")})
	if err != nil {
		return err
	}
	svc, err := controlplane.NewService(controlplane.ServiceConfig{Provider: p, Reconciler: rec, Store: d.store, Tasks: d.queue,
		Events: d.events, Logger: d.log.With("component", "controlplane"), Now: d.now,
		Issuer: d.workspaceIssuer, Registry: d.registry, Deleted: d.deleted,
		SleepAfterDefault: d.cfg.SleepAfter.Duration, WakeTimeout: d.cfg.WakeTimeout.Duration, Auditor: storeAuditor{d.store},
		// A sleeping workspace's gateway series and upstream go too.
		OnStop: d.deleted})
	if err != nil {
		return err
	}
	d.controlPlane = svc
	d.clusters = svc
	d.adminClusters = svc
	d.waker = svc
	d.background = append(d.background, rec.Run, svc.RunPower, func(ctx context.Context) error {
		if err := svc.Adopt(ctx); err != nil {
			d.log.Error("adopt workspace control planes", "err", err)
		}
		// Spares after the running workspaces are back: their restart
		// should not share the CPU with them.
		p.StartPool()
		return nil
	})
	return nil
}
