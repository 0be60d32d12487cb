package controlplane

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// configProvider hands out the admin config of the test API server; the
// reconciler uses nothing else of a Provider (the embedded nil Provider
// panics if it did).
type configProvider struct {
	Provider
	cfg *rest.Config
}

func (p configProvider) AdminConfig(context.Context, string) (*rest.Config, error) {
	return p.cfg, nil
}

func TestNewReconcilerConfigErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	p := configProvider{}
	var st store.Store = &sqlstore.Store{}
	for _, tc := range []struct {
		name string
		cfg  ReconcilerConfig
		want string
	}{
		{"no store", ReconcilerConfig{Provider: p, Logger: log}, "reconciler: Store is required"},
		{"no provider", ReconcilerConfig{Store: st, Logger: log}, "reconciler: Provider is required"},
		{"no logger", ReconcilerConfig{Store: st, Provider: p}, "reconciler: Logger is required"},
		{"negative resync", ReconcilerConfig{Store: st, Provider: p, Logger: log, Resync: -1}, "reconciler: Resync must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewReconciler(tc.cfg); err == nil || err.Error() != tc.want {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
			}
		})
	}
}

// managedVersions maps every managed object to its resourceVersion.
func managedVersions(t *testing.T, cs kubernetes.Interface) map[string]string {
	t.Helper()
	ctx := t.Context()
	sel := metav1.ListOptions{LabelSelector: managedSelector}
	out := map[string]string{}
	// add records the objects of kind, listed with their error.
	add := func(kind string) func([]metav1.Object, error) {
		return func(items []metav1.Object, err error) {
			if err != nil {
				t.Fatalf("list %ss: %v", kind, err)
			}
			for _, o := range items {
				out[kind+" "+key(o.GetNamespace(), o.GetName())] = o.GetResourceVersion()
			}
		}
	}
	add("namespace")(objects[*corev1.Namespace](cs.CoreV1().Namespaces().List(ctx, sel)))
	add("resourcequota")(objects[*corev1.ResourceQuota](cs.CoreV1().ResourceQuotas("").List(ctx, sel)))
	add("limitrange")(objects[*corev1.LimitRange](cs.CoreV1().LimitRanges("").List(ctx, sel)))
	add("rolebinding")(objects[*rbacv1.RoleBinding](cs.RbacV1().RoleBindings("").List(ctx, sel)))
	add("clusterrolebinding")(objects[*rbacv1.ClusterRoleBinding](cs.RbacV1().ClusterRoleBindings().List(ctx, sel)))
	add("clusterrole")(objects[*rbacv1.ClusterRole](cs.RbacV1().ClusterRoles().List(ctx, sel)))
	add("validatingadmissionpolicy")(objects[*admissionv1.ValidatingAdmissionPolicy](cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, sel)))
	add("validatingadmissionpolicybinding")(objects[*admissionv1.ValidatingAdmissionPolicyBinding](cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().List(ctx, sel)))
	return out
}

// objects is itemsOf with the items as metav1.Objects.
func objects[T metav1.Object](l runtime.Object, err error) ([]metav1.Object, error) {
	items, err := itemsOf[T](l, err)
	out := make([]metav1.Object, 0, len(items))
	for _, o := range items {
		out = append(out, o)
	}
	return out, err
}

func TestReconcileAgainstAPIServer(t *testing.T) {
	cfg := startAPIServer(t)
	ctx := t.Context()
	// Namespaces are scrubbed page by page: one per page here, so a
	// namespace past the first page is scrubbed only if paging works.
	defer func(n int64) { scrubPageSize = n }(scrubPageSize)
	scrubPageSize = 1
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	u := store.User{ID: store.NewID(), Email: "owner@example.com", CreatedAt: now, UpdatedAt: now}
	must(st.CreateUser(ctx, u))
	org := store.Organization{ID: store.NewID(), Name: "Org", Slug: "org", CreatedAt: now, UpdatedAt: now}
	must(st.CreateOrganization(ctx, org, store.OrgMember{OrgID: org.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}))
	ws := store.Workspace{ID: store.NewID(), OrgID: org.ID, Name: "ws", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}
	must(st.CreateWorkspace(ctx, ws))
	web := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web", Quota: store.Quota{CPU: "2", Memory: "4Gi", Pods: 20}, CreatedAt: now, UpdatedAt: now}
	child := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web-staging", ParentID: web.ID, CreatedAt: now, UpdatedAt: now}
	api := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "api", Quota: store.Quota{Storage: "10Gi"}, CreatedAt: now, UpdatedAt: now}
	for _, p := range []store.Project{web, child, api} {
		must(st.CreateProject(ctx, p))
	}

	r, err := NewReconciler(ReconcilerConfig{Store: st, Provider: configProvider{cfg: cfg}, Logger: log, Resync: time.Hour})
	must(err)
	cs, err := kubernetes.NewForConfig(cfg)
	must(err)

	// A reconcile that fails (here a project name Desired refuses; a
	// workspace-admin has other ways) still starts the watches.
	bad := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "kube-bad", CreatedAt: now, UpdatedAt: now}
	must(st.CreateProject(ctx, bad))
	if err := r.reconcileRunning(ctx, ws.ID); err == nil {
		t.Fatal("reconcile with project kube-bad succeeded")
	}
	r.mu.Lock()
	watched := r.watches[ws.ID] != nil
	r.mu.Unlock()
	if !watched {
		t.Fatal("a failed reconcile left the workspace unwatched")
	}
	must(st.DeleteProject(ctx, bad.ID))

	// web exists already, managed, with Pod Security labels Desired does
	// not set (the policies are not there yet): an old enforce version, a
	// label Pod Security does not know, device admin access; and a label
	// of a workspace-admin's own. Such labels on any namespace trigger a
	// reconcile (the watch of every namespace).
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{
		LabelManagedBy: ManagedByValue, LabelPodSecurityEnforce + VersionSuffix: "v1.0",
		PodSecurityLabelPrefix + "exotic": "x", LabelDeviceAdminAccess: "true", "team": "a"}}}, metav1.CreateOptions{})
	must(err)
	testutil.WaitFor(t, 10*time.Second, "a namespace with labels none may carry to trigger a reconcile", func() bool { return r.queue.Len() > 0 })
	// pwn is not managed, and got labels no namespace may carry (in the
	// moment a workspace-admin had the policies deleted); those go, the
	// others stay.
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pwn", Labels: map[string]string{
		LabelPodSecurityEnforce: "privileged", LabelPodSecurityEnforce + VersionSuffix: "v1.0", LabelPodSecurityWarn: PodSecurityRestricted,
		LabelPodSecurityAudit + VersionSuffix: PodSecurityLatest, PodSecurityLabelPrefix + "exotic": "x", LabelDeviceAdminAccess: "true", "team": "b"}}},
		metav1.CreateOptions{})
	must(err)

	// Apply creates, and replaces web's labels.
	must(r.ReconcileNow(ctx, ws.ID))
	nsPwn, err := cs.CoreV1().Namespaces().Get(ctx, "pwn", metav1.GetOptions{})
	must(err)
	delete(nsPwn.Labels, corev1.LabelMetadataName)
	if want := map[string]string{LabelPodSecurityWarn: PodSecurityRestricted, LabelPodSecurityAudit + VersionSuffix: PodSecurityLatest, "team": "b"}; !equalMaps(nsPwn.Labels, want) {
		t.Fatalf("unmanaged namespace pwn labels %v, want %v", nsPwn.Labels, want)
	}
	nsWeb, err := cs.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
	must(err)
	if l := nsWeb.Labels; l[LabelPodSecurityEnforce+VersionSuffix] != PodSecurityLatest || l[PodSecurityLabelPrefix+"exotic"] != "" ||
		l[LabelDeviceAdminAccess] != "" || l["team"] != "a" || l[LabelPodSecurityEnforce] != PodSecurityBaseline {
		t.Fatalf("web labels %v: want the Pod Security labels of Desired alone, and team kept", l)
	}
	got := managedVersions(t, cs)
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{
		"clusterrole hks:namespace-reader",
		"clusterrolebinding hks:namespace-reader", "clusterrolebinding hks:workspace-admin",
		"limitrange web/hks-defaults",
		"namespace api", "namespace web", "namespace web-staging",
		"resourcequota api/hks-quota", "resourcequota web/hks-quota",
		"rolebinding api/hks:admin", "rolebinding api/hks:edit", "rolebinding api/hks:view",
		"rolebinding web-staging/hks:admin", "rolebinding web-staging/hks:edit", "rolebinding web-staging/hks:view",
		"rolebinding web/hks:admin", "rolebinding web/hks:edit", "rolebinding web/hks:view",
	}
	for _, p := range []string{PolicyExternalIPs, PolicyNodeName, PolicyNodePorts, PolicyPodSecurityLabels, PolicyServiceAccountTokens,
		PolicyPodSecurityLevels, PolicyDeviceAdminAccess, PolicyPodSecurityFloor, PolicyServiceAccountTokenChains} {
		want = append(want, "validatingadmissionpolicy "+p, "validatingadmissionpolicybinding "+p)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("managed objects:\n got %q\nwant %q", names, want)
	}
	nsStaging, err := cs.CoreV1().Namespaces().Get(ctx, "web-staging", metav1.GetOptions{})
	must(err)
	if nsStaging.Labels[LabelParent] != "web" || nsStaging.Labels[LabelProjectID] != child.ID {
		t.Fatalf("web-staging labels %v", nsStaging.Labels)
	}

	// Apply again changes nothing.
	tenancy := Tenancy{Workspace: ws, Projects: []store.Project{web, child, api}}
	desired, err := Desired(tenancy)
	must(err)
	ch, err := Apply(ctx, cs, desired)
	must(err)
	if len(ch.Applied)+len(ch.Pruned) > 0 {
		t.Fatalf("second apply changed %+v", ch)
	}
	must(r.ReconcileNow(ctx, ws.ID))
	if again := managedVersions(t, cs); !equalMaps(again, got) {
		t.Fatalf("resource versions changed:\n got %v\nwant %v", again, got)
	}

	// Drift of every kind is repaired by Apply's one generic step: a
	// changed field it manages is applied again, a changed role of a
	// binding (immutable) makes it replace the binding.
	for _, tc := range []struct {
		name   string
		tamper func() error
		what   string
		check  func() bool
	}{
		{"namespace label", func() error {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "web-staging", metav1.GetOptions{})
			if err != nil {
				return err
			}
			ns.Labels[LabelParent] = "api"
			_, err = cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
			return err
		}, "namespace web-staging", func() bool {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "web-staging", metav1.GetOptions{})
			return err == nil && ns.Labels[LabelParent] == "web"
		}},
		{"quota", func() error {
			q, err := cs.CoreV1().ResourceQuotas("web").Get(ctx, "hks-quota", metav1.GetOptions{})
			if err != nil {
				return err
			}
			q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("999")
			_, err = cs.CoreV1().ResourceQuotas("web").Update(ctx, q, metav1.UpdateOptions{})
			return err
		}, "resourcequota web/hks-quota", func() bool {
			q, err := cs.CoreV1().ResourceQuotas("web").Get(ctx, "hks-quota", metav1.GetOptions{})
			pods := q.Spec.Hard[corev1.ResourcePods]
			return err == nil && pods.Value() == 20
		}},
		{"limit range deleted", func() error {
			return cs.CoreV1().LimitRanges("web").Delete(ctx, "hks-defaults", metav1.DeleteOptions{})
		}, "limitrange web/hks-defaults", func() bool {
			_, err := cs.CoreV1().LimitRanges("web").Get(ctx, "hks-defaults", metav1.GetOptions{})
			return err == nil
		}},
		{"role of a binding", func() error {
			rb, err := cs.RbacV1().RoleBindings("api").Get(ctx, "hks:view", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := cs.RbacV1().RoleBindings("api").Delete(ctx, rb.Name, metav1.DeleteOptions{}); err != nil {
				return err
			}
			rb.ObjectMeta = metav1.ObjectMeta{Name: rb.Name, Namespace: rb.Namespace, Labels: rb.Labels}
			rb.RoleRef.Name = "admin"
			_, err = cs.RbacV1().RoleBindings("api").Create(ctx, rb, metav1.CreateOptions{})
			return err
		}, "rolebinding api/hks:view", func() bool {
			rb, err := cs.RbacV1().RoleBindings("api").Get(ctx, "hks:view", metav1.GetOptions{})
			return err == nil && rb.RoleRef.Name == "view"
		}},
		{"binding replaced by one without the label and with another role", func() error {
			if err := cs.RbacV1().RoleBindings("web").Delete(ctx, "hks:admin", metav1.DeleteOptions{}); err != nil {
				return err
			}
			_, err := cs.RbacV1().RoleBindings("web").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "hks:admin"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "oidc:someone@example.com"}}}, metav1.CreateOptions{})
			return err
		}, "rolebinding web/hks:admin", func() bool {
			rb, err := cs.RbacV1().RoleBindings("web").Get(ctx, "hks:admin", metav1.GetOptions{})
			return err == nil && rb.RoleRef.Name == "admin" && rb.Labels[LabelManagedBy] == ManagedByValue
		}},
		{"cluster role rules", func() error {
			cr, err := cs.RbacV1().ClusterRoles().Get(ctx, "hks:namespace-reader", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cr.Rules[0].Verbs = append(cr.Rules[0].Verbs, "delete")
			_, err = cs.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
			return err
		}, "clusterrole hks:namespace-reader", func() bool {
			cr, err := cs.RbacV1().ClusterRoles().Get(ctx, "hks:namespace-reader", metav1.GetOptions{})
			return err == nil && !slices.Contains(cr.Rules[0].Verbs, "delete")
		}},
		{"cluster role binding deleted", func() error {
			return cs.RbacV1().ClusterRoleBindings().Delete(ctx, "hks:workspace-admin", metav1.DeleteOptions{})
		}, "clusterrolebinding hks:workspace-admin", func() bool {
			_, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "hks:workspace-admin", metav1.GetOptions{})
			return err == nil
		}},
		{"pod security label", func() error {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			ns.Labels[LabelPodSecurityEnforce] = PodSecurityRestricted // privileged is refused, even to the platform
			_, err = cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
			return err
		}, "namespace web", func() bool {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
			return err == nil && ns.Labels[LabelPodSecurityEnforce] == PodSecurityBaseline
		}},
		{"pod security version label removed", func() error {
			_, err := cs.CoreV1().Namespaces().Patch(ctx, "api", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"`+LabelPodSecurityWarn+VersionSuffix+`":null}}}`), metav1.PatchOptions{})
			return err
		}, "namespace api", func() bool {
			ns, err := cs.CoreV1().Namespaces().Get(ctx, "api", metav1.GetOptions{})
			return err == nil && ns.Labels[LabelPodSecurityWarn+VersionSuffix] == PodSecurityLatest
		}},
		{"match condition added to a policy", func() error {
			p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyExternalIPs, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Spec.MatchConditions = append(p.Spec.MatchConditions, admissionv1.MatchCondition{Name: "never", Expression: "false"})
			_, err = cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(ctx, p, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "validatingadmissionpolicy " + PolicyExternalIPs, func() bool {
			p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyExternalIPs, metav1.GetOptions{})
			return err == nil && len(p.Spec.MatchConditions) == 0
		}},
		{"namespace selector added to a binding", func() error {
			_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Patch(ctx, PolicyExternalIPs, types.MergePatchType,
				[]byte(`{"spec":{"matchResources":{"namespaceSelector":{"matchLabels":{"nothing":"matches"}}}}}`), metav1.PatchOptions{FieldManager: "kubectl-patch"})
			return err
		}, "validatingadmissionpolicybinding " + PolicyExternalIPs, func() bool {
			b, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Get(ctx, PolicyExternalIPs, metav1.GetOptions{})
			return err == nil && b.Spec.MatchResources == nil
		}},
		{"limit added to a quota", func() error {
			_, err := cs.CoreV1().ResourceQuotas("web").Patch(ctx, "hks-quota", types.MergePatchType,
				[]byte(`{"spec":{"hard":{"count/secrets":"0"}}}`), metav1.PatchOptions{FieldManager: "kubectl-patch"})
			return err
		}, "resourcequota web/hks-quota", func() bool {
			q, err := cs.CoreV1().ResourceQuotas("web").Get(ctx, "hks-quota", metav1.GetOptions{})
			_, extra := q.Spec.Hard["count/secrets"]
			return err == nil && !extra
		}},
		{"subject added to a cluster role binding", func() error {
			b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, ClusterRoleBindingWorkspaceAdmin, metav1.GetOptions{})
			if err != nil {
				return err
			}
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:authenticated"})
			_, err = cs.RbacV1().ClusterRoleBindings().Update(ctx, b, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "clusterrolebinding " + ClusterRoleBindingWorkspaceAdmin, func() bool {
			b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, ClusterRoleBindingWorkspaceAdmin, metav1.GetOptions{})
			return err == nil && len(b.Subjects) == 1
		}},
		{"subject added to a role binding", func() error {
			b, err := cs.RbacV1().RoleBindings("api").Get(ctx, "hks:edit", metav1.GetOptions{})
			if err != nil {
				return err
			}
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:authenticated"})
			_, err = cs.RbacV1().RoleBindings("api").Update(ctx, b, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "rolebinding api/hks:edit", func() bool {
			b, err := cs.RbacV1().RoleBindings("api").Get(ctx, "hks:edit", metav1.GetOptions{})
			return err == nil && len(b.Subjects) == 2
		}},
		{"aggregation rule added to a cluster role", func() error {
			cr, err := cs.RbacV1().ClusterRoles().Get(ctx, ClusterRoleNamespaceReader, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
				{MatchLabels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}}}
			_, err = cs.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "clusterrole " + ClusterRoleNamespaceReader, func() bool {
			cr, err := cs.RbacV1().ClusterRoles().Get(ctx, ClusterRoleNamespaceReader, metav1.GetOptions{})
			return err == nil && cr.AggregationRule == nil
		}},
		{"limit range item added", func() error {
			lr, err := cs.CoreV1().LimitRanges("web").Get(ctx, "hks-defaults", metav1.GetOptions{})
			if err != nil {
				return err
			}
			lr.Spec.Limits = append(lr.Spec.Limits, corev1.LimitRangeItem{Type: corev1.LimitTypePod,
				Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100")}})
			_, err = cs.CoreV1().LimitRanges("web").Update(ctx, lr, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "limitrange web/hks-defaults", func() bool {
			lr, err := cs.CoreV1().LimitRanges("web").Get(ctx, "hks-defaults", metav1.GetOptions{})
			return err == nil && len(lr.Spec.Limits) == 1
		}},
		{"admission policy validation", func() error {
			p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyNodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Spec.Validations[0].Expression = "true"
			_, err = cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(ctx, p, metav1.UpdateOptions{})
			return err
		}, "validatingadmissionpolicy " + PolicyNodeName, func() bool {
			p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyNodeName, metav1.GetOptions{})
			return err == nil && p.Spec.Validations[0].Expression != "true"
		}},
		{"admission policy binding deleted", func() error {
			return cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, PolicyExternalIPs, metav1.DeleteOptions{})
		}, "validatingadmissionpolicybinding " + PolicyExternalIPs, func() bool {
			_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Get(ctx, PolicyExternalIPs, metav1.GetOptions{})
			return err == nil
		}},
	} {
		t.Run("repair "+tc.name, func(t *testing.T) {
			if err := tc.tamper(); err != nil {
				t.Fatal(err)
			}
			ch, err := Apply(ctx, cs, desired)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ch.Applied, []string{tc.what}) || len(ch.Pruned) != 0 {
				t.Fatalf("changes %+v, want applied %q", ch, tc.what)
			}
			if !tc.check() {
				t.Fatalf("%s not repaired", tc.what)
			}
		})
	}

	// An unmanaged RoleBinding is left alone.
	mine := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "web"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "oidc:someone@example.com"}},
	}
	_, err = cs.RbacV1().RoleBindings("web").Create(ctx, mine, metav1.CreateOptions{})
	must(err)

	// Removing a project prunes its namespace (deleted or terminating:
	// this cluster runs no namespace controller).
	must(st.DeleteProject(ctx, api.ID))
	must(r.ReconcileNow(ctx, ws.ID))
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, "api", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Fatal("namespace api not deleted")
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}

	// Run repairs a deleted RoleBinding within seconds, from its watch
	// alone (the resync is an hour).
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testutil.WaitFor(t, 20*time.Second, "workspace watched", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.watches[ws.ID] != nil
	})
	time.Sleep(time.Second) // let the watches connect
	must(cs.RbacV1().RoleBindings("web").Delete(ctx, "hks:edit", metav1.DeleteOptions{}))
	testutil.WaitFor(t, 10*time.Second, "rolebinding web/hks:edit repaired", func() bool {
		_, err := cs.RbacV1().RoleBindings("web").Get(ctx, "hks:edit", metav1.GetOptions{})
		return err == nil
	})
	// So is a deleted admission policy binding.
	must(cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, PolicyNodeName, metav1.DeleteOptions{}))
	testutil.WaitFor(t, 10*time.Second, "validatingadmissionpolicybinding "+PolicyNodeName+" repaired", func() bool {
		_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Get(ctx, PolicyNodeName, metav1.GetOptions{})
		return err == nil
	})
	// Tampered subjects are repaired too.
	rb, err := cs.RbacV1().RoleBindings("web").Get(ctx, "hks:view", metav1.GetOptions{})
	must(err)
	rb.Subjects = append(rb.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "oidc:mallory@example.com"})
	_, err = cs.RbacV1().RoleBindings("web").Update(ctx, rb, metav1.UpdateOptions{})
	must(err)
	testutil.WaitFor(t, 10*time.Second, "rolebinding web/hks:view subjects repaired", func() bool {
		rb, err := cs.RbacV1().RoleBindings("web").Get(ctx, "hks:view", metav1.GetOptions{})
		return err == nil && len(rb.Subjects) == 2
	})
	// And so is a match condition added to a policy: the watch sees the
	// change, the update removes it.
	p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyNodeName, metav1.GetOptions{})
	must(err)
	p.Spec.MatchConditions = append(p.Spec.MatchConditions, admissionv1.MatchCondition{Name: "never", Expression: "false"})
	_, err = cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(ctx, p, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
	must(err)
	testutil.WaitFor(t, 10*time.Second, "validatingadmissionpolicy "+PolicyNodeName+" match conditions repaired", func() bool {
		p, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, PolicyNodeName, metav1.GetOptions{})
		return err == nil && len(p.Spec.MatchConditions) == 0
	})
	if _, err := cs.RbacV1().RoleBindings("web").Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Fatalf("unmanaged rolebinding: %v", err)
	}
}

// TestEventTriggers: project events queue their workspace; a workspace
// that stops running is forgotten.
func TestEventTriggers(t *testing.T) {
	r, err := NewReconciler(ReconcilerConfig{Store: &sqlstore.Store{}, Provider: configProvider{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.queue.ShutDown()
	forgotten := false
	r.watches["ws-3"] = func() { forgotten = true }
	for _, ev := range []events.Event{
		{Type: "project.created", ResourceID: "p-1", Data: json.RawMessage(`{"workspace_id":"ws-1"}`)},
		{Type: "project.deleted", ResourceID: "p-2", Data: json.RawMessage(`{"workspace_id":"ws-1"}`)},
		{Type: "workspace.status", ResourceID: "ws-2", Data: json.RawMessage(`{"status":"running"}`)},
		{Type: "workspace.status", ResourceID: "ws-4", Data: json.RawMessage(`{"status":"provisioning"}`)},
		{Type: "workspace.status", ResourceID: "ws-3", Data: json.RawMessage(`{"status":"deleting"}`)},
	} {
		r.handle(ev)
	}
	if n := r.queue.Len(); n != 2 {
		t.Fatalf("queued %d workspaces, want 2 (ws-1 coalesced, ws-2)", n)
	}
	if !forgotten || r.watches["ws-3"] != nil {
		t.Fatal("ws-3 still watched")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
