package server

import (
	"context"

	"github.com/hexabase/hexabase-ai/internal/federation"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// wireFederation mounts federated sign-in (OIDC providers and GitHub) for
// the configured providers; with none, /auth/providers lists none.
func wireFederation(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&federation.Service{}).Routes()...)
		return nil
	}
	fed, err := federation.New(federation.Config{Store: d.store, Identity: d.identity, Sealer: d.identity.StateSealer(),
		Logger: d.log.With("component", "federation"), Now: d.now, BaseURL: d.cfg.ExternalURL, Providers: d.cfg.Providers,
		Audit: storeAuditor{d.store}})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, fed.Routes()...)
	return nil
}

// storeAuditor appends federated sign-in records straight to the audit
// table (the audit.Log built by wireAudit is not in deps; with it there,
// pass it instead: it implements federation.Auditor and counts metrics).
type storeAuditor struct{ st store.AuditStore }

func (a storeAuditor) Append(ctx context.Context, rec store.AuditRecord) error {
	return a.st.AppendAudit(ctx, rec)
}
