package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/manifest"
)

// appKinds are the kinds an application's manifest may hold, the
// Deployment first: deleting the application removes every object of
// these kinds labelled with it, so nothing a manifest created is left
// behind. Other kinds are refused (CronJobs have their own routes).
var appKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
}

// appKindNames names the kinds of appKinds, for a refusal.
const appKindNames = "Deployment, Service, ConfigMap, Secret, PersistentVolumeClaim, Ingress, HorizontalPodAutoscaler and PodDisruptionBudget"

func isAppKind(r schema.GroupVersionResource) bool {
	for _, k := range appKinds {
		if k.GroupResource() == r.GroupResource() {
			return true
		}
	}
	return false
}

// manifestObject is one object of a manifest with where it goes.
type manifestObject struct {
	doc int // 1-based document number, for error messages
	obj *unstructured.Unstructured
	res dynamic.ResourceInterface
}

func (m manifestObject) String() string {
	return fmt.Sprintf("document %d (%s %s)", m.doc, m.obj.GetKind(), m.obj.GetName())
}

// resolveManifest maps the objects onto the cluster's resources (an unknown
// kind is refused with the cluster's answer), puts them in the project's
// namespace, labels them with the application and returns the name of its
// one Deployment.
func (s *Service) resolveManifest(ctx context.Context, ac kube.Project, text string) (string, []manifestObject, error) {
	objs, err := manifest.Decode(text)
	if err != nil {
		return "", nil, err
	}
	groups, err := restmapper.GetAPIGroupResources(ac.C.Kube.Discovery())
	if err != nil {
		return "", nil, kube.Error(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	app := ""
	var out []manifestObject
	for i, u := range objs {
		m := manifestObject{doc: i + 1, obj: u}
		gvk := u.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			return "", nil, manifest.Invalid(fmt.Sprintf("%s: the workspace cluster has no kind %q in %s", m, gvk.Kind, apiVersion(gvk)))
		}
		if err != nil {
			return "", nil, fmt.Errorf("map %s: %w", m, err)
		}
		if !isAppKind(mapping.Resource) {
			return "", nil, manifest.Invalid(fmt.Sprintf("%s: an application holds only %s objects", m, appKindNames))
		}
		if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
			return "", nil, manifest.Invalid(fmt.Sprintf("%s: %s is cluster-scoped; an application holds only objects of its project's namespace", m, gvk.Kind))
		}
		switch ns := u.GetNamespace(); ns {
		case "", ac.NS:
			u.SetNamespace(ac.NS)
		default:
			return "", nil, manifest.Invalid(fmt.Sprintf("%s: namespace %q is not this project's namespace %q", m, ns, ac.NS))
		}
		if gvk.Group == "apps" && gvk.Kind == "Deployment" {
			if app != "" {
				return "", nil, manifest.Invalid(errNoDeployment.Error() + fmt.Sprintf(": %s is a second one", m))
			}
			app = u.GetName()
		}
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[kube.LabelManagedBy] = kube.ManagedBy
		m.obj.SetLabels(l)
		m.res = ac.C.Dynamic.Resource(mapping.Resource).Namespace(ac.NS)
		out = append(out, m)
	}
	if app == "" {
		return "", nil, manifest.Invalid(errNoDeployment.Error() + ": it names the application")
	}
	if errs := validName("manifest", app); len(errs) > 0 {
		return "", nil, manifest.Invalid("the Deployment's name " + errs[0].Message)
	}
	for _, m := range out {
		l := m.obj.GetLabels()
		l[LabelApp] = app
		m.obj.SetLabels(l)
	}
	return app, out, nil
}

func apiVersion(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String()
}

// applyManifest creates (or, with update, server-side applies) the
// manifest's objects after the cluster has accepted every one of them in a
// dry run; a create that fails half-way removes what it created.
//
// With dryRun, it stops after the dry run and returns the Deployment as
// the cluster's dry run answered it.
func (s *Service) applyManifest(ctx context.Context, ac kube.Project, text, replaces string, dryRun bool) (string, *appsv1.Deployment, error) {
	app, objs, err := s.resolveManifest(ctx, ac, text)
	if err != nil {
		return "", nil, err
	}
	// A manifest that replaces an application must name that one, and
	// is refused before anything reaches the cluster.
	if replaces != "" && app != replaces {
		return "", nil, manifest.Invalid(fmt.Sprintf("the manifest's Deployment is %q, not %q", app, replaces))
	}
	update := replaces != ""
	// versions holds, per object, the resourceVersion the claim check
	// read ("": absent). An absent object is created, not applied, so
	// one made in the meantime (with kubectl) is a 409, not taken over;
	// an existing one is applied at the version checked, so a change
	// made in the meantime is a 409, not overwritten.
	versions := make([]string, len(objs))
	if update {
		if versions, err = notClaimed(ctx, app, objs); err != nil {
			return "", nil, err
		}
		if afterClaimCheck != nil {
			afterClaimCheck(ctx)
		}
	}
	force := true
	do := func(i int, m manifestObject, dry bool) (*unstructured.Unstructured, error) {
		var dryRun []string
		if dry {
			dryRun = []string{metav1.DryRunAll}
		}
		if versions[i] != "" {
			// A change in the meantime (a controller's status
			// update, a relabelling) is a conflict: the object is
			// checked again, and applied at its new version only if it
			// is still app's.
			var got *unstructured.Unstructured
			err := retry.RetryOnConflict(kube.ConflictBackoff, func() error {
				m.obj.SetResourceVersion(versions[i])
				body, err := json.Marshal(m.obj)
				if err != nil {
					return err
				}
				got, err = m.res.Patch(ctx, m.obj.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: kube.FieldManager, Force: &force, FieldValidation: "Strict", DryRun: dryRun})
				if !apierrors.IsConflict(err) {
					return err
				}
				v, cerr := claimOf(ctx, app, m)
				if cerr != nil {
					return cerr
				}
				if v == "" {
					return httpapi.Conflict("", m.String()+": the object was deleted while the manifest was applied; apply it again")
				}
				versions[i] = v
				return err
			})
			return got, err
		}
		return m.res.Create(ctx, m.obj, metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict", DryRun: dryRun})
	}
	var dryD *appsv1.Deployment
	for i, m := range objs {
		mark := ac.C.Warnings.Len()
		got, err := do(i, m, true)
		if err != nil {
			return "", nil, inObject(m, err)
		}
		if err := s.podSecurityOf(ctx, ac, m, ac.C.Warnings.Since(mark)); err != nil {
			return "", nil, err
		}
		if gvk := m.obj.GroupVersionKind(); gvk.Group == "apps" && gvk.Kind == "Deployment" && got != nil {
			dryD = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, dryD); err != nil {
				return "", nil, fmt.Errorf("read the dry run of %s: %w", m, err)
			}
		}
	}
	if dryRun {
		return app, dryD, nil
	}
	// What this call created goes again when a later object fails, so
	// nothing half-made stays; what it applied to existing objects stays.
	var created []*unstructured.Unstructured
	var createdIn []manifestObject
	for i, m := range objs {
		got, err := do(i, m, false)
		if err != nil {
			uctx, cancel := undoContext(ctx)
			for j, c := range created {
				uid := c.GetUID()
				if derr := createdIn[j].res.Delete(uctx, c.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); derr != nil && !apierrors.IsNotFound(derr) {
					s.cfg.Logger.ErrorContext(ctx, "undo manifest create", "object", createdIn[j].String(), "err", derr)
				}
			}
			cancel()
			return "", nil, inObject(m, err)
		}
		if versions[i] == "" {
			created, createdIn = append(created, got), append(createdIn, m)
		}
	}
	return app, nil, nil
}

// podSecurityOf refuses a Deployment of a manifest whose pods the
// project's Pod Security level would refuse, given the warnings of its
// dry run: Pod Security only warns about a Deployment, and its pods would
// be refused later, silently (FailedCreate events).
func (s *Service) podSecurityOf(ctx context.Context, ac kube.Project, m manifestObject, warnings []string) error {
	if gvk := m.obj.GroupVersionKind(); gvk.Group != "apps" || gvk.Kind != "Deployment" {
		return nil
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m.obj.Object, &d); err != nil {
		// The API server took it in its dry run; without the template
		// only the warnings can tell.
		s.cfg.Logger.WarnContext(ctx, "read a manifest's Deployment", "object", m.String(), "err", err)
		if msg := kube.JudgePodSecurity(warnings, ac.Scope.Project.PodSecurity).Violation; msg != "" {
			return kube.PodSecurityInvalid("manifest", m.String(), msg)
		}
		return nil
	}
	if msg := ac.PodSecurityRefusal(ctx, warnings, d.Name, &d.Spec.Template); msg != "" {
		return kube.PodSecurityInvalid("manifest", m.String(), msg)
	}
	return nil
}

// notClaimed refuses a manifest of application app that names an
// existing object which is not app's (another application's, or one hks
// did not make): applying it would label that object as app's, and
// deleting app would delete it. It answers, per object, the
// resourceVersion it read ("": absent), for applyManifest to write at.
func notClaimed(ctx context.Context, app string, objs []manifestObject) ([]string, error) {
	versions := make([]string, len(objs))
	for i, m := range objs {
		v, err := claimOf(ctx, app, m)
		if err != nil {
			return nil, err
		}
		versions[i] = v
	}
	return versions, nil
}

// claimOf is notClaimed's check of one object: the resourceVersion of
// the live object when it is app's, "" when there is none, else the
// refusal.
func claimOf(ctx context.Context, app string, m manifestObject) (string, error) {
	live, err := m.res.Get(ctx, m.obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", inObject(m, err)
	}
	if !ownedBy(live.GetLabels(), app) {
		return "", manifest.Invalid(fmt.Sprintf("%s: the object exists and is not part of application %q", m, app))
	}
	return live.GetResourceVersion(), nil
}

// afterClaimCheck, when set (by a test), runs between applyManifest's
// claim check and its writes: the window in which another client may
// create or change an object of the manifest.
var afterClaimCheck func(context.Context)

// deleteAppObjects deletes, for app, the objects of appKinds other than
// its Deployment that carry its label (what its manifest or spec made).
func deleteAppObjects(ctx context.Context, ac kube.Project, app string) error {
	sel := labels.Set{LabelApp: app, kube.LabelManagedBy: kube.ManagedBy}.String()
	for _, k := range appKinds[1:] {
		res := ac.C.Dynamic.Resource(k).Namespace(ac.NS)
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return kube.Error(err)
		}
		for _, o := range list.Items {
			uid := o.GetUID()
			err := res.Delete(ctx, o.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) {
				return kube.Error(err)
			}
		}
	}
	return nil
}

// inObject says which object of a manifest the cluster refused.
func inObject(m manifestObject, err error) error {
	err = kube.Error(err)
	var he *httpapi.Error
	if errors.As(err, &he) {
		if strings.Contains(he.Detail, m.String()+": ") {
			return he // it names the object already (a claim check's)
		}
		c := *he
		c.Detail = m.String() + ": " + he.Detail
		if c.Status == 422 || c.Status == 400 {
			// The field is the manifest; the cluster's causes follow
			// when they name a field of the object (a cause without a
			// field is already in the detail, and would only repeat it).
			c.Fields = []api.FieldError{httpapi.Field("manifest", c.Detail)}
			for _, f := range he.Fields {
				if f.Field != "" {
					c.Fields = append(c.Fields, f)
				} else if !strings.Contains(c.Detail, f.Message) {
					c.Fields = append(c.Fields, httpapi.Field("manifest", f.Message))
				}
			}
		}
		return &c
	}
	return err
}
