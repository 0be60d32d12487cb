package server

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
)

// keyRotationCheck is how often the rotation schedule looks at the age of
// the newest signing key.
const keyRotationCheck = time.Hour

// wireIssuer mounts the OIDC issuer (discovery, workspace tokens, the token
// endpoint), the session management routes, and schedules signing key
// rotation. Workspace tokens carry d.workspaceIssuer.URL as iss.
func wireIssuer(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&identity.Service{}).SessionRoutes()...)
		d.routes = append(d.routes, (&issuer.Service{}).Routes()...)
		return nil
	}
	is, err := issuer.New(issuer.Config{Identity: d.identity, Access: d.authz, Store: d.store,
		Logger: d.log.With("component", "issuer"), Now: d.now, TokenTTL: d.cfg.WorkspaceTokenTTL.Duration,
		WorkspaceIssuer: d.workspaceIssuer.URL})
	if err != nil {
		return err
	}
	d.issuer = is
	d.routes = append(d.routes, d.identity.SessionRoutes()...)
	d.routes = append(d.routes, is.Routes()...)
	interval := d.cfg.KeyRotationInterval.Duration
	if interval <= 0 {
		interval = identity.DefaultKeyRotationInterval
	}
	d.background = append(d.background, func(ctx context.Context) error {
		return d.identity.RunKeyRotation(ctx, interval, keyRotationCheck)
	})
	return nil
}

// RotateSigningKeys creates a new token signing key in the platform's
// database and retires the current one (`hks admin rotate-keys`). It works
// with the server stopped or running: a running server signs with the new
// key within the key reload interval (10 s) and keeps serving the retired
// key in its JWKS until every token it signed has expired.
func RotateSigningKeys(ctx context.Context, o AdminOptions) (string, []string, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStore(ctx, o.DataDir, o.DatabaseURL, log)
	if err != nil {
		return "", nil, err
	}
	defer st.Close()
	id, err := newIdentity(o.DataDir, o.MasterKey, identity.Config{Store: st, Logger: log, Now: time.Now, Issuer: "http://127.0.0.1", Audience: Audience})
	if err != nil {
		return "", nil, err
	}
	return id.RotateKeys(ctx)
}
