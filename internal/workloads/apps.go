package workloads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/audit"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

func appOut(project string, d *appsv1.Deployment, svc *corev1.Service) api.Application {
	a := api.Application{Name: d.Name, Project: project, Labels: d.Labels, Spec: appSpecOf(d, svc), CreatedAt: d.CreationTimestamp.UTC(), ResourceVersion: kube.Version(d)}
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		a.Image = cs[0].Image
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	a.Status = api.AppStatus{Replicas: want, ReadyReplicas: d.Status.ReadyReplicas, UpdatedReplicas: d.Status.UpdatedReplicas,
		AvailableReplicas: d.Status.AvailableReplicas, Conditions: []api.Condition{}}
	a.Status.Ready = d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.ReadyReplicas == want && d.Status.Replicas == want
	for _, c := range d.Status.Conditions {
		a.Status.Conditions = append(a.Status.Conditions, api.Condition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	if svc != nil {
		si := &api.ServiceInfo{Name: svc.Name, ClusterIP: svc.Spec.ClusterIP, Ports: []api.ServicePort{}}
		for _, p := range svc.Spec.Ports {
			si.Ports = append(si.Ports, api.ServicePort{Name: p.Name, Port: p.Port, Protocol: string(p.Protocol)})
		}
		a.Service = si
	}
	return a
}

func podOut(p corev1.Pod) api.Pod {
	out := api.Pod{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName, IP: p.Status.PodIP}
	if p.Status.StartTime != nil {
		t := p.Status.StartTime.UTC()
		out.StartedAt = &t
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		out.Restarts += cs.RestartCount
		switch {
		case cs.State.Waiting != nil && out.Reason == "":
			out.Reason = cs.State.Waiting.Reason
		case cs.State.Terminated != nil && out.Reason == "":
			out.Reason = cs.State.Terminated.Reason
		}
	}
	if out.Reason == "" {
		out.Reason = p.Status.Reason
	}
	return out
}

// validAppName tells whether name can be an application's.
func validAppName(name string) bool { return len(validName("app", name)) == 0 }

func (s *Service) createApp(r *http.Request) (any, error) {
	dryRun, err := dryRunParam(r)
	if err != nil {
		return nil, err
	}
	if dryRun {
		// Audited as what it was: a check, not a create.
		audit.SetAction(r.Context(), "application.create.dry_run")
	}
	req, ac, err := kube.Decode[api.CreateApplicationRequest](s.apps, r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if req.Manifest != "" {
		if req.Image != "" || req.Name != "" {
			return nil, httpapi.Invalid(httpapi.Field("manifest", "give either a manifest or the simple spec (name, image, …), not both"))
		}
		name, dry, err := s.applyManifest(ctx, ac, req.Manifest, "", dryRun)
		if err != nil {
			return nil, err
		}
		if dryRun {
			return dryRunAnswer(ac, dry, nil), nil
		}
		a, err := s.getApp(ctx, ac, name, false)
		return kube.WithWarnings(ac.C, a), err
	}
	d, svc, errs := appObjects(req.AppSpec, req.Name, ac.NS)
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	// In a restricted project the pods are made to comply (the image
	// must then run as a non-root user).
	if ac.Restricted() {
		kube.Restrict(&d.Spec.Template.Spec)
	}
	// Both objects pass the cluster's checks before either is created.
	dry := metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict", DryRun: []string{metav1.DryRunAll}}
	var dryD *appsv1.Deployment
	if err := ac.CheckPodSecurity(ctx, d.Name, "spec", &d.Spec.Template, func() error {
		var err error
		dryD, err = ac.C.Kube.AppsV1().Deployments(ac.NS).Create(ctx, d, dry)
		return kube.Error(err)
	}); err != nil {
		return nil, err
	}
	var drySvc *corev1.Service
	if svc != nil {
		if drySvc, err = ac.C.Kube.CoreV1().Services(ac.NS).Create(ctx, svc, dry); apierrors.IsAlreadyExists(err) {
			return nil, foreignService(svc.Name)
		} else if err != nil {
			return nil, kube.Error(err)
		}
	}
	if dryRun {
		return dryRunAnswer(ac, dryD, drySvc), nil
	}
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"}
	created, err := ac.C.Kube.AppsV1().Deployments(ac.NS).Create(ctx, d, opts)
	if err != nil {
		return nil, kube.Error(err)
	}
	var gotSvc *corev1.Service
	if svc != nil {
		// The Service belongs to the Deployment, so deleting one removes both.
		svc.OwnerReferences = []metav1.OwnerReference{ownerRef(created)}
		if gotSvc, err = ac.C.Kube.CoreV1().Services(ac.NS).Create(ctx, svc, opts); err != nil {
			// Nothing half-made stays behind.
			uctx, cancel := undoContext(ctx)
			defer cancel()
			if derr := ac.C.Kube.AppsV1().Deployments(ac.NS).Delete(uctx, d.Name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
				s.cfg.Logger.ErrorContext(ctx, "undo application create", "app", d.Name, "err", derr)
			}
			return nil, kube.Error(err)
		}
	}
	return kube.WithWarnings(ac.C, appOut(ac.Scope.Project.Name, created, gotSvc)), nil
}

// podSecurityGuard is changeApp's check of a changed pod template: in a
// restricted project the template is first made to comply where it says
// nothing (kube.Restrict), then a dry run of the update is refused when
// the project's Pod Security level would refuse its pods.
func podSecurityGuard(ac kube.Project) func(context.Context, *appsv1.Deployment) error {
	return func(ctx context.Context, d *appsv1.Deployment) error {
		if ac.Restricted() {
			kube.Restrict(&d.Spec.Template.Spec)
		}
		return ac.CheckPodSecurity(ctx, d.Name, "spec", &d.Spec.Template, func() error {
			_, err := ac.C.Kube.AppsV1().Deployments(ac.NS).Update(ctx, d, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict", DryRun: []string{metav1.DryRunAll}})
			return err
		})
	}
}

func ownerRef(d *appsv1.Deployment) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID}
}

func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// getApp reads the Deployment and its Service (and with pods, its pods).
func (s *Service) getApp(ctx context.Context, ac kube.Project, name string, pods bool) (api.Application, error) {
	d, err := ac.C.Kube.AppsV1().Deployments(ac.NS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return api.Application{}, kube.NotFoundOr(err, "application")
	}
	svc, err := liveService(ctx, ac.C.Kube, ac.NS, name)
	if err != nil {
		return api.Application{}, kube.Error(err)
	}
	a := appOut(ac.Scope.Project.Name, d, svc)
	if pods {
		ps, err := s.podsOf(ctx, ac, d)
		if err != nil {
			return api.Application{}, err
		}
		a.Pods = make([]api.Pod, 0, len(ps))
		for _, p := range ps {
			a.Pods = append(a.Pods, podOut(p))
		}
	}
	return a, nil
}

// podsOf lists the pods the Deployment's selector selects.
func (s *Service) podsOf(ctx context.Context, ac kube.Project, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment selector: %w", err)
	}
	if sel.Empty() {
		sel = labels.Nothing()
	}
	l, err := ac.C.Kube.CoreV1().Pods(ac.NS).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, kube.Error(err)
	}
	slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return l.Items, nil
}

func (s *Service) getAppHandler(r *http.Request) (any, error) {
	name, ac, err := s.apps.Target(r)
	if err != nil {
		return nil, err
	}
	return s.getApp(r.Context(), ac, name, true)
}

// listApps pages through the project's Deployments with the cluster's own
// continue tokens as cursors.
func (s *Service) listApps(r *http.Request) (any, error) {
	page, ac, err := s.apps.Page(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	l, err := ac.C.Kube.AppsV1().Deployments(ac.NS).List(ctx, metav1.ListOptions{Limit: page.Limit, Continue: page.Continue})
	if err != nil {
		return nil, kube.PageError(err)
	}
	svcs, err := ac.C.Kube.CoreV1().Services(ac.NS).List(ctx, metav1.ListOptions{})
	byName := map[string]*corev1.Service{}
	if err == nil {
		for i := range svcs.Items {
			if ownedBy(svcs.Items[i].Labels, svcs.Items[i].Name) {
				byName[svcs.Items[i].Name] = &svcs.Items[i]
			}
		}
	} else if !apierrors.IsForbidden(err) {
		return nil, kube.Error(err)
	}
	out := make([]api.Application, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, appOut(ac.Scope.Project.Name, &l.Items[i], byName[l.Items[i].Name]))
	}
	return httpapi.NewList(out, l.Continue), nil
}

// updateApp replaces what the simple spec describes of an application
// (fields it leaves out return to their defaults; other containers,
// volumes and the rest of the Deployment stay), or applies a manifest.
func (s *Service) updateApp(r *http.Request) (any, error) {
	name, err := s.apps.Name(r)
	if err != nil {
		return nil, err
	}
	req, ac, err := kube.Decode[api.UpdateApplicationRequest](s.apps, r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if req.Manifest != "" {
		if req.Image != "" {
			return nil, httpapi.Invalid(httpapi.Field("manifest", "give either a manifest or the simple spec, not both"))
		}
		cur, err := ac.C.Kube.AppsV1().Deployments(ac.NS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.NotFoundOr(err, "application")
		}
		if err := httpapi.CheckVersion(r, req.ResourceVersion, kube.Version(cur)); err != nil {
			return nil, err
		}
		if _, _, err := s.applyManifest(ctx, ac, req.Manifest, name, false); err != nil {
			return nil, err
		}
		a, err := s.getApp(ctx, ac, name, false)
		return kube.WithWarnings(ac.C, a), err
	}
	if _, err := changeApp(ctx, ac.C.Kube, ac.NS, name, kube.ReplaceChange(r, appDoc{AppSpec: req.AppSpec, ResourceVersion: req.ResourceVersion}), podSecurityGuard(ac)); err != nil {
		return nil, err
	}
	a, err := s.getApp(ctx, ac, name, false)
	return kube.WithWarnings(ac.C, a), err
}

// patchApp applies a JSON merge patch of the simple spec to the live
// application: only the fields the patch names change.
func (s *Service) patchApp(r *http.Request) (any, error) {
	name, patch, err := s.apps.NamedPatch(r)
	if err != nil {
		return nil, err
	}
	if patch.Has("manifest") {
		return nil, httpapi.Invalid(httpapi.Field("manifest", "a manifest replaces the application: send it with PUT"))
	}
	ac, err := s.apps.Project(r)
	if err != nil {
		return nil, err
	}
	if _, err := changeApp(r.Context(), ac.C.Kube, ac.NS, name, kube.PatchChange[appDoc](r, patch), podSecurityGuard(ac)); err != nil {
		return nil, err
	}
	a, err := s.getApp(r.Context(), ac, name, false)
	return kube.WithWarnings(ac.C, a), err
}

func (s *Service) scaleApp(r *http.Request) (any, error) {
	name, req, err := kube.DecodeNamed[api.ScaleRequest](s.apps, r)
	if err != nil {
		return nil, err
	}
	if req.Replicas == nil {
		return nil, httpapi.Invalid(httpapi.Field("replicas", "is required"))
	}
	if *req.Replicas < 0 || *req.Replicas > maxReplicas {
		return nil, httpapi.Invalid(httpapi.Field("replicas", fmt.Sprintf("must be between 0 and %d", maxReplicas)))
	}
	ac, err := s.apps.Project(r)
	if err != nil {
		return nil, err
	}
	sc := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ac.NS}, Spec: autoscalingv1.ScaleSpec{Replicas: *req.Replicas}}
	return s.actOnDeployment(r.Context(), ac, name, func(ctx context.Context, d appsv1client.DeploymentInterface) error {
		_, err := d.UpdateScale(ctx, name, sc, metav1.UpdateOptions{FieldManager: kube.FieldManager})
		return err
	})
}

// actOnDeployment makes one change to the application's Deployment (a
// scale, a restart) and answers the application as it is then; a
// Deployment that is gone is a 404.
func (s *Service) actOnDeployment(ctx context.Context, ac kube.Project, name string, change func(context.Context, appsv1client.DeploymentInterface) error) (any, error) {
	if err := change(ctx, ac.C.Kube.AppsV1().Deployments(ac.NS)); err != nil {
		return nil, kube.NotFoundOr(err, "application")
	}
	return s.getApp(ctx, ac, name, false)
}

// restartApp rolls every pod, as `kubectl rollout restart` does.
func (s *Service) restartApp(r *http.Request) (any, error) {
	name, ac, err := s.apps.Target(r)
	if err != nil {
		return nil, err
	}
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, annotationRestartedAt, s.cfg.Now().UTC().Format(time.RFC3339Nano))
	return s.actOnDeployment(r.Context(), ac, name, func(ctx context.Context, d appsv1client.DeploymentInterface) error {
		_, err := d.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
		return err
	})
}

func (s *Service) deleteApp(r *http.Request) (any, error) {
	name, ac, err := s.apps.Target(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	deployments := ac.C.Kube.AppsV1().Deployments(ac.NS)
	// Whether the application exists and the caller may delete it is
	// asked first (a dry run), so that a refusal removes nothing.
	if err := deployments.Delete(ctx, name, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return nil, kube.NotFoundOr(err, "application")
	}
	// Every object of the kinds a manifest may hold that carries the
	// application's label goes (its Service, and what its manifest
	// added), then the Deployment, last, so that a failure leaves an
	// application to delete again.
	if err := deleteAppObjects(ctx, ac, name); err != nil {
		return nil, err
	}
	bg := metav1.DeletePropagationBackground
	if err := deployments.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		return nil, kube.NotFoundOr(err, "application")
	}
	return nil, nil
}

// dryRunParam reads ?dry_run=true: the create is checked by the
// cluster (a server-side dry run of every object, as the caller) and
// nothing is made.
func dryRunParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, httpapi.Invalid(httpapi.Field("dry_run", "must be true or false"))
	}
}

// dryRunAnswer is a create's dry-run answer: 200 (nothing was created)
// with the application as the cluster's dry run returned it, and the
// API server's warnings.
func dryRunAnswer(ac kube.Project, d *appsv1.Deployment, svc *corev1.Service) any {
	var body any = api.Application{Project: ac.Scope.Project.Name}
	if d != nil {
		body = appOut(ac.Scope.Project.Name, d, svc)
	}
	return &httpapi.Response{Status: http.StatusOK, Header: ac.C.Warnings.Header(), Body: body}
}

var errNoDeployment = errors.New("a manifest must hold exactly one Deployment")
