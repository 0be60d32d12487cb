package analyze

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane/local/localtest"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// workspace starts a real workspace cluster (localtest.Workspace) and
// answers its administrator's config.
func workspace(t *testing.T) *rest.Config {
	t.Helper()
	rc := localtest.Workspace(t)
	rc.WarningHandler = rest.NoWarnings{} // Pod Security's on the planted pods
	return rc
}

// TestCollect: against a real API server, Collect lists the objects
// planted in the namespaces asked for (and only those), and as a user
// whose Role allows only pods it collects the pods and records every
// other kind as forbidden instead of failing; the analyzers then run over
// what was collected.
func TestCollect(t *testing.T) {
	rc := workspace(t)
	admin := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"shop", "other"} {
		must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}))
		testutil.WaitFor(t, time.Minute, "the default service account of "+n, func() bool {
			_, err := admin.CoreV1().ServiceAccounts(n).Get(ctx, "default", metav1.GetOptions{})
			return err == nil
		})
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "shop"} }
	labels := map[string]string{"app": "web"}
	container := []corev1.Container{{Name: "web", Image: "nginx:1.27"}}
	must(admin.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: om("tool"), Spec: corev1.PodSpec{Containers: container}}, metav1.CreateOptions{}))
	must(admin.CoreV1().Pods("other").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "other"}, Spec: corev1.PodSpec{Containers: container}}, metav1.CreateOptions{}))
	zero := int32(0)
	must(admin.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{ObjectMeta: om("web"), Spec: appsv1.DeploymentSpec{Replicas: &zero,
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: container}}}}, metav1.CreateOptions{}))
	must(admin.AppsV1().StatefulSets("shop").Create(ctx, &appsv1.StatefulSet{ObjectMeta: om("db"), Spec: appsv1.StatefulSetSpec{Replicas: &zero,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: corev1.PodSpec{Containers: container}}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: om("orphan"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nothing"},
		Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}))
	suspend := true
	jobSpec := batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: container, RestartPolicy: corev1.RestartPolicyNever}}}
	must(admin.BatchV1().CronJobs("shop").Create(ctx, &batchv1.CronJob{ObjectMeta: om("nightly"), Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: &suspend,
		JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec}}}, metav1.CreateOptions{}))
	jobSpec.Suspend = &suspend
	must(admin.BatchV1().Jobs("shop").Create(ctx, &batchv1.Job{ObjectMeta: om("import"), Spec: jobSpec}, metav1.CreateOptions{}))
	must(admin.CoreV1().ResourceQuotas("shop").Create(ctx, &corev1.ResourceQuota{ObjectMeta: om("objects"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/configmaps": resource.MustParse("50")}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ResourceQuotas("shop").Create(ctx, &corev1.ResourceQuota{ObjectMeta: om("pods"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}, metav1.CreateOptions{}))
	testutil.WaitFor(t, time.Minute, "the quota controller counts pod tool", func() bool {
		q, err := admin.CoreV1().ResourceQuotas("shop").Get(ctx, "pods", metav1.GetOptions{})
		return err == nil && q.Status.Used.Pods().Value() == 1
	})
	must(admin.CoreV1().LimitRanges("shop").Create(ctx, &corev1.LimitRange{ObjectMeta: om("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().PersistentVolumeClaims("shop").Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: om("data"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}, metav1.CreateOptions{}))
	prefix := networkingv1.PathTypePrefix
	must(admin.NetworkingV1().Ingresses("shop").Create(ctx, &networkingv1.Ingress{ObjectMeta: om("site"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
		Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "missing",
				Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}, metav1.CreateOptions{}))
	must(admin.AutoscalingV2().HorizontalPodAutoscalers("shop").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: om("web"),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().Events("shop").Create(ctx, &corev1.Event{ObjectMeta: om("tool.planted"),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "tool", Namespace: "shop"}, Type: corev1.EventTypeWarning, Reason: "Planted", Message: "planted by the test",
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1, Source: corev1.EventSource{Component: "test"}}, metav1.CreateOptions{}))

	t.Run("as the administrator", func(t *testing.T) {
		s, err := Collect(ctx, admin, []string{"shop", "other", "shop"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Now.Equal(now) || !slices.Equal(s.Namespaces, []string{"other", "shop"}) || len(s.Skipped) != 0 {
			t.Errorf("now %v, namespaces %v, skipped %v", s.Now, s.Namespaces, s.Skipped)
		}
		has := func(kind string, got []string, want ...string) {
			t.Helper()
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s: %v, want %s among them", kind, got, w)
				}
			}
		}
		var pods, deps, sts, svcs, cjs, jobs, quotas, lrs, pvcs, ings, hpas, evs []string
		for _, o := range s.Pods {
			pods = append(pods, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.Deployments {
			deps = append(deps, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.StatefulSets {
			sts = append(sts, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.Services {
			svcs = append(svcs, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.CronJobs {
			cjs = append(cjs, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.Jobs {
			jobs = append(jobs, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.ResourceQuotas {
			quotas = append(quotas, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.LimitRanges {
			lrs = append(lrs, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.PVCs {
			pvcs = append(pvcs, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.Ingresses {
			ings = append(ings, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.HPAs {
			hpas = append(hpas, o.Namespace+"/"+o.Name)
		}
		for _, o := range s.Events {
			evs = append(evs, o.Namespace+"/"+o.Name)
		}
		if !slices.Equal(pods, []string{"other/elsewhere", "shop/tool"}) {
			t.Errorf("pods %v, want other/elsewhere then shop/tool", pods)
		}
		has("deployments", deps, "shop/web")
		has("statefulsets", sts, "shop/db")
		has("services", svcs, "shop/orphan")
		has("cronjobs", cjs, "shop/nightly")
		has("jobs", jobs, "shop/import")
		has("resourcequotas", quotas, "shop/objects", "shop/pods")
		has("limitranges", lrs, "shop/limits")
		has("persistentvolumeclaims", pvcs, "shop/data")
		has("ingresses", ings, "shop/site")
		has("horizontalpodautoscalers", hpas, "shop/web")
		has("events", evs, "shop/tool.planted")

		found := map[string]bool{}
		for _, f := range Run(s).Findings {
			found[f.Analyzer+" "+f.Objects[0].Name] = true
		}
		for _, w := range []string{"service-selector orphan", "cronjob-suspended nightly", "ingress-backend site", "quota pods"} {
			if !found[w] {
				t.Errorf("no finding %q over the collected objects; found %v", w, found)
			}
		}
	})

	// alice may get and list pods in shop, nothing else.
	must(admin.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: om("pods-only"),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}))
	must(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: om("alice-pods"),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pods-only"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}}, metav1.CreateOptions{}))
	ic := rest.CopyConfig(rc)
	ic.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
	alice := kubernetes.NewForConfigOrDie(ic)
	every := []string{ResourceCronJobs, ResourceDeployments, ResourceEndpointSlices, ResourceEvents, ResourceHorizontalPodAutoscalers, ResourceIngresses,
		ResourceJobs, ResourceLimitRanges, ResourcePersistentVolumeClaims, ResourceReplicaSets, ResourceResourceQuotas, ResourceServices, ResourceStatefulSets}

	t.Run("as a user allowed only pods", func(t *testing.T) {
		// The binding reaches the API server's authorizer through its
		// informer: wait for alice's first list to pass.
		testutil.WaitFor(t, 30*time.Second, "alice may list pods", func() bool {
			_, err := alice.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
			return err == nil
		})
		s, err := Collect(ctx, alice, []string{"shop"}, now)
		if err != nil {
			t.Fatalf("Collect: %v, want the forbidden kinds skipped", err)
		}
		var want []string
		for _, r := range every {
			want = append(want, r+": forbidden")
		}
		if !slices.Equal(s.Skipped, want) {
			t.Errorf("skipped %v, want %v", s.Skipped, want)
		}
		if len(s.Pods) != 1 || s.Pods[0].Name != "tool" || len(s.Services)+len(s.Deployments)+len(s.Events) != 0 {
			t.Errorf("pods %d, services %d, deployments %d, events %d", len(s.Pods), len(s.Services), len(s.Deployments), len(s.Events))
		}
		d := Run(s)
		if len(d.Findings) != 0 || !slices.Equal(d.Skipped, want) {
			t.Errorf("a diagnosis over what alice sees: %+v", d)
		}

		// In two namespaces, pods are forbidden in one only.
		s, err = Collect(ctx, alice, []string{"shop", "other"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Skipped, "pods in other: forbidden") || !slices.Contains(s.Skipped, "services: forbidden") || s.Listed(ResourcePods, "other") || !s.Listed(ResourcePods, "shop") {
			t.Errorf("skipped %v", s.Skipped)
		}
	})

	// Small bounds: one object of a kind per namespace, in pages of one.
	bound := func(t *testing.T, perKind, total int) {
		page, pk, tot := collectPage, collectPerKind, collectTotal
		collectPage, collectPerKind, collectTotal = 1, perKind, total
		t.Cleanup(func() { collectPage, collectPerKind, collectTotal = page, pk, tot })
	}
	t.Run("at most so many objects of a kind", func(t *testing.T) {
		bound(t, 1, 1000)
		s, err := Collect(ctx, admin, []string{"shop", "other"}, now)
		if err != nil {
			t.Fatal(err)
		}
		// shop has two ResourceQuotas: one is examined, and the kind is
		// not taken as listed there.
		if len(s.ResourceQuotas) != 1 || !slices.Contains(s.Skipped, "resourcequotas in shop: more than 1, the rest not examined") || s.Listed(ResourceResourceQuotas, "shop") {
			t.Errorf("resourcequotas %d, skipped %v", len(s.ResourceQuotas), s.Skipped)
		}
		// One pod in each: both listed whole.
		if len(s.Pods) != 2 || !s.Listed(ResourcePods, "shop") || !s.Listed(ResourcePods, "other") {
			t.Errorf("pods %d, skipped %v", len(s.Pods), s.Skipped)
		}
		for _, sk := range s.Skipped {
			if !strings.HasSuffix(sk, ": more than 1, the rest not examined") {
				t.Errorf("skipped %q", sk)
			}
		}
	})
	t.Run("at most so many objects in all", func(t *testing.T) {
		bound(t, 1000, 3)
		s, err := Collect(ctx, admin, []string{"shop", "other"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.objects(); n != 3 {
			t.Errorf("%d objects collected, want the 3 of the bound", n)
		}
		cuts := 0
		for _, sk := range s.Skipped {
			if !strings.HasSuffix(sk, ": past the 3 objects a diagnosis examines, the rest not examined") {
				t.Errorf("skipped %q", sk)
			}
			cuts++
		}
		if cuts == 0 {
			t.Errorf("nothing recorded as cut: %v", s.Skipped)
		}
	})

	t.Run("other errors end it", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Collect(cctx, admin, []string{"shop"}, now)
		if err == nil || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "list ") {
			t.Errorf("Collect with a canceled context: %v", err)
		}
	})
}
