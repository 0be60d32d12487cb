package controlplane

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
)

// kinds is the table of the kinds the reconciler manages, in the order
// Apply brings them to the desired state: namespaces first, so that what
// lives in a pruned or terminating namespace is left to its deletion.
var kinds = []managedKind{
	kind[*corev1.Namespace]{
		name: "namespace", namespaces: true,
		desired: func(s State) []*corev1.Namespace { return s.Namespaces },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*corev1.Namespace, error) {
			return itemsOf[*corev1.Namespace](cs.CoreV1().Namespaces().List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc { return cs.CoreV1().Namespaces().Watch },
		managed: func(*corev1.Namespace) any { return nil },
		set:     func(*corev1.Namespace, *corev1.Namespace) {},
		update: func(ctx context.Context, cs kubernetes.Interface, o *corev1.Namespace) error {
			_, err := cs.CoreV1().Namespaces().Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *corev1.Namespace) error {
			_, err := cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(o.Name).WithLabels(o.Labels), applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *corev1.Namespace) error {
			return cs.CoreV1().Namespaces().Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	// Admission policies before their bindings, so that a binding never
	// names a policy still to come.
	kind[*admissionv1.ValidatingAdmissionPolicy]{
		name:    "validatingadmissionpolicy",
		desired: func(s State) []*admissionv1.ValidatingAdmissionPolicy { return s.AdmissionPolicies },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*admissionv1.ValidatingAdmissionPolicy, error) {
			return itemsOf[*admissionv1.ValidatingAdmissionPolicy](cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc {
			return cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Watch
		},
		managed: func(o *admissionv1.ValidatingAdmissionPolicy) any { return o.Spec },
		set:     func(dst, src *admissionv1.ValidatingAdmissionPolicy) { dst.Spec = src.Spec },
		update: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicy) error {
			_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicy) error {
			return applyJSON(o, func(b []byte) error {
				_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Patch(ctx, o.Name, types.ApplyPatchType, b, patchOpts)
				return err
			})
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicy) error {
			return cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*admissionv1.ValidatingAdmissionPolicyBinding]{
		name:    "validatingadmissionpolicybinding",
		desired: func(s State) []*admissionv1.ValidatingAdmissionPolicyBinding { return s.AdmissionPolicyBindings },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*admissionv1.ValidatingAdmissionPolicyBinding, error) {
			return itemsOf[*admissionv1.ValidatingAdmissionPolicyBinding](cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc {
			return cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Watch
		},
		managed: func(o *admissionv1.ValidatingAdmissionPolicyBinding) any { return o.Spec },
		set:     func(dst, src *admissionv1.ValidatingAdmissionPolicyBinding) { dst.Spec = src.Spec },
		update: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicyBinding) error {
			_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicyBinding) error {
			return applyJSON(o, func(b []byte) error {
				_, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Patch(ctx, o.Name, types.ApplyPatchType, b, patchOpts)
				return err
			})
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *admissionv1.ValidatingAdmissionPolicyBinding) error {
			return cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*corev1.ResourceQuota]{
		name:    "resourcequota",
		desired: func(s State) []*corev1.ResourceQuota { return s.ResourceQuotas },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*corev1.ResourceQuota, error) {
			return itemsOf[*corev1.ResourceQuota](cs.CoreV1().ResourceQuotas("").List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc { return cs.CoreV1().ResourceQuotas("").Watch },
		managed: func(o *corev1.ResourceQuota) any { return o.Spec },
		set:     func(dst, src *corev1.ResourceQuota) { dst.Spec = src.Spec },
		update: func(ctx context.Context, cs kubernetes.Interface, o *corev1.ResourceQuota) error {
			_, err := cs.CoreV1().ResourceQuotas(o.Namespace).Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *corev1.ResourceQuota) error {
			ac := corev1ac.ResourceQuota(o.Name, o.Namespace).WithLabels(o.Labels).
				WithSpec(corev1ac.ResourceQuotaSpec().WithHard(o.Spec.Hard))
			_, err := cs.CoreV1().ResourceQuotas(o.Namespace).Apply(ctx, ac, applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *corev1.ResourceQuota) error {
			return cs.CoreV1().ResourceQuotas(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*corev1.LimitRange]{
		name:    "limitrange",
		desired: func(s State) []*corev1.LimitRange { return s.LimitRanges },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*corev1.LimitRange, error) {
			return itemsOf[*corev1.LimitRange](cs.CoreV1().LimitRanges("").List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc { return cs.CoreV1().LimitRanges("").Watch },
		managed: func(o *corev1.LimitRange) any { return o.Spec },
		set:     func(dst, src *corev1.LimitRange) { dst.Spec = src.Spec },
		update: func(ctx context.Context, cs kubernetes.Interface, o *corev1.LimitRange) error {
			_, err := cs.CoreV1().LimitRanges(o.Namespace).Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *corev1.LimitRange) error {
			spec := corev1ac.LimitRangeSpec()
			for _, l := range o.Spec.Limits {
				item := corev1ac.LimitRangeItem().WithType(l.Type)
				if len(l.Default) > 0 {
					item.WithDefault(l.Default)
				}
				if len(l.DefaultRequest) > 0 {
					item.WithDefaultRequest(l.DefaultRequest)
				}
				spec.WithLimits(item)
			}
			ac := corev1ac.LimitRange(o.Name, o.Namespace).WithLabels(o.Labels).WithSpec(spec)
			_, err := cs.CoreV1().LimitRanges(o.Namespace).Apply(ctx, ac, applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *corev1.LimitRange) error {
			return cs.CoreV1().LimitRanges(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*rbacv1.RoleBinding]{
		name:    "rolebinding",
		desired: func(s State) []*rbacv1.RoleBinding { return s.RoleBindings },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*rbacv1.RoleBinding, error) {
			return itemsOf[*rbacv1.RoleBinding](cs.RbacV1().RoleBindings("").List(ctx, o))
		},
		watchFn:   func(cs kubernetes.Interface) watchFunc { return cs.RbacV1().RoleBindings("").Watch },
		managed:   func(o *rbacv1.RoleBinding) any { return []any{o.RoleRef, o.Subjects} },
		immutable: func(h, o *rbacv1.RoleBinding) bool { return h.RoleRef != o.RoleRef },
		get: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.RoleBinding) (*rbacv1.RoleBinding, error) {
			return cs.RbacV1().RoleBindings(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		},
		set: func(dst, src *rbacv1.RoleBinding) { dst.Subjects = src.Subjects },
		update: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.RoleBinding) error {
			_, err := cs.RbacV1().RoleBindings(o.Namespace).Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.RoleBinding) error {
			ac := rbacv1ac.RoleBinding(o.Name, o.Namespace).WithLabels(o.Labels).
				WithRoleRef(roleRefAC(o.RoleRef)).WithSubjects(subjectsAC(o.Subjects)...)
			_, err := cs.RbacV1().RoleBindings(o.Namespace).Apply(ctx, ac, applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.RoleBinding) error {
			return cs.RbacV1().RoleBindings(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*rbacv1.ClusterRole]{
		name:    "clusterrole",
		desired: func(s State) []*rbacv1.ClusterRole { return s.ClusterRoles },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*rbacv1.ClusterRole, error) {
			return itemsOf[*rbacv1.ClusterRole](cs.RbacV1().ClusterRoles().List(ctx, o))
		},
		watchFn: func(cs kubernetes.Interface) watchFunc { return cs.RbacV1().ClusterRoles().Watch },
		// An aggregation rule would make the controller manager rewrite
		// the rules.
		managed: func(o *rbacv1.ClusterRole) any { return []any{o.Rules, o.AggregationRule} },
		set: func(dst, src *rbacv1.ClusterRole) {
			dst.Rules, dst.AggregationRule = src.Rules, src.AggregationRule
		},
		update: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRole) error {
			_, err := cs.RbacV1().ClusterRoles().Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRole) error {
			ac := rbacv1ac.ClusterRole(o.Name).WithLabels(o.Labels)
			for _, rule := range o.Rules {
				ac.WithRules(rbacv1ac.PolicyRule().WithAPIGroups(rule.APIGroups...).WithResources(rule.Resources...).
					WithResourceNames(rule.ResourceNames...).WithNonResourceURLs(rule.NonResourceURLs...).WithVerbs(rule.Verbs...))
			}
			_, err := cs.RbacV1().ClusterRoles().Apply(ctx, ac, applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRole) error {
			return cs.RbacV1().ClusterRoles().Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
	kind[*rbacv1.ClusterRoleBinding]{
		name:    "clusterrolebinding",
		desired: func(s State) []*rbacv1.ClusterRoleBinding { return s.ClusterRoleBindings },
		list: func(ctx context.Context, cs kubernetes.Interface, o metav1.ListOptions) ([]*rbacv1.ClusterRoleBinding, error) {
			return itemsOf[*rbacv1.ClusterRoleBinding](cs.RbacV1().ClusterRoleBindings().List(ctx, o))
		},
		watchFn:   func(cs kubernetes.Interface) watchFunc { return cs.RbacV1().ClusterRoleBindings().Watch },
		managed:   func(o *rbacv1.ClusterRoleBinding) any { return []any{o.RoleRef, o.Subjects} },
		immutable: func(h, o *rbacv1.ClusterRoleBinding) bool { return h.RoleRef != o.RoleRef },
		get: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRoleBinding) (*rbacv1.ClusterRoleBinding, error) {
			return cs.RbacV1().ClusterRoleBindings().Get(ctx, o.Name, metav1.GetOptions{})
		},
		set: func(dst, src *rbacv1.ClusterRoleBinding) { dst.Subjects = src.Subjects },
		update: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRoleBinding) error {
			_, err := cs.RbacV1().ClusterRoleBindings().Update(ctx, o, updateOpts)
			return err
		},
		apply: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRoleBinding) error {
			ac := rbacv1ac.ClusterRoleBinding(o.Name).WithLabels(o.Labels).
				WithRoleRef(roleRefAC(o.RoleRef)).WithSubjects(subjectsAC(o.Subjects)...)
			_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, ac, applyOpts)
			return err
		},
		delete: func(ctx context.Context, cs kubernetes.Interface, o *rbacv1.ClusterRoleBinding) error {
			return cs.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
		},
	},
}

// updateOpts are the options of the updates that replace a drifted
// object.
var updateOpts = metav1.UpdateOptions{FieldManager: FieldManager}

// patchOpts are applyOpts for a server-side apply sent as a patch.
var patchOpts = metav1.PatchOptions{FieldManager: FieldManager, Force: &applyOpts.Force}

// applyJSON sends o, whole, as a server-side apply body: for kinds whose
// apply configurations would spell out every nested field by hand. o
// must carry its TypeMeta.
func applyJSON(o any, send func([]byte) error) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return send(b)
}

// itemsOf returns the items of a typed list as T, or err.
func itemsOf[T metav1.Object](l runtime.Object, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	objs, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		t, ok := o.(T)
		if !ok {
			return nil, fmt.Errorf("list item %T is not %T", o, t)
		}
		out = append(out, t)
	}
	return out, nil
}

func roleRefAC(r rbacv1.RoleRef) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(r.APIGroup).WithKind(r.Kind).WithName(r.Name)
}

func subjectsAC(ss []rbacv1.Subject) []*rbacv1ac.SubjectApplyConfiguration {
	out := make([]*rbacv1ac.SubjectApplyConfiguration, 0, len(ss))
	for _, s := range ss {
		ac := rbacv1ac.Subject().WithKind(s.Kind).WithName(s.Name)
		if s.APIGroup != "" {
			ac.WithAPIGroup(s.APIGroup)
		}
		if s.Namespace != "" {
			ac.WithNamespace(s.Namespace)
		}
		out = append(out, ac)
	}
	return out
}
