package workloads

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// The log route's own cap is what the test checks; the workspace cluster
// is an API server double answering the few calls the route makes (no
// Kubernetes binaries needed): application shop in namespace web, its
// pod shop-1, and that pod's log, which streams a first line and then
// holds until its client goes.

// oneProject resolves every request to project web of workspace ws-1.
type oneProject struct{}

func (oneProject) ResolveWorkspace(*http.Request) (tenancy.WorkspaceScope, error) {
	return tenancy.WorkspaceScope{Workspace: store.Workspace{ID: "ws-1"}}, nil
}

func (o oneProject) ResolveProject(r *http.Request) (tenancy.ProjectScope, error) {
	ws, _ := o.ResolveWorkspace(r)
	return tenancy.ProjectScope{WorkspaceScope: ws, Project: store.Project{Name: "web"}}, nil
}

// clusterAt connects every workspace to the API server at url.
type clusterAt string

func (c clusterAt) ConfigAs(context.Context, string, string, []string) (*rest.Config, error) {
	return &rest.Config{Host: string(c)}, nil
}

func fakeAPIServer(t *testing.T, stop <-chan struct{}) *httptest.Server {
	t.Helper()
	writeJSON := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/apps/v1/namespaces/web/deployments/shop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web"},
			Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}}})
	})
	mux.HandleFunc("GET /api/v1/namespaces/web/services/shop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure,
			Reason: metav1.StatusReasonNotFound, Code: 404})
	})
	mux.HandleFunc("GET /api/v1/namespaces/web/pods", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
			Items: []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "shop-1", Namespace: "web", Labels: map[string]string{"app": "shop"}}}}})
	})
	mux.HandleFunc("GET /api/v1/namespaces/web/pods/shop-1/log", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first line\n")
		if r.URL.Query().Get("follow") != "true" {
			return
		}
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestFollowedLogsAreCappedPerUser: with a cap of 2, a user holding two
// followed logs open is refused a third with 429 problem+json,
// Retry-After and a detail naming how many are open and the cap, while a
// log without follow and another user's followed log are served; once
// one of the user's streams is closed, a new one is admitted. A stream
// the gateway counts for the user (the limiter is shared) counts here
// too.
func TestFollowedLogsAreCappedPerUser(t *testing.T) {
	stop := make(chan struct{})
	api := fakeAPIServer(t, stop)
	streams, err := ratelimit.NewConcurrency(2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Scopes: oneProject{}, Clusters: clusterAt(api.URL), Logger: slog.New(slog.DiscardHandler), Now: time.Now, UserStreams: streams})
	if err != nil {
		t.Fatal(err)
	}
	// The route as the API mounts it, after authentication: the caller is
	// the X-User of the request.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(httpapi.WithPrincipal(r.Context(), httpapi.Principal{UserID: r.Header.Get("X-User")}))
		r.SetPathValue("app", "shop")
		s.logs(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs before the servers close
	get := func(user, query string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/logs?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-User", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// open starts a followed log that must be admitted: its first line
	// came through, so it is open.
	open := func(user string) *http.Response {
		t.Helper()
		resp := get(user, "follow=true")
		l, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || l != "first line\n" {
			t.Fatalf("%s: %s, first line %q (%v), want 200 and the first line", user, resp.Status, l, err)
		}
		return resp
	}
	first, second := open("u1"), open("u1")
	resp := get("u1", "follow=true")
	var p struct{ Type, Detail string }
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || json.NewDecoder(resp.Body).Decode(&p) != nil {
		t.Fatalf("a third followed log: %s, Retry-After %q, Content-Type %q, want 429 problem+json with Retry-After",
			resp.Status, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	if !strings.HasSuffix(p.Type, "/rate-limited") || !strings.Contains(p.Detail, "2 long-lived requests") || !strings.Contains(p.Detail, "at most 2") {
		t.Errorf("problem %+v, want rate-limited naming 2 open and the cap of 2", p)
	}
	if resp := get("u1", "tail_lines=10"); resp.StatusCode != http.StatusOK {
		t.Errorf("a log without follow: %s, want 200", resp.Status)
	}
	open("u2")
	first.Body.Close()
	testutil.WaitFor(t, 30*time.Second, "the closed stream to be released", func() bool { return streams.Open("u1") == 1 })
	open("u1")
	// With one of its followed logs here and a stream the gateway counts
	// for u1 (the same limiter), u1 is at the cap.
	second.Body.Close()
	testutil.WaitFor(t, 30*time.Second, "the second stream to be released", func() bool { return streams.Open("u1") == 1 })
	release, ok := streams.Acquire("u1")
	if !ok {
		t.Fatal("u1 has a free stream")
	}
	defer release()
	if resp := get("u1", "follow=true"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("with the gateway's stream counted: %s, want 429", resp.Status)
	}
}
