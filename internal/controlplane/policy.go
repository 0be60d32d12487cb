package controlplane

import (
	"fmt"
	"slices"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// What a tenant may do inside a workspace cluster beyond RBAC: Pod
// Security Admission levels on every namespace, and ValidatingAdmission-
// Policies for what Pod Security does not cover. docs/security.md, "Inside
// a workspace", describes every control.

// PlatformUsername is the user the platform's own client certificate
// names (CN; its organization is system:masters). It is the only user the
// namespace-label policy exempts.
const PlatformUsername = "hks:platform"

// MaxServiceAccountTokenLifetime is the longest lifetime of a service
// account token a workspace API server issues (TokenRequest, kubectl
// create token): a longer request is shortened to it.
const MaxServiceAccountTokenLifetime = 24 * time.Hour

// Pod Security Admission namespace labels and the levels hks uses.
const (
	LabelPodSecurityEnforce = "pod-security.kubernetes.io/enforce"
	LabelPodSecurityWarn    = "pod-security.kubernetes.io/warn"
	LabelPodSecurityAudit   = "pod-security.kubernetes.io/audit"
	// PodSecurityLabelPrefix is the prefix of every Pod Security label
	// (the levels and their -version labels).
	PodSecurityLabelPrefix = "pod-security.kubernetes.io/"
	// VersionSuffix makes the version label of a level label
	// (pod-security.kubernetes.io/enforce-version).
	VersionSuffix = "-version"
	// PodSecurityLatest is the only version hks sets: the checks of the
	// API server's own release.
	PodSecurityLatest = "latest"

	// LabelDeviceAdminAccess lets ResourceClaims of a namespace ask for
	// admin access to devices (DRA, Kubernetes 1.35): nobody sets it in a
	// workspace (PolicyDeviceAdminAccess).
	LabelDeviceAdminAccess = "resource.kubernetes.io/admin-access"

	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// PodSecurityDefaults is the PodSecurity admission plugin's configuration
// (pod-security.admission.config.k8s.io/v1 PodSecurityConfiguration) of
// every workspace API server: namespaces without labels of their own
// (default, kube-system, those a workspace-admin creates) are enforced at
// baseline, with warnings and audit annotations at restricted, like a
// project's namespace. Nothing is exempt: no process of a workspace
// creates pods that baseline refuses.
func PodSecurityDefaults() map[string]any {
	return map[string]any{
		"apiVersion": "pod-security.admission.config.k8s.io/v1",
		"kind":       "PodSecurityConfiguration",
		"defaults": map[string]string{
			"enforce": PodSecurityBaseline, "enforce-version": "latest",
			"warn": PodSecurityRestricted, "warn-version": "latest",
			"audit": PodSecurityRestricted, "audit-version": "latest",
		},
		"exemptions": map[string][]string{"usernames": {}, "runtimeClasses": {}, "namespaces": {}},
	}
}

// podSecurityLabels are the Pod Security labels of a project's namespace:
// enforce at the project's level (store.PodSecurityBaseline when unset),
// warn and audit at restricted, each at version latest.
func podSecurityLabels(p store.Project) (map[string]string, error) {
	level := p.PodSecurity
	switch level {
	case "":
		level = PodSecurityBaseline
	case PodSecurityBaseline, PodSecurityRestricted:
	default:
		return nil, fmt.Errorf("pod security level %q is not baseline or restricted", level)
	}
	return map[string]string{
		LabelPodSecurityEnforce:                 level,
		LabelPodSecurityEnforce + VersionSuffix: PodSecurityLatest,
		LabelPodSecurityWarn:                    PodSecurityRestricted,
		LabelPodSecurityWarn + VersionSuffix:    PodSecurityLatest,
		LabelPodSecurityAudit:                   PodSecurityRestricted,
		LabelPodSecurityAudit + VersionSuffix:   PodSecurityLatest,
	}, nil
}

// platformLabel reports the namespace labels only the platform decides:
// the Pod Security labels and LabelDeviceAdminAccess. On a managed
// namespace, such a label that Desired does not set is drift, removed by
// Apply.
func platformLabel(k string) bool {
	return strings.HasPrefix(k, PodSecurityLabelPrefix) || k == LabelDeviceAdminAccess
}

// levelLabels are the Pod Security level labels.
var levelLabels = []string{LabelPodSecurityEnforce, LabelPodSecurityWarn, LabelPodSecurityAudit}

// disallowedLabels are the keys of labels that no namespace of a
// workspace may carry, the ones PolicyPodSecurityLevels and
// PolicyDeviceAdminAccess refuse to set: LabelDeviceAdminAccess, and a
// Pod Security label that is not a level label at baseline or restricted
// or a version label at latest. Apply removes them from every namespace.
func disallowedLabels(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		switch {
		case k == LabelDeviceAdminAccess:
		case !strings.HasPrefix(k, PodSecurityLabelPrefix):
			continue
		case slices.Contains(levelLabels, k):
			if v == PodSecurityBaseline || v == PodSecurityRestricted {
				continue
			}
		case strings.HasSuffix(k, VersionSuffix) && slices.Contains(levelLabels, strings.TrimSuffix(k, VersionSuffix)):
			if v == PodSecurityLatest {
				continue
			}
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// PlanRules is what a workspace plan lets its tenants do that admission
// policies otherwise refuse.
type PlanRules struct {
	// NodePorts: Services of type NodePort and LoadBalancer are allowed.
	// They open a port on every node; on the shared plan those nodes are
	// other tenants' too.
	NodePorts bool
	// NodeName: pods may be created with spec.nodeName set, bypassing the
	// scheduler and the plan's node steering (the dedicated plan's node
	// selector and toleration only constrain scheduling). No plan allows
	// it.
	NodeName bool
}

// Plans is the table of plan rules. A plan missing from it is refused by
// Desired.
var Plans = map[string]PlanRules{
	PlanShared:    {NodePorts: false, NodeName: false},
	PlanDedicated: {NodePorts: true, NodeName: false},
}

// Names of the admission policies (each bound by a binding of the same
// name).
const (
	PolicyExternalIPs          = "hks-no-external-ips"
	PolicyNodePorts            = "hks-no-node-ports"
	PolicyServiceAccountTokens = "hks-no-legacy-service-account-tokens"
	PolicyNodeName             = "hks-no-node-name"
	PolicyPodSecurityLabels    = "hks-pod-security-labels"

	PolicyPodSecurityLevels         = "hks-pod-security-levels"
	PolicyServiceAccountTokenChains = "hks-no-service-account-token-chains"
	PolicyDeviceAdminAccess         = "hks-no-device-admin-access"
	PolicyPodSecurityFloor          = "hks-pod-security-floor"
)

// admissionPolicies are the ValidatingAdmissionPolicies and their
// bindings (validationActions Deny, whole cluster) of a workspace of plan:
//
//   - PolicyExternalIPs: no Service may set spec.externalIPs, whoever
//     creates or updates it (CVE-2020-8554: externalIPs intercept traffic
//     to any address, in every namespace).
//   - PolicyNodePorts, unless the plan's NodePorts: no Service of type
//     NodePort or LoadBalancer.
//   - PolicyServiceAccountTokens: no Secret of type
//     kubernetes.io/service-account-token is created: such a token never
//     expires; kubectl create token (TokenRequest) gives a bounded one.
//   - PolicyNodeName, unless the plan's NodeName: no pod is created with
//     spec.nodeName; the scheduler binds pods (pods/binding), so nothing
//     in a workspace needs it. The pod templates of Deployments,
//     ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs are held
//     to it on create and update, so the controller is refused with the
//     message rather than its pods silently.
//   - PolicyPodSecurityLabels: nobody but PlatformUsername sets, changes
//     or removes a pod-security.kubernetes.io/ label of a namespace, so a
//     workspace-admin cannot make a namespace privileged or lower a
//     restricted project to baseline.
//   - PolicyPodSecurityLevels, with no exemption: a Pod Security label
//     that is set or changed is a level label (enforce, warn, audit) at
//     baseline or restricted or a version label at latest; any other
//     pod-security.kubernetes.io/ label is refused. A cluster-admin can
//     impersonate PlatformUsername, and CEL cannot tell; this policy
//     makes sure that no identity makes a namespace privileged.
//   - PolicyDeviceAdminAccess, with no exemption: nobody sets or changes
//     LabelDeviceAdminAccess on a namespace.
//   - PolicyPodSecurityFloor, with no exemption: no pod is created, and
//     none has its spec changed (ephemeral containers included), nor is
//     a workload's pod template created or changed, in a namespace whose
//     labels the namespace policies would refuse (floorViolation): a
//     label that landed while those policies were deleted (a
//     workspace-admin can delete them; the reconciler restores them and
//     removes the label, within seconds) admits no pod meanwhile.
//   - PolicyServiceAccountTokenChains: no service account requests a
//     token (serviceaccounts/token), so a token cannot mint the next one
//     and outlive the member who requested the first. Kubelets
//     (system:node:*) and kube-controller-manager request tokens as
//     themselves.
//
// The namespace policies match the namespaces/status and
// namespaces/finalize subresources too: an update through either
// changes a namespace's labels as well. A label that is already there
// and stays unchanged passes PolicyPodSecurityLevels and
// PolicyDeviceAdminAccess only while the namespace is being deleted, so
// that such a namespace is not stuck (the namespace controller
// finalizes through namespaces/finalize) and is otherwise not kept
// alive by updates that carry the label along.
//
// Admission policies do not apply to admissionregistration.k8s.io objects
// themselves: a workspace-admin (cluster-admin) can delete them, and the
// reconciler, which watches them, restores them.
func admissionPolicies(plan string) ([]*admissionv1.ValidatingAdmissionPolicy, []*admissionv1.ValidatingAdmissionPolicyBinding, error) {
	rules, ok := Plans[plan]
	if !ok {
		return nil, nil, fmt.Errorf("unknown plan %q", plan)
	}
	create := []admissionv1.OperationType{admissionv1.Create}
	createUpdate := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}
	var policies []*admissionv1.ValidatingAdmissionPolicy
	policies = append(policies, policy(PolicyExternalIPs, createUpdate, "services", nil, admissionv1.Validation{
		Expression: "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
		Message:    "spec.externalIPs is not allowed in this workspace: external IPs let a Service intercept traffic to any address (CVE-2020-8554)",
	}))
	if !rules.NodePorts {
		policies = append(policies, policy(PolicyNodePorts, createUpdate, "services", nil, admissionv1.Validation{
			Expression: "!has(object.spec.type) || (object.spec.type != 'NodePort' && object.spec.type != 'LoadBalancer')",
			Message:    "Services of type NodePort and LoadBalancer are not allowed on the " + plan + " plan: they open a port on nodes other tenants share; use a ClusterIP Service",
		}))
	}
	policies = append(policies, policy(PolicyServiceAccountTokens, create, "secrets", nil, admissionv1.Validation{
		Expression: "!has(object.type) || object.type != 'kubernetes.io/service-account-token'",
		Message:    "Secrets of type kubernetes.io/service-account-token are not allowed: their tokens never expire; use kubectl create token (a TokenRequest) for a token that does",
	}))
	if !rules.NodeName {
		p := policy(PolicyNodeName, create, "pods", nil, admissionv1.Validation{
			Expression: "request.resource.resource != 'pods' || !has(object.spec.nodeName) || object.spec.nodeName == ''",
			Message:    "spec.nodeName is not allowed: pods are placed by the scheduler on the nodes of the workspace's plan",
		}, admissionv1.Validation{
			Expression: "!(request.resource.resource in " + celStrings(templateResources) + ") || object.?spec.?template.?spec.?nodeName.orValue('') == ''",
			Message:    "spec.template.spec.nodeName is not allowed: pods are placed by the scheduler on the nodes of the workspace's plan",
		}, admissionv1.Validation{
			Expression: "request.resource.resource != 'cronjobs' || object.?spec.?jobTemplate.?spec.?template.?spec.?nodeName.orValue('') == ''",
			Message:    "spec.jobTemplate.spec.template.spec.nodeName is not allowed: pods are placed by the scheduler on the nodes of the workspace's plan",
		})
		// The pod templates of workload controllers, so that kubectl is
		// refused at the controller rather than its pods silently (a
		// FailedCreate event). Pods only on create: a bound pod has a
		// nodeName, and its later updates are allowed.
		p.Spec.MatchConstraints.ResourceRules = append(p.Spec.MatchConstraints.ResourceRules, workloadRules(createUpdate)...)
		policies = append(policies, p)
	}
	// A label key is kept (same value) or absent on both sides.
	const kept = "(k.startsWith('" + PodSecurityLabelPrefix + "') ? (has(%[1]s.metadata.labels) && k in %[1]s.metadata.labels && %[1]s.metadata.labels[k] == %[2]s.metadata.labels[k]) : true)"
	policies = append(policies, namespacePolicy(PolicyPodSecurityLabels,
		[]admissionv1.MatchCondition{{Name: "not-the-platform", Expression: "request.userInfo.username != '" + PlatformUsername + "'"}},
		admissionv1.Validation{
			Expression: "!has(object.metadata.labels) || object.metadata.labels.all(k, " +
				"!k.startsWith('" + PodSecurityLabelPrefix + "') || (oldObject != null && " + fmt.Sprintf(kept, "oldObject", "object") + "))",
			Message: "the " + PodSecurityLabelPrefix + "* labels of a namespace are set by the platform only (a project's pod_security setting)",
		},
		admissionv1.Validation{
			Expression: "oldObject == null || !has(oldObject.metadata.labels) || oldObject.metadata.labels.all(k, " + fmt.Sprintf(kept, "object", "oldObject") + ")",
			Message:    "the " + PodSecurityLabelPrefix + "* labels of a namespace are set by the platform only (a project's pod_security setting)",
		}))
	policies = append(policies, namespaceLabelPolicies()...)
	policies = append(policies, floorPolicy(), tokenChainPolicy())
	bindings := make([]*admissionv1.ValidatingAdmissionPolicyBinding, 0, len(policies))
	for _, p := range policies {
		bindings = append(bindings, &admissionv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: managedLabels()},
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        p.Name,
				ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		})
	}
	return policies, bindings, nil
}

// templateResources are the workload resources (core/v1, apps/v1 and
// batch/v1) whose pod template is spec.template; a CronJob's is
// spec.jobTemplate.spec.template.
var templateResources = []string{"replicationcontrollers", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs"}

// workloadRules match ops on the workload resources with a pod template:
// templateResources and cronjobs.
func workloadRules(ops []admissionv1.OperationType) []admissionv1.NamedRuleWithOperations {
	return []admissionv1.NamedRuleWithOperations{
		resourceRule(ops, "", "v1", "replicationcontrollers"),
		resourceRule(ops, "apps", "v1", "deployments", "replicasets", "statefulsets", "daemonsets"),
		resourceRule(ops, "batch", "v1", "jobs", "cronjobs"),
	}
}

// celStrings is a CEL list literal of ss.
func celStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// resourceRule matches ops on resources of group/version, with the
// defaults the API server would set (every scope) spelled out.
func resourceRule(ops []admissionv1.OperationType, group, version string, resources ...string) admissionv1.NamedRuleWithOperations {
	scope := admissionv1.AllScopes
	return admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: ops,
		Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources, Scope: &scope},
	}}
}

// policy is a ValidatingAdmissionPolicy of core (v1) resources with the
// defaults the API server would set spelled out, so that the reconciler's
// comparison with the stored object holds.
func policy(name string, ops []admissionv1.OperationType, resource string, conds []admissionv1.MatchCondition, validations ...admissionv1.Validation) *admissionv1.ValidatingAdmissionPolicy {
	fail := admissionv1.Fail
	equivalent := admissionv1.Equivalent
	// Forbidden, as Pod Security refuses: Invalid without a field path
	// reads "… is invalid: : ValidatingAdmissionPolicy …" in kubectl.
	forbidden := metav1.StatusReasonForbidden
	for i := range validations {
		validations[i].Reason = &forbidden
	}
	return &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: managedLabels()},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{},
				ObjectSelector:    &metav1.LabelSelector{},
				MatchPolicy:       &equivalent,
				ResourceRules:     []admissionv1.NamedRuleWithOperations{resourceRule(ops, "", "v1", resource)},
			},
			MatchConditions: conds,
			Validations:     validations,
		},
	}
}

// namespacePolicy is a policy of namespaces on create and update, through
// the object and its status and finalize subresources.
func namespacePolicy(name string, conds []admissionv1.MatchCondition, validations ...admissionv1.Validation) *admissionv1.ValidatingAdmissionPolicy {
	p := policy(name, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}, "namespaces", conds, validations...)
	p.Spec.MatchConstraints.ResourceRules[0].Resources = []string{"namespaces", "namespaces/status", "namespaces/finalize"}
	return p
}

// namespaceLabelPolicies are PolicyPodSecurityLevels and
// PolicyDeviceAdminAccess: no match conditions, nobody is exempt.
func namespaceLabelPolicies() []*admissionv1.ValidatingAdmissionPolicy {
	// The label k is on oldObject with the same value (already there),
	// and the namespace is being deleted.
	const unchanged = "(has(object.metadata.deletionTimestamp) && oldObject != null && has(oldObject.metadata.labels) && " +
		"k in oldObject.metadata.labels && oldObject.metadata.labels[k] == object.metadata.labels[k])"
	q := func(ss ...string) string { return "['" + strings.Join(ss, "', '") + "']" }
	levels := q(LabelPodSecurityEnforce, LabelPodSecurityWarn, LabelPodSecurityAudit)
	versions := q(LabelPodSecurityEnforce+VersionSuffix, LabelPodSecurityWarn+VersionSuffix, LabelPodSecurityAudit+VersionSuffix)
	return []*admissionv1.ValidatingAdmissionPolicy{
		namespacePolicy(PolicyPodSecurityLevels, nil, admissionv1.Validation{
			Expression: "!has(object.metadata.labels) || object.metadata.labels.all(k, !k.startsWith('" + PodSecurityLabelPrefix + "') || " +
				"(k in " + levels + " && object.metadata.labels[k] in " + q(PodSecurityBaseline, PodSecurityRestricted) + ") || " +
				"(k in " + versions + " && object.metadata.labels[k] == '" + PodSecurityLatest + "') || " + unchanged + ")",
			Message: "a namespace's " + PodSecurityLabelPrefix + "* labels may only be enforce, warn or audit at " + PodSecurityBaseline + " or " +
				PodSecurityRestricted + ", and their -version labels at " + PodSecurityLatest + "; a project's level is its pod_security setting",
		}),
		namespacePolicy(PolicyDeviceAdminAccess, nil, admissionv1.Validation{
			Expression: "!has(object.metadata.labels) || object.metadata.labels.all(k, k != '" + LabelDeviceAdminAccess + "' || " + unchanged + ")",
			Message:    "the namespace label " + LabelDeviceAdminAccess + " (admin access to devices) is not allowed in a workspace",
		}),
	}
}

// floorViolation is a CEL expression, true when the labels of
// namespaceObject (null for a cluster-scoped object) are ones the
// namespace policies refuse and the reconciler removes: an enforce level
// that is not baseline or restricted, an enforce version that is not
// latest, or LabelDeviceAdminAccess. (Without an enforce label, the
// cluster default, baseline, applies.)
func floorViolation() string {
	const labels = "namespaceObject.metadata.labels"
	return "namespaceObject != null && has(" + labels + ") && (" +
		"('" + LabelPodSecurityEnforce + "' in " + labels + " && !(" + labels + "['" + LabelPodSecurityEnforce + "'] in ['" +
		PodSecurityBaseline + "', '" + PodSecurityRestricted + "'])) || " +
		"('" + LabelPodSecurityEnforce + VersionSuffix + "' in " + labels + " && " + labels + "['" + LabelPodSecurityEnforce + VersionSuffix +
		"'] != '" + PodSecurityLatest + "') || " +
		"'" + LabelDeviceAdminAccess + "' in " + labels + ")"
}

// floorPolicy is PolicyPodSecurityFloor: pods (and their
// ephemeralcontainers subresource) and the workloads of workloadRules, on
// create and update. An update that leaves spec as it was passes (a
// finalizer or label removed by a controller, a status-like change), so
// that what is already there can finish and be deleted.
func floorPolicy() *admissionv1.ValidatingAdmissionPolicy {
	ops := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}
	p := policy(PolicyPodSecurityFloor, ops, "pods", nil, admissionv1.Validation{
		Expression: "!(" + floorViolation() + ") || (request.operation == 'UPDATE' && object.spec == oldObject.spec)",
		Message: "no pod or pod template may be created or changed in a namespace labelled " + LabelPodSecurityEnforce +
			" other than " + PodSecurityBaseline + " or " + PodSecurityRestricted + " (at " + PodSecurityLatest + "), or labelled " +
			LabelDeviceAdminAccess + ": such labels are not allowed in a workspace, and the platform removes them",
	})
	rules := &p.Spec.MatchConstraints.ResourceRules
	(*rules)[0].Resources = []string{"pods", "pods/ephemeralcontainers"}
	*rules = append(*rules, workloadRules(ops)...)
	return p
}

// tokenChainPolicy is PolicyServiceAccountTokenChains.
func tokenChainPolicy() *admissionv1.ValidatingAdmissionPolicy {
	return policy(PolicyServiceAccountTokenChains, []admissionv1.OperationType{admissionv1.Create}, "serviceaccounts/token", nil, admissionv1.Validation{
		Expression: "!request.userInfo.username.startsWith('system:serviceaccount:')",
		Message:    "a service account may not request service-account tokens: a token would mint the next one forever; request a token with your own credentials (kubectl create token)",
	})
}
