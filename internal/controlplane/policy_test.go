package controlplane

import (
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// policyNames are the names of st's policies and bindings; each binding
// must bind the policy of its name with Deny.
func policyNames(t *testing.T, st State) (policies, bindings []string) {
	t.Helper()
	for _, p := range st.AdmissionPolicies {
		policies = append(policies, p.Name)
	}
	for _, b := range st.AdmissionPolicyBindings {
		bindings = append(bindings, b.Name)
		if b.Spec.PolicyName != b.Name || !slices.Equal(b.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}) {
			t.Errorf("binding %s: %+v, want a Deny binding of its policy", b.Name, b.Spec)
		}
	}
	return policies, bindings
}

// TestDesiredPodSecurityLabels: every project namespace enforces its
// project's level (baseline when unset) and warns and audits at
// restricted.
func TestDesiredPodSecurityLabels(t *testing.T) {
	strict := store.Project{ID: "p-strict", Name: "strict", PodSecurity: store.PodSecurityRestricted}
	base := store.Project{ID: "p-base", Name: "base", PodSecurity: store.PodSecurityBaseline}
	st, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: PlanShared}, Projects: []store.Project{pAPI, strict, base}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"api": "baseline", "strict": "restricted", "base": "baseline"}
	for _, n := range st.Namespaces {
		l := n.Labels
		if l[LabelPodSecurityEnforce] != want[n.Name] || l[LabelPodSecurityWarn] != "restricted" || l[LabelPodSecurityAudit] != "restricted" {
			t.Errorf("namespace %s labels %v, want enforce %s, warn and audit restricted", n.Name, l, want[n.Name])
		}
		for _, k := range []string{LabelPodSecurityEnforce, LabelPodSecurityWarn, LabelPodSecurityAudit} {
			if l[k+VersionSuffix] != PodSecurityLatest {
				t.Errorf("namespace %s labels %v, want %s%s latest", n.Name, l, k, VersionSuffix)
			}
		}
	}
	bad := store.Project{ID: "p-bad", Name: "bad", PodSecurity: "privileged"}
	if _, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: PlanShared}, Projects: []store.Project{bad}}); err == nil ||
		!strings.Contains(err.Error(), `pod security level "privileged" is not baseline or restricted`) {
		t.Errorf("privileged project: %v", err)
	}
}

// TestDesiredAdmissionPoliciesPerPlan: the policies of each plan follow
// the Plans table; an unknown plan is refused.
func TestDesiredAdmissionPoliciesPerPlan(t *testing.T) {
	for _, tc := range []struct {
		plan string
		want []string
	}{
		{PlanShared, []string{PolicyExternalIPs, PolicyNodePorts, PolicyServiceAccountTokens, PolicyNodeName, PolicyPodSecurityLabels,
			PolicyPodSecurityLevels, PolicyDeviceAdminAccess, PolicyPodSecurityFloor, PolicyServiceAccountTokenChains}},
		{PlanDedicated, []string{PolicyExternalIPs, PolicyServiceAccountTokens, PolicyNodeName, PolicyPodSecurityLabels,
			PolicyPodSecurityLevels, PolicyDeviceAdminAccess, PolicyPodSecurityFloor, PolicyServiceAccountTokenChains}},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			st, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: tc.plan}, Projects: projects})
			if err != nil {
				t.Fatal(err)
			}
			policies, bindings := policyNames(t, st)
			if !slices.Equal(policies, tc.want) || !slices.Equal(bindings, tc.want) {
				t.Errorf("policies %v, bindings %v, want %v", policies, bindings, tc.want)
			}
			for _, p := range st.AdmissionPolicies {
				if p.Labels[LabelManagedBy] != ManagedByValue || len(p.Spec.Validations) == 0 || p.Spec.Validations[0].Message == "" {
					t.Errorf("policy %s: labels %v, validations %+v", p.Name, p.Labels, p.Spec.Validations)
				}
				// Only the namespace-label policy has a match condition,
				// and it exempts the platform's user alone.
				wantConds := 0
				if p.Name == PolicyPodSecurityLabels {
					wantConds = 1
				}
				if len(p.Spec.MatchConditions) != wantConds {
					t.Errorf("policy %s: match conditions %+v", p.Name, p.Spec.MatchConditions)
				}
			}
		})
	}
	if _, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: "gold"}, Projects: projects}); err == nil || !strings.Contains(err.Error(), `unknown plan "gold"`) {
		t.Errorf("unknown plan: %v", err)
	}
}

// TestAdmissionPoliciesAgainstAPIServer runs the policies and Pod
// Security labels Desired produces on a real API server configured as a
// workspace's (PodSecurity defaults, token lifetime): what a developer
// and a workspace-admin are refused, with the API server's message, and
// what still works.
func TestAdmissionPoliciesAgainstAPIServer(t *testing.T) {
	cfg := startAPIServer(t)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	admin, err := kubernetes.NewForConfig(cfg)
	must(err)
	dev, err := kubernetes.NewForConfig(asUser(cfg, "developer"))
	must(err)
	wsadmin, err := kubernetes.NewForConfig(asUser(cfg, "wsadmin"))
	must(err)
	// A workspace-admin (cluster-admin) impersonating the platform: the
	// API server sees the platform's username and groups.
	impersonation := asUser(cfg, "wsadmin")
	impersonation.Impersonate = rest.ImpersonationConfig{UserName: PlatformUsername, Groups: []string{"system:masters"}}
	platformImpersonated, err := kubernetes.NewForConfig(impersonation)
	must(err)

	web := store.Project{ID: "p-web", Name: "web"}
	secure := store.Project{ID: "p-secure", Name: "secure", PodSecurity: store.PodSecurityRestricted}
	ws := store.Workspace{ID: "ws", Plan: PlanShared}
	apply := func(ws store.Workspace, ps ...store.Project) {
		t.Helper()
		st, err := Desired(Tenancy{Workspace: ws, Projects: ps})
		must(err)
		_, err = Apply(ctx, admin, st)
		must(err)
	}
	apply(ws, web, secure)
	// Without kube-controller-manager, the built-in edit role is not
	// aggregated and pods wait for the default ServiceAccount; the test
	// does both.
	edit, err := admin.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
	must(err)
	for _, name := range []string{"system:aggregate-to-edit", "system:aggregate-to-view"} {
		r, err := admin.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		must(err)
		edit.Rules = append(edit.Rules, r.Rules...)
	}
	edit.AggregationRule = nil
	_, err = admin.RbacV1().ClusterRoles().Update(ctx, edit, metav1.UpdateOptions{})
	must(err)
	for _, ns := range []string{"web", "secure", "default"} {
		_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// Apply again changes nothing: the policies as stored match.
	st, err := Desired(Tenancy{Workspace: ws, Projects: []store.Project{web, secure}})
	must(err)
	ch, err := Apply(ctx, admin, st)
	must(err)
	if len(ch.Applied)+len(ch.Pruned) > 0 {
		t.Fatalf("second apply changed %+v", ch)
	}

	svc := func(mut func(*corev1.ServiceSpec)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{GenerateName: "s-"}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Port: 80}}, Selector: map[string]string{"app": "x"}}}
		mut(&s.Spec)
		return s
	}
	externalIPs := svc(func(s *corev1.ServiceSpec) { s.ExternalIPs = []string{"8.8.8.8"} })
	// Policies take effect once the API server has loaded them.
	testutil.WaitFor(t, 30*time.Second, "the external IP policy to take effect", func() bool {
		_, err := dev.CoreV1().Services("web").Create(ctx, externalIPs, metav1.CreateOptions{})
		return err != nil && strings.Contains(err.Error(), PolicyExternalIPs)
	})
	// (A level hks-pod-security-levels allows, so that only this policy
	// refuses it; a server-side dry run, so that nothing is left behind.)
	testutil.WaitFor(t, 30*time.Second, "the namespace label policy to take effect", func() bool {
		_, err := wsadmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "probe",
			Labels: map[string]string{LabelPodSecurityEnforce: PodSecurityRestricted}}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), PolicyPodSecurityLabels)
	})

	// The policies without exemptions, probed with server-side dry runs.
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for _, probe := range []struct {
		policy string
		labels map[string]string
	}{
		{PolicyPodSecurityLevels, map[string]string{LabelPodSecurityEnforce: "privileged"}},
		{PolicyDeviceAdminAccess, map[string]string{LabelDeviceAdminAccess: "true"}},
	} {
		testutil.WaitFor(t, 30*time.Second, probe.policy+" to take effect", func() bool {
			_, err := platformImpersonated.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "probe",
				Labels: probe.labels}}, dryRun)
			return err != nil && strings.Contains(err.Error(), probe.policy)
		})
	}
	// A service account bound to edit in web, and a token for it that a
	// developer minted.
	_, err = admin.CoreV1().ServiceAccounts("web").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	must(err)
	_, err = admin.RbacV1().RoleBindings("web").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "robot-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "robot", Namespace: "web"}}}, metav1.CreateOptions{})
	must(err)
	robotToken, err := dev.CoreV1().ServiceAccounts("web").CreateToken(ctx, "robot", &authv1.TokenRequest{}, metav1.CreateOptions{})
	must(err)
	robotCfg := rest.AnonymousClientConfig(cfg)
	robotCfg.BearerToken = robotToken.Status.Token
	robot, err := kubernetes.NewForConfig(robotCfg)
	must(err)
	testutil.WaitFor(t, 30*time.Second, PolicyServiceAccountTokenChains+" to take effect", func() bool {
		_, err := robot.CoreV1().ServiceAccounts("web").CreateToken(ctx, "robot", &authv1.TokenRequest{}, metav1.CreateOptions{})
		return err != nil && strings.Contains(err.Error(), PolicyServiceAccountTokenChains)
	})
	// relabel sets a label of a namespace through update, sent by cs.
	relabel := func(cs kubernetes.Interface, ns, k, v string, update func(*corev1.Namespace) error) error {
		n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Labels[k] = v
		return update(n)
	}
	byUpdate := func(cs kubernetes.Interface) func(*corev1.Namespace) error {
		return func(n *corev1.Namespace) error {
			_, err := cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}
	}

	pod := func(mut func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
		mut(&p.Spec)
		return p
	}
	nodeName := func(s *corev1.PodSpec) { s.NodeName = "some-node" }
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "t"}}
	template := func(mut func(*corev1.PodSpec)) corev1.PodTemplateSpec {
		p := pod(mut)
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: selector.MatchLabels}, Spec: p.Spec}
	}
	deployment := func(mut func(*corev1.PodSpec)) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{GenerateName: "d-"}, Spec: appsv1.DeploymentSpec{Selector: selector, Template: template(mut)}}
	}
	job := func(mut func(*corev1.PodSpec)) *batchv1.Job {
		t := template(mut)
		t.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{GenerateName: "j-"}, Spec: batchv1.JobSpec{Template: t}}
	}
	privileged := func(c *corev1.Container) { c.SecurityContext = &corev1.SecurityContext{Privileged: new(true)} }
	hostPort := func(s *corev1.PodSpec) {
		s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
	}
	for _, tc := range []struct {
		name   string
		create func() error
		want   string // in the refusal
	}{
		{"hostPath", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) {
				s.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
			}), metav1.CreateOptions{})
			return err
		}, `violates PodSecurity "baseline:latest": hostPath volumes`},
		{"hostNetwork", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) { s.HostNetwork = true }), metav1.CreateOptions{})
			return err
		}, "host namespaces (hostNetwork=true)"},
		{"hostPID", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) { s.HostPID = true }), metav1.CreateOptions{})
			return err
		}, "host namespaces (hostPID=true)"},
		{"hostIPC", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) { s.HostIPC = true }), metav1.CreateOptions{})
			return err
		}, "host namespaces (hostIPC=true)"},
		{"added capabilities", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) {
				s.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_ADMIN"}}}
			}), metav1.CreateOptions{})
			return err
		}, `non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_ADMIN"`},
		{"hostPort", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(hostPort), metav1.CreateOptions{})
			return err
		}, "hostPort (container \"c\" uses hostPort 80)"},
		{"privileged", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) { privileged(&s.Containers[0]) }), metav1.CreateOptions{})
			return err
		}, "privileged"},
		{"nodeName", func() error {
			_, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(s *corev1.PodSpec) { s.NodeName = "some-node" }), metav1.CreateOptions{})
			return err
		}, PolicyNodeName + "' with binding '" + PolicyNodeName + "' denied request: spec.nodeName is not allowed"},
		{"Deployment with a template nodeName", func() error {
			_, err := dev.AppsV1().Deployments("web").Create(ctx, deployment(nodeName), metav1.CreateOptions{})
			return err
		}, PolicyNodeName + "' with binding '" + PolicyNodeName + "' denied request: spec.template.spec.nodeName is not allowed"},
		{"Deployment updated to a template nodeName", func() error {
			d, err := dev.AppsV1().Deployments("web").Create(ctx, deployment(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			nodeName(&d.Spec.Template.Spec)
			_, err = dev.AppsV1().Deployments("web").Update(ctx, d, metav1.UpdateOptions{})
			return err
		}, "spec.template.spec.nodeName is not allowed"},
		{"ReplicaSet with a template nodeName", func() error {
			_, err := dev.AppsV1().ReplicaSets("web").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{GenerateName: "rs-"},
				Spec: appsv1.ReplicaSetSpec{Selector: selector, Template: template(nodeName)}}, metav1.CreateOptions{})
			return err
		}, "spec.template.spec.nodeName is not allowed"},
		{"StatefulSet with a template nodeName", func() error {
			_, err := dev.AppsV1().StatefulSets("web").Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{GenerateName: "ss-"},
				Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template(nodeName)}}, metav1.CreateOptions{})
			return err
		}, "spec.template.spec.nodeName is not allowed"},
		{"DaemonSet with a template nodeName", func() error {
			_, err := dev.AppsV1().DaemonSets("web").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{GenerateName: "ds-"},
				Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template(nodeName)}}, metav1.CreateOptions{})
			return err
		}, "spec.template.spec.nodeName is not allowed"},
		{"Job with a template nodeName", func() error {
			_, err := dev.BatchV1().Jobs("web").Create(ctx, job(nodeName), metav1.CreateOptions{})
			return err
		}, "spec.template.spec.nodeName is not allowed"},
		{"ReplicationController with a template nodeName", func() error {
			_, err := dev.CoreV1().ReplicationControllers("web").Create(ctx, &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{GenerateName: "rc-"},
				Spec: corev1.ReplicationControllerSpec{Selector: selector.MatchLabels, Template: new(template(nodeName))}}, metav1.CreateOptions{})
			return err
		}, PolicyNodeName + "' with binding '" + PolicyNodeName + "' denied request: spec.template.spec.nodeName is not allowed"},
		{"CronJob with a template nodeName", func() error {
			_, err := dev.BatchV1().CronJobs("web").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{GenerateName: "cj-"},
				Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: job(nodeName).Spec}}}, metav1.CreateOptions{})
			return err
		}, PolicyNodeName + "' with binding '" + PolicyNodeName + "' denied request: spec.jobTemplate.spec.template.spec.nodeName is not allowed"},
		{"externalIPs", func() error {
			_, err := dev.CoreV1().Services("web").Create(ctx, externalIPs, metav1.CreateOptions{})
			return err
		}, "spec.externalIPs is not allowed in this workspace"},
		{"NodePort", func() error {
			_, err := dev.CoreV1().Services("web").Create(ctx, svc(func(s *corev1.ServiceSpec) { s.Type = corev1.ServiceTypeNodePort }), metav1.CreateOptions{})
			return err
		}, "Services of type NodePort and LoadBalancer are not allowed on the shared plan"},
		{"LoadBalancer", func() error {
			_, err := dev.CoreV1().Services("web").Create(ctx, svc(func(s *corev1.ServiceSpec) { s.Type = corev1.ServiceTypeLoadBalancer }), metav1.CreateOptions{})
			return err
		}, "Services of type NodePort and LoadBalancer are not allowed on the shared plan"},
		{"legacy service account token secret", func() error {
			_, err := dev.CoreV1().Secrets("web").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "legacy",
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
			return err
		}, "Secrets of type kubernetes.io/service-account-token are not allowed"},
		{"baseline-only pod in a restricted project", func() error {
			_, err := dev.CoreV1().Pods("secure").Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
			return err
		}, `violates PodSecurity "restricted:latest"`},
		{"hostPath in an unlabelled namespace (cluster default)", func() error {
			_, err := wsadmin.CoreV1().Pods("default").Create(ctx, pod(func(s *corev1.PodSpec) { s.HostNetwork = true }), metav1.CreateOptions{})
			return err
		}, `violates PodSecurity "baseline:latest": host namespaces`},
		// (Values hks-pod-security-levels allows, so that only
		// hks-pod-security-labels refuses them: the API server does
		// not evaluate policies in a fixed order.)
		{"workspace-admin relabels a project restricted", func() error {
			n, err := wsadmin.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Labels[LabelPodSecurityEnforce] = PodSecurityRestricted
			_, err = wsadmin.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}, "labels of a namespace are set by the platform only"},
		{"workspace-admin removes the enforce label", func() error {
			n, err := wsadmin.CoreV1().Namespaces().Get(ctx, "secure", metav1.GetOptions{})
			if err != nil {
				return err
			}
			delete(n.Labels, LabelPodSecurityEnforce)
			_, err = wsadmin.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}, "labels of a namespace are set by the platform only"},
		{"workspace-admin labels an unlabelled namespace", func() error {
			n, err := wsadmin.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Labels[LabelPodSecurityEnforce+VersionSuffix] = PodSecurityLatest
			_, err = wsadmin.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}, "labels of a namespace are set by the platform only"},
		{"workspace-admin relabels through namespaces/status", func() error {
			_, err := wsadmin.CoreV1().Namespaces().Patch(ctx, "web", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"`+LabelPodSecurityEnforce+`":"restricted"}}}`), metav1.PatchOptions{}, "status")
			return err
		}, "labels of a namespace are set by the platform only"},
		{"workspace-admin relabels through namespaces/finalize", func() error {
			return relabel(wsadmin, "secure", LabelPodSecurityEnforce, PodSecurityBaseline, func(n *corev1.Namespace) error {
				_, err := wsadmin.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{})
				return err
			})
		}, "labels of a namespace are set by the platform only"},
		{"impersonated platform labels default privileged", func() error {
			return relabel(platformImpersonated, "default", LabelPodSecurityEnforce, "privileged", byUpdate(platformImpersonated))
		}, PolicyPodSecurityLevels + "' with binding '" + PolicyPodSecurityLevels + "' denied request"},
		{"impersonated platform labels a project privileged through namespaces/status", func() error {
			_, err := platformImpersonated.CoreV1().Namespaces().Patch(ctx, "web", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"`+LabelPodSecurityWarn+`":"privileged"}}}`), metav1.PatchOptions{}, "status")
			return err
		}, PolicyPodSecurityLevels},
		{"impersonated platform pins an old enforce version", func() error {
			return relabel(platformImpersonated, "secure", LabelPodSecurityEnforce+VersionSuffix, "v1.0", byUpdate(platformImpersonated))
		}, PolicyPodSecurityLevels},
		{"impersonated platform sets another pod-security label", func() error {
			return relabel(platformImpersonated, "web", PodSecurityLabelPrefix+"exempt", "true", byUpdate(platformImpersonated))
		}, PolicyPodSecurityLevels},
		{"workspace-admin sets device admin access", func() error {
			return relabel(wsadmin, "default", LabelDeviceAdminAccess, "true", byUpdate(wsadmin))
		}, "the namespace label " + LabelDeviceAdminAccess + " (admin access to devices) is not allowed"},
		{"impersonated platform sets device admin access", func() error {
			return relabel(platformImpersonated, "web", LabelDeviceAdminAccess, "true", byUpdate(platformImpersonated))
		}, PolicyDeviceAdminAccess},
		{"a service account's token mints another", func() error {
			_, err := robot.CoreV1().ServiceAccounts("web").CreateToken(ctx, "robot",
				&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: new(int64(86400))}}, metav1.CreateOptions{})
			return err
		}, "a service account may not request service-account tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.create()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal with %q", err, tc.want)
			}
			if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				t.Errorf("refused with %v, want 403 or 422", err)
			}
		})
	}

	// What still works: a plain pod in a baseline project, a ClusterIP
	// Service, other labels of a namespace, and a workspace-admin's
	// namespace without Pod Security labels.
	if _, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{}); err != nil {
		t.Errorf("plain pod in web: %v", err)
	}
	if _, err := dev.CoreV1().Services("web").Create(ctx, svc(func(*corev1.ServiceSpec) {}), metav1.CreateOptions{}); err != nil {
		t.Errorf("ClusterIP Service in web: %v", err)
	}
	if _, err := dev.AppsV1().Deployments("web").Create(ctx, deployment(func(*corev1.PodSpec) {}), metav1.CreateOptions{}); err != nil {
		t.Errorf("plain Deployment in web: %v", err)
	}
	if _, err := dev.BatchV1().CronJobs("web").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{GenerateName: "cj-"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: job(func(*corev1.PodSpec) {}).Spec}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("plain CronJob in web: %v", err)
	}
	n, err := wsadmin.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
	must(err)
	n.Labels["team"] = "a"
	if _, err := wsadmin.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Errorf("workspace-admin adds another label to web: %v", err)
	}
	if _, err := wsadmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scratch"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("workspace-admin creates a namespace: %v", err)
	}
	// The service account's token still works for what edit allows, and
	// the namespace controller's path (finalize, status) is open for
	// updates that leave the labels alone.
	if _, err := robot.CoreV1().ConfigMaps("web").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-robot"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("the service account's token creates a ConfigMap: %v", err)
	}
	n, err = admin.CoreV1().Namespaces().Get(ctx, "scratch", metav1.GetOptions{})
	must(err)
	if n, err = admin.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Errorf("finalize a namespace: %v", err)
	} else if _, err := admin.CoreV1().Namespaces().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Errorf("update a namespace's status: %v", err)
	}

	// A label that landed while a workspace-admin had the namespace
	// policies deleted (no reconciler runs here to restore them or remove
	// the label): hks-pod-security-floor admits no pod in that namespace,
	// and the levels and device policies no longer let the label ride
	// along on another update.
	nsPolicies := []string{PolicyPodSecurityLabels, PolicyPodSecurityLevels, PolicyDeviceAdminAccess, PolicyPodSecurityFloor}
	for _, name := range nsPolicies {
		must(wsadmin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{}))
	}
	landed := map[string]*corev1.Pod{} // namespace → a pod created meanwhile
	for _, ns := range []struct {
		name   string
		labels map[string]string
	}{
		{"pwn", map[string]string{LabelPodSecurityEnforce: "privileged"}},
		{"pinned", map[string]string{LabelPodSecurityEnforce + VersionSuffix: "v1.0"}},
		{"dra", map[string]string{LabelDeviceAdminAccess: "true"}},
	} {
		testutil.WaitFor(t, 30*time.Second, "namespace "+ns.name+" created with its labels", func() bool {
			_, err := wsadmin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: ns.labels}}, metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err)
		})
		_, err := admin.CoreV1().ServiceAccounts(ns.name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		must(err)
		testutil.WaitFor(t, 30*time.Second, "a pod created in "+ns.name, func() bool {
			p, err := wsadmin.CoreV1().Pods(ns.name).Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
			landed[ns.name] = p
			return err == nil
		})
	}
	for _, b := range st.AdmissionPolicyBindings {
		if slices.Contains(nsPolicies, b.Name) {
			_, err := admin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{})
			must(err)
		}
	}
	hostPID := func(s *corev1.PodSpec) { s.HostPID = true }
	testutil.WaitFor(t, 30*time.Second, PolicyPodSecurityFloor+" to take effect", func() bool {
		_, err := wsadmin.CoreV1().Pods("pwn").Create(ctx, pod(hostPID), dryRun)
		return err != nil && strings.Contains(err.Error(), PolicyPodSecurityFloor)
	})
	floor := PolicyPodSecurityFloor + "' with binding '" + PolicyPodSecurityFloor + "' denied request: no pod or pod template may be created or changed"
	for _, tc := range []struct {
		name   string
		create func() error
		want   string
	}{
		{"hostPID pod in a privileged namespace", func() error {
			_, err := wsadmin.CoreV1().Pods("pwn").Create(ctx, pod(hostPID), metav1.CreateOptions{})
			return err
		}, floor},
		{"plain pod in a namespace pinned to an old version", func() error {
			_, err := wsadmin.CoreV1().Pods("pinned").Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
			return err
		}, floor},
		{"plain pod in a namespace with device admin access", func() error {
			_, err := wsadmin.CoreV1().Pods("dra").Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
			return err
		}, floor},
		{"Deployment in a privileged namespace", func() error {
			_, err := wsadmin.AppsV1().Deployments("pwn").Create(ctx, deployment(hostPID), metav1.CreateOptions{})
			return err
		}, floor},
		{"CronJob in a privileged namespace", func() error {
			_, err := wsadmin.BatchV1().CronJobs("pwn").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{GenerateName: "cj-"},
				Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: job(hostPID).Spec}}}, metav1.CreateOptions{})
			return err
		}, floor},
		{"ephemeral container added to a pod of a privileged namespace", func() error {
			p := landed["pwn"].DeepCopy()
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox",
				SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}}}}
			_, err := wsadmin.CoreV1().Pods("pwn").UpdateEphemeralContainers(ctx, p.Name, p, metav1.UpdateOptions{})
			return err
		}, floor},
		{"image of a pod of a privileged namespace changed", func() error {
			p, err := wsadmin.CoreV1().Pods("pwn").Get(ctx, landed["pwn"].Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Spec.Containers[0].Image = "busybox"
			_, err = wsadmin.CoreV1().Pods("pwn").Update(ctx, p, metav1.UpdateOptions{})
			return err
		}, floor},
		{"workspace-admin relabels a privileged namespace", func() error {
			return relabel(wsadmin, "pwn", "team", "a", byUpdate(wsadmin))
		}, PolicyPodSecurityLevels},
		{"workspace-admin relabels a namespace with device admin access", func() error {
			return relabel(wsadmin, "dra", "team", "a", byUpdate(wsadmin))
		}, PolicyDeviceAdminAccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.create()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal with %q", err, tc.want)
			}
			if err != nil && !apierrors.IsForbidden(err) {
				t.Errorf("refused with %v, want 403", err)
			}
		})
	}
	// What is already there can still finish: a pod's metadata changes
	// (a controller removing a finalizer), and a namespace being deleted
	// is finalized with its labels as they are.
	p, err := wsadmin.CoreV1().Pods("pwn").Get(ctx, landed["pwn"].Name, metav1.GetOptions{})
	must(err)
	p.Labels = map[string]string{"done": "yes"}
	if _, err := wsadmin.CoreV1().Pods("pwn").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Errorf("metadata update of a pod in a privileged namespace: %v", err)
	}
	for _, ns := range []string{"pwn", "dra"} {
		must(wsadmin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}))
		n, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		must(err)
		if n, err = admin.CoreV1().Namespaces().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Errorf("update the status of namespace %s being deleted: %v", ns, err)
		} else if _, err := admin.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Errorf("finalize namespace %s being deleted: %v", ns, err)
		}
	}

	// Tokens are bounded: 87600h is cut to the maximum, and a token bound
	// to a pod asking for 3607 s is not extended to a year.
	for _, tc := range []struct {
		name string
		req  authv1.TokenRequestSpec
	}{
		{"87600h", authv1.TokenRequestSpec{ExpirationSeconds: new(int64(87600 * 3600))}},
		{"pod-bound 3607s", authv1.TokenRequestSpec{ExpirationSeconds: new(int64(3607))}},
	} {
		t.Run("token "+tc.name, func(t *testing.T) {
			req := &authv1.TokenRequest{Spec: tc.req}
			if strings.HasPrefix(tc.name, "pod-bound") {
				p, err := dev.CoreV1().Pods("web").Create(ctx, pod(func(*corev1.PodSpec) {}), metav1.CreateOptions{})
				must(err)
				req.Spec.BoundObjectRef = &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}
			}
			out, err := dev.CoreV1().ServiceAccounts("web").CreateToken(ctx, "default", req, metav1.CreateOptions{})
			must(err)
			if life := testutil.JWTLifetime(t, out.Status.Token); life > MaxServiceAccountTokenLifetime {
				t.Errorf("token lives %s, want at most %s", life, MaxServiceAccountTokenLifetime)
			}
		})
	}

	// The platform changes a project's level; on the dedicated plan
	// NodePort Services are allowed and the policy refusing them is pruned.
	secure.PodSecurity = store.PodSecurityBaseline
	apply(store.Workspace{ID: "ws", Plan: PlanDedicated}, web, secure)
	n, err = admin.CoreV1().Namespaces().Get(ctx, "secure", metav1.GetOptions{})
	must(err)
	if n.Labels[LabelPodSecurityEnforce] != PodSecurityBaseline {
		t.Errorf("secure after the platform's change: %v", n.Labels)
	}
	testutil.WaitFor(t, 30*time.Second, "NodePort Services allowed on the dedicated plan", func() bool {
		_, err := dev.CoreV1().Services("web").Create(ctx, svc(func(s *corev1.ServiceSpec) { s.Type = corev1.ServiceTypeNodePort }), metav1.CreateOptions{})
		return err == nil
	})

	// Admission policies do not guard admissionregistration objects: a
	// policy refusing every delete of ConfigMaps, policies and bindings
	// refuses the ConfigMap's but not a workspace-admin's delete of a
	// binding (the reconciler restores it).
	guard := policy("test-guard", []admissionv1.OperationType{admissionv1.Delete}, "configmaps", nil,
		admissionv1.Validation{Expression: "false", Message: "guarded"})
	rules := &guard.Spec.MatchConstraints.ResourceRules
	adm := (*rules)[0]
	adm.APIGroups = []string{"admissionregistration.k8s.io"}
	adm.Resources = []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings"}
	*rules = append(*rules, adm)
	_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, guard, metav1.CreateOptions{})
	must(err)
	_, err = admin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-guard"},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "test-guard", ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}}}, metav1.CreateOptions{})
	must(err)
	_, err = wsadmin.CoreV1().ConfigMaps("web").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "guarded"}}, metav1.CreateOptions{})
	must(err)
	testutil.WaitFor(t, 30*time.Second, "the guard to refuse deleting a ConfigMap", func() bool {
		err := wsadmin.CoreV1().ConfigMaps("web").Delete(ctx, "guarded", metav1.DeleteOptions{})
		return err != nil && strings.Contains(err.Error(), "guarded")
	})
	if err := wsadmin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, PolicyExternalIPs, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("a workspace-admin deletes a binding under the guard: %v (if admission policies now guard themselves, update docs/security.md)", err)
	}
	ch, err = Apply(ctx, admin, mustDesired(t, store.Workspace{ID: "ws", Plan: PlanDedicated}, web, secure))
	must(err)
	if !slices.Contains(ch.Applied, "validatingadmissionpolicybinding "+PolicyExternalIPs) {
		t.Errorf("Apply after the delete: %+v", ch)
	}
}

func mustDesired(t *testing.T, ws store.Workspace, ps ...store.Project) State {
	t.Helper()
	st, err := Desired(Tenancy{Workspace: ws, Projects: ps})
	if err != nil {
		t.Fatal(err)
	}
	return st
}
