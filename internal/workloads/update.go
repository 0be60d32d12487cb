package workloads

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// An application's version (resource_version) is its Deployment's
// generation (kube.Version): every change the API makes to an application
// changes the Deployment's spec (a new port changes the container's ports
// as well as the Service; labels go on the pod template too), so the
// version moves whenever the application does, and not when the
// Deployment's status does. A change to the Service alone, made outside
// the API, does not move it.

// appSpecOf is the simple spec of a live application as the API describes
// it: the first container, the replicas, the ports with their Service's
// ports, and the labels that are not the platform's. What the simple spec
// cannot describe (other containers, volumes, probes, …) is not in it and
// is kept by every update.
func appSpecOf(d *appsv1.Deployment, svc *corev1.Service) api.AppSpec {
	s := api.AppSpec{Replicas: d.Spec.Replicas, Labels: kube.UserLabels(d.Labels)}
	if s.Replicas == nil {
		one := int32(1)
		s.Replicas = &one
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) == 0 {
		return s
	}
	c := cs[0]
	s.Image, s.Command, s.Args, s.Env, s.Resources = c.Image, c.Command, c.Args, kube.EnvOf(c), kube.ResourcesOf(c)
	for _, cp := range c.Ports {
		p := api.Port{Name: cp.Name, ContainerPort: cp.ContainerPort, Protocol: string(cp.Protocol)}
		if svc != nil {
			for _, sp := range svc.Spec.Ports {
				if (sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal == cp.Name && cp.Name != "") ||
					(sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == cp.ContainerPort) {
					p.ServicePort = sp.Port
				}
			}
		}
		s.Ports = append(s.Ports, p)
	}
	return s
}

// appDoc is an application's simple spec with its version: what a PUT
// sends, and what a PATCH (api.PatchApplicationRequest) is merged into.
type appDoc struct {
	api.AppSpec
	ResourceVersion string `json:"resource_version,omitempty"`
}

// Version is the version of the application the document names.
func (d appDoc) Version() string { return d.ResourceVersion }

// changeApp applies change to the live application (kube.Update): from
// the Deployment and its Service it computes the wanted spec and writes
// onto the live Deployment only the fields whose wanted value differs from
// the current one, keeping everything else of it. A change of the pod
// template is first put to guard (nil: none), which may refuse it. The
// Service follows the ports and labels afterwards.
func changeApp(ctx context.Context, kc kubernetes.Interface, ns, name string, change kube.Change[appDoc], guard func(context.Context, *appsv1.Deployment) error) (*appsv1.Deployment, error) {
	var cur, want api.AppSpec
	var wantSvc *corev1.Service
	read := func() (*appsv1.Deployment, appDoc, error) {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, appDoc{}, err
		}
		svc, err := liveService(ctx, kc, ns, name)
		return d, appDoc{AppSpec: appSpecOf(d, svc), ResourceVersion: kube.Version(d)}, err
	}
	write := func(d *appsv1.Deployment, c, w appDoc) (*appsv1.Deployment, error) {
		cur, want = c.AppSpec, w.AppSpec
		built, bsvc, errs := appObjects(want, name, ns)
		if len(errs) > 0 {
			return nil, httpapi.Invalid(errs...)
		}
		wantSvc = bsvc
		template := d.Spec.Template.DeepCopy()
		if !setApp(d, cur, want, built) {
			return d, nil
		}
		if wantSvc != nil && (kube.Differs(cur.Ports, want.Ports) || kube.Differs(cur.Labels, want.Labels)) {
			if err := serviceFree(ctx, kc, ns, name); err != nil {
				return nil, err
			}
		}
		if guard != nil && !apiequality.Semantic.DeepEqual(template, &d.Spec.Template) {
			if err := guard(ctx, d); err != nil {
				return nil, err
			}
		}
		return kc.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
	}
	out, err := kube.Update(read, change, write)
	if err != nil {
		return nil, kube.NotFoundOr(err, "application")
	}
	if kube.Differs(cur.Ports, want.Ports) || kube.Differs(cur.Labels, want.Labels) {
		if err := syncService(ctx, kc, out, cur.Labels, want.Labels, wantSvc); err != nil {
			return nil, kube.Error(err)
		}
	}
	return out, nil
}

// liveService is the application's Service, nil when it has none, the
// caller may not read it, or the Service of its name is not the
// application's (ownedBy): another application's, or one hks did not make.
func liveService(ctx context.Context, kc kubernetes.Interface, ns, name string) (*corev1.Service, error) {
	svc, err := kc.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !ownedBy(svc.Labels, name) {
		return nil, nil
	}
	return svc, nil
}

// ownedBy tells whether an object with labels l is application app's:
// hks made it for app.
func ownedBy(l map[string]string, app string) bool {
	return l[LabelApp] == app && l[kube.LabelManagedBy] == kube.ManagedBy
}

// foreignService is the refusal to write the Service of application app
// when a Service of that name exists and is not app's.
func foreignService(app string) error {
	return httpapi.Conflict("", fmt.Sprintf("Service %s exists and is not part of application %q: it belongs to another application or was not made by hks; "+
		"delete or rename it, or give the application another name", app, app))
}

// serviceFree refuses (foreignService) a change of application app's
// ports or labels when a Service of its name exists and is not app's, so
// that nothing is written; syncService checks again when it writes.
func serviceFree(ctx context.Context, kc kubernetes.Interface, ns, app string) error {
	svc, err := kc.CoreV1().Services(ns).Get(ctx, app, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return nil
	case err != nil:
		return kube.Error(err)
	case !ownedBy(svc.Labels, app):
		return foreignService(app)
	}
	return nil
}

// setApp writes onto d the fields of want that differ from cur, taking
// their values from built (want as checked and converted by appObjects),
// and reports whether anything changed.
func setApp(d *appsv1.Deployment, cur, want api.AppSpec, built *appsv1.Deployment) bool {
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		pod.Containers = []corev1.Container{{Name: "app"}}
	}
	c, bc := &pod.Containers[0], built.Spec.Template.Spec.Containers[0]
	return kube.SetChanged(
		kube.Field{Cur: cur.Replicas, Want: want.Replicas, Set: func() { d.Spec.Replicas = built.Spec.Replicas }},
		kube.Field{Cur: cur.Labels, Want: want.Labels, Set: func() { kube.SetUserLabels(cur.Labels, want.Labels, &d.Labels, &d.Spec.Template.Labels) }},
		kube.Field{Cur: cur.Image, Want: want.Image, Set: func() { c.Image = bc.Image }},
		kube.Field{Cur: cur.Command, Want: want.Command, Set: func() { c.Command = bc.Command }},
		kube.Field{Cur: cur.Args, Want: want.Args, Set: func() { c.Args = bc.Args }},
		kube.Field{Cur: cur.Env, Want: want.Env, Set: func() { kube.SetEnv(c, bc.Env) }},
		kube.Field{Cur: cur.Ports, Want: want.Ports, Set: func() { c.Ports = bc.Ports }},
		kube.Field{Cur: cur.Resources, Want: want.Resources, Set: func() { kube.SetResources(c, bc.Resources) }})
}

// syncService makes the application's Service expose the ports of want
// (wantSvc, nil: no ports) with its user labels: it is created, its ports
// and labels changed (its other settings kept), or, when no port is left
// and the platform made it, removed.
func syncService(ctx context.Context, kc kubernetes.Interface, d *appsv1.Deployment, oldLabels, newLabels map[string]string, wantSvc *corev1.Service) error {
	svcs := kc.CoreV1().Services(d.Namespace)
	return retry.RetryOnConflict(kube.ConflictBackoff, func() error {
		live, err := svcs.Get(ctx, d.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if wantSvc == nil {
				return nil
			}
			// The Service belongs to the Deployment, so deleting one removes both.
			wantSvc.OwnerReferences = []metav1.OwnerReference{ownerRef(d)}
			_, err = svcs.Create(ctx, wantSvc, metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
			return err
		case apierrors.IsForbidden(err) && wantSvc == nil:
			return nil
		case err != nil:
			return err
		}
		if !ownedBy(live.Labels, d.Name) {
			// Another application's Service, or one hks did not make:
			// never rewritten (nor deleted) as this one's.
			if wantSvc == nil {
				return nil
			}
			return foreignService(d.Name)
		}
		if wantSvc == nil {
			err := svcs.Delete(ctx, d.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &live.ResourceVersion}})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		live.Spec.Ports = wantSvc.Spec.Ports
		if len(live.Spec.Selector) == 0 {
			live.Spec.Selector = wantSvc.Spec.Selector
		}
		kube.SetUserLabels(oldLabels, newLabels, &live.Labels)
		_, err = svcs.Update(ctx, live, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
		return err
	})
}
