package server

import (
	"context"

	"github.com/hexabase/hexabase-ai/internal/audit"
)

// wireAudit records every mutating request in the append-only audit log and
// mounts its read routes. Its outer half goes inside the protections wired
// before it: requests refused by rate limits are counted there, not written
// here, so a flood cannot turn into a flood of records.
func wireAudit(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&audit.Log{}).Routes()...)
		return nil
	}
	l, err := audit.New(audit.Config{Store: d.store, Logger: d.log.With("component", "audit"), Now: d.now, Registry: d.registry,
		Tokens: d.identity})
	if err != nil {
		return err
	}
	d.audit = l
	d.outer = append(d.outer, l.Outer())
	d.routeMiddleware = append(d.routeMiddleware, l.Middleware())
	d.routes = append(d.routes, l.Routes()...)
	return nil
}
