package analyze

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// webApp is the hks application web: its Deployment and ReplicaSet.
func webApp(replicas int32) ([]appsv1.Deployment, []appsv1.ReplicaSet) {
	return []appsv1.Deployment{app("web", replicas)}, []appsv1.ReplicaSet{replicaSet("web-5d9c", "web", replicas)}
}

// apiDeployment is Deployment api, made with kubectl (no hks label), and
// its ReplicaSet api-77f.
func apiDeployment() ([]appsv1.Deployment, []appsv1.ReplicaSet) {
	d := app("api", 1, func(d *appsv1.Deployment) { d.Labels = nil })
	return []appsv1.Deployment{d}, []appsv1.ReplicaSet{replicaSet("api-77f", "api", 1)}
}

func TestCrashLoop(t *testing.T) {
	deps, rss := webApp(2)
	crash := waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container=web pod=web-5d9c-a_shop")
	backOff := event("Pod", "web-5d9c-a", "Warning", "BackOff", "Back-off restarting failed container web in pod web-5d9c-a_shop", 12, 2*time.Minute)
	initPod := pod("db-migrate", bare, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "migrate:1"}}
		p.Status.Phase = corev1.PodPending
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", RestartCount: 3,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2, FinishedAt: before(time.Minute)}}}}
	})
	runTable(t, "crashloop", []tc{
		{name: "running pods", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b")}}},
		{name: "a crash-looping pod of an application",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: []corev1.Event{backOff},
				Pods: []corev1.Pod{pod("web-5d9c-a", crash, lastTerminated("Error", 1, 2*time.Minute, 12)), pod("web-5d9c-b")}},
			want: []api.Finding{{Analyzer: "crashloop", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a is in CrashLoopBackOff",
				Objects: objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{
					"container web waiting CrashLoopBackOff after 12 restarts",
					"container web last terminated Error (exit 1) 2m ago",
					"event Warning BackOff (x12, last 2m ago): Back-off restarting failed container web in pod web-5d9c-a_shop",
				},
				Suggestion: "exit 1: the program stops with an error; read the log of the crashed run: `kubectl -n shop logs web-5d9c-a -c web --previous`, and fix the command, configuration or dependency it stops on"}}},
		{name: "two pods of one Deployment are one finding",
			s: Snapshot{Deployments: deps, ReplicaSets: rss,
				Pods: []corev1.Pod{pod("web-5d9c-b", crash, lastTerminated("Error", 127, time.Minute, 4)), pod("web-5d9c-a", crash, lastTerminated("Error", 127, time.Minute, 5))}},
			want: []api.Finding{{Analyzer: "crashloop", Severity: api.SeverityCritical, Title: "2 pods of Deployment web are in CrashLoopBackOff",
				Objects: objects("Deployment", "web", "Pod", "web-5d9c-a", "Pod", "web-5d9c-b"),
				Evidence: []string{
					"container web waiting CrashLoopBackOff after 5 restarts",
					"container web last terminated Error (exit 127) 1m ago",
					"seen in pod web-5d9c-a; the same in web-5d9c-b",
				},
				Suggestion: "exit 127: the command was not found in the image: fix the command or the image; read the log of the crashed run: `kubectl -n shop logs web-5d9c-a -c web --previous`, and fix the command, configuration or dependency it stops on"}}},
		{name: "after OOMKilled it is oomkilled's",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", crash, lastTerminated("OOMKilled", 137, time.Minute, 3))}}},
		{name: "an init container of a bare pod",
			s: Snapshot{Pods: []corev1.Pod{initPod}},
			want: []api.Finding{{Analyzer: "crashloop", Severity: api.SeverityCritical, Title: "Pod db-migrate is in CrashLoopBackOff (init container migrate)",
				Objects: objects("Pod", "db-migrate"),
				Evidence: []string{
					"init container migrate waiting CrashLoopBackOff after 3 restarts",
					"init container migrate last terminated Error (exit 2) 1m ago",
				},
				Suggestion: "exit 2: the program stops with an error; read the log of the crashed run: `kubectl -n shop logs db-migrate -c migrate --previous`, and fix the command, configuration or dependency it stops on"}}},
	})
}

func TestRestartStorms(t *testing.T) {
	deps, rss := webApp(1)
	killing := event("Pod", "web-5d9c-a", "Normal", "Killing", "Container web failed liveness probe, will be restarted", 6, 3*time.Minute)
	runTable(t, "restarts", []tc{
		{name: "a few restarts", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", lastTerminated("Error", 2, 10*time.Minute, 4))}}},
		{name: "many restarts long ago", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", lastTerminated("Error", 2, 2*time.Hour, 40))}}},
		{name: "many restarts lately",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", lastTerminated("Error", 2, 10*time.Minute, 7))}},
			want: []api.Finding{{Analyzer: "restarts", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a is restarting repeatedly",
				Objects:    objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence:   []string{"container web restarted 7 times, last terminated Error (exit 2) 10m ago"},
				Suggestion: "exit 2: the program stops with an error; read the log of the previous run: `kubectl -n shop logs web-5d9c-a -c web --previous`"}}},
		{name: "killed by its liveness probe",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: []corev1.Event{killing}, Pods: []corev1.Pod{pod("web-5d9c-a", lastTerminated("Error", 137, 3*time.Minute, 6))}},
			want: []api.Finding{{Analyzer: "restarts", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a is restarting repeatedly",
				Objects: objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"container web restarted 6 times, last terminated Error (exit 137) 3m ago",
					"event Normal Killing (x6, last 3m ago): Container web failed liveness probe, will be restarted"},
				Suggestion: "its liveness probe fails and the kubelet restarts it (see the probes finding); read the log of the previous run: `kubectl -n shop logs web-5d9c-a -c web --previous`"}}},
		{name: "crash-looping is crashloop's",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", waiting("CrashLoopBackOff", ""), lastTerminated("Error", 2, time.Minute, 9))}}},
	})
}

func TestImagePull(t *testing.T) {
	deps, rss := webApp(1)
	adeps, arss := apiDeployment()
	badTag := func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:latst" }
	private := func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "registry.example.com/private/api:1.0"
		p.OwnerReferences = controller("ReplicaSet", "api-77f")
	}
	runTable(t, "image-pull", []tc{
		{name: "pulled", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a")}}},
		{name: "a tag that does not exist",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", badTag, waiting("ImagePullBackOff", `Back-off pulling image "nginx:latst"`))},
				Events: []corev1.Event{
					event("Pod", "web-5d9c-a", "Warning", "Failed", `Failed to pull image "nginx:latst": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:latst": not found`, 3, time.Minute),
					event("Pod", "web-5d9c-a", "Normal", "Pulling", `Pulling image "nginx:latst"`, 3, time.Minute),
				}},
			want: []api.Finding{{Analyzer: "image-pull", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot pull image nginx:latst",
				Objects: objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{`container web waiting ImagePullBackOff: Back-off pulling image "nginx:latst"`,
					`event Warning Failed (x3, last 1m ago): Failed to pull image "nginx:latst": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:latst": not found`},
				Suggestion: `image "nginx:latst" does not exist: check the name and tag, then ` + "`hks app set image web IMAGE --project shop`"}}},
		{name: "a private image without credentials, Deployment made with kubectl",
			s: Snapshot{Deployments: adeps, ReplicaSets: arss, Pods: []corev1.Pod{pod("api-77f-x", private,
				waiting("ErrImagePull", `failed to pull and unpack image "registry.example.com/private/api:1.0": failed to authorize: 401 Unauthorized`))}},
			want: []api.Finding{{Analyzer: "image-pull", Severity: api.SeverityCritical, Title: "Pod api-77f-x cannot pull image registry.example.com/private/api:1.0",
				Objects:  objects("Pod", "api-77f-x", "Deployment", "api"),
				Evidence: []string{`container web waiting ErrImagePull: failed to pull and unpack image "registry.example.com/private/api:1.0": failed to authorize: 401 Unauthorized`},
				Suggestion: `the registry refused to serve "registry.example.com/private/api:1.0": if the image is private, give the pod an imagePullSecret with valid registry credentials; if the name is wrong, ` +
					"`kubectl -n shop set image deployment/api web=IMAGE`"}}},
		{name: "a malformed reference in a bare pod",
			s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx::1" },
				waiting("InvalidImageName", `Failed to apply default image tag "nginx::1": couldn't parse image name "nginx::1": invalid reference format`))}},
			want: []api.Finding{{Analyzer: "image-pull", Severity: api.SeverityCritical, Title: "Pod tool cannot pull image nginx::1",
				Objects:    objects("Pod", "tool"),
				Evidence:   []string{`container web waiting InvalidImageName: Failed to apply default image tag "nginx::1": couldn't parse image name "nginx::1": invalid reference format`},
				Suggestion: `the image reference "nginx::1" is malformed: fix the image in the manifest and apply it again`}}},
	})
}

func TestContainerConfig(t *testing.T) {
	deps, rss := webApp(1)
	runTable(t, "container-config", []tc{
		{name: "started", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a")}}},
		{name: "a missing Secret",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", waiting("CreateContainerConfigError", `secret "db" not found`))},
				Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "Failed", `Error: secret "db" not found`, 4, time.Minute)}},
			want: []api.Finding{{Analyzer: "container-config", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot start container web: CreateContainerConfigError",
				Objects:  objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{`container web waiting CreateContainerConfigError: secret "db" not found`, `event Warning Failed (x4, last 1m ago): Error: secret "db" not found`},
				Suggestion: `the Secret "db" it refers to does not exist in shop: create it (` + "`kubectl -n shop create secret generic db --from-literal=KEY=VALUE`" +
					`) or fix the reference in the pod template`}}},
		{name: "a missing key",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", waiting("CreateContainerConfigError", `couldn't find key url in ConfigMap shop/settings`))}},
			want: []api.Finding{{Analyzer: "container-config", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot start container web: CreateContainerConfigError",
				Objects:    objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence:   []string{`container web waiting CreateContainerConfigError: couldn't find key url in ConfigMap shop/settings`},
				Suggestion: "the ConfigMap shop/settings has no key url: add the key or fix the key the pod template refers to"}}},
		{name: "a command not in the image",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", waiting("RunContainerError",
				`failed to create containerd task: exec: "servr": executable file not found in $PATH`))}},
			want: []api.Finding{{Analyzer: "container-config", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot start container web: RunContainerError",
				Objects:    objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence:   []string{`container web waiting RunContainerError: failed to create containerd task: exec: "servr": executable file not found in $PATH`},
				Suggestion: "the command does not exist in the image: fix the command (or args) or the image"}}},
	})
}

func TestOOMKilled(t *testing.T) {
	deps, rss := webApp(1)
	adeps, arss := apiDeployment()
	limit := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}
	}
	runTable(t, "oomkilled", []tc{
		{name: "never", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", limit)}}},
		{name: "two days ago", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", limit, lastTerminated("OOMKilled", 137, 48*time.Hour, 1))}}},
		{name: "crash-looping over its limit",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", limit, waiting("CrashLoopBackOff", ""), lastTerminated("OOMKilled", 137, time.Minute, 5))}},
			want: []api.Finding{{Analyzer: "oomkilled", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a was OOMKilled",
				Objects:  objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"container web terminated OOMKilled (exit 137) 1m ago, 5 restarts", "container web now waiting CrashLoopBackOff", "container web memory limit 128Mi"},
				Suggestion: "the program needs more memory than its limit 128Mi: raise the limit above its peak use, e.g. " +
					"`hks app update web --memory-limit 256Mi --project shop`, or make it use less memory"}}},
		{name: "once, without a limit, Deployment made with kubectl",
			s: Snapshot{Deployments: adeps, ReplicaSets: arss, Pods: []corev1.Pod{pod("api-77f-x", ownedBy("ReplicaSet", "api-77f"), lastTerminated("OOMKilled", 137, 3*time.Hour, 1))}},
			want: []api.Finding{{Analyzer: "oomkilled", Severity: api.SeverityWarning, Title: "Pod api-77f-x was OOMKilled",
				Objects:  objects("Pod", "api-77f-x", "Deployment", "api"),
				Evidence: []string{"container web terminated OOMKilled (exit 137) 3h ago, 1 restart", "container web has no memory limit"},
				Suggestion: "without a memory limit it was killed because the node ran out of memory: set a memory request close to its real use so it is placed where there is room, and a limit, e.g. " +
					"`kubectl -n shop set resources deployment/api -c web --limits=memory=512Mi`"}}},
	})
}
