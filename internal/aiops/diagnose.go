package aiops

import (
	"context"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/aiops/analyze"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

func (s *Service) diagnoseWorkspace(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	var nss []string
	if ref := r.URL.Query().Get("project"); ref != "" {
		p, ok := visibleProject(sc, ref)
		if !ok {
			return nil, httpapi.NotFound("project")
		}
		nss = []string{p.Name}
	} else {
		for _, p := range sc.VisibleProjects() {
			nss = append(nss, p.Name)
		}
	}
	return s.diagnose(r, sc, nss)
}

func (s *Service) diagnoseProject(r *http.Request) (any, error) {
	ps, err := s.cfg.Scopes.ResolveProject(r)
	if err != nil {
		return nil, err
	}
	return s.diagnose(r, ps.WorkspaceScope, []string{ps.Namespace()})
}

// diagnose runs the analyzers over namespaces as the scope's caller.
func (s *Service) diagnose(r *http.Request, sc tenancy.WorkspaceScope, nss []string) (any, error) {
	t, err := s.target(r.Context(), sc, "")
	if err != nil {
		return nil, err
	}
	return s.analyze(r.Context(), t, nss)
}

// analyze collects the namespaces' objects with the target's own client
// (a kind the caller may not list is skipped and named), adds the
// platform's run history of their CronJobs, and runs every analyzer.
func (s *Service) analyze(ctx context.Context, t *tools.Target, nss []string) (api.Diagnosis, error) {
	snap, err := analyze.Collect(ctx, t.Client.Kube, nss, s.cfg.Now())
	if err != nil {
		return api.Diagnosis{}, kube.Error(err)
	}
	if t.Runs != nil {
		for _, cj := range snap.CronJobs {
			rs, err := t.Runs(ctx, cj.Namespace, cj.Name)
			if err != nil {
				return api.Diagnosis{}, err
			}
			snap.Runs = append(snap.Runs, rs...)
		}
	}
	return analyze.Run(snap), nil
}
