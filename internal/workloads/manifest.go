package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/manifest"
)

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
func (s *Service) applyManifest(ctx context.Context, ac kube.Project, text, replaces string) (string, error) {
	app, objs, err := s.resolveManifest(ctx, ac, text)
	if err != nil {
		return "", err
	}
	// A manifest that replaces an application must name that one, and
	// is refused before anything reaches the cluster.
	if replaces != "" && app != replaces {
		return "", manifest.Invalid(fmt.Sprintf("the manifest's Deployment is %q, not %q", app, replaces))
	}
	update := replaces != ""
	force := true
	do := func(m manifestObject, dry bool) error {
		var dryRun []string
		if dry {
			dryRun = []string{metav1.DryRunAll}
		}
		if update {
			body, err := json.Marshal(m.obj)
			if err != nil {
				return err
			}
			_, err = m.res.Patch(ctx, m.obj.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: kube.FieldManager, Force: &force, FieldValidation: "Strict", DryRun: dryRun})
			return err
		}
		_, err := m.res.Create(ctx, m.obj, metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict", DryRun: dryRun})
		return err
	}
	for _, m := range objs {
		if err := do(m, true); err != nil {
			return "", inObject(m, err)
		}
	}
	var done []manifestObject
	for _, m := range objs {
		if err := do(m, false); err != nil {
			if !update {
				uctx, cancel := undoContext(ctx)
				for _, d := range done {
					if derr := d.res.Delete(uctx, d.obj.GetName(), metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
						s.cfg.Logger.ErrorContext(ctx, "undo manifest create", "object", d.String(), "err", derr)
					}
				}
				cancel()
			}
			return "", inObject(m, err)
		}
		done = append(done, m)
	}
	return app, nil
}

// inObject says which object of a manifest the cluster refused.
func inObject(m manifestObject, err error) error {
	err = kube.Error(err)
	var he *httpapi.Error
	if errors.As(err, &he) {
		c := *he
		c.Detail = m.String() + ": " + he.Detail
		if c.Status == 422 || c.Status == 400 {
			c.Fields = append([]api.FieldError{httpapi.Field("manifest", c.Detail)}, he.Fields...)
		}
		return &c
	}
	return err
}
