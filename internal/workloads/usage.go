package workloads

import (
	"context"
	"net/http"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

func (s *Service) projectUsage(r *http.Request) (any, error) {
	ac, err := s.apps.Project(r)
	if err != nil {
		return nil, err
	}
	return usageOf(r.Context(), ac.C, ac.NS)
}

// workspaceUsage sums the usage of the projects the caller may see.
func (s *Service) workspaceUsage(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	c, err := kube.ClientFor(r.Context(), s.cfg.Clusters, sc)
	if err != nil {
		return nil, err
	}
	total := api.Usage{Quota: map[string]api.QuotaUse{}, Projects: []api.Usage{}}
	used, hard := map[string]resource.Quantity{}, map[string]resource.Quantity{}
	unlimited := map[string]bool{}
	for _, p := range visible(sc) {
		u, err := usageOf(r.Context(), c, p)
		if err != nil {
			return nil, err
		}
		total.Projects = append(total.Projects, *u)
		add(&total.Counts, u.Counts)
		for name, q := range u.Quota {
			x := used[name]
			x.Add(resource.MustParse(q.Used))
			used[name] = x
			if q.Hard == "" {
				unlimited[name] = true
				continue
			}
			h := hard[name]
			h.Add(resource.MustParse(q.Hard))
			hard[name] = h
		}
	}
	for name, q := range used {
		qu := api.QuotaUse{Used: q.String()}
		if h, ok := hard[name]; ok && !unlimited[name] {
			qu.Hard = h.String()
		}
		total.Quota[name] = qu
	}
	return total, nil
}

func visible(sc tenancy.WorkspaceScope) []string {
	var out []string
	for _, p := range sc.VisibleProjects() {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func add(dst *api.Counts, c api.Counts) {
	dst.Applications += c.Applications
	dst.Pods += c.Pods
	dst.RunningPods += c.RunningPods
	dst.CronJobs += c.CronJobs
	dst.Jobs += c.Jobs
	dst.Services += c.Services
}

// usageOf reads a namespace's quota status and counts its workloads.
func usageOf(ctx context.Context, c *kube.Client, ns string) (*api.Usage, error) {
	u := &api.Usage{Project: ns, Quota: map[string]api.QuotaUse{}}
	rq, err := c.Kube.CoreV1().ResourceQuotas(ns).Get(ctx, controlplane.QuotaName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, kube.Error(err)
	default:
		for name, h := range rq.Status.Hard {
			used := rq.Status.Used[name]
			u.Quota[string(name)] = api.QuotaUse{Used: used.String(), Hard: h.String()}
		}
	}
	// The lists are independent: ask for them at once.
	opts := metav1.ListOptions{ResourceVersion: "0"}
	var (
		wg                                    sync.WaitGroup
		deps                                  *appsv1.DeploymentList
		pods                                  *corev1.PodList
		cjs                                   *batchv1.CronJobList
		jobs                                  *batchv1.JobList
		svcs                                  *corev1.ServiceList
		depErr, podErr, cjErr, jobErr, svcErr error
	)
	wg.Go(func() { deps, depErr = c.Kube.AppsV1().Deployments(ns).List(ctx, opts) })
	wg.Go(func() { pods, podErr = c.Kube.CoreV1().Pods(ns).List(ctx, opts) })
	wg.Go(func() { cjs, cjErr = c.Kube.BatchV1().CronJobs(ns).List(ctx, opts) })
	wg.Go(func() { jobs, jobErr = c.Kube.BatchV1().Jobs(ns).List(ctx, opts) })
	wg.Go(func() { svcs, svcErr = c.Kube.CoreV1().Services(ns).List(ctx, opts) })
	wg.Wait()
	for _, err := range []error{depErr, podErr, cjErr, jobErr, svcErr} {
		if err != nil {
			return nil, kube.Error(err)
		}
	}
	u.Counts.Applications = len(deps.Items)
	u.Counts.Pods = len(pods.Items)
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			u.Counts.RunningPods++
		}
	}
	if _, ok := u.Quota["pods"]; !ok {
		u.Quota["pods"] = api.QuotaUse{Used: resource.NewQuantity(int64(u.Counts.Pods), resource.DecimalSI).String()}
	}
	u.Counts.CronJobs = len(cjs.Items)
	u.Counts.Jobs = len(jobs.Items)
	u.Counts.Services = len(svcs.Items)
	return u, nil
}
