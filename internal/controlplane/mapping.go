package controlplane

import (
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Labels and names of the objects the platform manages in a workspace
// cluster. Only objects labelled LabelManagedBy=ManagedByValue are ever
// pruned.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "hks"
	// LabelProjectID is the id of the project a namespace mirrors.
	LabelProjectID = "hks.io/project-id"
	// LabelParent is the name of the parent project (namespace) of a
	// child project's namespace.
	LabelParent = "hks.io/parent"

	// QuotaName and LimitRangeName name the per-namespace quota objects.
	QuotaName      = "hks-quota"
	LimitRangeName = "hks-defaults"

	// ClusterRoleBindingWorkspaceAdmin binds cluster-admin to the
	// workspace-admin marker group.
	ClusterRoleBindingWorkspaceAdmin = "hks:workspace-admin"
	// ClusterRoleNamespaceReader lets workspace-wide developers and viewers
	// list namespaces (kubectl get ns); bound by a ClusterRoleBinding of the
	// same name.
	ClusterRoleNamespaceReader = "hks:namespace-reader"
)

// Container defaults a project's LimitRange sets, each capped at the
// project's quota for that resource.
var (
	DefaultCPURequest    = resource.MustParse("100m")
	DefaultCPULimit      = resource.MustParse("500m")
	DefaultMemoryRequest = resource.MustParse("128Mi")
	DefaultMemoryLimit   = resource.MustParse("512Mi")
)

// ProjectRoleBinding is one RoleBinding the mapping puts in every project
// namespace: the built-in ClusterRole it binds and the authz level it
// grants.
type ProjectRoleBinding struct {
	// Name of the RoleBinding ("hks:edit").
	Name string
	// ClusterRole is the built-in aggregated role bound (admin, edit, view).
	ClusterRole string
	// Level is the authz level whose marker groups are bound.
	Level authz.Level
	// WorkspaceWide: the workspace-wide marker of Level is bound too (for
	// Admin it is not: workspace-admins hold cluster-admin instead).
	WorkspaceWide bool
}

// ProjectRoleBindings is the RBAC decision of the platform, next to the
// issuer's marker groups: workspace-admin → cluster-admin in the whole
// cluster; in each project namespace, a project-level workspace-admin →
// admin, developer → edit, viewer → view, where "developer" and "viewer"
// are both the workspace-wide markers (hks:developer) and the project's
// markers (hks:developer:<project>).
var ProjectRoleBindings = []ProjectRoleBinding{
	{Name: "hks:admin", ClusterRole: "admin", Level: authz.Admin},
	{Name: "hks:edit", ClusterRole: "edit", Level: authz.Develop, WorkspaceWide: true},
	{Name: "hks:view", ClusterRole: "view", Level: authz.View, WorkspaceWide: true},
}

// Tenancy is what of a workspace is mirrored into its cluster.
type Tenancy struct {
	Workspace store.Workspace
	// Projects must be every project of the workspace.
	Projects []store.Project
}

// State is the desired state of the platform-managed objects of a
// workspace cluster. Every object carries LabelManagedBy=ManagedByValue.
type State struct {
	Namespaces          []*corev1.Namespace
	ResourceQuotas      []*corev1.ResourceQuota
	LimitRanges         []*corev1.LimitRange
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	ClusterRoles        []*rbacv1.ClusterRole
	// AdmissionPolicies and AdmissionPolicyBindings are the workspace
	// plan's admission policies (policy.go).
	AdmissionPolicies       []*admissionv1.ValidatingAdmissionPolicy
	AdmissionPolicyBindings []*admissionv1.ValidatingAdmissionPolicyBinding
}

// Desired maps a workspace's tenancy onto the objects of its cluster. It
// is the one mapping both the API (through issuer.WorkspaceGroups, whose
// marker names it binds) and the reconciler rely on.
//
//   - Each project is a namespace of the same name, labelled with its
//     project id and, for a child project, LabelParent = the parent's name.
//     Kubernetes has no nested namespaces or quotas: a child's quota is its
//     own and does not count against its parent's.
//   - A project's quota becomes ResourceQuota QuotaName: CPU bounds both
//     requests.cpu and limits.cpu, Memory both requests.memory and
//     limits.memory, Storage requests.storage (PVC requests) and Pods pods.
//     Unlimited fields are left out; a project without any limit gets no
//     ResourceQuota.
//   - If CPU or Memory is limited, LimitRange LimitRangeName gives
//     containers default requests and limits for that resource
//     (DefaultCPURequest/Limit, DefaultMemoryRequest/Limit, each capped at
//     the quota), so pods that declare no resources are still admitted
//     under the quota.
//   - RBAC: ClusterRoleBinding ClusterRoleBindingWorkspaceAdmin binds
//     cluster-admin to group "oidc:hks:workspace-admin"; each namespace
//     gets the RoleBindings of ProjectRoleBindings; ClusterRole
//     ClusterRoleNamespaceReader (get/list/watch namespaces) is bound to the
//     workspace-wide developer and viewer markers so that kubectl get ns
//     works for them. Users with only project roles can get their own
//     namespaces (the built-in roles allow it) but not list all of them.
//   - Pod security: each namespace carries the Pod Security labels of its
//     project's level (podSecurityLabels: enforce baseline or restricted,
//     warn and audit restricted), and the cluster gets the admission
//     policies of the workspace's plan (admissionPolicies, Plans).
//
// Users and groups are not mirrored: a user's roles reach the cluster as
// marker groups in their workspace token (issuer.WorkspaceGroups). So a
// change of group membership, role bindings or org role takes effect with
// the user's next workspace token, at most the token's lifetime (10
// minutes) later; only project changes need the cluster to be reconciled.
//
// Desired refuses project names that are not DNS-1123 labels, reserved
// namespace names, duplicate names and quotas that are not quantities.
func Desired(t Tenancy) (State, error) {
	var st State
	byID := make(map[string]store.Project, len(t.Projects))
	for _, p := range t.Projects {
		byID[p.ID] = p
	}
	seen := make(map[string]bool, len(t.Projects))
	var errs []error
	for _, p := range t.Projects {
		if err := checkNamespaceName(p.Name); err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.ID, err))
			continue
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("project %s: duplicate name %q", p.ID, p.Name))
			continue
		}
		seen[p.Name] = true
		labels, err := podSecurityLabels(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.ID, err))
			continue
		}
		labels[LabelManagedBy], labels[LabelProjectID] = ManagedByValue, p.ID
		if p.ParentID != "" {
			parent, ok := byID[p.ParentID]
			if !ok {
				errs = append(errs, fmt.Errorf("project %s: parent %s is not a project of the workspace", p.ID, p.ParentID))
				continue
			}
			labels[LabelParent] = parent.Name
		}
		st.Namespaces = append(st.Namespaces, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: labels},
		})
		rq, lr, err := quotaObjects(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.ID, err))
			continue
		}
		if rq != nil {
			st.ResourceQuotas = append(st.ResourceQuotas, rq)
		}
		if lr != nil {
			st.LimitRanges = append(st.LimitRanges, lr)
		}
		for _, b := range ProjectRoleBindings {
			var subjects []rbacv1.Subject
			if b.WorkspaceWide {
				subjects = append(subjects, groupSubject(issuer.GroupPrefix+b.Level.String()))
			}
			subjects = append(subjects, groupSubject(issuer.ProjectGroup(b.Level, p.Name)))
			st.RoleBindings = append(st.RoleBindings, &rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: b.Name, Namespace: p.Name, Labels: managedLabels()},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.ClusterRole},
				Subjects:   subjects,
			})
		}
	}
	policies, bindings, err := admissionPolicies(t.Workspace.Plan)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return State{}, fmt.Errorf("workspace %s: %w", t.Workspace.ID, err)
	}
	st.AdmissionPolicies, st.AdmissionPolicyBindings = policies, bindings
	st.ClusterRoles = []*rbacv1.ClusterRole{{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleNamespaceReader, Labels: managedLabels()},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"},
		}},
	}}
	st.ClusterRoleBindings = []*rbacv1.ClusterRoleBinding{
		{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBindingWorkspaceAdmin, Labels: managedLabels()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{groupSubject(issuer.GroupWorkspaceAdmin)},
		},
		{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleNamespaceReader, Labels: managedLabels()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleNamespaceReader},
			Subjects:   []rbacv1.Subject{groupSubject(issuer.GroupDeveloper), groupSubject(issuer.GroupViewer)},
		},
	}
	return st, nil
}

func managedLabels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue}
}

// groupSubject is the RBAC subject of a marker group as the workspace API
// server sees it (with GroupsPrefix).
func groupSubject(marker string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: GroupsPrefix + marker}
}

// checkNamespaceName refuses names that are not DNS-1123 labels or that
// belong to Kubernetes itself.
func checkNamespaceName(name string) error {
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("name %q is not a valid namespace name: %s", name, strings.Join(msgs, "; "))
	}
	if name == "default" || strings.HasPrefix(name, "kube-") {
		return fmt.Errorf("name %q is reserved", name)
	}
	return nil
}

// quotaObjects returns the ResourceQuota and LimitRange of a project, nil
// where the quota sets no limit.
func quotaObjects(p store.Project) (*corev1.ResourceQuota, *corev1.LimitRange, error) {
	q := p.Quota
	if q.Pods < 0 {
		return nil, nil, fmt.Errorf("quota pods %d is negative", q.Pods)
	}
	parse := func(field, s string) (*resource.Quantity, error) {
		if s == "" {
			return nil, nil
		}
		v, err := resource.ParseQuantity(s)
		if err != nil {
			return nil, fmt.Errorf("quota %s %q: %w", field, s, err)
		}
		if v.Sign() < 0 {
			return nil, fmt.Errorf("quota %s %q is negative", field, s)
		}
		return &v, nil
	}
	cpu, err := parse("cpu", q.CPU)
	if err != nil {
		return nil, nil, err
	}
	mem, err := parse("memory", q.Memory)
	if err != nil {
		return nil, nil, err
	}
	storage, err := parse("storage", q.Storage)
	if err != nil {
		return nil, nil, err
	}
	hard := corev1.ResourceList{}
	if cpu != nil {
		hard[corev1.ResourceRequestsCPU] = *cpu
		hard[corev1.ResourceLimitsCPU] = *cpu
	}
	if mem != nil {
		hard[corev1.ResourceRequestsMemory] = *mem
		hard[corev1.ResourceLimitsMemory] = *mem
	}
	if storage != nil {
		hard[corev1.ResourceRequestsStorage] = *storage
	}
	if q.Pods > 0 {
		hard[corev1.ResourcePods] = *resource.NewQuantity(int64(q.Pods), resource.DecimalSI)
	}
	if len(hard) == 0 {
		return nil, nil, nil
	}
	rq := &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: p.Name, Labels: managedLabels()},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
	def, defReq := corev1.ResourceList{}, corev1.ResourceList{}
	if cpu != nil && !cpu.IsZero() {
		def[corev1.ResourceCPU] = minQuantity(DefaultCPULimit, *cpu)
		defReq[corev1.ResourceCPU] = minQuantity(DefaultCPURequest, *cpu)
	}
	if mem != nil && !mem.IsZero() {
		def[corev1.ResourceMemory] = minQuantity(DefaultMemoryLimit, *mem)
		defReq[corev1.ResourceMemory] = minQuantity(DefaultMemoryRequest, *mem)
	}
	if len(def) == 0 {
		return rq, nil, nil
	}
	lr := &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: metav1.ObjectMeta{Name: LimitRangeName, Namespace: p.Name, Labels: managedLabels()},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        def,
			DefaultRequest: defReq,
		}}},
	}
	return rq, lr, nil
}

func minQuantity(a, b resource.Quantity) resource.Quantity {
	if a.Cmp(b) <= 0 {
		return a.DeepCopy()
	}
	return b.DeepCopy()
}
