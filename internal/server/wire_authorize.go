package server

import (
	"context"
	"time"

	"github.com/hexabase/hexabase-ai/internal/oauthserver"
)

// oauthSweepInterval is how often expired authorization and device codes
// are deleted.
const oauthSweepInterval = 10 * time.Minute

// wireAuthorize mounts the platform's OAuth authorization server for the
// CLI (authorization code + PKCE on a loopback redirect, device grant) and
// registers its grants on the issuer's token endpoint.
func wireAuthorize(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&oauthserver.Service{}).Routes()...)
		return nil
	}
	providers := make([]oauthserver.Provider, 0, len(d.cfg.Providers))
	for _, p := range d.cfg.Providers {
		providers = append(providers, oauthserver.Provider{ID: p.ID, Name: p.Name})
	}
	log := d.log.With("component", "oauthserver")
	as, err := oauthserver.New(oauthserver.Config{Store: d.store, Identity: d.identity, Grants: d.issuer, Sealer: d.identity.StateSealer(),
		Logger: log, Now: d.now, Providers: providers})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, as.Routes()...)
	d.background = append(d.background, func(ctx context.Context) error { return as.RunSweeper(ctx, oauthSweepInterval) })
	return nil
}
