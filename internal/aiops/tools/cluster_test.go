package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// The workspace cluster of these tests: one per test binary (started by
// the first test that needs it, stopped by TestMain), with the
// platform's own mapping of tenancy onto RBAC (controlplane.Desired and
// Apply) for projects shop (baseline), secure (restricted) and hidden,
// and users who reach it as ConfigAs makes them: impersonated with their
// workspace groups (issuer.WorkspaceGroups).
var env struct {
	once     sync.Once
	err      error
	dir      string
	provider *local.Provider
	admin    *rest.Config
	kube     kubernetes.Interface
	ws       store.Workspace
	projects []store.Project
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.provider != nil {
		env.provider.Close()
	}
	if env.dir != "" {
		os.RemoveAll(env.dir)
	}
	os.Exit(code)
}

// rbacReady remembers the users whose bindings were seen in effect.
var rbacReady sync.Map

// Users of the workspace: their level in each project.
var users = map[string]map[string]authz.Level{
	"developer": {"shop": authz.Develop, "secure": authz.Develop},
	"viewer":    {"shop": authz.View},
	"admin":     {"shop": authz.Admin},
}

// startCluster starts the workspace (once) and answers its admin client.
func startCluster(t *testing.T) kubernetes.Interface {
	t.Helper()
	bins, err := local.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	testutil.NeedK8sBinaries(t, bins)
	env.once.Do(func() { env.err = setUpCluster() })
	if env.err != nil {
		t.Fatal(env.err)
	}
	return env.kube
}

func setUpCluster() error {
	dir, err := os.MkdirTemp("", "hks-aitools-")
	if err != nil {
		return err
	}
	env.dir = dir
	p, err := local.New(local.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	env.provider = p
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := store.NewID()
	spec := controlplane.Spec{WorkspaceID: id, OrgID: store.NewID(), Plan: controlplane.PlanShared, Issuer: controlplane.IssuerTrust{URL: "https://127.0.0.1:1"}}
	if err := p.Create(ctx, spec); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	rc, err := p.AdminConfig(ctx, id)
	if err != nil {
		return err
	}
	rc = rest.CopyConfig(rc)
	rc.WarningHandler, rc.WarningHandlerWithContext = rest.NoWarnings{}, nil
	env.admin, env.kube = rc, kubernetes.NewForConfigOrDie(rc)
	env.ws = store.Workspace{ID: id, OrgID: spec.OrgID, Name: "ws", Plan: controlplane.PlanShared}
	env.projects = []store.Project{
		{ID: store.NewID(), WorkspaceID: id, Name: "shop"},
		{ID: store.NewID(), WorkspaceID: id, Name: "secure", PodSecurity: controlplane.PodSecurityRestricted},
		{ID: store.NewID(), WorkspaceID: id, Name: "hidden"},
	}
	st, err := controlplane.Desired(controlplane.Tenancy{Workspace: env.ws, Projects: env.projects})
	if err != nil {
		return err
	}
	if _, err := controlplane.Apply(ctx, env.kube, st); err != nil {
		return fmt.Errorf("apply the tenancy: %w", err)
	}
	// Pods are refused until the namespaces' default ServiceAccount exists.
	for _, p := range env.projects {
		for {
			if _, err := env.kube.CoreV1().ServiceAccounts(p.Name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the default ServiceAccount of %s: %w", p.Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// recorder records the requests a client sends.
type recorder struct {
	mu   sync.Mutex
	reqs []sent
}

// sent is a request as it was sent: method, URL and body.
type sent struct {
	Method string
	URL    *url.URL
	Body   []byte
}

func (r *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		s := sent{Method: req.Method, URL: req.URL}
		if req.GetBody != nil {
			if b, err := req.GetBody(); err == nil {
				s.Body, _ = io.ReadAll(b)
				b.Close()
			}
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, s)
		r.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

func (r *recorder) requests() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.reqs...)
}

// dryRun tells whether a request is a dry run: dryRun=All in its query
// and, for a DELETE with options, in them too (the API server reads a
// delete's options from its body when it has one).
func (s sent) dryRun() bool {
	if s.URL.Query().Get("dryRun") != "All" {
		return false
	}
	if s.Method == http.MethodDelete && len(s.Body) > 0 {
		var opts struct {
			DryRun []string `json:"dryRun"`
		}
		if json.Unmarshal(s.Body, &opts) != nil || len(opts.DryRun) != 1 || opts.DryRun[0] != "All" {
			return false
		}
	}
	return true
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// target is user's Target in the workspace (the chat's project: project),
// every request recorded by rec (nil: not recorded).
func target(t *testing.T, user, project string, rec *recorder) *Target {
	t.Helper()
	startCluster(t)
	levels, ok := users[user]
	if !ok {
		t.Fatalf("no user %s", user)
	}
	acc := authz.WorkspaceAccess{Projects: map[string]authz.Level{}}
	for _, p := range env.projects {
		if l, ok := levels[p.Name]; ok {
			acc.Projects[p.ID] = l
		}
	}
	groups := issuer.WorkspaceGroups(acc, env.projects)
	email := user + "@example.com"
	// As controlplane.Service.ConfigAs makes the caller's client.
	cfg := rest.CopyConfig(env.admin)
	gs := []string{"system:authenticated"}
	for _, g := range groups {
		gs = append(gs, controlplane.GroupsPrefix+g)
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: controlplane.UsernamePrefix + email, Groups: gs}
	probe := kubernetes.NewForConfigOrDie(rest.CopyConfig(cfg)) // not recorded
	warnings := &kube.Warnings{}
	cfg.WarningHandler, cfg.WarningHandlerWithContext = nil, warnings
	if rec != nil {
		cfg.Wrap(rec.wrap)
	}
	c := &kube.Client{Kube: kubernetes.NewForConfigOrDie(cfg), Dynamic: dynamic.NewForConfigOrDie(cfg), Config: cfg, Warnings: warnings}
	if _, waited := rbacReady.LoadOrStore(user, true); !waited {
		// The bindings the tenancy made take effect once the API server's
		// authorizer has seen them: wait until the user may read the pods
		// of their projects, as each level may.
		for _, p := range env.projects {
			if _, ok := levels[p.Name]; !ok {
				continue
			}
			testutil.WaitFor(t, time.Minute, user+"'s bindings in "+p.Name, func() bool {
				r, err := probe.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
					Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: p.Name, Verb: "list", Resource: "pods"}}},
					metav1.CreateOptions{})
				return err == nil && r.Status.Allowed
			})
		}
	}
	scope := tenancy.WorkspaceScope{Principal: httpapi.Principal{UserID: user, Email: email}, Workspace: env.ws, Access: acc, Projects: env.projects, Groups: groups}
	return &Target{Client: c, Scope: scope, Project: project, Now: time.Now}
}

// Objects the tests make as the admin.

func deployment(t *testing.T, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	startCluster(t)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36"}}},
			},
		},
	}
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return settled(t, ns, name)
}

// settled waits until the controller has made a deployment's pods and
// written its status (each a new resourceVersion, which would make a
// plan stale) and answers it.
func settled(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	testutil.WaitFor(t, time.Minute, "deployment "+name+" settled", func() bool {
		var err error
		d, err = env.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		n, s := *d.Spec.Replicas, d.Status
		return s.ObservedGeneration == d.Generation && s.Replicas == n && s.UpdatedReplicas == n && s.AvailableReplicas == n && s.ReadyReplicas == n &&
			d.Annotations["deployment.kubernetes.io/revision"] != ""
	})
	return d
}

func cronJob(t *testing.T, ns, name string) *batchv1.CronJob {
	t.Helper()
	startCluster(t)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "job", Image: "busybox:1.36", Command: []string{"date"}}},
			}}}},
		},
	}
	got, err := env.kube.BatchV1().CronJobs(ns).Create(context.Background(), cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// runningPod waits for a running pod of deployment name and answers it.
func runningPod(t *testing.T, ns, name string) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	testutil.WaitFor(t, time.Minute, "a running pod of "+name, func() bool {
		l, err := env.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false
		}
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning {
				pod = p
				return true
			}
		}
		return false
	})
	return pod
}

// planOf is the stored plan of a prepared proposal, as the lead's store
// keeps it.
func planOf(p Prepared) store.Plan {
	return store.Plan{ID: store.NewID(), Summary: p.Summary, Target: p.Target, Method: p.Method, Path: p.Path, Body: string(p.Body), Hash: p.Hash,
		GuardPath: p.GuardPath, GuardResourceVersion: p.GuardResourceVersion, Before: p.BeforeYAML, After: p.AfterYAML, Diff: p.Diff}
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q is not in:\n%s", sub, s)
		}
	}
	return nil
}
