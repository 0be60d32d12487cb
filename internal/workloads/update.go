package workloads

import (
	"context"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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

// appChange is an update of an application: from the application as it is
// now (its spec and version), the spec wanted, or an error (a 412 when a
// precondition does not hold).
type appChange func(cur appDoc) (appDoc, error)

// patchChange is the change of a merge patch of the spec, with the
// request's preconditions.
func patchChange(r *http.Request, patch httpapi.MergePatch) appChange {
	return func(cur appDoc) (appDoc, error) {
		var want appDoc
		if err := patch.Apply(cur, &want); err != nil {
			return want, err
		}
		return want, httpapi.CheckVersion(r, want.ResourceVersion, cur.ResourceVersion)
	}
}

// changeApp applies change to the live application: it reads the
// Deployment and its Service, computes the wanted spec and writes onto the
// live Deployment only the fields whose wanted value differs from the
// current one, keeping everything else of it. A write that loses a race
// (the Deployment changed since it was read) starts again from the new
// state, so concurrent changes of different fields all survive. The
// Service follows the ports and labels afterwards.
func changeApp(ctx context.Context, kc kubernetes.Interface, ns, name string, change appChange) (*appsv1.Deployment, error) {
	var out *appsv1.Deployment
	var cur, want api.AppSpec
	var wantSvc *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		svc, err := liveService(ctx, kc, ns, name)
		if err != nil {
			return err
		}
		cur = appSpecOf(d, svc)
		req, err := change(appDoc{AppSpec: cur, ResourceVersion: kube.Version(d)})
		if err != nil {
			return err
		}
		want = req.AppSpec
		built, bsvc, errs := appObjects(want, name, ns)
		if len(errs) > 0 {
			return httpapi.Invalid(errs...)
		}
		wantSvc = bsvc
		if !setApp(d, cur, want, built) {
			out = d
			return nil
		}
		out, err = kc.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
		return err
	})
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

// liveService is the application's Service, nil when it has none or the
// caller may not read it.
func liveService(ctx context.Context, kc kubernetes.Interface, ns, name string) (*corev1.Service, error) {
	svc, err := kc.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	return svc, err
}

// setApp writes onto d the fields of want that differ from cur, taking
// their values from built (want as checked and converted by appObjects),
// and reports whether anything changed.
func setApp(d *appsv1.Deployment, cur, want api.AppSpec, built *appsv1.Deployment) bool {
	changed := false
	differs := func(a, b any) bool {
		if kube.Differs(a, b) {
			changed = true
			return true
		}
		return false
	}
	if differs(cur.Replicas, want.Replicas) {
		d.Spec.Replicas = built.Spec.Replicas
	}
	if differs(cur.Labels, want.Labels) {
		kube.SetUserLabels(cur.Labels, want.Labels, &d.Labels, &d.Spec.Template.Labels)
	}
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		pod.Containers = []corev1.Container{{Name: "app"}}
	}
	c, bc := &pod.Containers[0], built.Spec.Template.Spec.Containers[0]
	if differs(cur.Image, want.Image) {
		c.Image = bc.Image
	}
	if differs(cur.Command, want.Command) {
		c.Command = bc.Command
	}
	if differs(cur.Args, want.Args) {
		c.Args = bc.Args
	}
	if differs(cur.Env, want.Env) {
		kube.SetEnv(c, bc.Env)
	}
	if differs(cur.Ports, want.Ports) {
		c.Ports = bc.Ports
	}
	if differs(cur.Resources, want.Resources) {
		kube.SetResources(c, bc.Resources)
	}
	return changed
}

// syncService makes the application's Service expose the ports of want
// (wantSvc, nil: no ports) with its user labels: it is created, its ports
// and labels changed (its other settings kept), or, when no port is left
// and the platform made it, removed.
func syncService(ctx context.Context, kc kubernetes.Interface, d *appsv1.Deployment, oldLabels, newLabels map[string]string, wantSvc *corev1.Service) error {
	svcs := kc.CoreV1().Services(d.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
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
		if wantSvc == nil {
			if live.Labels[LabelApp] != d.Name || live.Labels[kube.LabelManagedBy] != kube.ManagedBy {
				return nil
			}
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
