package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type diagnosisOut struct {
	Findings []struct {
		Analyzer string `json:"analyzer"`
		Severity string `json:"severity"`
		Title    string `json:"title"`
		Objects  []struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"objects"`
		Evidence   []string `json:"evidence"`
		Suggestion string   `json:"suggestion"`
	} `json:"findings"`
	Analyzers []string `json:"analyzers"`
	Skipped   []string `json:"skipped"`
}

// TestAnalyzersFindPlantedFaultsWithoutAModel is issue 14's acceptance of
// the analyzers: on a platform with no model configured, a Deployment with
// a bad image, a Service selecting nothing, a quota at its limit and a
// failing CronJob are found, through the API and `hks ai diagnose`, as the
// caller; the chat says plainly that no model is set up.
func TestAnalyzersFindPlantedFaultsWithoutAModel(t *testing.T) {
	w := newWorkloadsWorld(t)
	limitedID := w.admin.createProject(w.wsPath, map[string]any{"name": "limited", "quota": map[string]any{"pods": 1}})
	_ = limitedID
	limited := w.wsPath + "/projects/limited"

	// The faults: an image no registry serves (the simulated nodes never
	// pull from a .invalid host), a Service selecting no pod, two replicas
	// in a project whose quota allows one pod, a CronJob whose runs fail.
	w.admin.must("POST", w.frontend+"/applications", map[string]any{"name": "shop", "image": "registry.invalid/shop:1"}, http.StatusCreated, nil)
	w.admin.must("POST", limited+"/applications", map[string]any{"name": "big", "image": "nginx:1.27", "replicas": 2,
		"resources": map[string]any{"requests": map[string]string{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]string{"cpu": "50m", "memory": "32Mi"}}}, http.StatusCreated, nil)
	w.admin.must("POST", w.frontend+"/cronjobs", map[string]any{"name": "report", "schedule": "@daily",
		"template": map[string]any{"image": "busybox:1.36", "command": []string{"sh", "-c", "exit 1"}, "backoff_limit": 0, "restart_policy": "Never"}}, http.StatusCreated, nil)
	w.admin.must("POST", w.frontend+"/cronjobs/report/trigger", nil, http.StatusCreated, nil)
	cs, _ := userClient(t, w.s, w.admin, w.wsPath)
	if _, err := cs.CoreV1().Services("frontend").Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "nothing-has-this"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{"image-pull": "shop", "service-selector": "orphan", "cronjob-failing": "report", "quota": "hks-quota"}
	var d diagnosisOut
	eventually(t, 3*time.Minute, func() (bool, string) {
		d = diagnosisOut{}
		w.admin.must("GET", w.wsPath+"/diagnose", nil, http.StatusOK, &d)
		missing := []string{}
		for analyzer, object := range want {
			found := false
			for _, f := range d.Findings {
				if f.Analyzer != analyzer {
					continue
				}
				for _, o := range f.Objects {
					found = found || strings.Contains(o.Name, object)
				}
			}
			if !found {
				missing = append(missing, analyzer+" on "+object)
			}
		}
		b, _ := json.Marshal(d.Findings)
		return len(missing) == 0, "findings for " + strings.Join(missing, ", ") + " in " + string(b)
	})
	for _, f := range d.Findings {
		if f.Severity == "" || f.Title == "" || len(f.Evidence) == 0 || f.Suggestion == "" {
			t.Errorf("a finding without severity, title, evidence or suggestion: %+v", f)
		}
	}
	if len(d.Analyzers) < 15 {
		t.Errorf("%d analyzers ran", len(d.Analyzers))
	}

	// As the caller: D, a developer in backend only, sees none of
	// frontend's faults; X of another organization sees nothing.
	var dd diagnosisOut
	w.d.must("GET", w.wsPath+"/diagnose", nil, http.StatusOK, &dd)
	for _, f := range dd.Findings {
		for _, o := range f.Objects {
			if o.Name == "shop" || o.Name == "orphan" {
				t.Errorf("D sees frontend's %s: %+v", o.Name, f)
			}
		}
	}
	problem(t, w.d, "GET", w.frontend+"/diagnose", nil, http.StatusNotFound)
	x := createUser(t, w.s, "x@example.com", "password-of-x")
	problem(t, x, "GET", w.wsPath+"/diagnose", nil, http.StatusNotFound)

	// The CLI, through the built binary, signed in as A.
	cfgDir := t.TempDir()
	env := baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	mustHKS(t, env, w.a.password+"\n", "login", "--server", w.s.URL, "--email", w.a.email, "--password-stdin")
	out := mustHKS(t, env, "", "ai", "diagnose", "--org", strings.TrimPrefix(w.orgPath, "/api/v1/organizations/"), "--workspace", "prod", "--project", "frontend")
	for _, s := range []string{"CRITICAL", "shop", "orphan", "report", "→", "analyzers"} {
		if !strings.Contains(out, s) {
			t.Errorf("hks ai diagnose does not show %q:\n%s", s, out)
		}
	}

	// No model: the chat says so plainly.
	var chat struct {
		ID string `json:"id"`
	}
	w.a.must("POST", w.wsPath+"/ai/chats", map[string]string{"project": "frontend"}, http.StatusCreated, &chat)
	if p := problem(t, w.a, "POST", w.wsPath+"/ai/chats/"+chat.ID+"/messages", map[string]string{"content": "why is shop down?"}, http.StatusConflict); !strings.HasSuffix(p.Type, "/no-model") || !strings.Contains(p.Detail, "no model is set up") {
		t.Fatalf("a chat without a model: %+v", p)
	}
	r := runHKS(t, env, "", "ai", "ask", "--org", strings.TrimPrefix(w.orgPath, "/api/v1/organizations/"), "--workspace", "prod", "why is shop down?")
	if r.Code == 0 || !strings.Contains(r.Stderr, "no model is set up") || strings.Contains(r.Stderr, "continue it") {
		t.Fatalf("hks ai ask without a model: %s", r)
	}
	// The refused ask left no empty chat behind: only the one made above.
	var chats struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	w.a.must("GET", w.wsPath+"/ai/chats", nil, http.StatusOK, &chats)
	if len(chats.Items) != 1 || chats.Items[0].ID != chat.ID {
		t.Fatalf("chats after a refused ask: %+v", chats.Items)
	}
}
