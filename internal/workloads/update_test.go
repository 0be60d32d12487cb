package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/kube/kubetest"
)

const ns = "frontend"

func int32p(n int32) *int32 { return &n }

// webApp is an application made from the simple spec (replicas 3, env,
// a port, so a Service) to which a manifest added a sidecar container, a
// volume and a variable taken from a Secret.
func webApp(t *testing.T) (*fake.Clientset, *appsv1.Deployment) {
	t.Helper()
	d, svc, errs := appObjects(api.AppSpec{Image: "nginx:1.27", Replicas: int32p(3),
		Env:   []api.EnvVar{{Name: "MODE", Value: "prod"}},
		Ports: []api.Port{{ContainerPort: 80}}, Labels: map[string]string{"team": "web"}}, "web", ns)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	pod := &d.Spec.Template.Spec
	pod.Containers[0].Env = append(pod.Containers[0].Env, corev1.EnvVar{Name: "TOKEN",
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}})
	pod.Containers = append(pod.Containers, corev1.Container{Name: "sidecar", Image: "busybox:1.36", Env: []corev1.EnvVar{{Name: "SIDE", Value: "1"}}})
	pod.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	cs := kubetest.NewClientset(d, svc)
	got, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cs, got
}

func TestAppSpecOfReadsBackTheSimpleSpec(t *testing.T) {
	want := api.AppSpec{Image: "nginx:1.27", Replicas: int32p(2), Command: []string{"nginx"}, Args: []string{"-g", "daemon off;"},
		Env: []api.EnvVar{{Name: "A", Value: "1"}}, Ports: []api.Port{{Name: "http", ContainerPort: 8080, Protocol: "TCP", ServicePort: 80}},
		Resources: &api.Resources{Requests: api.ResourceList{CPU: "100m", Memory: "64Mi"}, Limits: api.ResourceList{Memory: "128Mi"}},
		Labels:    map[string]string{"team": "web"}}
	d, svc, errs := appObjects(want, "web", ns)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := appSpecOf(d, svc); !sameSpec(got, want) {
		t.Fatalf("appSpecOf(appObjects(spec)) = %+v, want %+v", got, want)
	}
}

func sameSpec(a, b api.AppSpec) bool { return !anyDiffers(a, b) }

func anyDiffers(a, b any) bool {
	ja, jb := mustJSON(a), mustJSON(b)
	return ja != jb
}

func TestPatchAppKeepsWhatItDoesNotName(t *testing.T) {
	cases := []struct {
		name  string
		patch string
		check func(t *testing.T, d *appsv1.Deployment)
	}{
		{"image", `{"image":"nginx:1.28"}`, func(t *testing.T, d *appsv1.Deployment) {
			if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" {
				t.Errorf("image %s", img)
			}
			if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 2 || env[1].ValueFrom == nil {
				t.Errorf("env changed: %+v", env)
			}
		}},
		{"replicas", `{"replicas":5}`, func(t *testing.T, d *appsv1.Deployment) {
			if *d.Spec.Replicas != 5 {
				t.Errorf("replicas %d", *d.Spec.Replicas)
			}
		}},
		{"env keeps a variable from a secret", `{"env":[{"name":"MODE","value":"dev"},{"name":"TOKEN","value":""},{"name":"NEW","value":"x"}]}`, func(t *testing.T, d *appsv1.Deployment) {
			env := d.Spec.Template.Spec.Containers[0].Env
			if len(env) != 3 || env[0].Value != "dev" || env[1].ValueFrom == nil || env[1].ValueFrom.SecretKeyRef.Key != "token" || env[2].Name != "NEW" {
				t.Errorf("env %+v", env)
			}
		}},
		{"labels", `{"labels":{"team":null,"tier":"front"}}`, func(t *testing.T, d *appsv1.Deployment) {
			for _, l := range []map[string]string{d.Labels, d.Spec.Template.Labels} {
				if _, ok := l["team"]; ok || l["tier"] != "front" || l[LabelApp] != "web" {
					t.Errorf("labels %v", l)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, before := webApp(t)
			r, p := kubetest.PatchRequest(t, tc.patch, "")
			d, err := changeApp(context.Background(), cs, ns, "web", kube.PatchChange[appDoc](r, p), nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.ResourceVersion == before.ResourceVersion {
				t.Error("the Deployment was not written")
			}
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 2 || pod.Containers[1].Image != "busybox:1.36" || pod.Containers[1].Env[0].Name != "SIDE" {
				t.Errorf("the sidecar changed: %+v", pod.Containers)
			}
			if len(pod.Volumes) != 1 || pod.Volumes[0].Name != "cache" {
				t.Errorf("the volumes changed: %+v", pod.Volumes)
			}
			if tc.name != "replicas" && *d.Spec.Replicas != 3 {
				t.Errorf("replicas %d, want 3 kept", *d.Spec.Replicas)
			}
			tc.check(t, d)
		})
	}
}

func TestUpdateAppWithTheSameSpecWritesNothing(t *testing.T) {
	cs, before := webApp(t)
	r, p := kubetest.PatchRequest(t, `{"image":"nginx:1.27","replicas":3}`, "")
	d, err := changeApp(context.Background(), cs, ns, "web", kube.PatchChange[appDoc](r, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.ResourceVersion != before.ResourceVersion {
		t.Errorf("resource version %s, want %s (nothing changed)", d.ResourceVersion, before.ResourceVersion)
	}
}

func TestChangeAppPreconditions(t *testing.T) {
	cases := []struct {
		name       string
		body       string
		ifMatch    func(rv string) string
		wantStatus int
	}{
		{"no precondition", `{"image":"x:1"}`, nil, 0},
		{"If-Match current", `{"image":"x:1"}`, func(rv string) string { return `"` + rv + `"` }, 0},
		{"If-Match weak current", `{"image":"x:1"}`, func(rv string) string { return `W/"` + rv + `"` }, 0},
		{"If-Match stale", `{"image":"x:1"}`, func(string) string { return `"999"` }, http.StatusPreconditionFailed},
		{"body version stale", `{"image":"x:1","resource_version":"999"}`, nil, http.StatusPreconditionFailed},
		{"invalid replicas", `{"replicas":-1}`, nil, http.StatusUnprocessableEntity},
		{"no image", `{"image":null}`, nil, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, before := webApp(t)
			im := ""
			if tc.ifMatch != nil {
				im = tc.ifMatch(kube.Version(before))
			}
			r, p := kubetest.PatchRequest(t, tc.body, im)
			_, err := changeApp(context.Background(), cs, ns, "web", kube.PatchChange[appDoc](r, p), nil)
			if got := kubetest.Status(err); got != tc.wantStatus || (tc.wantStatus == 0 && err != nil) {
				t.Fatalf("status %d (%v), want %d", got, err, tc.wantStatus)
			}
			after, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if written := after.ResourceVersion != before.ResourceVersion; written != (tc.wantStatus == 0) {
				t.Errorf("written %v", written)
			}
		})
	}
}

// TestChangeAppRetriesOnConflict: another writer changes the replicas
// between the read and the write of an image change; the write is refused
// (stale resourceVersion), read again and both changes survive.
func TestChangeAppRetriesOnConflict(t *testing.T) {
	cs, _ := webApp(t)
	ctx := context.Background()
	r, p := kubetest.PatchRequest(t, `{"image":"nginx:1.28"}`, "")
	calls := 0
	d, err := changeApp(ctx, cs, ns, "web", func(cur appDoc) (appDoc, error) {
		calls++
		if calls == 1 {
			other, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			other.Spec.Replicas = int32p(7)
			if _, err := cs.AppsV1().Deployments(ns).Update(ctx, other, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return kube.PatchChange[appDoc](r, p)(cur)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("%d attempts, want 2", calls)
	}
	if *d.Spec.Replicas != 7 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.28" {
		t.Errorf("replicas %d image %s: want 7 and nginx:1.28", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
}

// TestChangeAppPreconditionAfterConflict: with If-Match, a write that
// loses the race is not retried onto the other writer's version: 412.
func TestChangeAppPreconditionAfterConflict(t *testing.T) {
	cs, before := webApp(t)
	ctx := context.Background()
	r, p := kubetest.PatchRequest(t, `{"image":"nginx:1.28"}`, `"`+kube.Version(before)+`"`)
	calls := 0
	_, err := changeApp(ctx, cs, ns, "web", func(cur appDoc) (appDoc, error) {
		calls++
		if calls == 1 {
			other, _ := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			other.Spec.Replicas = int32p(7)
			if _, err := cs.AppsV1().Deployments(ns).Update(ctx, other, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return kube.PatchChange[appDoc](r, p)(cur)
	}, nil)
	if kubetest.Status(err) != http.StatusPreconditionFailed {
		t.Fatalf("err %v, want 412", err)
	}
}

// TestStatusWritesDoNotMoveTheVersion: the controller's status writes
// (a rollout) change the Deployment's resourceVersion but not the
// application's version, so a precondition read before them holds.
func TestStatusWritesDoNotMoveTheVersion(t *testing.T) {
	cs, before := webApp(t)
	ctx := context.Background()
	st := before.DeepCopy()
	st.Status.ReadyReplicas = 2
	after, err := cs.AppsV1().Deployments(ns).UpdateStatus(ctx, st, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion == before.ResourceVersion || kube.Version(after) != kube.Version(before) {
		t.Fatalf("resourceVersion %s -> %s, version %s -> %s", before.ResourceVersion, after.ResourceVersion, kube.Version(before), kube.Version(after))
	}
	r, p := kubetest.PatchRequest(t, `{"replicas":4}`, `"`+kube.Version(before)+`"`)
	d, err := changeApp(ctx, cs, ns, "web", kube.PatchChange[appDoc](r, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if kube.Version(d) == kube.Version(before) {
		t.Error("the version did not move with the spec")
	}
}

func TestChangeAppPortsFollowTheService(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		patch     string
		wantPorts []int32 // nil: no Service
	}{
		{"new service port", `{"ports":[{"container_port":80,"service_port":8080}]}`, []int32{8080}},
		{"second port", `{"ports":[{"container_port":80},{"container_port":9090}]}`, []int32{80, 9090}},
		{"no port removes the service", `{"ports":null}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, _ := webApp(t)
			live, _ := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
			live.Spec.ClusterIP = "10.0.0.7"
			if _, err := cs.CoreV1().Services(ns).Update(ctx, live, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			r, p := kubetest.PatchRequest(t, tc.patch, "")
			if _, err := changeApp(ctx, cs, ns, "web", kube.PatchChange[appDoc](r, p), nil); err != nil {
				t.Fatal(err)
			}
			svc, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
			if tc.wantPorts == nil {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("service still there: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int32
			for _, p := range svc.Spec.Ports {
				got = append(got, p.Port)
			}
			if anyDiffers(got, tc.wantPorts) || svc.Spec.ClusterIP != "10.0.0.7" {
				t.Errorf("ports %v cluster IP %s, want %v and the IP kept", got, svc.Spec.ClusterIP, tc.wantPorts)
			}
		})
	}
}

func TestPutAppKeepsTheSidecar(t *testing.T) {
	cs, _ := webApp(t)
	d, err := changeApp(context.Background(), cs, ns, "web", func(appDoc) (appDoc, error) {
		return appDoc{AppSpec: api.AppSpec{Image: "nginx:1.28"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	// What the spec describes returns to its defaults (one replica, no
	// env, no port); what it cannot describe stays.
	if *d.Spec.Replicas != 1 || len(pod.Containers[0].Env) != 0 || len(pod.Containers[0].Ports) != 0 {
		t.Errorf("replicas %d env %v ports %v: want the defaults", *d.Spec.Replicas, pod.Containers[0].Env, pod.Containers[0].Ports)
	}
	if len(pod.Containers) != 2 || len(pod.Volumes) != 1 {
		t.Errorf("containers %d volumes %d: want the sidecar and volume kept", len(pod.Containers), len(pod.Volumes))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestPatchDocumentNamesTheSpec: the PATCH document of the API names the
// members of the spec the server merges it into, and no other.
func TestPatchDocumentNamesTheSpec(t *testing.T) {
	got, want := kubetest.JSONFields(reflect.TypeFor[api.PatchApplicationRequest]()), kubetest.JSONFields(reflect.TypeFor[appDoc]())
	if !slices.Equal(got, want) {
		t.Errorf("PatchApplicationRequest has %v\nthe spec has %v", got, want)
	}
}

// TestChangeAppGuardsTemplateChanges: a change of the pod template (an
// image) is put to the guard, and its refusal writes nothing; a change of
// the replicas alone is not (an application whose template the project's
// pod security refuses can still be scaled down).
func TestChangeAppGuardsTemplateChanges(t *testing.T) {
	refuse := errors.New("refused by the guard")
	for _, tc := range []struct {
		name, body string
		guarded    bool
	}{
		{"image", `{"image":"nginx:1.28"}`, true},
		{"replicas", `{"replicas":0}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, before := webApp(t)
			r, p := kubetest.PatchRequest(t, tc.body, "")
			called := false
			_, err := changeApp(context.Background(), cs, ns, "web", kube.PatchChange[appDoc](r, p), func(context.Context, *appsv1.Deployment) error {
				called = true
				return refuse
			})
			if called != tc.guarded || errors.Is(err, refuse) != tc.guarded {
				t.Fatalf("guard called %v, err %v; want guarded %v", called, err, tc.guarded)
			}
			after, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if written := after.ResourceVersion != before.ResourceVersion; written == tc.guarded {
				t.Errorf("written %v", written)
			}
		})
	}
}
