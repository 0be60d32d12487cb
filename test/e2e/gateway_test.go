package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGatewayHTTP drives the workspace API gateway (issue 12, point 1) of
// a real workspace with workspace tokens over plain HTTP: reads, writes
// and a watch pass through to the API server, RBAC holds, and no token, a
// platform access token and another workspace's token get 401 from the
// gateway. (kubectl sends no credential to an http server: it uses the
// gateway on the loopback https listener, TestKubectlThroughTheGateway.)
func TestGatewayHTTP(t *testing.T) {
	needBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dataDir, "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws, other wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)
	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend"})
	admin.createProject(wsPath, map[string]any{"name": "backend"})
	dev := createUser(t, s, "dev@example.com", "password-of-dev")
	admin.invite(orgPath, dev)
	admin.grant(wsPath, "frontend-devs", dev, "developer", frontendID)
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "other"}, http.StatusAccepted, &other)

	token := func(a *apiClient, path string) string {
		var x struct {
			Token string `json:"token"`
		}
		a.must("POST", path+"/token", nil, http.StatusOK, &x)
		return x.Token
	}
	devTok, adminTok, otherTok := token(dev, wsPath), token(admin, wsPath), token(admin, orgPath+"/workspaces/"+other.ID)
	gw := s.URL + "/k8s/" + ws.ID
	do := func(ctx context.Context, method, path, tok, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, gw+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	status := func(method, path, tok, body string) (int, string, string) {
		resp := do(context.Background(), method, path, tok, body)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	// Refused at the gateway.
	for _, tc := range []struct{ name, tok string }{{"no token", ""}, {"platform access token", admin.token}, {"another workspace's token", otherTok}} {
		if code, ct, b := status("GET", "/api/v1/namespaces", tc.tok, ""); code != 401 || ct != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want 401 problem+json", tc.name, code, ct, b)
		}
	}
	// Through to the API server, whose RBAC decides.
	eventually(t, 30*time.Second, func() (bool, string) {
		code, _, b := status("GET", "/api/v1/namespaces/frontend/pods", devTok, "")
		return code == 200, "dev lists pods in frontend: " + b
	})
	if code, _, b := status("GET", "/api/v1/namespaces/backend/pods", devTok, ""); code != 403 || !strings.Contains(b, `"kind":"Status"`) {
		t.Errorf("dev lists pods in backend: %d %s, want 403 from the API server", code, b)
	}
	if code, _, b := status("GET", "/api/v1/namespaces", adminTok, ""); code != 200 || !strings.Contains(b, `"name":"backend"`) {
		t.Errorf("admin lists namespaces: %d %s", code, b)
	}
	// A watch receives an event that happens after it started.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp := do(ctx, "GET", "/api/v1/namespaces/frontend/pods?watch=1", devTok, "")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"late"},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}`
	if code, _, b := status("POST", "/api/v1/namespaces/frontend/pods", devTok, pod); code != 201 {
		t.Fatalf("create pod through the gateway: %d %s", code, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := false
	for !found && sc.Scan() {
		found = strings.Contains(sc.Text(), `"type":"ADDED"`) && strings.Contains(sc.Text(), `"name":"late"`)
	}
	if !found {
		t.Fatalf("the watch ended without the pod's ADDED event: %v", sc.Err())
	}
	if m := metricsText(t, s); !strings.Contains(m, `verb="watch",workspace="`+ws.ID+`"`) {
		t.Errorf("no watch counted for the workspace:\n%s", m)
	}
}
