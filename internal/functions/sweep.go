package functions

import (
	"context"

	"github.com/hexabase/hexabase-ai/internal/every"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Run deletes expired functions (stopping their instances) and the
// invocation records older than the retention, at once and then every
// SweepInterval, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return every.Do(ctx, s.cfg.SweepInterval, func(ctx context.Context) { s.Sweep(ctx) })
}

// Sweep is one round of Run; it answers how many functions and records
// it deleted.
func (s *Service) Sweep(ctx context.Context) (functions, invocations int) {
	now := s.cfg.Now().UTC()
	fns, err := s.cfg.Store.ListExpiredFunctions(ctx, now)
	if err != nil {
		s.cfg.Logger.Error("list expired functions", "error", err)
	}
	for _, fn := range fns {
		if err := s.remove(ctx, fn); err != nil {
			s.cfg.Logger.Error("delete expired function", "function", fn.ID, "error", err)
			continue
		}
		functions++
		s.cfg.Logger.Info("expired function deleted", "function", fn.ID, "name", fn.Name, "project", fn.ProjectID)
		s.cfg.Audit.Append(ctx, store.AuditRecord{ID: store.NewID(), Time: now, OrgID: fn.OrgID, Action: "function.expire", TargetType: "function",
			TargetID: fn.ID, Result: store.AuditSuccess, Detail: "ttl ended: " + fn.Name})
	}
	n, err := s.cfg.Store.DeleteInvocationsBefore(ctx, now.Add(-s.cfg.Retention))
	if err != nil {
		s.cfg.Logger.Error("delete old invocations", "error", err)
	}
	return functions, n
}
