package server

import (
	"context"
	"errors"
	"time"

	"github.com/hexabase/hexabase-ai/internal/identity"
)

// mfaSweepInterval is how often expired second-factor challenges are
// deleted.
const mfaSweepInterval = 5 * time.Minute

// lockoutSweepInterval is how often the sign-in lockout's state of no use
// any more is deleted.
const lockoutSweepInterval = 10 * time.Minute

// wireMFA mounts the two-factor routes, sweeps expired sign-in challenges
// (and the sign-in lockout's stale state), and enforces organizations' require_2fa on every route under {org}.
func wireMFA(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&identity.Service{}).MFARoutes()...)
		return nil
	}
	if d.identity == nil {
		return errors.New("wire mfa: identity is required")
	}
	id := d.identity
	d.routes = append(d.routes, id.MFARoutes()...)
	d.routeMiddleware = append(d.routeMiddleware, id.RequireOrgMFA())
	d.background = append(d.background, func(ctx context.Context) error { return id.RunMFASweeper(ctx, mfaSweepInterval) },
		func(ctx context.Context) error { return id.RunLockoutSweeper(ctx, lockoutSweepInterval) })
	return nil
}
